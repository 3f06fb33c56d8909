//! `/v1/verify` against a bare route of the same router, in process: what a
//! check costs the server's own code (axum, the handler, the store's
//! caches, the plugin), with no socket, kernel or load generator in the
//! figure. `host/benches/verify-load.sh` measures the same two routes over
//! loopback under wrk, where the kernel's share of a request is most of it.
//!
//! `cargo bench -p tally --bench route` (`TALLY_BENCH_ROUNDS`, default 15;
//! `TALLY_BENCH_BATCH` requests a batch, default 20,000). A real data dir
//! (SQLite in a temp dir), an app installed and its setup code exchanged
//! through the API as in verify-load.sh; then rounds of a batch of
//! `GET /livez`, a batch of `GET /v1/verify` and a batch of `GET /v1/verify`
//! through a second router on the same authority with the decision memo
//! off (`Options::decision_memo`: every check calls the plugin), all with
//! the very same headers, in alternating order, on one thread (a
//! current-thread runtime). The batches repeat one request, so with the memo
//! on nearly every check is a repeat within its second. Reported: each
//! route's median time a request, and the median over the rounds of each
//! round's ratio to `/livez` (this machine's speed drifts by tens of percent
//! from minute to minute; within a round it mostly holds). Two more
//! batches give each request an `X-Tally-Locale` of its own, through both
//! routers: with the memo on, every one of them misses it, so the pair
//! shows what a miss adds.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tally::authority::AuthorityConfig;
use tally::clock::SystemClock;
use tally::http::{Options, router};
use tally::runtime::{Limits, Verifier};
use tally::storage::Durability;
use tower::ServiceExt;

mod support;
use support::env_or;

/// `request` as the server hands it to the router: with the peer's address.
fn from_peer(mut request: Request<Body>) -> Request<Body> {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    request
}

/// One request through the router; its status and JSON body.
async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(from_peer(request)).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn post(router: &Router, path: &str, auth: &str, body: Value) -> Value {
    let request = Request::post(path)
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, value) = send(router, request).await;
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

/// An app token for an installation of an app that reads `Post`, made
/// through the API (the real flow).
async fn app_token(router: &Router, admin: &str) -> String {
    post(
        router,
        "/v1/projects",
        admin,
        json!({"id": "p", "name": "P"}),
    )
    .await;
    post(
        router,
        "/v1/projects/p/environments",
        admin,
        json!({"id": "master", "name": "M"}),
    )
    .await;
    let app = post(
        router,
        "/v1/apps",
        admin,
        json!({"name": "load", "setupUrl": "http://127.0.0.1:3000/setup",
               "origins": ["http://127.0.0.1:3000"],
               "grants": [{"api": "content", "action": "read", "models": ["Post"]}]}),
    )
    .await;
    let installation = post(
        router,
        "/v1/environments/master/installations",
        admin,
        json!({"appId": app["id"]}),
    )
    .await;
    let exchanged = post(
        router,
        "/v1/app-exchange-token",
        "",
        json!({"clientId": app["clientId"], "clientSecret": app["clientSecret"],
               "exchangeCode": installation["setupCode"]}),
    )
    .await;
    exchanged["appToken"].as_str().unwrap().to_owned()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let rounds: usize = env_or("TALLY_BENCH_ROUNDS", 15);
    let batch: usize = env_or("TALLY_BENCH_BATCH", 20_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (authority, admin) = tally::open(
        dir.path(),
        Durability::Normal,
        Arc::new(SystemClock),
        AuthorityConfig::new("http://127.0.0.1:0"),
    )
    .unwrap();
    let admin = admin.unwrap().header();
    let verifier = Arc::new(Verifier::new(None, Limits::default()).unwrap());
    let mut no_memo = Options::new(Arc::clone(&verifier));
    no_memo.decision_memo = false;
    let (plain, _) = router(Arc::clone(&authority), no_memo);
    let (router, _) = router(authority, Options::new(verifier));
    runtime.block_on(async {
        let token = app_token(&router, &admin).await;
        // With `locale`, an `X-Tally-Locale` too (the grant allows any, so
        // the decision is the same, but the request is another one).
        let request = |path: &str, locale: Option<String>| {
            let mut r = Request::get(path)
                .header("authorization", format!("AppToken {token}"))
                .header("x-tally-environment", "master")
                .header("x-tally-action", "read")
                .header("x-tally-model", "Post");
            if let Some(locale) = locale {
                r = r.header("x-tally-locale", locale);
            }
            r.body(Body::empty()).unwrap()
        };
        for r in [&router, &plain] {
            let (status, _) = send(r, request("/v1/verify", None)).await;
            assert_eq!(status, StatusCode::OK, "the check must allow");
            let (status, _) = send(r, request("/v1/verify", Some("de".into()))).await;
            assert_eq!(status, StatusCode::OK, "the check must allow");
        }
        // A new locale for every request: with the memo on, every check
        // misses it (what a miss adds, against the same without the memo).
        let fresh = std::cell::Cell::new(0u64);
        let new_locale = |distinct: bool| {
            distinct.then(|| {
                fresh.set(fresh.get() + 1);
                format!("l{}", fresh.get())
            })
        };
        let (status, _) = send(&router, request("/livez", None)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // ns a request of one batch of `path`. The requests are built
        // outside the timed part, a chunk at a time: a server gets them
        // parsed, their bytes just written and still in the caches, which
        // a whole batch built ahead would not be (the first look at each
        // header name then missed the caches).
        let time = async |router: &Router, path: &str, expected: StatusCode, distinct: bool| {
            const CHUNK: usize = 32;
            let mut timed = std::time::Duration::ZERO;
            for _ in 0..batch.div_ceil(CHUNK) {
                let requests: Vec<_> = (0..CHUNK)
                    .map(|_| from_peer(request(path, new_locale(distinct))))
                    .collect();
                let start = Instant::now();
                for r in requests {
                    let response = router.clone().oneshot(r).await.unwrap();
                    assert_eq!(response.status(), expected);
                }
                timed += start.elapsed();
            }
            timed.as_nanos() as f64 / (batch.div_ceil(CHUNK) * CHUNK) as f64
        };
        let ok = StatusCode::OK;
        let livez = async || time(&router, "/livez", StatusCode::NO_CONTENT, false).await;
        let memo = async || time(&router, "/v1/verify", ok, false).await;
        let every = async || time(&plain, "/v1/verify", ok, false).await;
        let misses = async || time(&router, "/v1/verify", ok, true).await;
        let every_new = async || time(&plain, "/v1/verify", ok, true).await;
        // warm up all
        livez().await;
        memo().await;
        every().await;
        misses().await;
        every_new().await;
        let mut rows: [Vec<f64>; 7] = Default::default();
        for round in 0..rounds {
            let (b, m, e, x, n) = if round % 2 == 0 {
                let b = livez().await;
                let m = memo().await;
                let e = every().await;
                let x = misses().await;
                (b, m, e, x, every_new().await)
            } else {
                let n = every_new().await;
                let x = misses().await;
                let e = every().await;
                let m = memo().await;
                (livez().await, m, e, x, n)
            };
            println!(
                "round {round:2}: /livez {b:5.0} ns  /v1/verify {m:5.0} ns (+{:4.0})  \
                 without the memo {e:5.0} ns (+{:4.0})  new locales: missing the memo \
                 {x:5.0} ns, without it {n:5.0} ns",
                m - b,
                e - b
            );
            for (row, v) in rows.iter_mut().zip([b, m, e, m / b, e / b, x, n]) {
                row.push(v);
            }
        }
        let [b, m, e, rm, re, x, n] = rows.map(median);
        println!(
            "median over {rounds} rounds of {batch}: /livez {b:.0} ns a request, \
             /v1/verify {m:.0} ns ({rm:.2}x), without the memo {e:.0} ns ({re:.2}x); \
             a new locale each request: {x:.0} ns missing the memo, {n:.0} ns without it"
        );
    });
}
