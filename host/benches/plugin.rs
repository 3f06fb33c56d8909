//! The verifier as a wasmtime plugin against native, in one criterion run.
//!
//! `cargo bench -p host --bench plugin`
//!
//! - `native_verify`: `verifier_core::verify` on decoded structs (the floor);
//! - `native_codec`: the same request through the ABI codec natively (encode
//!   the input, decode and verify, encode and decode the decision) — the
//!   work the plugin does, without the engine;
//! - `plugin_verify`: encode the input, then `Plugin::verify` under wasmtime
//!   (pooled instance, deadline set, copy in and out of linear memory);
//! - `plugin_deny_endless_loop`: how long a looping plugin takes to be denied
//!   (deadline 20 ms).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use host::runtime::{Limits, Runtime, Verifier};
use verifier_core::{
    Action, Api, Environment, Grant, IssuedToken, Request, Scope, TokenKind, TokenRecord, abi,
    verify,
};

fn fixture() -> (String, TokenRecord, Environment, Request) {
    let issued = IssuedToken::from_random([7u8; 32]);
    let grants = (0..10)
        .map(|i| {
            let mut g = Grant::new(Api::Content, Action::READ);
            g.models = Scope::Only(vec![format!("Model{i}"), format!("Other{i}")]);
            g.stages = Scope::Only(vec!["PUBLISHED".into(), "DRAFT".into()]);
            g.locales = Scope::Only(vec!["en".into(), "de".into()]);
            g
        })
        .collect();
    let record = TokenRecord {
        token_id: issued.token_id(),
        secret_hash: issued.secret_hash(),
        kind: TokenKind::App,
        name: "bench".into(),
        project_id: Some("p".into()),
        environment_id: Some("master".into()),
        installation_id: Some("in_1".into()),
        principal: None,
        grants,
        expires_at: Some(2_000_000_000),
        revoked: false,
    };
    let mut request = Request::new(Api::Content, Action::READ, 1_800_000_000);
    request.environment_id = Some("master".into());
    request.model = Some("Model9".into());
    request.locale = Some("en".into());
    (issued.header(), record, Environment::new("master"), request)
}

fn benches(c: &mut Criterion) {
    let (header, record, env, request) = fixture();
    let verifier = Verifier::new(None, Limits::default()).unwrap();
    let plugin = verifier.plugin();
    let expected = verify(&header, Some(&record), Some(&env), &request);
    assert!(expected.allow);
    let input = abi::encode_input(Some(&record), Some(&env), &request);
    assert_eq!(plugin.verify(header.as_bytes(), &input).unwrap(), expected);

    c.bench_function("native_verify", |b| {
        b.iter(|| {
            verify(
                black_box(&header),
                Some(&record),
                Some(&env),
                black_box(&request),
            )
        })
    });
    c.bench_function("native_codec", |b| {
        b.iter(|| {
            let input = abi::encode_input(Some(&record), Some(&env), black_box(&request));
            abi::decode_verify(&abi::verify_bytes(header.as_bytes(), &input)).unwrap()
        })
    });
    c.bench_function("plugin_verify", |b| {
        b.iter(|| {
            let input = abi::encode_input(Some(&record), Some(&env), black_box(&request));
            plugin.verify(header.as_bytes(), &input).unwrap()
        })
    });
    c.bench_function("plugin_verify_preencoded", |b| {
        b.iter(|| plugin.verify(header.as_bytes(), black_box(&input)).unwrap())
    });

    let looping = wat::parse_str(
        r#"(module (memory (export "memory") 1)
          (func (export "abi_version") (result i32) i32.const 1)
          (func (export "tally_alloc") (param i32) (result i32) i32.const 1024)
          (func (export "tally_dealloc") (param i32 i32))
          (func (export "tally_parse") (param i32 i32) (result i32) (loop (br 0)) i32.const 0)
          (func (export "tally_verify") (param i32 i32 i32 i32) (result i32) (loop (br 0)) i32.const 0))"#,
    )
    .unwrap();
    let runtime = Runtime::new().unwrap();
    let hostile = runtime.load(&looping, Limits::default()).unwrap();
    let mut group = c.benchmark_group("hostile");
    group.sample_size(20);
    group.bench_function("plugin_deny_endless_loop", |b| {
        b.iter(|| hostile.verify(b"", &input).unwrap_err())
    });
    group.finish();
}

criterion_group!(plugin_benches, benches);
criterion_main!(plugin_benches);
