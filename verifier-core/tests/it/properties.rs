//! Properties: issue → encode → parse round trips, and no input panics.

use proptest::prelude::*;
use verifier_core::{
    Action, Api, Credentials, Environment, Grant, Grants, IssuedToken, Request, Scope, TokenKind,
    TokenRecord, abi, verify,
};

fn record_for(
    issued: &IssuedToken,
    grants: Vec<Grant>,
    expires_at: Option<i64>,
    revoked: bool,
) -> TokenRecord {
    TokenRecord {
        token_id: issued.token_id(),
        secret_hash: issued.secret_hash(),
        kind: TokenKind::App,
        name: "p".into(),
        project_id: None,
        environment_id: Some("master".into()),
        installation_id: Some("in".into()),
        principal: None,
        grants: Grants::shared(grants),
        expires_at,
        revoked,
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Post".to_string()),
        Just("en".to_string()),
        Just("DRAFT".to_string()),
        "[A-Za-z$]{0,6}"
    ]
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::Any),
        prop::collection::vec(name(), 0..3).prop_map(Scope::Only)
    ]
}

fn grant() -> impl Strategy<Value = Grant> {
    (
        prop_oneof![Just(Api::Content), Just(Api::Management)],
        prop_oneof![
            Just(Action::READ),
            Just(Action::CREATE),
            Just(Action::ADMIN)
        ],
        scope(),
        scope(),
        scope(),
        prop::option::of(prop::collection::btree_map(
            name(),
            prop_oneof![Just("$principal".to_string()), name()],
            1..3,
        )),
        prop::collection::vec(name(), 0..2),
    )
        .prop_map(
            |(api, action, models, stages, locales, condition, unmask)| Grant {
                api,
                action,
                models,
                stages,
                locales,
                environments: Scope::Any,
                condition,
                unmask,
            },
        )
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop_oneof![Just(Api::Content), Just(Api::Management)],
        prop_oneof![
            Just(Action::READ),
            Just(Action::CREATE),
            Just(Action::DELETE)
        ],
        prop::option::of(prop_oneof![Just("master".to_string()), name()]),
        prop::option::of(name()),
        prop::option::of(name()),
        prop::option::of(prop::collection::btree_map(name(), name(), 0..3)),
        prop::collection::vec(name(), 0..3),
        any::<i64>(),
    )
        .prop_map(
            |(api, action, env, model, stage, document, sensitive, now)| {
                let mut r = Request::new(api, action, now);
                r.environment_id = env;
                r.model = model;
                r.stage = stage;
                r.document = document;
                r.sensitive_fields = sensitive;
                r
            },
        )
}

proptest! {
    #[test]
    fn issue_encode_parse_round_trip(secret in any::<[u8; 32]>()) {
        let issued = IssuedToken::from_random(secret);
        prop_assert_eq!(issued.token().len(), verifier_core::token::TOKEN_CHARS);
        let parsed = Credentials::from_header(&issued.header()).unwrap();
        prop_assert_eq!(parsed.token_id(), issued.token_id());
        let bearer = Credentials::from_header(&format!("Bearer {}", issued.token())).unwrap();
        prop_assert_eq!(bearer.token_id(), issued.token_id());
        let record = record_for(&issued, vec![Grant::new(Api::Content, Action::READ)], None, false);
        prop_assert!(parsed.authenticate(&record, 0).is_ok());
    }

    #[test]
    fn a_changed_secret_never_authenticates(secret in any::<[u8; 32]>(), flip in 0usize..32, bit in 0u8..8) {
        let issued = IssuedToken::from_random(secret);
        let mut other = secret;
        other[flip] ^= 1 << bit;
        let forged = IssuedToken::from_random(other);
        let record = record_for(&issued, vec![Grant::new(Api::Content, Action::READ)], None, false);
        // Same id prefix as the record but another secret: refused before or at the hash check.
        let header = format!("AppToken {}.{}", issued.token_id(), forged.secret());
        let d = verify(&header, Some(&record), None, &Request::new(Api::Content, Action::READ, 0));
        prop_assert!(!d.allow);
    }

    #[test]
    fn any_header_string_never_panics(header in ".{0,80}") {
        let _ = Credentials::from_header(&header);
        let _ = abi::parse_bytes(header.as_bytes());
    }

    #[test]
    fn any_header_bytes_never_panic(header in prop::collection::vec(any::<u8>(), 0..90)) {
        prop_assert!(abi::decode_parse(&abi::parse_bytes(&header)).is_ok());
    }

    #[test]
    fn verify_never_panics_and_denials_carry_nothing(
        secret in any::<[u8; 32]>(),
        grants in prop::collection::vec(grant(), 0..6),
        public in prop::collection::vec(grant(), 0..3),
        request in request(),
        expires_at in prop::option::of(any::<i64>()),
        revoked in any::<bool>(),
        use_header in any::<bool>(),
    ) {
        let issued = IssuedToken::from_random(secret);
        let record = record_for(&issued, grants, expires_at, revoked);
        let mut env = Environment::new("master");
        env.public_grants = public;
        let header = if use_header { issued.header() } else { String::new() };
        let d = verify(&header, Some(&record), Some(&env), &request);
        prop_assert_eq!(d.allow, d.reason.allows());
        if !d.allow {
            prop_assert!(d.principal.is_none() && d.filter.is_none() && d.masked.is_empty());
        }
        // Masked fields are always some of the request's sensitive fields.
        prop_assert!(d.masked.iter().all(|m| request.sensitive_fields.contains(m)));
        // The module's codec gives the same decision.
        let input = abi::encode_input(Some(&record), Some(&env), &request);
        let out = abi::decode_verify(&abi::verify_bytes(header.as_bytes(), &input)).unwrap();
        prop_assert_eq!(&out, &d);
        // So does the prepared path, and the borrowed request encoding is the
        // tail of the whole input.
        let request_bytes = abi::encode_request(&request);
        prop_assert!(input.ends_with(&request_bytes));
        // Written in place, it is the same bytes, or nothing if it does not fit.
        let mut block = [0u8; 96];
        match abi::encode_request_into(&request, &mut block) {
            Some(n) => prop_assert_eq!(&block[..n], &request_bytes[..]),
            None => prop_assert!(request_bytes.len() > block.len()),
        }
        let mut handles = abi::Instance::new();
        let r = handles.prepare(abi::PREPARE_RECORD, &abi::encode_record(&record));
        let e = handles.prepare(abi::PREPARE_ENVIRONMENT, &abi::encode_environment(&env));
        prop_assert!(r != 0 && e != 0);
        let prepared = handles.verify_bytes(header.as_bytes(), r, e, &request_bytes);
        prop_assert_eq!(abi::decode_verify(&prepared).unwrap(), d);
    }

    #[test]
    fn any_prepare_or_prepared_input_never_panics(
        kind in 0u32..3,
        value in prop::collection::vec(any::<u8>(), 0..200),
        header in prop::collection::vec(any::<u8>(), 0..70),
        request in prop::collection::vec(any::<u8>(), 0..100),
        r in 0u32..3,
        e in 0u32..3,
    ) {
        let mut handles = abi::Instance::new();
        let _ = handles.prepare(kind, &value);
        let out = abi::decode_verify(&handles.verify_bytes(&header, r, e, &request));
        prop_assert!(matches!(out, Ok(_) | Err(abi::AbiError::BadInput(_))));
    }

    #[test]
    fn any_abi_input_never_panics(header in prop::collection::vec(any::<u8>(), 0..70), input in prop::collection::vec(any::<u8>(), 0..300)) {
        let out = abi::decode_verify(&abi::verify_bytes(&header, &input));
        prop_assert!(matches!(out, Ok(_) | Err(abi::AbiError::BadInput(_))));
    }
}
