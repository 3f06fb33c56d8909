//! How long a revocation takes to reach a replica (or a second node) while
//! the authority makes changes at a fixed rate.
//!
//! `cargo bench -p tally --bench revocation-lag`
//!
//! An authority (`tally serve` on SQLite) and a `tally serve --replica-of`
//! it, on loopback; with `TALLY_BENCH_POSTGRES=postgres://…`, two `tally
//! serve` nodes on one PostgreSQL (a fresh schema, dropped at the end)
//! instead, the second observing (it learns of the first's changes by the
//! feed's `LISTEN`, as its read cache catches up). For
//! `TALLY_LAG_SECONDS` (default 60), a writer creates tokens at
//! `TALLY_LAG_RATE` a second (default 1,000; an open loop over 64
//! connections), each a change the observer must take from the feed.
//! Beside it a prober, one at a time: makes a token, waits until the
//! observer allows it, revokes it and times how long until the observer
//! denies it (polled every millisecond). It prints the rate the writer
//! reached, the lag's p50, p99 and worst, and the errors.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::{env_or, fresh_schema, percentile, serve};

/// A reader token made on `base`: (header, tokenId).
async fn reader(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    name: &str,
) -> Option<(String, String)> {
    let res = http
        .post(format!("{base}/v1/tokens"))
        .header("authorization", admin)
        .json(
            &json!({"kind": "PAT", "name": name, "environmentId": "master",
                      "grants": [{"api": "content", "action": "read"}]}),
        )
        .send()
        .await
        .ok()?;
    if res.status().as_u16() != 201 {
        return None;
    }
    let v: Value = res.json().await.ok()?;
    Some((
        format!("Bearer {}", v["token"].as_str()?),
        v["tokenId"].as_str()?.to_owned(),
    ))
}

/// Polls the observer every millisecond until it answers `want`, for at
/// most `within`; the time it took.
async fn until(
    http: &reqwest::Client,
    observer: &str,
    token: &str,
    want: u16,
    within: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        let status = http
            .get(format!("{observer}/v1/verify"))
            .header("authorization", token)
            .header("x-tally-environment", "master")
            .header("x-tally-action", "read")
            .header("x-tally-model", "Post")
            .send()
            .await
            .map(|r| r.status().as_u16());
        if status.ok() == Some(want) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

fn main() {
    let rate: u64 = env_or("TALLY_LAG_RATE", 1000);
    let seconds: u64 = env_or("TALLY_LAG_SECONDS", 60);
    let dir = tempfile::tempdir().unwrap();
    // Every probe ends with a revoked token's denial, from one address:
    // thousands of failed checks a minute, which the throttle would take
    // for guessing.
    let unthrottled = ["--throttle-failures", "1000000"];
    let (authority, admin, watcher, observer) = match std::env::var("TALLY_BENCH_POSTGRES") {
        Ok(url) => {
            let database = fresh_schema(&url, "lag");
            let authority = serve(&["--database", &database], &[]);
            let admin = authority
                .admin
                .clone()
                .expect("the first node mints the admin token");
            let second = serve(
                &[&["--database", database.as_str()][..], &unthrottled].concat(),
                &[],
            );
            (authority, admin, second, "the second PostgreSQL node")
        }
        Err(_) => {
            let authority = serve(&["--data", dir.path().to_str().unwrap()], &[]);
            let admin = authority
                .admin
                .clone()
                .expect("a first start prints the admin token");
            let replica = serve(
                &[&["--replica-of", authority.base.as_str()][..], &unthrottled].concat(),
                &[("TALLY_REPLICA_TOKEN", admin.as_str())],
            );
            (authority, admin, replica, "the replica")
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        support::project(&http, &authority.base, &admin).await;
        let made = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let ends = Instant::now() + Duration::from_secs(seconds);

        // The writer: `rate` creations a second, at most 64 in flight.
        let writer = {
            let (http, base, admin) = (http.clone(), authority.base.clone(), admin.clone());
            let (made, failed) = (Arc::clone(&made), Arc::clone(&failed));
            tokio::spawn(async move {
                let slots = Arc::new(tokio::sync::Semaphore::new(64));
                let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut i = 0u64;
                while Instant::now() < ends {
                    ticks.tick().await;
                    let slot = Arc::clone(&slots).acquire_owned().await.unwrap();
                    let (http, base, admin) = (http.clone(), base.clone(), admin.clone());
                    let (made, failed) = (Arc::clone(&made), Arc::clone(&failed));
                    i += 1;
                    tokio::spawn(async move {
                        match reader(&http, &base, &admin, &format!("load {i}")).await {
                            Some(_) => made.fetch_add(1, Ordering::Relaxed),
                            None => failed.fetch_add(1, Ordering::Relaxed),
                        };
                        drop(slot);
                    });
                }
            })
        };

        // The prober.
        let started = Instant::now();
        let mut lags = Vec::new();
        let mut probe_errors = Vec::new();
        let mut n = 0;
        while Instant::now() < ends {
            n += 1;
            let Some((token, id)) = reader(&http, &authority.base, &admin, &format!("probe {n}")).await else {
                probe_errors.push("creating a probe token failed".to_owned());
                continue;
            };
            if until(&http, &watcher.base, &token, 200, Duration::from_secs(5)).await.is_none() {
                probe_errors.push(format!("probe {n} never reached {observer}"));
                continue;
            }
            let revoked = http
                .delete(format!("{}/v1/tokens/{id}", authority.base))
                .header("authorization", &admin)
                .send()
                .await
                .map(|r| r.status().as_u16());
            if revoked.as_ref().ok() != Some(&200) {
                probe_errors.push(format!("revoking probe {n}: {revoked:?}"));
                continue;
            }
            match until(&http, &watcher.base, &token, 401, Duration::from_secs(5)).await {
                Some(lag) => lags.push(lag),
                None => probe_errors.push(format!("probe {n} still allowed 5 s after its revocation")),
            }
        }
        writer.await.unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        lags.sort();
        println!(
            "writer: {} tokens made in {elapsed:.0} s ({:.0}/s, target {rate}/s), {} failed",
            made.load(Ordering::Relaxed),
            made.load(Ordering::Relaxed) as f64 / elapsed,
            failed.load(Ordering::Relaxed)
        );
        println!(
            "revocation lag on {observer} over {} probes: p50 {:.1} ms, p99 {:.1} ms, worst {:.1} ms",
            lags.len(),
            percentile(&lags, 0.5).as_secs_f64() * 1e3,
            percentile(&lags, 0.99).as_secs_f64() * 1e3,
            lags.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
        println!("probe errors: {}", probe_errors.len());
        for e in probe_errors.iter().take(5) {
            println!("  {e}");
        }
    });
    // The nodes stop before their schema goes.
    drop((authority, watcher));
    if let Ok(url) = std::env::var("TALLY_BENCH_POSTGRES") {
        support::drop_schema(&url, "lag");
    }
}
