//! The decision table (`tests/data/decisions.json`), natively. The same table
//! runs through the wasm module in Node (`tests/abi/`), so both must agree
//! with the expectations written there.

use crate::common;

use verifier_core::{Request, abi, verify};

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
        let (record, environment, request) = case.decoded();
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
        let (record, environment, request) = case.decoded();
        let input = abi::encode_input(record.as_ref(), environment.as_ref(), &request);
        let out = abi::verify_bytes(case.header.as_bytes(), &input);
        let decision = abi::decode_verify(&out).unwrap();
        assert_eq!(
            serde_json::to_value(&decision).unwrap(),
            case.expect,
            "{}",
            case.name
        );
    }
}

#[test]
fn abi_rejects_unreadable_input_without_deciding() {
    let request = Request::new(verifier_core::Api::Content, verifier_core::Action::READ, 1);
    let good = abi::encode_input(None, None, &request);
    let mut trailing = good.clone();
    trailing.push(0);
    let mut bad_action = good.clone();
    // The action name "read" is the 4 bytes after the api tag and the length.
    let at = good.windows(4).position(|w| w == b"read").unwrap();
    bad_action[at] = b' ';
    for input in [
        &b""[..],
        b"\xff\xff\xff",
        &good[..good.len() - 1],
        &trailing,
        &bad_action,
    ] {
        let out = abi::verify_bytes(b"", input);
        assert!(
            matches!(abi::decode_verify(&out), Err(abi::AbiError::BadInput(_))),
            "{input:?}"
        );
    }
    let big = vec![0u8; abi::MAX_INPUT_BYTES + 1];
    assert!(matches!(
        abi::decode_verify(&abi::verify_bytes(b"", &big)),
        Err(abi::AbiError::BadInput(_))
    ));
    // The well-formed input itself decides.
    assert_eq!(
        abi::decode_verify(&abi::verify_bytes(b"", &good))
            .unwrap()
            .reason,
        verifier_core::Reason::MissingCredentials
    );
    // Output that is not the module's is refused by the decoder.
    assert_eq!(abi::decode_verify(b"\x07"), Err(abi::AbiError::BadOutput));
    assert_eq!(abi::decode_parse(b""), Err(abi::AbiError::BadOutput));
}

#[test]
fn json_grants_with_unknown_fields_are_refused() {
    // A restriction the verifier does not know is refused, never ignored.
    let grant = r#"{"api":"content","action":"read","ipAllow":["1.2.3.4"]}"#;
    assert!(serde_json::from_str::<verifier_core::Grant>(grant).is_err());
}

/// The typed steps (`Credentials` → `authenticate` → `authorize`) and
/// `verify_all` give every case of the table the decision `verify` gives:
/// the same environment rule, the same registered sensitive fields masked.
#[test]
fn typed_steps_and_verify_all_decide_as_verify() {
    let mut authenticated = 0;
    let mut masked = 0;
    for case in common::cases() {
        let (record, environment, request) = case.decoded();
        let expected = verify(
            &case.header,
            record.as_ref(),
            environment.as_ref(),
            &request,
        );
        let all = verifier_core::verify_all(
            &case.header,
            record.as_ref(),
            environment.as_ref(),
            [&request, &request],
        );
        assert_eq!(all, vec![expected.clone(); 2], "{}", case.name);
        let (Ok(credentials), Some(record)) = (
            verifier_core::Credentials::from_header(&case.header),
            record.as_ref(),
        ) else {
            continue;
        };
        let Ok(token) = credentials.authenticate(record, request.now) else {
            continue;
        };
        authenticated += 1;
        let decision = token.authorize(environment.as_ref(), &request);
        masked += usize::from(!decision.masked.is_empty() && request.sensitive_fields.is_empty());
        assert_eq!(decision, expected, "{}", case.name);
    }
    assert!(
        authenticated >= 20,
        "only {authenticated} cases authenticate"
    );
    assert!(masked >= 1, "no case masks a registered field only");
}
