//! Studio sessions, kept in the store so that every node knows them:
//! behind a load balancer a browser signed in on one node is signed in on
//! all of them, and signing out on one ends the session on all of them. A
//! restart signs no one out.
//!
//! A session's cookie value is 32 random bytes (43 characters of
//! base64url); the store keeps its SHA-256 ([`StudioSessionRow::hash`]).
//! A session opened with an admin token keeps that token sealed
//! (ChaCha20-Poly1305, the session's hash as associated data) under a key
//! derived from the cookie value (HMAC-SHA256 keyed by the cookie, of a
//! label of its own), which the store never sees: neither a copy of the
//! database nor anything it logs holds the token. Each request made with
//! the cookie authenticates that token again, so revoking it ends the
//! session at once. The nonce is fixed: each key seals one token, once.
//!
//! Expired sessions are deleted when a session is opened; nothing caps
//! how many are open (each needs a sign-in, and lives eight hours).
//!
//! Sign-ins under way with OpenID Connect are kept here too, by their
//! state's hash ([`SignInRow`]), so that a sign-in started on one node may
//! come back to another.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use verifier_core::OpaqueSecret;
use verifier_core::token::hash_secret_text;

use super::{Authority, AuthorityError};
use crate::storage::{SignInRow, StudioSessionRow};

/// How long a session lasts, seconds.
pub const SESSION_SECONDS: i64 = 8 * 60 * 60;
/// Sign-ins under way kept at most: anyone may start one, so the oldest
/// are forgotten beyond this (their browsers start again).
pub const MAX_SIGN_INS: u32 = 10_000;

/// What a studio session was opened with; `Debug` does not show a token.
#[derive(Clone)]
pub enum Opened {
    /// An admin token: its `Authorization` value.
    Token(String),
    /// A person, by user id.
    User(String),
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Opened::Token(_) => f.write_str("Token(<redacted>)"),
            Opened::User(id) => write!(f, "User({id})"),
        }
    }
}

impl Authority {
    /// Opens a studio session for a person or an admin token (`opened`);
    /// returns the cookie value, which only the browser keeps.
    pub fn open_studio_session(&self, opened: Opened) -> Result<String, AuthorityError> {
        let bytes =
            crate::random::secret_bytes().map_err(|e| AuthorityError::Internal(e.to_string()))?;
        let cookie = OpaqueSecret::from_random(bytes);
        let hash = cookie.hash();
        let now = self.now();
        let (user_id, sealed_token) = match opened {
            Opened::User(id) => (Some(id), None),
            Opened::Token(header) => (None, Some(seal(cookie.text(), &hash, &header)?)),
        };
        self.store()?.open_studio_session(
            &StudioSessionRow {
                hash,
                user_id,
                sealed_token,
                expires_at: now + SESSION_SECONDS,
            },
            now,
        )?;
        Ok(cookie.text().to_owned())
    }

    /// What the session with cookie value `cookie` was opened with, if it
    /// is open (`None` for a value that is not a session's, one that has
    /// expired or been closed, or one whose sealed token does not open).
    pub fn studio_session(&self, cookie: &str) -> Result<Option<Opened>, AuthorityError> {
        let Some(hash) = hash_secret_text(cookie) else {
            return Ok(None);
        };
        let Some(row) = self.store()?.studio_session(&hash, self.now())? else {
            return Ok(None);
        };
        Ok(match (row.user_id, row.sealed_token) {
            (Some(id), _) => Some(Opened::User(id)),
            (None, Some(sealed)) => unseal(cookie, &row.hash, &sealed).map(Opened::Token),
            (None, None) => None,
        })
    }

    /// Closes the session with cookie value `cookie` (nothing when there
    /// is none).
    pub fn close_studio_session(&self, cookie: &str) -> Result<(), AuthorityError> {
        match hash_secret_text(cookie) {
            Some(hash) => Ok(self.store()?.close_studio_session(&hash)?),
            None => Ok(()),
        }
    }

    /// Keeps a started studio sign-in (`studio::oidc`) where every node
    /// finds it.
    pub fn start_sign_in(&self, row: &SignInRow) -> Result<(), AuthorityError> {
        Ok(self.store()?.start_sign_in(row, self.now(), MAX_SIGN_INS)?)
    }

    /// Takes the started sign-in with this `state` out of the store, once
    /// (`None` when there is none; it may have expired).
    pub fn take_sign_in(&self, state: &str) -> Result<Option<SignInRow>, AuthorityError> {
        match hash_secret_text(state) {
            Some(hash) => Ok(self.store()?.take_sign_in(&hash)?),
            None => Ok(None),
        }
    }
}

/// The sealing key of the session whose cookie value is `cookie`.
fn key(cookie: &str) -> Key {
    Key::from(crate::keyed::derive(
        cookie.as_bytes(),
        b"tally studio session: the admin token's seal",
    ))
}

/// `header` sealed for the session `hash` with cookie value `cookie`.
fn seal(
    cookie: &str,
    hash: &verifier_core::SecretHash,
    header: &str,
) -> Result<Vec<u8>, AuthorityError> {
    ChaCha20Poly1305::new(&key(cookie))
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: header.as_bytes(),
                aad: hash.as_bytes(),
            },
        )
        .map_err(|_| AuthorityError::Internal("the session's token does not seal".into()))
}

/// What [`seal`] sealed, if `sealed` opens with `cookie`'s key.
fn unseal(cookie: &str, hash: &verifier_core::SecretHash, sealed: &[u8]) -> Option<String> {
    let header = ChaCha20Poly1305::new(&key(cookie))
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: sealed,
                aad: hash.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(header).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_with_its_cookie_and_session() {
        let (cookie, other) = (
            OpaqueSecret::from_random([7; 32]),
            OpaqueSecret::from_random([8; 32]),
        );
        let (cookie, hash) = (cookie.text(), cookie.hash());
        let sealed = seal(cookie, &hash, "AppToken 0123456789abcdef.secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            unseal(cookie, &hash, &sealed).as_deref(),
            Some("AppToken 0123456789abcdef.secret")
        );
        // Another cookie's key, or another session's row: it does not open.
        assert_eq!(unseal(other.text(), &hash, &sealed), None);
        assert_eq!(unseal(cookie, &other.hash(), &sealed), None);
    }
}
