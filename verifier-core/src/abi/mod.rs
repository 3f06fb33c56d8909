//! The verifier module ABI, version [`ABI_VERSION`]: the safe half.
//!
//! This module turns the ABI's input bytes into output bytes; the
//! `extern "C"` exports that move those bytes in and out of wasm linear
//! memory live in `abi/exports.rs` (wasm32 with the `module` feature). Payloads
//! are the [`wire`] types in postcard encoding; `verifier-core/ABI.md`
//! specifies both byte for byte. Keeping the codec here means it is tested
//! natively, and drivers written in Rust (the host) encode and decode with
//! exactly the code the module runs: [`encode_input`], [`decode_parse`],
//! [`decode_verify`], and the prepared-value table the module keeps
//! ([`Instance`]).

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::decision::{Decision, Reason, Verdict};
use crate::error::ParseError;
use crate::grant::Action;
use crate::record::TokenRecord;
use crate::request::{Environment, Request};
use crate::token::{Credentials, TokenId};
use crate::verify::{Found, verify_parsed};

mod decision_reader;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod exports;
mod instance;
pub mod policy;
mod request_writer;
pub mod wire;

pub use instance::{Instance, MAX_PREPARED, PREPARE_ENVIRONMENT, PREPARE_RECORD};
pub use policy::{AsGranted, Policy};
pub use wire::DecisionView;

/// The ABI version the module reports from `abi_version`.
pub const ABI_VERSION: u32 = 3;
/// Largest `verify` input, bytes; a larger one is `BadInput`.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// A module answer a driver cannot use; the request must be denied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AbiError {
    /// The module could not read the input it was given.
    #[error("the verifier module refused its input: {0}")]
    BadInput(String),
    /// The module's output does not decode.
    #[error("the verifier module's output does not decode")]
    BadOutput,
}

/// Bytes of the credentials a driver passes to `tally_verify_credentials`:
/// the SHA-256 of the presented secret (the tokenId is its prefix).
pub const CREDENTIALS_BYTES: usize = 32;

/// What a driver that parses `Authorization` values itself
/// ([`Credentials::from_header_bytes`], natively) passes to
/// `tally_verify_credentials` (ABI.md): the module then never sees the
/// secret, and skips hashing it.
pub fn encode_credentials(credentials: &Credentials) -> [u8; CREDENTIALS_BYTES] {
    *credentials.secret_hash().as_bytes()
}

/// The credentials [`encode_credentials`] wrote; `None` for bytes of
/// another length.
pub(crate) fn decode_credentials(bytes: &[u8]) -> Option<Credentials> {
    let hash = <[u8; CREDENTIALS_BYTES]>::try_from(bytes).ok()?;
    Some(Credentials::from_hash(
        crate::token::SecretHash::from_bytes(hash),
    ))
}

/// An `Authorization` value's bytes parsed (bytes that are not ASCII are
/// malformed).
pub(crate) fn credentials(header: &[u8]) -> Result<Credentials, ParseError> {
    Credentials::from_header_bytes(header)
}

pub(crate) fn parse_result(parsed: Result<Credentials, ParseError>) -> wire::ParseResult {
    match parsed {
        Ok(credentials) => wire::ParseResult::Parsed(*credentials.token_id().as_bytes()),
        Err(error) => wire::ParseResult::Refused(error.reason()),
    }
}

/// `parse`: an `Authorization` value (UTF-8; empty = none).
pub fn parse(header: &[u8]) -> wire::ParseResult {
    parse_result(credentials(header))
}

/// `verify`: an `Authorization` value and an encoded [`wire::Input`].
pub fn verify_input(header: &[u8], input: &[u8]) -> wire::VerifyResult {
    verify_input_with::<AsGranted, _>(
        || credentials(header),
        input,
        |r| wire::VerifyResult::from(r),
    )
}

/// [`verify_input`] as a module deciding under the policy `P` answers
/// (under [`AsGranted`] it is [`verify_input`]): how a plugin crate tests
/// its policy natively, with the code its module runs.
pub fn verify_input_under<P: Policy>(header: &[u8], input: &[u8]) -> wire::VerifyResult {
    verify_input_with::<P, _>(
        || credentials(header),
        input,
        |r| wire::VerifyResult::from(r),
    )
}

/// [`verify_input`] with the header's parse supplied (the module may have it
/// from this check's `parse`) and the module's policy `P`; `then` gets the
/// decision or the refusal (the decision borrows the decoded record, so it
/// is used in place).
pub(crate) fn verify_input_with<P: Policy, R>(
    parsed: impl FnOnce() -> Result<Credentials, ParseError>,
    input: &[u8],
    then: impl FnOnce(&Result<Verdict<'_>, &'static str>) -> R,
) -> R {
    if input.len() > MAX_INPUT_BYTES {
        return then(&Err("input larger than MAX_INPUT_BYTES"));
    }
    let Some(input) = decode::<wire::InputIn>(input) else {
        return then(&Err("input is not an encoded verify input"));
    };
    let record = input.record.map(TokenRecord::try_from).transpose();
    let environment = input.environment.map(Environment::try_from).transpose();
    let action = input.request.action.parse::<Action>();
    let (Ok(record), Ok(environment), Ok(action)) = (record, environment, action) else {
        return then(&Err("input holds an invalid action name"));
    };
    let request = input.request.view(&action);
    let verdict = verify_parsed(
        parsed(),
        record.as_ref().map(Found::from),
        environment.as_ref(),
        &request,
    );
    then(&Ok(policy::apply::<P>(verdict, &request)))
}

/// [`parse`], encoded as the module writes it.
pub fn parse_bytes(header: &[u8]) -> Vec<u8> {
    encode(&parse(header))
}

/// [`verify_input`], encoded as the module writes it.
pub fn verify_bytes(header: &[u8], input: &[u8]) -> Vec<u8> {
    verify_input_with::<AsGranted, _>(
        || credentials(header),
        input,
        |result| encode(&wire::VerifyResultRef::from(result)),
    )
}

/// Encodes a `verify` input (a driver's side).
pub fn encode_input(
    record: Option<&TokenRecord>,
    environment: Option<&Environment>,
    request: &Request,
) -> Vec<u8> {
    encode(&wire::Input {
        record: record.map(Into::into),
        environment: environment.map(Into::into),
        request: request.into(),
    })
}

/// Encodes a record for `tally_prepare` ([`PREPARE_RECORD`]).
pub fn encode_record(record: &TokenRecord) -> Vec<u8> {
    encode(&wire::Record::from(record))
}

/// Encodes an environment for `tally_prepare` ([`PREPARE_ENVIRONMENT`]).
pub fn encode_environment(environment: &Environment) -> Vec<u8> {
    encode(&wire::Env::from(environment))
}

/// Encodes a request for `tally_verify_prepared`: the same bytes as the
/// request part of [`encode_input`], written from borrowed fields (no copy of
/// the request's strings). Takes a [`Request`] or a [`wire::ReqRef`], so a
/// driver can describe a request with names it borrows from elsewhere (the
/// host: from the HTTP request's headers) without building a `Request`.
pub fn encode_request<'r>(request: impl Into<wire::ReqRef<'r>>) -> Vec<u8> {
    encode(&request.into())
}

/// [`encode_request`] into `out`: the number of bytes written, or `None`
/// when they do not fit (nothing is allocated; a driver writes straight into
/// the module's memory and falls back to [`encode_request`] for a request
/// too large for its block).
pub fn encode_request_into<'r>(
    request: impl Into<wire::ReqRef<'r>>,
    out: &mut [u8],
) -> Option<usize> {
    request_writer::encode_request_into(&request.into(), out)
}

/// Decodes a `parse` output: the tokenId to look up, or the reason to deny.
pub fn decode_parse(output: &[u8]) -> Result<Result<TokenId, Reason>, AbiError> {
    match decode::<wire::ParseResult>(output) {
        Some(wire::ParseResult::Parsed(id)) => Ok(Ok(TokenId::from_bytes(id))),
        Some(wire::ParseResult::Refused(reason)) => Ok(Err(reason)),
        None => Err(AbiError::BadOutput),
    }
}

/// Decodes a `verify` output.
pub fn decode_verify(output: &[u8]) -> Result<Decision, AbiError> {
    decode_verify_view(output).map(|view| view.to_decision())
}

/// Decodes a `verify` output in place: the decision's names stay borrowed
/// from `output` (the same layout and the same acceptance as
/// [`decode_verify`], which is this plus a copy).
pub fn decode_verify_view(output: &[u8]) -> Result<DecisionView<'_>, AbiError> {
    match decision_reader::read_verify_result(output) {
        Some(Ok(view)) => Ok(view),
        Some(Err(message)) => Err(AbiError::BadInput(String::from(message))),
        None => Err(AbiError::BadOutput),
    }
}

/// Decodes exactly one value: trailing bytes make the input invalid.
pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Some(value),
        _ => None,
    }
}

/// Room for a typical payload (a decision, a request), so encoding does
/// not grow the buffer several times over.
const TYPICAL_PAYLOAD: usize = 128;

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding these plain types into a Vec cannot fail; should it ever, an
    // empty output decodes as nothing and every driver denies on it.
    postcard::to_extend(value, Vec::with_capacity(TYPICAL_PAYLOAD)).unwrap_or_default()
}
