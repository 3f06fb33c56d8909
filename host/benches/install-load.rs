//! The install flow under load, end to end: two authority nodes on one
//! PostgreSQL (a schema of their own, dropped at the end) and a replica,
//! all `tally serve` processes on loopback.
//!
//! `TALLY_BENCH_POSTGRES=postgres://… cargo bench -p tally --bench install-load`
//!
//! Flows start at a fixed rate (`TALLY_LOAD_RATE` a second, default 20) for
//! `TALLY_LOAD_SECONDS` (default 60), each whether or not the earlier ones
//! are done (an open loop, so a slow step shows as latency, not as a lower
//! rate). A flow is what a platform and an app do on an install:
//!
//! 1. **register**: `POST /v1/apps` on one node;
//! 2. **install**: `POST /v1/environments/master/installations` on the other;
//! 3. **exchange**: `POST /v1/app-exchange-token` (the setup code) on the first;
//! 4. **verify**: `GET /v1/verify` with the app token on the replica, until
//!    it allows (so this step includes the feed's lag), every 5 ms, for at
//!    most 5 s.
//!
//! Flows alternate which node registers. The replica's failure throttle is
//! raised: every poll comes from one address, and one made before the
//! token arrives counts as a failure. Any answer but the one expected
//! (and a verify still denied after 5 s) is an error. It prints p50, p99 and
//! the worst latency of each step, the errors, and each process's resident
//! memory ten seconds in and at the end.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::{env_or, fresh_schema, percentile, serve};

const STEPS: [&str; 4] = ["register", "install", "exchange", "verify"];

#[derive(Default)]
struct Tally {
    took: [Vec<Duration>; 4],
    errors: Vec<String>,
}

async fn post(
    http: &reqwest::Client,
    url: String,
    auth: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = http.post(url).json(&body);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            (status, res.json().await.unwrap_or(Value::Null))
        }
        Err(e) => (0, json!(e.to_string())),
    }
}

/// One flow; the time of each step it finished, or where it failed.
async fn flow(
    http: reqwest::Client,
    i: u64,
    first: String,
    second: String,
    replica: String,
    admin: String,
) -> Result<[Duration; 4], String> {
    let mut took = [Duration::ZERO; 4];
    let started = Instant::now();
    let (st, app) = post(
        &http,
        format!("{first}/v1/apps"),
        Some(&admin),
        json!({"name": format!("app {i}"), "setupUrl": "https://app.example/setup",
               "origins": ["https://app.example"],
               "grants": [{"api": "content", "action": "read"}]}),
    )
    .await;
    if st != 201 {
        return Err(format!("register: {st} {app}"));
    }
    took[0] = started.elapsed();
    let started = Instant::now();
    let (st, inst) = post(
        &http,
        format!("{second}/v1/environments/master/installations"),
        Some(&admin),
        json!({"appId": app["id"]}),
    )
    .await;
    if st != 201 {
        return Err(format!("install: {st} {inst}"));
    }
    took[1] = started.elapsed();
    let started = Instant::now();
    let (st, token) = post(
        &http,
        format!("{first}/v1/app-exchange-token"),
        None,
        json!({"clientId": app["clientId"], "clientSecret": app["clientSecret"],
               "exchangeCode": inst["setupCode"]}),
    )
    .await;
    let Some(token) = token["appToken"].as_str().filter(|_| st == 200) else {
        return Err(format!("exchange: {st} {token}"));
    };
    took[2] = started.elapsed();
    let started = Instant::now();
    loop {
        let res = http
            .get(format!("{replica}/v1/verify"))
            .header("authorization", format!("AppToken {token}"))
            .header("x-tally-environment", "master")
            .header("x-tally-action", "read")
            .header("x-tally-model", "Post")
            .send()
            .await;
        match res.map(|r| r.status().as_u16()) {
            Ok(200) => break,
            Ok(401) if started.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            other => return Err(format!("verify: {other:?} after {:?}", started.elapsed())),
        }
    }
    took[3] = started.elapsed();
    Ok(took)
}

fn main() {
    let Ok(url) = std::env::var("TALLY_BENCH_POSTGRES") else {
        eprintln!(
            "set TALLY_BENCH_POSTGRES=postgres://user:pass@host/db (a schema of its own is made)"
        );
        std::process::exit(2);
    };
    let rate: u64 = env_or("TALLY_LOAD_RATE", 20);
    let seconds: u64 = env_or("TALLY_LOAD_SECONDS", 60);
    let database = fresh_schema(&url, "load");
    let a = serve(&["--database", &database], &[]);
    let admin = a
        .admin
        .clone()
        .expect("the first node mints the admin token");
    let b = serve(&["--database", &database], &[]);
    // Every flow polls the replica from one loopback address until its
    // token arrives; a replica does not count those unknown tokens toward
    // its throttle, so it runs with the default.
    let replica = serve(
        &["--replica-of", &a.base],
        &[("TALLY_REPLICA_TOKEN", admin.as_str())],
    );
    // Printed as a header value (`AppToken …`).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let nodes = [("node A", &a), ("node B", &b), ("replica", &replica)];
    let mut rss_early = Vec::new();
    runtime.block_on(async {
        support::project(&http, &a.base, &admin).await;
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut flows = Vec::new();
        let mut i = 0u64;
        while started.elapsed() < Duration::from_secs(seconds) {
            ticks.tick().await;
            if rss_early.is_empty() && started.elapsed() >= Duration::from_secs(10) {
                rss_early = nodes.iter().map(|(_, node)| node.rss_mib()).collect();
            }
            let (first, second) = if i.is_multiple_of(2) {
                (&a.base, &b.base)
            } else {
                (&b.base, &a.base)
            };
            let job = flow(
                http.clone(),
                i,
                first.clone(),
                second.clone(),
                replica.base.clone(),
                admin.clone(),
            );
            let tally = Arc::clone(&tally);
            flows.push(tokio::spawn(async move {
                let result = job.await;
                let mut t = tally.lock().unwrap();
                match result {
                    Ok(took) => {
                        for (step, d) in took.into_iter().enumerate() {
                            t.took[step].push(d);
                        }
                    }
                    Err(e) => t.errors.push(e),
                }
            }));
            i += 1;
        }
        for f in flows {
            f.await.unwrap();
        }
        println!("{i} flows started at {rate}/s over {seconds} s");
    });
    let rss_end: Vec<u64> = nodes.iter().map(|(_, node)| node.rss_mib()).collect();
    let mut t = tally.lock().unwrap();
    println!("| step | flows done | p50 | p99 | worst |");
    println!("|---|---|---|---|---|");
    for (step, name) in STEPS.iter().enumerate() {
        let took = &mut t.took[step];
        took.sort();
        println!(
            "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            took.len(),
            percentile(took, 0.5).as_secs_f64() * 1e3,
            percentile(took, 0.99).as_secs_f64() * 1e3,
            took.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
    }
    println!("errors: {}", t.errors.len());
    for e in t.errors.iter().take(5) {
        println!("  {e}");
    }
    for (n, (name, _)) in nodes.iter().enumerate() {
        println!(
            "{name}: {} MiB resident 10 s in, {} MiB at the end",
            rss_early.get(n).copied().unwrap_or(0),
            rss_end[n]
        );
    }
    // The nodes stop before their schema goes.
    drop((a, b, replica));
    support::drop_schema(&url, "load");
}
