//! Plugin ÷ native verify, interleaved: the figure `plugin.rs` measures, made
//! robust to a machine whose speed drifts.
//!
//! `cargo bench -p tally --bench ratio` (`TALLY_BENCH_PLUGINS=a.wasm,b.wasm`
//! to measure other builds of the module side by side; default: the embedded
//! module)
//!
//! Criterion measures one function for seconds, then the next; on a VM whose
//! speed changes by tens of percent from one second to the next (this one:
//! `native_verify` 0.29 µs in one run, 0.52 µs in the next), the ratio of two
//! such figures is mostly noise. Here each round times a batch of native
//! verifies and a batch of each plugin's prepared verifies back to back
//! (order alternating), and the per-round ratios are summarised: the median
//! is the figure, the quartiles show the spread. Same fixture and same
//! calls as `native_verify`, `plugin_verify_prepared`, `plugin_check` and
//! `plugin_verify_prepared_owned` in `plugin.rs` (the plugin's decision read
//! in place, as the gateway reads it; the last copies it into an owned
//! `Decision`, as native `verify` returns it).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use tally::runtime::{Call, Limits, Plugin, Prepared, Verifier};
use verifier_core::verify;

#[path = "../../verifier-core/benches/common/mod.rs"]
mod common;
use common::fixture;
mod timed;
use timed::decide_in_place;

const ROUNDS: usize = 200;
const BATCH: u32 = 2_000;

fn time(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..BATCH {
        f();
    }
    start.elapsed()
}

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let (header, record, env, request) = fixture();
    let modules: Vec<(String, Option<Vec<u8>>)> = match std::env::var("TALLY_BENCH_PLUGINS") {
        Ok(list) => list
            .split(',')
            .map(|p| (p.to_string(), Some(std::fs::read(p).expect(p))))
            .collect(),
        Err(_) => vec![("embedded module".to_string(), None)],
    };
    let verifiers: Vec<Verifier> = modules
        .iter()
        .map(|(_, wasm)| Verifier::new(wasm.as_deref(), Limits::default()).unwrap())
        .collect();
    let plugins: Vec<_> = verifiers.iter().map(Verifier::plugin).collect();
    let expected = verify(&header, Some(&record), Some(&env), &request);
    assert!(expected.allow);
    let (prepared_record, prepared_env) = (Prepared::record(&record), Prepared::environment(&env));

    let native = || {
        black_box(verify(
            black_box(&header),
            Some(&record),
            Some(&env),
            black_box(&request),
        ));
    };
    let decide =
        |call: &mut Call<'_>| decide_in_place(call, &prepared_record, &prepared_env, &request);
    let prepared = |plugin: &Plugin| decide(&mut plugin.call(header.as_bytes()).unwrap());
    // The same, copied into an owned `Decision` (`Call::verify`).
    let owned = |plugin: &Plugin| {
        let decision = plugin
            .call(header.as_bytes())
            .unwrap()
            .verify(
                Some(&prepared_record),
                Some(&prepared_env),
                black_box(&request),
            )
            .unwrap();
        black_box(decision);
    };
    let check = |plugin: &Plugin| {
        let mut call = plugin.call(header.as_bytes()).unwrap();
        black_box(call.parse().unwrap().unwrap());
        decide(&mut call);
    };
    for plugin in &plugins {
        let mut call = plugin.call(header.as_bytes()).unwrap();
        let got = call.verify(Some(&prepared_record), Some(&prepared_env), &request);
        assert_eq!(got.unwrap(), expected, "the plugin decides as native does");
    }

    // Warm up, then measure.
    for _ in 0..5 {
        time(native);
        for plugin in &plugins {
            time(|| prepared(plugin));
            time(|| owned(plugin));
            time(|| check(plugin));
        }
    }
    let mut natives = Vec::new();
    let mut ratios = vec![(Vec::new(), Vec::new(), Vec::new()); plugins.len()];
    for round in 0..ROUNDS {
        let mut n = Duration::ZERO;
        let mut p = vec![(Duration::ZERO, Duration::ZERO, Duration::ZERO); plugins.len()];
        // Native before the plugins on even rounds, after them on odd ones.
        if round % 2 == 0 {
            n += time(native);
        }
        for (i, plugin) in plugins.iter().enumerate() {
            p[i].0 += time(|| prepared(plugin));
            p[i].1 += time(|| check(plugin));
            p[i].2 += time(|| owned(plugin));
        }
        if round % 2 == 1 {
            n += time(native);
        }
        natives.push(n.as_secs_f64() * 1e9 / f64::from(BATCH));
        for (i, (vp, vc, vo)) in p.iter().enumerate() {
            ratios[i].0.push(vp.as_secs_f64() / n.as_secs_f64());
            ratios[i].1.push(vc.as_secs_f64() / n.as_secs_f64());
            ratios[i].2.push(vo.as_secs_f64() / n.as_secs_f64());
        }
    }
    let (q1, med, q3) = quartiles(natives);
    println!(
        "native_verify: median {med:.0} ns (quartiles {q1:.0}..{q3:.0}), {ROUNDS} rounds of {BATCH}"
    );
    for ((name, _), (prepared, check, owned)) in modules.iter().zip(ratios) {
        let (a, b, c) = quartiles(prepared);
        let (d, e, f) = quartiles(check);
        let (g, h, i) = quartiles(owned);
        println!("{name}:");
        println!(
            "  plugin_verify_prepared / native_verify: median {b:.2}x (quartiles {a:.2}..{c:.2})"
        );
        println!(
            "  plugin_check / native_verify:           median {e:.2}x (quartiles {d:.2}..{f:.2})"
        );
        println!(
            "  plugin_verify_prepared, owned Decision: median {h:.2}x (quartiles {g:.2}..{i:.2})"
        );
    }
}
