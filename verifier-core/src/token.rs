//! The `AppToken <tokenId>.<secret>` token format.
//!
//! - secret: 32 random bytes, written as base64url without padding (43 chars);
//! - tokenId: lowercase hex of the first 8 bytes of SHA-256(secret bytes);
//! - token: `<tokenId>.<secret>`; header: `AppToken <token>` or `Bearer <token>`,
//!   the scheme matched without regard to letter case (RFC 7235).
//!
//! Parsing is strict: exact lengths, the lowercase hex alphabet for the id,
//! canonical base64url (no padding, no stray trailing bits) for the secret, and
//! nothing after the token. A parsed header is only [`Credentials`]: the
//! presented secret hashed and its id checked against the hash prefix. It
//! becomes an authenticated token only through
//! [`Credentials::authenticate`](crate::Credentials::authenticate).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Malformed, ParseError};

/// Bytes of randomness in a secret.
pub const SECRET_BYTES: usize = 32;
/// Characters of a secret written as base64url without padding.
pub const SECRET_CHARS: usize = 43;
/// Characters of a tokenId (lowercase hex of 8 bytes).
pub const TOKEN_ID_CHARS: usize = 16;
/// Characters of a token string `<tokenId>.<secret>`.
pub const TOKEN_CHARS: usize = TOKEN_ID_CHARS + 1 + SECRET_CHARS;
/// Longest `Authorization` value the parser looks at; longer ones are
/// `malformed` without further work.
pub const MAX_HEADER_BYTES: usize = 512;

/// The public identifier of a token: the first 8 bytes of SHA-256(secret).
///
/// Written as 16 lowercase hex characters, in JSON too.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId([u8; 8]);

impl TokenId {
    /// The tokenId that belongs to a secret with this hash.
    pub fn of_hash(hash: &SecretHash) -> Self {
        let mut id = [0u8; 8];
        id.copy_from_slice(&hash.0[..8]);
        TokenId(id)
    }

    /// Wraps 8 raw bytes.
    pub fn from_bytes(bytes: [u8; 8]) -> Self {
        TokenId(bytes)
    }

    /// Parses 16 lowercase hex characters.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let bytes = text.as_bytes();
        if bytes.len() != TOKEN_ID_CHARS
            || !bytes
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        {
            return Err(ParseError::Malformed(Malformed::TokenId));
        }
        let mut id = [0u8; 8];
        hex::decode_to_slice(bytes, &mut id)
            .map_err(|_| ParseError::Malformed(Malformed::TokenId))?;
        Ok(TokenId(id))
    }

    /// The 8 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; TOKEN_ID_CHARS];
        // Infallible: the buffer is exactly twice the input length.
        let _ = hex::encode_to_slice(self.0, &mut buf);
        // Hex digits are ASCII, so this never fails.
        f.write_str(core::str::from_utf8(&buf).unwrap_or_default())
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

impl Serialize for TokenId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TokenId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        TokenId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// SHA-256 of a secret's 32 bytes: what storage keeps instead of the secret.
///
/// Equality is constant-time ([`SecretHash::ct_eq`]); there is deliberately no
/// `PartialEq`. Written as 64 lowercase hex characters in JSON.
#[derive(Clone, Copy)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Hashes secret bytes.
    pub fn of(secret: &[u8]) -> Self {
        SecretHash(Sha256::digest(secret).into())
    }

    /// Wraps a hash read from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretHash(bytes)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, ParseError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out)
            .map_err(|_| ParseError::Malformed(Malformed::SecretHash))?;
        Ok(SecretHash(out))
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> alloc::string::String {
        hex::encode(self.0)
    }

    /// Constant-time equality (`subtle`): the time taken does not depend on
    /// where the hashes first differ.
    pub fn ct_eq(&self, other: &SecretHash) -> bool {
        // Four 64-bit words instead of 32 bytes: same guarantee, an eighth of
        // the `subtle` barriers on the hot path.
        let (a, b) = (words(&self.0), words(&other.0));
        a[..].ct_eq(&b[..]).into()
    }
}

fn words(bytes: &[u8; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(chunk);
        *word = u64::from_le_bytes(buf);
    }
    out
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not the secret, but there is no reason to print all of it.
        write!(f, "SecretHash({}…)", TokenId::of_hash(self))
    }
}

impl Serialize for SecretHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for SecretHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        SecretHash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A freshly issued token. The only value that holds a secret in the clear:
/// show [`IssuedToken::token`] once, store [`IssuedToken::secret_hash`].
///
/// `Debug` prints the tokenId only.
#[derive(Clone)]
pub struct IssuedToken {
    id: TokenId,
    hash: SecretHash,
    secret: [u8; SECRET_CHARS],
}

impl IssuedToken {
    /// Issues a token from 32 bytes of the caller's randomness (the verifier
    /// has no randomness of its own). Feed it a CSPRNG such as `getrandom`.
    pub fn from_random(secret: [u8; SECRET_BYTES]) -> Self {
        let hash = SecretHash::of(&secret);
        let mut text = [0u8; SECRET_CHARS];
        // 32 bytes always encode to exactly 43 characters.
        let _ = URL_SAFE_NO_PAD.encode_slice(secret, &mut text);
        IssuedToken {
            id: TokenId::of_hash(&hash),
            hash,
            secret: text,
        }
    }

    /// The public tokenId.
    pub fn token_id(&self) -> TokenId {
        self.id
    }

    /// The hash to store.
    pub fn secret_hash(&self) -> SecretHash {
        self.hash
    }

    /// The secret part, base64url (43 characters).
    pub fn secret(&self) -> &str {
        core::str::from_utf8(&self.secret).unwrap_or_default()
    }

    /// `<tokenId>.<secret>`: what the holder keeps.
    pub fn token(&self) -> alloc::string::String {
        alloc::format!("{}.{}", self.id, self.secret())
    }

    /// `AppToken <tokenId>.<secret>`: the `Authorization` header value.
    pub fn header(&self) -> alloc::string::String {
        alloc::format!("AppToken {}", self.token())
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A token as presented: parsed, its secret hashed, and its tokenId checked
/// against the hash prefix — but not yet compared with any stored record.
///
/// Typestate: it exposes no grants. [`Credentials::authenticate`] against the
/// looked-up record gives an [`Authenticated`](crate::Authenticated) token.
#[derive(Clone, Copy)]
pub struct Credentials {
    id: TokenId,
    hash: SecretHash,
}

impl Credentials {
    /// Parses an `Authorization` header value.
    ///
    /// An empty value is [`ParseError::Missing`]; a value that is not
    /// `AppToken <token>` or `Bearer <token>` (scheme in any case, one or more
    /// spaces, nothing after the token) is [`ParseError::Malformed`]; a
    /// well-formed token whose id is not its secret's hash prefix is
    /// [`ParseError::BadSecret`] — found before any lookup.
    pub fn from_header(header: &str) -> Result<Self, ParseError> {
        if header.is_empty() {
            return Err(ParseError::Missing);
        }
        if header.len() > MAX_HEADER_BYTES {
            return Err(ParseError::Malformed(Malformed::TooLong));
        }
        let (scheme, rest) = match header.split_once(' ') {
            Some((scheme, rest)) => (scheme, rest.trim_start_matches(' ')),
            None => (header, ""),
        };
        if !scheme.eq_ignore_ascii_case("AppToken") && !scheme.eq_ignore_ascii_case("Bearer") {
            return Err(ParseError::Malformed(Malformed::Scheme));
        }
        if rest.is_empty() {
            return Err(ParseError::Malformed(Malformed::NoToken));
        }
        Self::from_token(rest)
    }

    /// Parses a bare token string `<tokenId>.<secret>`.
    pub fn from_token(token: &str) -> Result<Self, ParseError> {
        let bytes = token.as_bytes();
        if bytes.len() != TOKEN_CHARS {
            return Err(ParseError::Malformed(Malformed::Length));
        }
        let (id_text, rest) = token.split_at(TOKEN_ID_CHARS);
        let secret_text = rest
            .strip_prefix('.')
            .ok_or(ParseError::Malformed(Malformed::Separator))?;
        let hash = hash_secret_text(secret_text).ok_or(ParseError::Malformed(Malformed::Secret))?;
        let id = TokenId::of_hash(&hash);
        // Hot path: the presented id is the hex of the hash prefix. Not a
        // secret comparison: both sides derive from what the caller sent.
        let mut expected = [0u8; TOKEN_ID_CHARS];
        let _ = hex::encode_to_slice(id.0, &mut expected);
        if id_text.as_bytes() != expected {
            // Malformed (e.g. upper case) takes precedence over a mismatch.
            TokenId::parse(id_text)?;
            return Err(ParseError::BadSecret);
        }
        Ok(Credentials { id, hash })
    }

    /// The presented tokenId: the key to look the record up by.
    pub fn token_id(&self) -> TokenId {
        self.id
    }

    /// SHA-256 of the presented secret.
    pub(crate) fn secret_hash(&self) -> &SecretHash {
        &self.hash
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("id", &self.id).finish()
    }
}

/// Decodes a 43-character canonical base64url secret and hashes it; `None`
/// when the text is not exactly that.
///
/// Client secrets and setup codes use the same 32-byte, 43-character form, so
/// the authority checks them with this too.
pub fn hash_secret_text(text: &str) -> Option<SecretHash> {
    if text.len() != SECRET_CHARS {
        return None;
    }
    // One spare byte: the decoder sizes its check by a rounded-up estimate.
    let mut secret = [0u8; SECRET_BYTES + 1];
    match URL_SAFE_NO_PAD.decode_slice(text, &mut secret) {
        Ok(SECRET_BYTES) => Some(SecretHash::of(&secret[..SECRET_BYTES])),
        _ => None,
    }
}

/// A random secret that is not a token: an app's client secret or a setup
/// code. Same 43-character form; stored as its [`SecretHash`]; checked with
/// [`hash_secret_text`] and [`SecretHash::ct_eq`]. `Debug` redacts it.
#[derive(Clone)]
pub struct OpaqueSecret {
    hash: SecretHash,
    text: [u8; SECRET_CHARS],
}

impl OpaqueSecret {
    /// Makes one from 32 bytes of the caller's randomness.
    pub fn from_random(secret: [u8; SECRET_BYTES]) -> Self {
        let issued = IssuedToken::from_random(secret);
        OpaqueSecret {
            hash: issued.hash,
            text: issued.secret,
        }
    }

    /// The text to hand out once.
    pub fn text(&self) -> &str {
        core::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The hash to store.
    pub fn hash(&self) -> SecretHash {
        self.hash
    }
}

impl fmt::Debug for OpaqueSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueSecret(<redacted>)")
    }
}
