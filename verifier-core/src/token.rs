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

use base64_simd::{Out, URL_SAFE_NO_PAD};
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
        Self::parse_bytes(text.as_bytes())
    }

    fn parse_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
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
        match <&[u8; SECRET_BYTES]>::try_from(secret) {
            Ok(secret) => Self::of_secret(secret),
            Err(_) => SecretHash(Sha256::digest(secret).into()),
        }
    }

    /// Hashes a 32-byte secret, every token's, client secret's and setup
    /// code's. Such a message is one padded block, so it goes straight to
    /// `sha2`'s compression function (`block_api::compress256`, the
    /// hardware one where the CPU has it): the buffered `Digest` path costs
    /// about half as much again as the compression for so short a message,
    /// and every verification hashes one secret (figures in BENCHMARKS.md,
    /// "Tally beside its peers"). A test holds it to `Sha256::digest`.
    pub fn of_secret(secret: &[u8; SECRET_BYTES]) -> Self {
        // FIPS 180-4, 5.3.3: the initial hash value.
        const H0: [u32; 8] = [
            0x6a09_e667,
            0xbb67_ae85,
            0x3c6e_f372,
            0xa54f_f53a,
            0x510e_527f,
            0x9b05_688c,
            0x1f83_d9ab,
            0x5be0_cd19,
        ];
        // FIPS 180-4, 5.1.1: the message, a 1 bit, zeros, and the length in
        // bits (256) in the last 64 bits, big-endian.
        let mut block = [0u8; 64];
        block[..SECRET_BYTES].copy_from_slice(secret);
        block[SECRET_BYTES] = 0x80;
        block[62] = 0x01;
        let mut state = H0;
        sha2::block_api::compress256(&mut state, &[block]);
        let mut hash = [0u8; 32];
        for (bytes, word) in hash.chunks_exact_mut(4).zip(state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        SecretHash(hash)
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
        ct_eq_bytes(&self.0, &other.0)
    }
}

/// Constant-time equality of two byte strings of the same length (a
/// different length is `false` at once: lengths are not secret here).
///
/// Every 8-byte word pair is XORed and the differences ORed together with
/// no branch on the data, then `subtle` decides whether the sum is zero
/// behind its optimisation barrier. `subtle`'s own slice comparison puts a
/// barrier (a volatile read, a call in the wasm module) on every element:
/// for a 60-byte header that was a twentieth of a whole check under wasmtime.
pub(crate) fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut difference = 0u64;
    for (x, y) in a.chunks(8).zip(b.chunks(8)) {
        difference |= word(x) ^ word(y);
    }
    difference.ct_eq(&0).into()
}

/// Up to 8 bytes as a little-endian word, zero-padded (the branch is on the
/// length only).
fn word(chunk: &[u8]) -> u64 {
    if let Ok(whole) = <[u8; 8]>::try_from(chunk) {
        return u64::from_le_bytes(whole);
    }
    let mut buf = [0u8; 8];
    for (to, from) in buf.iter_mut().zip(chunk) {
        *to = *from;
    }
    u64::from_le_bytes(buf)
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not the secret, but there is no reason to print all of it.
        write!(f, "SecretHash({}…)", TokenId::of_hash(self))
    }
}

impl Serialize for SecretHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // On the stack: a replica's snapshot writes millions of these.
        let mut buf = [0u8; 64];
        // Infallible: the buffer is exactly twice the input length.
        let _ = hex::encode_to_slice(self.0, &mut buf);
        // Hex digits are ASCII, so this never fails.
        s.serialize_str(core::str::from_utf8(&buf).unwrap_or_default())
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
        let hash = SecretHash::of_secret(&secret);
        let mut text = [0u8; SECRET_CHARS];
        // 32 bytes always encode to exactly 43 characters, so `text` is
        // large enough (the encoder asserts it).
        let _ = URL_SAFE_NO_PAD.encode(&secret, Out::from_slice(&mut text));
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
        Self::from_header_bytes(header.as_bytes())
    }

    /// [`Credentials::from_header`] for the raw bytes of a header value, as
    /// they arrive (HTTP allows bytes that are not ASCII in a header value;
    /// every such value is [`ParseError::Malformed`]).
    ///
    /// The parse works on bytes throughout: nothing to validate as UTF-8
    /// first, and no `str` slicing that could fall inside a character (an
    /// earlier `str` version panicked on a 60-byte token of three-byte
    /// characters).
    pub fn from_header_bytes(header: &[u8]) -> Result<Self, ParseError> {
        if header.is_empty() {
            return Err(ParseError::Missing);
        }
        if header.len() > MAX_HEADER_BYTES {
            return Err(ParseError::Malformed(Malformed::TooLong));
        }
        let (scheme, rest) = match header.iter().position(|&b| b == b' ') {
            Some(at) => {
                let (scheme, rest) = header.split_at(at);
                let token_at = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
                (scheme, rest.get(token_at..).unwrap_or_default())
            }
            None => (header, &[][..]),
        };
        if !scheme.eq_ignore_ascii_case(b"AppToken") && !scheme.eq_ignore_ascii_case(b"Bearer") {
            return Err(ParseError::Malformed(Malformed::Scheme));
        }
        if rest.is_empty() {
            return Err(ParseError::Malformed(Malformed::NoToken));
        }
        Self::from_token_bytes(rest)
    }

    /// Parses a bare token string `<tokenId>.<secret>`.
    pub fn from_token(token: &str) -> Result<Self, ParseError> {
        Self::from_token_bytes(token.as_bytes())
    }

    fn from_token_bytes(token: &[u8]) -> Result<Self, ParseError> {
        if token.len() != TOKEN_CHARS {
            return Err(ParseError::Malformed(Malformed::Length));
        }
        let (id_text, rest) = token.split_at(TOKEN_ID_CHARS);
        let secret_text = rest
            .strip_prefix(b".")
            .ok_or(ParseError::Malformed(Malformed::Separator))?;
        let hash =
            hash_secret_bytes(secret_text).ok_or(ParseError::Malformed(Malformed::Secret))?;
        let id = TokenId::of_hash(&hash);
        // Hot path: the presented id is the hex of the hash prefix. Not a
        // secret comparison: both sides derive from what the caller sent.
        let mut expected = [0u8; TOKEN_ID_CHARS];
        let _ = hex::encode_to_slice(id.0, &mut expected);
        if id_text != expected {
            // Malformed (e.g. upper case) takes precedence over a mismatch.
            TokenId::parse_bytes(id_text)?;
            return Err(ParseError::BadSecret);
        }
        Ok(Credentials { id, hash })
    }

    /// Credentials for a secret with this hash: what a driver that parsed
    /// and hashed the header itself hands the module (`abi`), and what an
    /// authenticated token decides with (`Authenticated::authorize`). Not
    /// public: outside the crate, credentials come only from a presented
    /// secret.
    pub(crate) fn from_hash(hash: SecretHash) -> Self {
        Credentials {
            id: TokenId::of_hash(&hash),
            hash,
        }
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
    hash_secret_bytes(text.as_bytes())
}

/// The decoder is `base64-simd`'s: strict like `base64`'s default engine
/// (the alphabet only, no padding, trailing bits zero; a test holds the two
/// to the same answers), and in the verifier module, built with wasm SIMD,
/// it decodes with vector instructions, which took the plugin ÷ native
/// ratio under its target (`cargo bench -p tally --bench ratio`, both
/// modules in the same rounds); natively it reads the same as `base64`.
fn hash_secret_bytes(text: &[u8]) -> Option<SecretHash> {
    if text.len() != SECRET_CHARS {
        return None;
    }
    // 43 characters decode to exactly 32 bytes, so `secret` is large
    // enough (the decoder asserts it).
    let mut secret = [0u8; SECRET_BYTES];
    match URL_SAFE_NO_PAD.decode(text, Out::from_slice(&mut secret)) {
        Ok(decoded) if decoded.len() == SECRET_BYTES => Some(SecretHash::of_secret(&secret)),
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

// proptest is a native dev-dependency (the browser tests are tests/browser.rs).
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::ct_eq_bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_secrets_hash_is_its_sha256(secret in proptest::array::uniform32(any::<u8>())) {
            use sha2::Digest;
            let digest: [u8; 32] = sha2::Sha256::digest(secret).into();
            prop_assert_eq!(super::SecretHash::of_secret(&secret).0, digest);
            prop_assert_eq!(super::SecretHash::of(&secret[..]).0, digest);
        }
    }

    #[test]
    fn ct_eq_bytes_finds_a_difference_at_every_position() {
        for n in 0..=70usize {
            let a: alloc::vec::Vec<u8> = (0..n).map(|i| i as u8).collect();
            assert!(ct_eq_bytes(&a, &a.clone()));
            for at in 0..n {
                for bit in [0x01, 0x80] {
                    let mut b = a.clone();
                    b[at] ^= bit;
                    assert!(!ct_eq_bytes(&a, &b), "n {n} at {at}");
                }
            }
            assert!(!ct_eq_bytes(&a, &[a.as_slice(), &[0]].concat()));
        }
    }

    #[test]
    fn secrets_with_stray_bits_or_foreign_characters_are_refused() {
        use super::hash_secret_text;
        let good = "A".repeat(43);
        assert!(hash_secret_text(&good).is_some());
        // The last character carries 2 stray bits: 'B' sets one.
        let stray = format!("{}B", "A".repeat(42));
        assert!(hash_secret_text(&stray).is_none());
        for bad in ['+', '/', '=', ' ', '.', 'é'] {
            let text = format!("{}{bad}{}", "A".repeat(20), "A".repeat(22));
            assert!(hash_secret_text(&text).is_none(), "{bad:?}");
        }
        assert!(hash_secret_text(&"A".repeat(42)).is_none());
        assert!(hash_secret_text(&"A".repeat(44)).is_none());
    }

    #[test]
    fn a_token_of_multibyte_characters_is_malformed_not_a_panic() {
        use super::{Credentials, ParseError};
        // 60 bytes whose byte 16 falls inside a character.
        for token in [
            "€".repeat(20),
            format!("{}{}", "a".repeat(15), "€".repeat(15)),
            "é".repeat(30),
        ] {
            for header in [format!("AppToken {token}"), format!("Bearer  {token}")] {
                let parsed = Credentials::from_header(&header);
                assert!(matches!(parsed, Err(ParseError::Malformed(_))), "{header}");
            }
        }
    }

    proptest! {
        #[test]
        fn any_header_text_parses_as_its_bytes_do(token in "\\PC{0,64}", scheme in "(AppToken|bearer|Basic) {1,3}") {
            use super::Credentials;
            let header = format!("{scheme}{token}");
            let text = Credentials::from_header(&header);
            let bytes = Credentials::from_header_bytes(header.as_bytes());
            prop_assert_eq!(text.map(|c| c.token_id()), bytes.map(|c| c.token_id()));
            if !token.is_ascii() {
                prop_assert!(Credentials::from_header(&header).is_err());
            }
        }

        #[test]
        fn any_header_bytes_never_panic(header in prop::collection::vec(any::<u8>(), 0..80)) {
            let _ = super::Credentials::from_header_bytes(&header);
        }

        #[test]
        fn canonical_secrets_are_accepted(text in "[A-Za-z0-9_-]{42}[AQgw]") {
            prop_assert!(super::hash_secret_text(&text).is_some());
        }

        /// The secret's decoder (`base64-simd`) answers as the `base64`
        /// crate's strict URL-safe engine does, for 43 characters mostly of
        /// the alphabet with now and then one that is not (`+`, `/`, `=`,
        /// a space, a non-ASCII byte), and any last character (its trailing
        /// bits must be zero).
        #[test]
        fn secrets_decode_as_the_base64_crate_decodes_them(
            mut text in prop::collection::vec(
                prop_oneof![
                    60 => prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()),
                    1 => prop::sample::select(b"+/= .\x00".to_vec()),
                    1 => 0x80u8..=0xff,
                ],
                super::SECRET_CHARS,
            ),
            last in any::<u8>(),
            set_last in any::<bool>(),
        ) {
            use base64::Engine as _;
            if set_last {
                text[super::SECRET_CHARS - 1] = last;
            }
            let mut expected = [0u8; super::SECRET_BYTES + 1];
            let expected = match base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode_slice(&text, &mut expected)
            {
                Ok(super::SECRET_BYTES) => Some(super::SecretHash::of(&expected[..super::SECRET_BYTES])),
                _ => None,
            };
            let ours = super::hash_secret_bytes(&text);
            prop_assert_eq!(ours.map(|h| *h.as_bytes()), expected.map(|h| *h.as_bytes()));
        }

        #[test]
        fn issued_secrets_decode_to_their_hash(secret in any::<[u8; 32]>()) {
            let issued = super::IssuedToken::from_random(secret);
            let text = issued.token();
            let secret_text = &text[super::TOKEN_ID_CHARS + 1..];
            let hash = super::hash_secret_text(secret_text);
            prop_assert!(hash.is_some_and(|h| h.as_bytes() == issued.secret_hash().as_bytes()));
        }

        #[test]
        fn ct_eq_bytes_is_eq(a in prop::collection::vec(0u8..3, 0..40), b in prop::collection::vec(0u8..3, 0..40)) {
            prop_assert_eq!(ct_eq_bytes(&a, &b), a == b);
        }
    }
}
