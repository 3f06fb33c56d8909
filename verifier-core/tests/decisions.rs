//! The decision table (`tests/data/decisions.json`), natively. The same table
//! runs through the wasm module in Node (`tests/abi/`), so both must agree
//! with the expectations written there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use verifier_core::{Environment, Request, TokenRecord, abi, verify};

#[test]
fn decision_table_has_at_least_60_cases_and_every_reason() {
    let cases = common::cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    for reason in verifier_core::Reason::ALL {
        assert!(
            cases.iter().any(|c| c.expect["reason"] == reason.as_str()),
            "no case expects {reason}"
        );
    }
}

#[test]
fn decision_table_natively() {
    let mut failures = Vec::new();
    for case in common::cases() {
        let record: Option<TokenRecord> = case.record.clone().map(|r| {
            serde_json::from_value(r).unwrap_or_else(|e| panic!("{}: record: {e}", case.name))
        });
        let environment: Option<Environment> = case.environment.clone().map(|e| {
            serde_json::from_value(e).unwrap_or_else(|err| panic!("{}: env: {err}", case.name))
        });
        let request: Request = serde_json::from_value(case.request.clone())
            .unwrap_or_else(|e| panic!("{}: request: {e}", case.name));
        let decision = verify(
            &case.header,
            record.as_ref(),
            environment.as_ref(),
            &request,
        );
        let got = serde_json::to_value(&decision).unwrap();
        if got != case.expect {
            failures.push(format!(
                "{}\n  expected {}\n  got      {}",
                case.name, case.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn decision_table_through_the_abi_codec() {
    for case in common::cases() {
        let input = serde_json::json!({
            "record": case.record, "environment": case.environment, "request": case.request,
        });
        let out = abi::verify_bytes(case.header.as_bytes(), &serde_json::to_vec(&input).unwrap());
        let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["decision"], case.expect, "{}", case.name);
    }
}

#[test]
fn abi_rejects_unreadable_input_without_deciding() {
    for input in [&b"not json"[..], b"{}", b"{\"request\":{}}", b"[]"] {
        let out: serde_json::Value =
            serde_json::from_slice(&abi::verify_bytes(b"", input)).unwrap();
        assert_eq!(out["error"]["code"], "bad_input", "{out}");
        assert!(out.get("decision").is_none());
    }
    // A grant field the verifier does not know is refused, never ignored.
    let input = br#"{"record":null,"environment":{"id":"m","publicGrants":[{"api":"content","action":"read","ipAllow":["1.2.3.4"]}]},"request":{"api":"content","action":"read","environmentId":"m","now":1}}"#;
    let out: serde_json::Value = serde_json::from_slice(&abi::verify_bytes(b"", input)).unwrap();
    assert_eq!(out["error"]["code"], "bad_input");
    let big = vec![b' '; abi::MAX_INPUT_BYTES + 1];
    let out: serde_json::Value = serde_json::from_slice(&abi::verify_bytes(b"", &big)).unwrap();
    assert_eq!(out["error"]["code"], "bad_input");
}
