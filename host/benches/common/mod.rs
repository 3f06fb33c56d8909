//! What the plugin benches share: the ten-grant fixture.

use verifier_core::{Environment, Request, TokenRecord};

fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, key: &str) -> T {
    serde_json::from_value(v[key].clone()).expect(key)
}

/// The shared fixture `verifier-core/benches/ten-grants.json`: header,
/// record, environment, request.
pub fn fixture() -> (String, TokenRecord, Environment, Request) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../verifier-core/benches/ten-grants.json"
    );
    let text = std::fs::read_to_string(path).expect("the bench fixture");
    let v: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
    (
        field(&v, "header"),
        field(&v, "record"),
        field(&v, "environment"),
        field(&v, "request"),
    )
}
