//! The benches' shared fixture, `verifier-core/benches/ten-grants.json`:
//! ten grants, only the last covers the request. verifier-core's benches
//! use it, and host's plugin benches include this file (`#[path]`), so both
//! crates measure the same request.

use verifier_core::{Environment, Request, TokenRecord};

fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, key: &str) -> T {
    serde_json::from_value(v[key].clone()).expect(key)
}

/// The fixture: header, record, environment, request.
pub fn fixture() -> (String, TokenRecord, Environment, Request) {
    // Relative to this file, wherever it is included from.
    let text = include_str!("../ten-grants.json");
    let v: serde_json::Value = serde_json::from_str(text).expect("fixture JSON");
    (
        field(&v, "header"),
        field(&v, "record"),
        field(&v, "environment"),
        field(&v, "request"),
    )
}
