//! Criterion benches, one per stage, so a regression names its stage.
//!
//! `cargo bench -p verifier-core --bench verify`
//!
//! `sha256_32_bytes` is the floor every verification pays; the target
//! is `verify_10_grants` ≤ 3 × that, in the same run.
#![allow(missing_docs)] // criterion_group! generates an undocumented fn
#![allow(clippy::expect_used, clippy::unwrap_used)] // a bench fails loudly on a broken fixture

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use verifier_core::{Credentials, abi, verify};

mod common;
use common::fixture;

fn benches(c: &mut Criterion) {
    let (header, record, env, request) = fixture();
    let secret = [7u8; 32];
    assert!(verify(&header, Some(&record), Some(&env), &request).allow);

    c.bench_function("sha256_32_bytes", |b| {
        b.iter(|| Sha256::digest(black_box(&secret)))
    });
    c.bench_function("parse_header", |b| {
        b.iter(|| Credentials::from_header(black_box(&header)))
    });
    let credentials = Credentials::from_header(&header).unwrap_or_else(|_| unreachable!());
    c.bench_function("authenticate", |b| {
        b.iter(|| {
            black_box(&credentials)
                .authenticate(black_box(&record), 1_800_000_000)
                .is_ok()
        })
    });
    let token = credentials
        .authenticate(&record, 1_800_000_000)
        .unwrap_or_else(|_| unreachable!());
    c.bench_function("authorize_10_grants", |b| {
        b.iter(|| token.authorize(Some(&env), black_box(&request)))
    });
    c.bench_function("verify_10_grants", |b| {
        b.iter(|| {
            verify(
                black_box(&header),
                Some(&record),
                Some(&env),
                black_box(&request),
            )
        })
    });
    let input = abi::encode_input(Some(&record), Some(&env), &request);
    c.bench_function("abi_verify_bytes_native", |b| {
        b.iter(|| abi::verify_bytes(black_box(header.as_bytes()), black_box(&input)))
    });
    // A driver's per-check reading of the decision: into an owned
    // `Decision`, and in place (what the host's gateway does).
    let out = abi::verify_bytes(header.as_bytes(), &input);
    c.bench_function("abi_decode_verify", |b| {
        b.iter(|| abi::decode_verify(black_box(&out)))
    });
    c.bench_function("abi_decode_verify_view", |b| {
        b.iter(|| abi::decode_verify_view(black_box(&out)).map(|v| v.allow))
    });
    // A driver's per-check encoding of the request: the hand-written writer
    // the host uses, and postcard through serde, which writes the same bytes.
    let mut room = [0u8; 256];
    c.bench_function("abi_encode_request", |b| {
        b.iter(|| abi::encode_request_into(black_box(&request), &mut room))
    });
    c.bench_function("abi_encode_request_postcard", |b| {
        b.iter(|| {
            postcard::to_slice(&abi::wire::ReqRef::from(black_box(&request)), &mut room)
                .map(|written| written.len())
        })
    });
}

criterion_group!(verify_benches, benches);
criterion_main!(verify_benches);
