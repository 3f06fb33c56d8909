//! Tally's verify beside what a user would pick instead, in one run, on one
//! request shape: ten grants (scopes, facts), only the last covering the
//! request (`content` / `read` / `Model9` / `en`), so every one is looked at.
//!
//! `cargo bench -p peers`
//!
//! - `sha256_32_bytes`: the floor every Tally verification pays (the
//!   secret's hash); the target is `tally_verify_10_grants` ≤ 3 × it.
//! - `tally_verify_10_grants`: `verifier_core::verify` from the
//!   `Authorization` header, with the token's record in memory (what a
//!   gateway or replica holds).
//! - `jwt_hs256_10_scopes`: `jsonwebtoken` decoding and checking an HS256
//!   JWT that carries the same ten grants as claims, then scanning them.
//! - `biscuit_10_facts`: `biscuit-auth` reading and checking an Ed25519
//!   Biscuit with ten `right` facts, then authorizing the request.
//!
//! BENCHMARKS.md has the latest figures and their ratios.
#![allow(missing_docs)] // criterion_group! generates an undocumented fn
#![allow(clippy::expect_used, clippy::unwrap_used)] // a bench fails loudly on a broken fixture

use std::hint::black_box;

use biscuit_auth::{Biscuit, KeyPair, builder::AuthorizerBuilder, macros::authorizer};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use verifier_core::{Api, Request, verify};

#[path = "../../verifier-core/benches/common/mod.rs"]
mod common;

/// One grant as a JWT claim: the same fields as Tally's.
#[derive(Serialize, Deserialize)]
struct Scope {
    api: String,
    action: String,
    models: Vec<String>,
    stages: Vec<String>,
    locales: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    scopes: Vec<Scope>,
}

/// The request as a JWT's user would spell it: api, action, model, locale.
struct Wanted<'a>([&'a str; 4]);

impl<'a> Wanted<'a> {
    fn of(request: &'a Request) -> Self {
        let api = match request.api {
            Api::Content => "content",
            Api::Management => "management",
        };
        Wanted([
            api,
            request.action.as_str(),
            request.model.as_deref().unwrap_or_default(),
            request.locale.as_deref().unwrap_or_default(),
        ])
    }

    /// Whether one of `scopes` covers it, as Tally's grants would.
    fn covered_by(&self, scopes: &[Scope]) -> bool {
        let [api, action, model, locale] = self.0;
        scopes.iter().any(|s| {
            s.api == api
                && s.action == action
                && s.models.iter().any(|m| m == model)
                && s.locales.iter().any(|l| l == locale)
        })
    }
}

fn benches(c: &mut Criterion) {
    let (header, record, env, request) = common::fixture();
    assert!(verify(&header, Some(&record), Some(&env), &request).allow);
    let secret = [7u8; 32];

    // The JWT: the ten grants as claims, signed with a 32-byte secret.
    let scopes: Vec<Scope> = record
        .grants
        .iter()
        .map(|g| serde_json::from_value(serde_json::to_value(g).unwrap()).unwrap())
        .collect();
    let claims = Claims {
        sub: "app:bench".into(),
        exp: 4_000_000_000,
        scopes,
    };
    let jwt = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&secret).unwrap(),
    )
    .unwrap();
    let jwt_key = DecodingKey::from_secret(&secret).unwrap();
    let validation = Validation::new(Algorithm::HS256);
    let wanted = Wanted::of(&request);
    let jwt_check = |token: &str| {
        decode::<Claims>(token, &jwt_key, &validation)
            .is_ok_and(|data| wanted.covered_by(&data.claims.scopes))
    };
    assert!(jwt_check(&jwt));

    // The Biscuit: ten `right` facts in its authority block.
    let root = KeyPair::new();
    let mut builder = Biscuit::builder();
    for i in 0..10 {
        let fact = format!(r#"right("content", "read", "Model{i}", "en")"#);
        builder = builder.fact(fact.as_str()).unwrap();
    }
    let biscuit = builder.build(&root).unwrap().to_base64().unwrap();
    let public = root.public();
    let biscuit_check = |token: &str| -> bool {
        let Ok(token) = Biscuit::from_base64(token, public) else {
            return false;
        };
        let builder: AuthorizerBuilder = authorizer!(
            r#"resource("content", "read", "Model9", "en");
               allow if resource($api, $action, $model, $locale),
                        right($api, $action, $model, $locale);"#
        );
        builder
            .build(&token)
            .and_then(|mut a| a.authorize())
            .is_ok()
    };
    assert!(biscuit_check(&biscuit));

    c.bench_function("sha256_32_bytes", |b| {
        b.iter(|| Sha256::digest(black_box(&secret)))
    });
    c.bench_function("tally_verify_10_grants", |b| {
        b.iter(|| {
            verify(
                black_box(&header),
                Some(&record),
                Some(&env),
                black_box(&request),
            )
            .allow
        })
    });
    c.bench_function("jwt_hs256_10_scopes", |b| {
        b.iter(|| jwt_check(black_box(&jwt)))
    });
    c.bench_function("biscuit_10_facts", |b| {
        b.iter(|| biscuit_check(black_box(&biscuit)))
    });
}

criterion_group!(peer_benches, benches);
criterion_main!(peer_benches);
