//! # Tally's verifier
//!
//! `verifier-core` decides whether a request made with an app token may go
//! through. It is the one piece of Tally that runs everywhere: natively inside
//! the `tally` host, as a `.wasm` plugin the host runs under wasmtime, and in
//! edge runtimes and browsers through the npm package. One source, one
//! artifact, the same decision.
//!
//! ## What it decides
//!
//! Given an `Authorization` header, the token record a lookup found for the
//! header's tokenId, the environment's policy and a request descriptor,
//! [`verify`] returns a [`Decision`]: allow or deny, a stable [`Reason`], the
//! principal, the row `filter` the caller must apply, and the sensitive fields
//! it must mask. Every failure is a decision — never a panic, never a trap.
//!
//! The steps are typed: a header parses to [`Credentials`] (secret hashed, id
//! checked against the hash prefix, nothing looked up yet);
//! [`Credentials::authenticate`] against the record gives an
//! [`Authenticated`] token (constant-time hash comparison, revocation,
//! expiry); only that exposes grants and can [`Authenticated::authorize`].
//!
//! It also holds the types the SDK and the host share: the setup-code
//! [`exchange`] wire format, [`installation`] statuses and the content
//! [`model`]s an environment registers.
//!
//! ## What it never does
//!
//! No I/O, no clock, no randomness: callers pass `now` (unix seconds) in the
//! [`Request`] and random bytes to [`IssuedToken::from_random`]. It stores
//! nothing and looks nothing up; the host and the edges own storage and
//! caches. It does not log. It never holds a secret longer than the call that
//! hashes it, and never compares hashes in variable time.
//!
//! ## Limits
//!
//! Explicit and safe by default: [`token::MAX_HEADER_BYTES`] for headers,
//! [`grant::MAX_GRANTS`], [`grant::MAX_LIST`] and [`grant::MAX_NAME`] for
//! grants ([`validate_grants`] before storing), [`model::MAX_MODELS`] for an
//! environment's models ([`validate_models`]), [`abi::MAX_INPUT_BYTES`] for
//! the module's input.
//!
//! ## The module
//!
//! Built for `wasm32-unknown-unknown` with the `module` feature, the crate's
//! cdylib is the verifier module: a small C-like ABI ([`abi`], specified in
//! `ABI.md`) with no imports, so any wasm engine can drive it. A plugin
//! crate builds the same module with a rule of its own on top of the grants
//! ([`abi::policy`]; `examples/policy-plugin`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

// Only `core` and `alloc` are used; `std` is still linked so the cdylib has
// an allocator and a panic handler without code of our own.
extern crate alloc;

pub mod abi;
mod decision;
mod error;
pub mod exchange;
pub mod grant;
pub mod installation;
pub mod model;
mod record;
mod request;
pub mod token;
mod verify;

// The public interface is:
pub use crate::decision::{Decision, Reason};
pub use crate::error::{
    BodyError, GrantError, Malformed, ModelError, ParseError, TransitionError, UnknownName,
};
pub use crate::grant::{
    Action, Api, Condition, Grant, Grants, Scope, grants_within, validate_grants,
};
pub use crate::installation::{Installation, InstallationStatus, InstallationUpdate};
pub use crate::model::{FIELD_TYPES, Model, validate_models};
pub use crate::record::{TokenKind, TokenRecord};
pub use crate::request::{DEFAULT_STAGE, Environment, Request};
pub use crate::token::{Credentials, IssuedToken, OpaqueSecret, SecretHash, TokenId};
pub use crate::verify::{Authenticated, verify, verify_all};
