//! `shared/vectors/tokens.json`, natively.

use crate::common;

use verifier_core::{
    Action, Api, Credentials, Grant, Grants, IssuedToken, ParseError, Reason, Request, SecretHash,
    TokenKind, TokenRecord, abi, token::hash_secret_text, verify,
};

fn secret_bytes(v: &serde_json::Value) -> [u8; 32] {
    common::unhex(v["secretHex"].as_str().unwrap())
        .try_into()
        .unwrap()
}

#[test]
fn valid_vectors_issue_exactly() {
    let vectors = common::token_vectors();
    let valid = vectors["valid"].as_array().unwrap();
    assert!(!valid.is_empty());
    for v in valid {
        let issued = IssuedToken::from_random(secret_bytes(v));
        assert_eq!(issued.secret(), v["secret"]);
        assert_eq!(issued.token_id().to_string(), v["tokenId"]);
        assert_eq!(issued.secret_hash().to_hex(), v["secretHashHex"]);
        assert_eq!(issued.token(), v["token"]);
        assert_eq!(issued.header(), v["header"]);
        let hash = hash_secret_text(v["secret"].as_str().unwrap()).unwrap();
        assert!(hash.ct_eq(&issued.secret_hash()));
    }
}

#[test]
fn valid_vectors_parse_with_any_scheme_spelling() {
    let vectors = common::token_vectors();
    for v in vectors["valid"].as_array().unwrap() {
        let token = v["token"].as_str().unwrap();
        for scheme in [
            "AppToken", "apptoken", "APPTOKEN", "Bearer", "bearer", "BEARER", "bEaReR",
        ] {
            let c = Credentials::from_header(&format!("{scheme} {token}")).unwrap();
            assert_eq!(c.token_id().to_string(), v["tokenId"]);
        }
        assert_eq!(
            Credentials::from_token(token)
                .unwrap()
                .token_id()
                .to_string(),
            v["tokenId"]
        );
    }
}

#[test]
fn valid_vectors_verify_against_their_record() {
    let vectors = common::token_vectors();
    for v in vectors["valid"].as_array().unwrap() {
        let record = TokenRecord {
            token_id: verifier_core::TokenId::parse(v["tokenId"].as_str().unwrap()).unwrap(),
            secret_hash: SecretHash::from_hex(v["secretHashHex"].as_str().unwrap()).unwrap(),
            kind: TokenKind::Pat,
            name: "vector".into(),
            project_id: None,
            environment_id: None,
            installation_id: None,
            principal: None,
            grants: Grants::shared(vec![Grant::new(Api::Content, Action::READ)]),
            expires_at: None,
            revoked: false,
        };
        let request = Request::new(Api::Content, Action::READ, 0);
        let d = verify(v["header"].as_str().unwrap(), Some(&record), None, &request);
        assert_eq!(d.reason, Reason::Allowed, "{}", v["tokenId"]);
        assert_eq!(
            d.principal.unwrap(),
            format!("token:{}", v["tokenId"].as_str().unwrap())
        );
    }
}

#[test]
fn invalid_headers_are_refused_with_their_reason() {
    let vectors = common::token_vectors();
    let invalid = vectors["invalidHeaders"].as_array().unwrap();
    assert!(!invalid.is_empty());
    for v in invalid {
        let header = v["header"].as_str().unwrap();
        let err: ParseError = Credentials::from_header(header).unwrap_err();
        assert_eq!(err.reason().as_str(), v["reason"], "header {header:?}");
        // The module's codec says the same.
        let out = abi::decode_parse(&abi::parse_bytes(header.as_bytes())).unwrap();
        assert_eq!(out.unwrap_err().as_str(), v["reason"], "header {header:?}");
    }
}
