//! The verifier module ABI, version [`ABI_VERSION`]: the safe half.
//!
//! This module turns the ABI's input bytes into output bytes; the
//! `extern "C"` exports that move those bytes in and out of wasm linear
//! memory live in `abi/exports.rs` (wasm32 with the `module` feature). The
//! byte layout is specified in `verifier-core/ABI.md`. Keeping the codec here
//! means it is tested natively and the differential tests compare wasm with
//! exactly this.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::decision::{Decision, Reason};
use crate::error::ParseError;
use crate::record::TokenRecord;
use crate::request::{Environment, Request};
use crate::token::{Credentials, TokenId};
use crate::verify::verify;

#[cfg(all(target_arch = "wasm32", feature = "module"))]
mod exports;

/// The ABI version the module reports from `abi_version`.
pub const ABI_VERSION: u32 = 1;
/// Largest `verify` input document, bytes; a larger one is a `bad_input`
/// error.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// The `verify` input document: `{ "record": …|null, "environment": …|null,
/// "request": … }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyInput {
    /// What the lookup found (`null` = nothing).
    #[serde(default)]
    pub record: Option<TokenRecord>,
    /// The request's environment policy, if known.
    #[serde(default)]
    pub environment: Option<Environment>,
    /// The request.
    pub request: Request,
}

/// What `parse` answers: `{"tokenId":"…"}` or `{"reason":"malformed"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParseOutput {
    /// The header parsed: look this id up.
    #[serde(rename_all = "camelCase")]
    Parsed {
        /// The tokenId to look up.
        token_id: TokenId,
    },
    /// The header was refused; the request is decided by this reason.
    Refused {
        /// Why (`missing_credentials`, `malformed`, `bad_secret`).
        reason: Reason,
    },
}

/// What `verify` answers: `{"decision":{…}}` or
/// `{"error":{"code":"bad_input","message":"…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VerifyOutput {
    /// The decision.
    Decision(Decision),
    /// The input could not be read; a driver must deny (fail closed).
    Error(AbiError),
}

/// An input the module could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbiError {
    /// Stable code: `bad_input`.
    pub code: String,
    /// What was wrong.
    pub message: String,
}

/// `parse`: an `Authorization` value (UTF-8; empty = none) to a [`ParseOutput`].
pub fn parse(header: &[u8]) -> ParseOutput {
    let parsed = core::str::from_utf8(header)
        .map_err(|_| ParseError::Malformed(crate::error::Malformed::Scheme))
        .and_then(Credentials::from_header);
    match parsed {
        Ok(credentials) => ParseOutput::Parsed {
            token_id: credentials.token_id(),
        },
        Err(error) => ParseOutput::Refused {
            reason: error.reason(),
        },
    }
}

/// `verify`: an `Authorization` value and a [`VerifyInput`] JSON document to a
/// [`VerifyOutput`].
pub fn verify_input(header: &[u8], input: &[u8]) -> VerifyOutput {
    if input.len() > MAX_INPUT_BYTES {
        return bad_input(String::from("input larger than MAX_INPUT_BYTES"));
    }
    let input: VerifyInput = match serde_json::from_slice(input) {
        Ok(input) => input,
        Err(error) => return bad_input(alloc::format!("{error}")),
    };
    let decision = match core::str::from_utf8(header) {
        Ok(header) => verify(
            header,
            input.record.as_ref(),
            input.environment.as_ref(),
            &input.request,
        ),
        Err(_) => Decision::deny(Reason::Malformed),
    };
    VerifyOutput::Decision(decision)
}

/// [`parse`] written as the module writes it.
pub fn parse_bytes(header: &[u8]) -> Vec<u8> {
    to_json(&parse(header))
}

/// [`verify_input`] written as the module writes it.
pub fn verify_bytes(header: &[u8], input: &[u8]) -> Vec<u8> {
    to_json(&verify_input(header, input))
}

fn bad_input(message: String) -> VerifyOutput {
    VerifyOutput::Error(AbiError {
        code: String::from("bad_input"),
        message,
    })
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain types to a Vec cannot fail; should it ever, an
    // empty output is not valid JSON and every driver denies on it.
    serde_json::to_vec(value).unwrap_or_default()
}
