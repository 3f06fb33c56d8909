//! Verification on a replica (`tally serve --replica-of`) holding 1,000 vs
//! 10,000,000 token records (`TALLY_REPLICA_RECORDS` to change the second),
//! and the memory each record takes.
//!
//! `cargo bench -p tally --bench replica`
//!
//! Each iteration decides one request as the gateway does on a replica:
//! look the token up in the [`ReplicaStore`], encode the verifier input and
//! run the plugin under wasmtime. Tokens are drawn from 4,096 random ones of
//! the set, so the big map is read cold as it would be under real traffic.
//! Records carry the ten grants of `verifier-core/benches/ten-grants.json`.
//! The resident memory before and after loading the big set is printed as
//! bytes per record, for ten-grant records and, on a million, for
//! one-grant records.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tally::runtime::{Limits, Verifier};
use tally::storage::{Change, Changed, Records, ReplicaStore};
use verifier_core::{Grants, IssuedToken, TokenKind, TokenRecord, abi};

#[path = "../../verifier-core/benches/common/mod.rs"]
mod common;
mod support;
use support::{env_or, resident_bytes};

fn issued(i: u64) -> IssuedToken {
    let mut secret = [7u8; 32];
    secret[..8].copy_from_slice(&i.to_le_bytes());
    IssuedToken::from_random(secret)
}

fn replica(n: u64, template: &TokenRecord) -> ReplicaStore {
    let store = ReplicaStore::new();
    for i in 0..n {
        let token = issued(i);
        let mut record = template.clone();
        // Its own copy of the grants, as a record decoded from the feed
        // has: the replica's interning, not the clone, shares them.
        record.grants = Grants::shared(template.grants.to_vec());
        record.token_id = token.token_id();
        record.secret_hash = token.secret_hash();
        record.kind = TokenKind::Pat;
        record.name = format!("token {i}");
        store.apply(Change {
            seq: i64::try_from(i + 1).unwrap(),
            changed: Changed::Token(record),
        });
    }
    store
}

fn benches(c: &mut Criterion) {
    let (_, template, env, request) = common::fixture();
    let verifier = Verifier::new(None, Limits::default()).unwrap();
    let plugin = verifier.plugin();
    // Memory of a typical app token: one grant.
    let mut one_grant = template.clone();
    one_grant.grants = Grants::shared(one_grant.grants[..1].to_vec());
    let before = resident_bytes();
    let store = replica(1_000_000, &one_grant);
    let after = resident_bytes();
    println!(
        "replica of 1000000 one-grant records: {} MiB resident, {} bytes per record",
        (after - before) >> 20,
        (after - before) / 1_000_000
    );
    drop(store);

    let big: u64 = env_or("TALLY_REPLICA_RECORDS", 10_000_000);
    let mut group = c.benchmark_group("replica_verify");
    for n in [1_000u64, big] {
        let before = resident_bytes();
        let store = replica(n, &template);
        let after = resident_bytes();
        if n == big {
            println!(
                "replica of {n} records: {} MiB resident, {} bytes per record",
                (after - before) >> 20,
                (after - before) / n
            );
        }
        // 4,096 tokens spread over the whole set (a fixed LCG, so runs compare).
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let headers: Vec<String> = (0..4096)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                issued((x >> 11) % n).header()
            })
            .collect();
        let first = &headers[0];
        let id = plugin.parse(first.as_bytes()).unwrap().unwrap();
        let row = store.token(&id).unwrap().unwrap();
        let input = abi::encode_input(Some(&row.record), Some(&env), &request);
        assert!(
            plugin.verify(first.as_bytes(), &input).unwrap().allow,
            "the fixture request is allowed"
        );

        let mut next = 0usize;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                let header = &headers[next % headers.len()];
                next += 1;
                let id = plugin.parse(header.as_bytes()).unwrap().unwrap();
                let row = store.token(&id).unwrap().unwrap();
                let input = abi::encode_input(Some(&row.record), Some(&env), black_box(&request));
                plugin.verify(header.as_bytes(), &input).unwrap()
            })
        });
        drop(store);
    }
    group.finish();
}

criterion_group!(replica_benches, benches);
criterion_main!(replica_benches);
