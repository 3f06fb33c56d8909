//! verifier-core's integration tests, one binary; a module per area.
//!
//! - [`common`]: the known-answer vectors and the decision table.
//! - [`vectors`], [`decisions`]: both, natively.
//! - [`prepared`]: the module's prepared values, natively.
//! - [`exchange`]: the exchange wire types and installation transitions.
//! - [`properties`]: round trips and no panics on any input.
// The whole crate is cfg(test), so clippy.toml's allow-*-in-tests covers
// the helpers as well as the tests.
#![cfg(test)]
// Native only: it reads files and uses proptest (tests/browser.rs is the browser's).
#![cfg(not(target_arch = "wasm32"))]

mod common;

mod decisions;
mod exchange;
mod prepared;
mod properties;
mod vectors;
