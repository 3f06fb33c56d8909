//! Header parsing: never panics, and a header that parses names a tokenId
//! that is the hash prefix of its secret (re-encoding gives the same token).
#![no_main]

use libfuzzer_sys::fuzz_target;
use verifier_core::{Credentials, abi};

fuzz_target!(|data: &[u8]| {
    let _ = abi::parse_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(credentials) = Credentials::from_header(text) {
            let token = text.rsplit(' ').next().unwrap_or_default();
            assert!(token.starts_with(&credentials.token_id().to_string()));
            assert_eq!(token.len(), verifier_core::token::TOKEN_CHARS);
        }
    }
});
