//! The verifier as a wasmtime plugin against native, in one criterion run.
//!
//! `cargo bench -p tally --bench plugin` (`TALLY_BENCH_PLUGIN=path.wasm` to
//! measure another module speaking the ABI)
//!
//! - `native_verify`: `verifier_core::verify` on decoded structs (the floor);
//! - `native_codec`: the same request through the ABI codec natively (encode
//!   the input, decode and verify, encode and decode the decision) — the
//!   work the plugin does, without the engine;
//! - `native_prepared`: the module's prepared path natively (record and
//!   environment prepared once; encode the request, verify, encode and decode
//!   the decision);
//! - `plugin_verify`: encode the whole input, then the one-shot
//!   `Plugin::verify` under wasmtime (pooled instance, deadline set, copy in
//!   and out of linear memory, the record decoded on every call);
//! - `plugin_verify_prepared`: what `/v1/verify` does per request once the
//!   record is prepared in the instance: take an instance, encode the
//!   request into its memory, `verify_prepared`, read the decision in place
//!   (`Call::decide`, as the gateway does);
//! - `plugin_verify_prepared_owned`: the same, the decision copied into an
//!   owned `Decision` (`Call::verify`);
//! - `plugin_check`: the same plus the plugin's `parse` on the same instance
//!   (the whole plugin part of a `/v1/verify` request);
//! - `plugin_deny_endless_loop`: how long a looping plugin takes to be denied
//!   (deadline 20 ms).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tally::runtime::{Call, Limits, Prepared, Runtime, Verifier};
use verifier_core::{abi, verify};

#[path = "../../verifier-core/benches/common/mod.rs"]
mod common;
use common::fixture;
mod timed;
use timed::decide_in_place;

fn benches(c: &mut Criterion) {
    let (header, record, env, request) = fixture();
    // TALLY_BENCH_PLUGIN=path: measure another build of the module.
    let wasm = std::env::var_os("TALLY_BENCH_PLUGIN").map(|p| std::fs::read(p).unwrap());
    let verifier = Verifier::new(wasm.as_deref(), Limits::default()).unwrap();
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
    let mut handles = abi::Instance::new();
    let r = handles.prepare(abi::PREPARE_RECORD, &abi::encode_record(&record));
    let e = handles.prepare(abi::PREPARE_ENVIRONMENT, &abi::encode_environment(&env));
    c.bench_function("native_prepared", |b| {
        b.iter(|| {
            let request = abi::encode_request(black_box(&request));
            abi::decode_verify(&handles.verify_bytes(header.as_bytes(), r, e, &request)).unwrap()
        })
    });
    let (prepared_record, prepared_env) = (Prepared::record(&record), Prepared::environment(&env));
    let decide =
        |call: &mut Call<'_>| decide_in_place(call, &prepared_record, &prepared_env, &request);
    c.bench_function("plugin_verify_prepared", |b| {
        b.iter(|| decide(&mut plugin.call(header.as_bytes()).unwrap()))
    });
    c.bench_function("plugin_verify_prepared_owned", |b| {
        b.iter(|| {
            let mut call = plugin.call(header.as_bytes()).unwrap();
            call.verify(
                Some(&prepared_record),
                Some(&prepared_env),
                black_box(&request),
            )
            .unwrap()
        })
    });
    c.bench_function("plugin_parse", |b| {
        b.iter(|| plugin.parse(black_box(header.as_bytes())).unwrap())
    });
    c.bench_function("plugin_parse_malformed", |b| {
        b.iter(|| plugin.parse(black_box(b"AppToken x")).unwrap())
    });
    c.bench_function("plugin_call_only", |b| {
        b.iter(|| plugin.call(black_box(header.as_bytes())).unwrap())
    });
    c.bench_function("plugin_check", |b| {
        b.iter(|| {
            let mut call = plugin.call(header.as_bytes()).unwrap();
            let id = call.parse().unwrap().unwrap();
            assert_eq!(id, record.token_id);
            decide(&mut call)
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

    let looping = wat::parse_str(include_str!("../tests/it/fixtures/endless-loop.wat")).unwrap();
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
