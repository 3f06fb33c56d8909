//! verifier-core in a browser (`wasm-bindgen-test`, headless Chromium):
//! the shared token vectors and the decision table, as the native tests
//! (`tests/it/`) run them, compiled into the test so nothing is read.
//!
//!   wasm-pack test --headless --chrome verifier-core
//!   (or: cargo test -p verifier-core --target wasm32-unknown-unknown, with
//!   CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner)
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use serde_json::Value;
use verifier_core::{Credentials, Environment, Request, TokenRecord, verify};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const VECTORS: &str = include_str!("../../../shared/vectors/tokens.json");
const TABLE: &str = include_str!("data/decisions.json");

/// One level deep, `null` removes: verifier-core/tests/it/common.rs's rule.
fn merged(table: &Value, case: &Value, key: &str) -> Value {
    let base = table["base"][key].clone();
    let Some(over) = case.get(key) else {
        return base;
    };
    match (base, over) {
        (Value::Object(mut base), Value::Object(over)) => {
            for (k, v) in over {
                if v.is_null() {
                    base.remove(k);
                } else {
                    base.insert(k.clone(), v.clone());
                }
            }
            Value::Object(base)
        }
        (_, over) => over.clone(),
    }
}

#[wasm_bindgen_test]
fn vectors_parse_and_verify() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    for v in vectors["valid"].as_array().unwrap() {
        let token = v["token"].as_str().unwrap();
        for scheme in ["AppToken", "apptoken", "Bearer", "BEARER"] {
            let parsed = Credentials::from_header(&format!("{scheme} {token}")).unwrap();
            assert_eq!(
                parsed.token_id().to_string(),
                v["tokenId"].as_str().unwrap()
            );
        }
    }
    for v in vectors["invalidHeaders"].as_array().unwrap() {
        let header = v["header"].as_str().unwrap();
        let err = Credentials::from_header(header)
            .err()
            .unwrap_or_else(|| panic!("{header:?} parsed"));
        assert_eq!(
            err.reason().as_str(),
            v["reason"].as_str().unwrap(),
            "{header:?}"
        );
    }
}

#[wasm_bindgen_test]
fn the_decision_table() {
    let table: Value = serde_json::from_str(TABLE).unwrap();
    let cases = table["cases"].as_array().unwrap();
    assert!(cases.len() >= 60);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let record: Option<TokenRecord> = (!case["noRecord"].as_bool().unwrap_or(false))
            .then(|| serde_json::from_value(merged(&table, case, "record")).unwrap());
        let environment: Option<Environment> = (!case["noEnvironment"].as_bool().unwrap_or(false))
            .then(|| serde_json::from_value(merged(&table, case, "environment")).unwrap());
        let request: Request = serde_json::from_value(merged(&table, case, "request")).unwrap();
        let header = merged(&table, case, "header");
        let decision = verify(
            header.as_str().unwrap(),
            record.as_ref(),
            environment.as_ref(),
            &request,
        );
        assert_eq!(
            serde_json::to_value(&decision).unwrap(),
            case["expect"],
            "{name}"
        );
    }
}
