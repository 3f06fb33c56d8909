//! Outbound requests to apps' backends: connect within 5 s, answer within
//! 10 s, no redirects, at most 16 KiB of an answer read (then dropped),
//! and no private, loopback, link-local or otherwise internal address
//! unless the operator allows them (`--allow-private-webhooks`). The check
//! is made on the addresses the connection will use (a resolver of our
//! own), so a name that resolves elsewhere later cannot slip past it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Longest a delivery may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of an answer read.
pub const MAX_ANSWER: usize = 16 * 1024;

/// Sends deliveries.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The receiver answered with this status.
    Answered(u16),
    /// No answer: why (refused target, connection, timeout).
    Failed(String),
}

impl Outbound {
    /// A sender; `allow_private` lets deliveries reach internal addresses.
    pub fn new(allow_private: bool) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tally-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Checked { allow_private }))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Outbound {
            client,
            allow_private,
        })
    }

    /// POSTs `body` (JSON) to `url` with `headers`.
    pub async fn post(&self, url: &str, headers: &[(&str, String)], body: String) -> Sent {
        let parsed = match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => return Sent::Failed("the webhook URL is not an http(s) URL".into()),
        };
        // An address written in the URL is never resolved: check it here.
        if let Some(ip) = literal_ip(&parsed)
            && !self.allow_private
            && !is_public(ip)
        {
            return Sent::Failed(format!(
                "refused: {ip} is a private or loopback address (--allow-private-webhooks allows it)"
            ));
        }
        let mut request = self
            .client
            .post(parsed)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Sent::Failed(describe(&e)),
        };
        let status = response.status().as_u16();
        // Read a little of the answer (a receiver may wait for it to be
        // read) and no more.
        let mut read = 0;
        while read < MAX_ANSWER {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        Sent::Answered(status)
    }
}

/// The error as a line for the delivery log (with its cause, which says
/// whether the target was refused).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT; 0.0.0.0/8; 198.18.0.0/15, benchmarking.
                || (a == 100 && (64..128).contains(&b))
                || a == 0
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local())
            }
        },
    }
}

/// The system resolver, keeping only addresses deliveries may reach.
struct Checked {
    allow_private: bool,
}

impl Resolve for Checked {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!(
                    "refused: {host} resolves only to private or loopback addresses \
                     (--allow-private-webhooks allows them)"
                )
                .into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
