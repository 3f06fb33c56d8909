//! The module's prepared values (`abi::Instance`), natively: the same
//! decisions as a whole input, handles that are not live refused, a bounded
//! table.

use verifier_core::abi::wire::VerifyResult;
use verifier_core::abi::{
    AbiError, Instance, MAX_PREPARED, PREPARE_ENVIRONMENT, PREPARE_RECORD, decode_verify,
    encode_credentials, encode_environment, encode_input, encode_record, encode_request,
    verify_bytes,
};
use verifier_core::{
    Action, Api, Credentials, Decision, Environment, Grant, Grants, IssuedToken, Reason, Request,
    Scope, TokenKind, TokenRecord,
};

fn fixture() -> (String, TokenRecord, Environment, Request) {
    let issued = IssuedToken::from_random([9; 32]);
    let mut grant = Grant::new(Api::Content, Action::READ);
    grant.models = Scope::Only(vec!["Post".into()]);
    let record = TokenRecord {
        token_id: issued.token_id(),
        secret_hash: issued.secret_hash(),
        kind: TokenKind::App,
        name: "t".into(),
        project_id: None,
        environment_id: Some("master".into()),
        installation_id: Some("in_1".into()),
        principal: None,
        grants: Grants::shared(vec![grant]),
        expires_at: None,
        revoked: false,
    };
    let mut environment = Environment::new("master");
    environment.public_grants = vec![Grant::new(Api::Content, Action::READ)];
    let mut request = Request::new(Api::Content, Action::READ, 1_800_000_000);
    request.environment_id = Some("master".into());
    request.model = Some("Post".into());
    (issued.header(), record, environment, request)
}

fn decision(result: Vec<u8>) -> Decision {
    decode_verify(&result).unwrap()
}

#[test]
fn prepared_values_decide_like_a_whole_input() {
    let (header, record, environment, request) = fixture();
    let mut handles = Instance::new();
    let r = handles.prepare(PREPARE_RECORD, &encode_record(&record));
    let e = handles.prepare(PREPARE_ENVIRONMENT, &encode_environment(&environment));
    assert!(r != 0 && e != 0 && r != e);
    let req = encode_request(&request);
    for (header, r, e) in [
        (header.as_str(), r, e),
        ("", r, e),
        ("", 0, e),
        (header.as_str(), 0, 0),
    ] {
        let whole = encode_input(
            (r != 0).then_some(&record),
            (e != 0).then_some(&environment),
            &request,
        );
        let expected = decision(verify_bytes(header.as_bytes(), &whole));
        let got = decision(handles.verify_bytes(header.as_bytes(), r, e, &req));
        assert_eq!(got, expected, "{header:?} {r} {e}");
    }
    assert!(decision(handles.verify_bytes(header.as_bytes(), r, e, &req)).allow);
}

/// `tally_verify_credentials`: the hash a driver computed from the header
/// decides as the header does, for the token, another token's secret and an
/// expired one; bytes of another length are bad input.
#[test]
fn credentials_the_driver_hashed_decide_as_the_header() {
    let (header, mut record, environment, request) = fixture();
    let mut instance = Instance::new();
    let e = instance.prepare(PREPARE_ENVIRONMENT, &encode_environment(&environment));
    let req = encode_request(&request);
    let other = IssuedToken::from_random([4; 32]).header();
    let live = instance.prepare(PREPARE_RECORD, &encode_record(&record));
    record.expires_at = Some(request.now);
    let expired = instance.prepare(PREPARE_RECORD, &encode_record(&record));
    let mut reasons = Vec::new();
    for (header, r) in [
        (&header, live),
        (&other, live),
        (&header, expired),
        (&header, 0),
    ] {
        let credentials = Credentials::from_header(header).unwrap();
        let expected = instance.verify(header.as_bytes(), r, e, &req);
        let got = instance.verify_credentials(&encode_credentials(&credentials), r, e, &req);
        assert_eq!(got, expected, "{header:?} {r}");
        let VerifyResult::Decision(d) = got else {
            panic!("{got:?}")
        };
        reasons.push(d.reason);
    }
    assert_eq!(
        reasons,
        [
            Reason::Allowed,
            Reason::UnknownToken,
            Reason::Expired,
            Reason::UnknownToken
        ]
    );
    assert!(matches!(
        instance.verify_credentials(&[0; 31], live, e, &req),
        VerifyResult::BadInput(_)
    ));
}

#[test]
fn released_and_mismatched_handles_are_bad_input() {
    let (header, record, environment, request) = fixture();
    let mut handles = Instance::new();
    let r = handles.prepare(PREPARE_RECORD, &encode_record(&record));
    let e = handles.prepare(PREPARE_ENVIRONMENT, &encode_environment(&environment));
    let req = encode_request(&request);
    let bad = |result: Vec<u8>| matches!(decode_verify(&result), Err(AbiError::BadInput(_)));
    assert!(bad(handles.verify_bytes(header.as_bytes(), e, 0, &req)));
    assert!(bad(handles.verify_bytes(header.as_bytes(), 0, r, &req)));
    assert!(bad(handles.verify_bytes(header.as_bytes(), 77, 0, &req)));
    assert!(bad(handles.verify_bytes(header.as_bytes(), r, 0, b"\xff")));
    handles.release(r);
    handles.release(r); // twice is harmless
    handles.release(0);
    assert_eq!(handles.len(), 1);
    assert!(bad(handles.verify_bytes(header.as_bytes(), r, 0, &req)));
    // The freed slot is used again, for a new value.
    assert_eq!(handles.prepare(PREPARE_RECORD, &encode_record(&record)), r);
}

#[test]
fn values_that_do_not_decode_get_no_handle() {
    let (_, record, environment, _) = fixture();
    let mut handles = Instance::new();
    assert_eq!(handles.prepare(PREPARE_RECORD, b""), 0);
    assert_eq!(
        handles.prepare(PREPARE_RECORD, &encode_environment(&environment)),
        0
    );
    assert_eq!(handles.prepare(7, &encode_record(&record)), 0);
    let mut trailing = encode_record(&record);
    trailing.push(0);
    assert_eq!(handles.prepare(PREPARE_RECORD, &trailing), 0);
    assert!(handles.is_empty());
}

#[test]
fn the_table_is_bounded() {
    let (_, _, environment, _) = fixture();
    let bytes = encode_environment(&environment);
    let mut handles = Instance::new();
    for _ in 0..MAX_PREPARED {
        assert_ne!(handles.prepare(PREPARE_ENVIRONMENT, &bytes), 0);
    }
    assert_eq!(handles.prepare(PREPARE_ENVIRONMENT, &bytes), 0);
    handles.release(5);
    assert_eq!(handles.prepare(PREPARE_ENVIRONMENT, &bytes), 5);
}

#[test]
fn a_checks_parse_is_reused_only_for_the_same_header_and_only_once() {
    let (header, record, environment, request) = fixture();
    let mut instance = Instance::new();
    let r = instance.prepare(PREPARE_RECORD, &encode_record(&record));
    let e = instance.prepare(PREPARE_ENVIRONMENT, &encode_environment(&environment));
    let req = encode_request(&request);
    let whole = |header: &str| {
        decision(verify_bytes(
            header.as_bytes(),
            &encode_input(Some(&record), Some(&environment), &request),
        ))
    };
    // Another secret for the same tokenId: refused before any lookup.
    let forged = format!(
        "AppToken {}.{}",
        record.token_id,
        IssuedToken::from_random([1; 32]).secret()
    );
    for (parsed, verified) in [
        (header.as_str(), header.as_str()),
        (header.as_str(), forged.as_str()),
        (forged.as_str(), header.as_str()),
        (forged.as_str(), forged.as_str()),
        (header.as_str(), ""),
        ("", header.as_str()),
    ] {
        instance.parse(parsed.as_bytes());
        let got = decision(instance.verify_bytes(verified.as_bytes(), r, e, &req));
        assert_eq!(
            got,
            whole(verified),
            "parse {parsed:?}, verify {verified:?}"
        );
        // And again, with the parse consumed.
        let again = decision(instance.verify_bytes(verified.as_bytes(), r, e, &req));
        assert_eq!(again, got);
        // The one-shot verify too.
        instance.parse(parsed.as_bytes());
        let input = encode_input(Some(&record), Some(&environment), &request);
        let one_shot = decision(instance.verify_input_bytes(verified.as_bytes(), &input));
        assert_eq!(one_shot, got);
    }
    assert!(decision(instance.verify_bytes(header.as_bytes(), r, e, &req)).allow);
    // The instance's Debug shows no header.
    instance.parse(header.as_bytes());
    let debug = format!("{instance:?}");
    assert!(!debug.contains(&header[9..]), "{debug}");
}
