//! Setup-code exchanges and token creations per second over loopback HTTP,
//! against real SQLite (both durability modes) and, with
//! `TALLY_BENCH_POSTGRES=postgres://…` set, a real PostgreSQL (a fresh
//! schema per run) with two nodes writing to it, the clients split between
//! them.
//!
//! `cargo bench -p tally --bench exchange` (optional arguments: codes per
//! run, default 4000; the names of the backends to run, `sqlite-Normal`,
//! `sqlite-Full` or `postgres`, default all). For each backend: installs
//! that many installations in-process, then exchanges every code over
//! HTTP from 32 concurrent
//! clients; then creates as many PAT tokens (`POST /v1/tokens`) the same
//! way; and prints both rates. Client and server share this machine's
//! cores, so the figures are floors.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tally::authority::{
    Actor, AuthorityConfig, NewApp, NewEnvironment, NewInstallation, NewProject,
};
use tally::clock::SystemClock;
use tally::http::{Options, Server, bind, router};
use tally::runtime::{Limits, Verifier};
use tally::storage::Durability;
use verifier_core::{Action, Api, Grant};

mod support;

const CLIENTS: usize = 32;

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(Durability),
    Postgres(String),
}

fn main() {
    let codes: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(4000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.starts_with("sqlite-") || a == "postgres")
        .collect();
    let mut backends = vec![
        Backend::Sqlite(Durability::Normal),
        Backend::Sqlite(Durability::Full),
    ];
    if let Ok(url) = std::env::var("TALLY_BENCH_POSTGRES") {
        backends.push(Backend::Postgres(url));
    }
    for backend in backends {
        let name = match &backend {
            Backend::Sqlite(d) => format!("sqlite-{d:?}"),
            Backend::Postgres(_) => "postgres".to_owned(),
        };
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let postgres = match &backend {
            Backend::Postgres(url) => Some(url.clone()),
            Backend::Sqlite(_) => None,
        };
        let (exchanges, creations) = runtime.block_on(run(backend, codes));
        println!(
            "{name}: {exchanges:.0} exchanges/s, {creations:.0} token creations/s ({codes} each, {CLIENTS} clients)"
        );
        if let Some(url) = postgres {
            support::drop_schema(&url, "bench");
        }
    }
}

async fn run(backend: Backend, codes: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let path = dir.path().to_owned();
    let config = AuthorityConfig::new(base.clone());
    // PostgreSQL: a second node on the same schema, writing beside the first.
    let (authority, admin, second) = tokio::task::spawn_blocking(move || match backend {
        Backend::Sqlite(durability) => {
            let (a, admin) = tally::open(&path, durability, Arc::new(SystemClock), config).unwrap();
            (a, admin, None)
        }
        Backend::Postgres(url) => {
            let url = support::fresh_schema(&url, "bench");
            let (a, admin) =
                tally::open_postgres(&url, Arc::new(SystemClock), config.clone()).unwrap();
            let (b, _) = tally::open_postgres(&url, Arc::new(SystemClock), config).unwrap();
            (a, admin, Some(b))
        }
    })
    .await
    .unwrap();
    let admin = admin.expect("a fresh store mints the admin token").header();

    // Setup, in-process: one app, `codes` installations.
    let setup = Arc::clone(&authority);
    let (client_id, client_secret, mut all) = tokio::task::spawn_blocking(move || {
        let cli = Actor::cli();
        setup
            .create_project(
                &cli,
                NewProject {
                    id: "p".into(),
                    name: "P".into(),
                },
            )
            .unwrap();
        setup
            .create_environment(
                &cli,
                "p",
                NewEnvironment {
                    id: "e".into(),
                    name: "E".into(),
                    default_stage: None,
                },
            )
            .unwrap();
        let app = setup
            .create_app(
                &tally::authority::Caller::cli(),
                NewApp {
                    name: "bench".into(),
                    setup_url: "http://127.0.0.1:3000/setup".into(),
                    url: None,
                    origins: vec!["http://127.0.0.1:3000".into()],
                    grants: vec![Grant::new(Api::Content, Action::READ)],
                    webhook_url: None,
                    project_id: None,
                    redirect_uris: Vec::new(),
                    elements: Vec::new(),
                },
            )
            .unwrap();
        let codes: Vec<String> = (0..codes)
            .map(|_| {
                setup
                    .install(
                        &cli,
                        "e",
                        NewInstallation {
                            app_id: app.id.clone(),
                        },
                    )
                    .unwrap()
                    .setup_code
            })
            .collect();
        (app.client_id, app.client_secret, codes)
    })
    .await
    .unwrap();

    let verifier = Arc::new(Verifier::new(None, Limits::default()).unwrap());
    let mut bases = vec![base.clone()];
    let mut servers = Vec::new();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let nodes = [(Some(listener), authority)]
        .into_iter()
        .chain(second.map(|b| (None, b)));
    for (listener, authority) in nodes {
        let listener = match listener {
            Some(l) => l,
            None => {
                let l = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
                bases.push(format!("http://{}", l.local_addr().unwrap()));
                l
            }
        };
        let (router, _) = router(authority, Options::new(Arc::clone(&verifier)));
        let mut rx = rx.clone();
        servers.push(
            Server::spawn(listener, router, async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
            .unwrap(),
        );
    }
    let chunk = all.len().div_ceil(CLIENTS);
    let start = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|w| {
            let mine: Vec<String> = all.drain(..chunk.min(all.len())).collect();
            let base = bases[w % bases.len()].clone();
            let (id, secret) = (client_id.clone(), client_secret.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for code in mine {
                    let res = http
                        .post(format!("{base}/v1/app-exchange-token"))
                        .json(
                            &json!({"clientId": id, "clientSecret": secret, "exchangeCode": code}),
                        )
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 200);
                    res.bytes().await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let exchanges = codes as f64 / start.elapsed().as_secs_f64();

    let start = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|w| {
            let (base, admin) = (bases[w % bases.len()].clone(), admin.clone());
            let mine = chunk.min(codes.saturating_sub(w * chunk));
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for i in 0..mine {
                    let res = http
                        .post(format!("{base}/v1/tokens"))
                        .header("authorization", &admin)
                        .json(&json!({"kind": "PAT", "name": format!("bench {w}/{i}"),
                                      "environmentId": "e",
                                      "grants": [{"api": "content", "action": "read"}]}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 201);
                    res.bytes().await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let creations = codes as f64 / start.elapsed().as_secs_f64();
    let _ = tx.send(true);
    for server in servers {
        server.wait().await.unwrap();
    }
    (exchanges, creations)
}
