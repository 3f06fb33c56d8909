//! HMAC-SHA256, the host's one keyed hash: webhook secrets and signatures
//! (`webhooks::sign`), the key that seals a studio session's admin token
//! (`authority::sessions`) and a sign-in's PKCE verifier and nonce
//! (`studio::oidc`), each derived from a secret of its own under a label of
//! its own.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// An HMAC-SHA256 keyed by `key`, to feed.
pub(crate) fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

/// HMAC-SHA256 of `label`, keyed by `key`: 32 bytes for one purpose,
/// derived from a secret.
pub(crate) fn derive(key: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = hmac(key);
    mac.update(label);
    mac.finalize().into_bytes().into()
}
