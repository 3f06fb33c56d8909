//! Checks per second from several threads sharing one plugin: what the
//! instance pool costs when workers run checks side by side, as
//! `/v1/verify`'s workers do.
//!
//! `cargo bench -p tally --bench threads` (`TALLY_BENCH_THREADS`, default 2;
//! `TALLY_BENCH_SECONDS` per round, default 2; five rounds). Each thread runs
//! the gateway's check on the ten-grant fixture in a loop: take an
//! instance, `parse`, `verify_prepared` with the record and environment
//! prepared, give the instance back.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tally::runtime::{Limits, Prepared, Verifier};

#[path = "../../verifier-core/benches/common/mod.rs"]
mod common;
mod support;
use common::fixture;

fn main() {
    let threads: usize = support::env_or("TALLY_BENCH_THREADS", 2);
    let seconds: u64 = support::env_or("TALLY_BENCH_SECONDS", 2);
    let (header, record, env, request) = fixture();
    let verifier = Verifier::new(None, Limits::default()).unwrap();
    let plugin = verifier.plugin();
    let (record, env) = (Prepared::record(&record), Prepared::environment(&env));
    let check = || {
        let mut call = plugin.call(header.as_bytes()).unwrap();
        black_box(call.parse().unwrap().unwrap());
        // the decision read in place, as the gateway reads it
        let allow = call
            .decide(Some(&record), Some(&env), &request, |view| view.allow)
            .unwrap();
        assert!(allow);
    };
    let mut rates = Vec::new();
    for round in 0..6 {
        let stop = AtomicBool::new(false);
        let done = AtomicU64::new(0);
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..100 {
                            check();
                        }
                        n += 100;
                    }
                    done.fetch_add(n, Ordering::Relaxed);
                });
            }
            std::thread::sleep(Duration::from_secs(seconds));
            stop.store(true, Ordering::Relaxed);
        });
        let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        // The first round warms up (instances, prepared values).
        if round > 0 {
            rates.push(rate);
        }
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{threads} threads: median {:.0} checks/s (rounds {})",
        rates[rates.len() / 2],
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
