//! What the gateway forwards of a client's request headers, and what it
//! adds, as a proxy should (RFC 9110 §7.6).
//!
//! Nothing of the client's reaches the upstream unless it is meant to.
//! Removed before forwarding:
//! - credentials: `Authorization`, `Proxy-Authorization`, `Cookie` (the
//!   studio's session cookie must never reach an upstream that could
//!   replay it);
//! - every `X-Tally-*` header, with `_` read as `-` and case ignored
//!   (`X_Tally_Principal` too): the decision's headers are the gateway's to
//!   set, and the studio's marker is no upstream's business;
//! - hop-by-hop headers (`Connection`, `Keep-Alive`, `TE`, `Trailer`,
//!   `Transfer-Encoding`, `Upgrade`, `Proxy-Connection`) and every header
//!   that `Connection` names;
//! - `Host` (the upstream's own is used), and `Forwarded` /
//!   `X-Forwarded-*` unless the peer is a trusted proxy.
//!
//! Set: `X-Forwarded-For` (the trusted proxy's list with the peer appended,
//! else the peer alone), `X-Forwarded-Proto` (a trusted proxy's, else
//! `http`), `X-Forwarded-Host` (a trusted proxy's, else the request's
//! `Host`). The rules are pinned by the table in
//! `tests/fixtures/forwarded-headers.json`, which the gateway's tests and
//! the edge worker's both run.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// Hop-by-hop headers (RFC 9110 §7.6.1, and the old `Proxy-Connection`).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
];

/// The client's credentials, never forwarded.
const CREDENTIALS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Whether `name` is an `X-Tally-*` header, reading `_` as `-` and
/// ignoring case (header names arrive lowercased).
fn is_tally(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() > 8
        && bytes[..8]
            .iter()
            .zip(b"x-tally-")
            .all(|(&b, &want)| b.to_ascii_lowercase() == want || (b == b'_' && want == b'-'))
}

/// The header names that `Connection` lists, lowercased.
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Removes the hop-by-hop headers and those `Connection` names (for
/// requests and responses alike).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in connection_listed(headers) {
        headers.remove(name.as_str());
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Where the request came from, for the forwarding headers.
pub(crate) struct Origin<'a> {
    /// Whether the peer is a trusted proxy (`--trusted-proxy`), whose
    /// forwarding headers are kept and extended.
    pub trusted_peer: bool,
    /// The peer's own address.
    pub peer: IpAddr,
    /// The request's `Host`, if any.
    pub host: Option<&'a HeaderValue>,
}

/// Rewrites a client's request headers into those the upstream gets
/// (before the decision's headers are added).
pub(crate) fn request_headers(headers: &mut HeaderMap, origin: &Origin<'_>) {
    let host = origin.host.cloned();
    strip_hop_by_hop(headers);
    for name in CREDENTIALS {
        headers.remove(name);
    }
    let tally: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_tally(name.as_str()))
        .cloned()
        .collect();
    for name in tally {
        headers.remove(name);
    }
    headers.remove(header::HOST);
    let kept = |headers: &mut HeaderMap, name: &str| -> Option<HeaderValue> {
        let value = headers.remove(name);
        if origin.trusted_peer { value } else { None }
    };
    let forwarded_for = kept(headers, "x-forwarded-for");
    let proto = kept(headers, "x-forwarded-proto");
    let forwarded_host = kept(headers, "x-forwarded-host");
    if !origin.trusted_peer {
        headers.remove("forwarded");
    }
    let chain = match forwarded_for.as_ref().and_then(|v| v.to_str().ok()) {
        Some(list) if !list.trim().is_empty() => format!("{}, {}", list.trim(), origin.peer),
        _ => origin.peer.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert("x-forwarded-for", value);
    }
    headers.insert(
        "x-forwarded-proto",
        proto.unwrap_or(HeaderValue::from_static("http")),
    );
    if let Some(value) = forwarded_host.or(host) {
        headers.insert("x-forwarded-host", value);
    }
}

#[cfg(test)]
mod tests {
    use super::is_tally;

    #[test]
    fn tally_headers_are_recognised_in_every_spelling() {
        for name in [
            "x-tally-principal",
            "x_tally_principal",
            "x-tally_masked",
            "x_tally-studio",
        ] {
            assert!(is_tally(name), "{name}");
        }
        for name in ["x-tally", "x-tallyho", "x-forwarded-for", "tally-x"] {
            assert!(!is_tally(name), "{name}");
        }
    }
}
