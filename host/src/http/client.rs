//! The client's address: the peer's, or — when the peer is a trusted proxy
//! (`tally serve --trusted-proxy CIDR`, repeatable) — the one its
//! forwarding headers name. The throttle keys on it.
//!
//! With a trusted peer, `Forwarded` (RFC 7239, its `for=` parameters) is
//! read when present, else `X-Forwarded-For`; the list is walked from the
//! right (the hop nearest to us) past every address that is itself a
//! trusted proxy, and the first other address is the client. A list that
//! does not parse, or names only trusted proxies, leaves the peer's
//! address: a client can never choose its own address by sending these
//! headers straight to Tally, since an untrusted peer's are ignored.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts the peers in `nets`.
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address of a request from `peer` with `headers`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer.ip());
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_for(headers).or_else(|| x_forwarded_for(headers));
        let Some(hops) = hops else { return peer };
        hops.into_iter()
            .rev()
            .find(|ip| !self.trusts(*ip))
            .unwrap_or(peer)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses of every `X-Forwarded-For` value, in order; `None` when
/// there is none or one does not parse.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for item in value.to_str().ok()?.split(',') {
            hops.push(node(item.trim())?);
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// The `for=` addresses of every `Forwarded` element, in order; `None`
/// when there is none or one does not parse (an obfuscated or `unknown`
/// node ends the walk there, as it names no address).
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        for element in value.to_str().ok()?.split(',') {
            let node_text = element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim().trim_matches('"'))
            })?;
            hops.push(node(node_text)?);
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// An address as these headers write it: `192.0.2.1`, `192.0.2.1:80`,
/// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:80`.
fn node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().filter_map(|n| n.parse().ok()).collect())
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, axum::http::HeaderValue::from_static(value));
        }
        map
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap_or_else(|_| unreachable!()), 40000)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.8"),
        ]);
        assert_eq!(trusted.client(peer("198.51.100.1"), &h), ip("198.51.100.1"));
        assert_eq!(proxies(&[]).client(peer("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_peer_names_the_client_and_trusted_hops_are_skipped() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1/32"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.1.2.3")]);
        assert_eq!(trusted.client(peer("127.0.0.1"), &h), ip("198.51.100.7"));
        let h = headers(&[(
            "forwarded",
            "for=203.0.113.9;proto=https, for=\"[2001:db8::1]:4711\"",
        )]);
        assert_eq!(trusted.client(peer("10.0.0.1"), &h), ip("2001:db8::1"));
        let h = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(trusted.client(peer("10.0.0.1"), &h), ip("10.0.0.1"));
        let h = headers(&[("x-forwarded-for", "10.9.9.9")]);
        assert_eq!(trusted.client(peer("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let trusted = proxies(&["127.0.0.0/8"]);
        assert!(trusted.trusts(ip("::ffff:127.0.0.1")));
    }
}
