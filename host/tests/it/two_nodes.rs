//! Two `tally serve` processes on one PostgreSQL database: a setup code
//! exchanged concurrently on both yields exactly one token; a token created
//! on one verifies on the other; a revocation on one is denied by the other
//! within a second; the record feed serves the changes of both, in order.
//!
//! `#[ignore]`d without a server (see storage_postgres.rs): `.ci/test`
//! runs them with `--include-ignored` and `TALLY_TEST_POSTGRES` set.

use crate::common;

use std::time::{Duration, Instant};

use common::{TallyProcess, tally_process, verify_read};

use reqwest::StatusCode;
use serde_json::{Value, json};

/// Runs SQL with the synchronous client on a thread of its own (it blocks on
/// a runtime of its own, which a tokio test thread may not).
fn sql(url: &str, statements: String) -> Result<(), postgres::Error> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls)?;
        c.batch_execute(&statements)
    })
    .join()
    .unwrap()
}

/// A schema of its own for one test, dropped at the end.
struct Schema {
    admin_url: String,
    name: String,
}

impl Schema {
    fn new(tag: &str) -> Schema {
        let admin_url = std::env::var("TALLY_TEST_POSTGRES")
            .expect("needs PostgreSQL: set TALLY_TEST_POSTGRES");
        let name = format!("n_{tag}_{}", std::process::id());
        sql(
            &admin_url,
            format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"),
        )
        .unwrap();
        Schema { admin_url, name }
    }

    /// The URL a node is given: the same database, this schema.
    fn url(&self) -> String {
        let sep = if self.admin_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.admin_url, self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = sql(
            &self.admin_url,
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    auth: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http.request(method, url).header("authorization", auth);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Nodes A and B on one schema, with a project, an environment and an app.
async fn two_nodes(tag: &str) -> (Schema, TallyProcess, TallyProcess, String, reqwest::Client) {
    let schema = Schema::new(tag);
    let a = tally_process(&["--database", &schema.url()], &[]);
    let b = tally_process(&["--database", &schema.url()], &[]);
    let admin = a
        .admin
        .clone()
        .expect("the first node on an empty database mints the admin token");
    assert!(
        b.admin.is_none(),
        "the second node finds the token and mints none"
    );
    let http = reqwest::Client::new();
    for (path, body) in [
        ("/v1/projects", json!({"id": "p1", "name": "P"})),
        (
            "/v1/projects/p1/environments",
            json!({"id": "master", "name": "Master"}),
        ),
    ] {
        let (st, v) = call(
            &http,
            reqwest::Method::POST,
            format!("{}{path}", a.base),
            &admin,
            Some(body),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    (schema, a, b, admin, http)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
async fn a_setup_code_raced_on_two_nodes_yields_one_token() {
    let (_schema, a, b, admin, http) = two_nodes("race").await;
    let (_, app) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/v1/apps", a.base),
        &admin,
        Some(
            json!({"name": "App", "setupUrl": "http://127.0.0.1:3000/setup",
                    "origins": ["http://127.0.0.1:3000"],
                    "grants": [{"api": "content", "action": "read"}]}),
        ),
    )
    .await;
    let (_, installed) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/v1/environments/master/installations", b.base),
        &admin,
        Some(json!({"appId": app["id"]})),
    )
    .await;
    let body = json!({"clientId": app["clientId"], "clientSecret": app["clientSecret"],
                      "exchangeCode": installed["setupCode"]});
    let mut racers = Vec::new();
    for i in 0..16 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let (http, body) = (http.clone(), body.clone());
        racers.push(tokio::spawn(async move {
            let res = http
                .post(format!("{base}/v1/app-exchange-token"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }));
    }
    let mut won = 0;
    for r in racers {
        let (status, v) = r.await.unwrap();
        match status {
            StatusCode::OK => won += 1,
            StatusCode::GONE => assert_eq!(v["reason"], "code_used"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(won, 1, "exactly one exchange wins across both nodes");
    let (_, tokens) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v1/tokens", b.base),
        &admin,
        None,
    )
    .await;
    let apps = tokens
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "APP")
        .count();
    assert_eq!(apps, 1, "one APP token stored: {tokens}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
async fn tokens_and_revocations_cross_nodes_within_a_second() {
    let (_schema, a, b, admin, http) = two_nodes("revoke").await;
    let (st, pat) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/v1/tokens", a.base),
        &admin,
        Some(
            json!({"kind": "PAT", "name": "reader", "environmentId": "master",
                    "grants": [{"api": "content", "action": "read"}]}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{pat}");
    let token = format!("Bearer {}", pat["token"].as_str().unwrap());
    // Made on A, verifies on B (and B now has it cached).
    assert_eq!(
        verify_read(&http, &b.base, Some(&token)).await,
        StatusCode::OK
    );
    assert_eq!(
        verify_read(&http, &b.base, Some(&token)).await,
        StatusCode::OK
    );

    // B's followers wait: a long poll and an event stream, from where B's
    // feed stands now.
    let (_, now) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v1/records?after=0&limit=10000", b.base),
        &admin,
        None,
    )
    .await;
    let cursor = now["cursor"].as_i64().unwrap();
    let polling = {
        let (http, url, admin) = (
            http.clone(),
            format!("{}/v1/records?after={cursor}&wait=25", b.base),
            admin.clone(),
        );
        tokio::spawn(async move { call(&http, reqwest::Method::GET, url, &admin, None).await })
    };
    let mut events = common::Events::open(
        &http,
        &format!("{}/v1/records?after={cursor}", b.base),
        &admin,
        None,
    )
    .await;

    let (st, _) = call(
        &http,
        reqwest::Method::DELETE,
        format!("{}/v1/tokens/{}", a.base, pat["tokenId"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let revoked_at = Instant::now();
    // The revocation made on A reaches B's waiting followers.
    let (st, page) = polling.await.unwrap();
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        page["changes"][0]["record"]["tokenId"], pat["tokenId"],
        "{page}"
    );
    assert_eq!(page["changes"][0]["record"]["revoked"], true);
    let (id, change) = events.next_change().await.unwrap();
    assert!(id > cursor);
    assert_eq!(change, page["changes"][0]);
    // A denies at once; B within the cache sync bound.
    assert_eq!(
        verify_read(&http, &a.base, Some(&token)).await,
        StatusCode::UNAUTHORIZED
    );
    let lag = loop {
        if verify_read(&http, &b.base, Some(&token)).await == StatusCode::UNAUTHORIZED {
            break revoked_at.elapsed();
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "B still allows after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("revocation on A denied by B after {} ms", lag.as_millis());

    // The feed, read from B, has both changes in order.
    let (st, feed) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v1/records?after=0", b.base),
        &admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let ours: Vec<&Value> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["record"]["tokenId"] == pat["tokenId"])
        .collect();
    assert_eq!(ours.len(), 2, "creation and revocation: {feed}");
    assert!(ours[0]["seq"].as_i64() < ours[1]["seq"].as_i64());
    assert_eq!(ours[1]["record"]["revoked"], true);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
async fn each_webhook_is_delivered_once_by_two_nodes() {
    let hooks = crate::webhooks::receiver(0).await;
    let schema = Schema::new("hooks");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("webhook.key");
    // One key for every node (made here as an operator would).
    std::fs::write(&key, "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=").unwrap();
    let args = |url: &str| {
        vec![
            "--database".to_owned(),
            url.to_owned(),
            "--webhook-key-file".to_owned(),
            key.display().to_string(),
            "--allow-private-webhooks".to_owned(),
        ]
    };
    let url = schema.url();
    let a_args = args(&url);
    let a = tally_process(&a_args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let b = tally_process(&a_args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let admin = a.admin.clone().unwrap();
    let http = reqwest::Client::new();
    for (path, body) in [
        ("/v1/projects", json!({"id": "p1", "name": "P"})),
        (
            "/v1/projects/p1/environments",
            json!({"id": "master", "name": "Master"}),
        ),
    ] {
        call(
            &http,
            reqwest::Method::POST,
            format!("{}{path}", a.base),
            &admin,
            Some(body),
        )
        .await;
    }
    let (st, app) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/v1/apps", a.base),
        &admin,
        Some(
            json!({"name": "App", "setupUrl": "http://127.0.0.1:3000/setup",
                    "origins": ["http://127.0.0.1:3000"], "webhookUrl": hooks.url,
                    "grants": []}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{app}");
    let app = app["id"].as_str().unwrap().to_owned();
    // Events made on both nodes; both nodes' workers race for each.
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (st, _) = call(
            &http,
            reqwest::Method::POST,
            format!("{}/v1/environments/master/installations", node.base),
            &admin,
            Some(json!({"appId": app})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    hooks
        .until(Duration::from_secs(10), |g| g.len() >= 10)
        .await;
    // Time for a duplicate to show, were there one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut ids: Vec<String> = hooks.got().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 10, "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "a delivery was sent twice");
    let (_, log) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v1/apps/{app}/deliveries", b.base),
        &admin,
        None,
    )
    .await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
async fn a_studio_session_opened_on_one_node_is_open_on_the_other_until_signed_out() {
    let (schema, a, b, admin, http) = two_nodes("studio").await;
    let cookie = common::studio_sign_in(&http, &a.base, &admin).await;
    let session = |base: String| {
        let (http, cookie) = (http.clone(), cookie.clone());
        async move {
            let r = http
                .get(format!("{base}/studio/session"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["signedIn"].clone()
        }
    };
    // Opened on A, open on B: the store holds it, not A's memory.
    assert_eq!(session(b.base.clone()).await, true);
    assert_eq!(
        common::studio_projects(&http, &b.base, &cookie).await,
        StatusCode::OK
    );

    // The store holds the admin token sealed: its secret is nowhere in
    // the row, nor is the cookie.
    let (url, name) = (schema.admin_url.clone(), schema.name.clone());
    let rows = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query(
            &format!("SELECT session_hash, sealed_token FROM {name}.studio_sessions"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            let hash: Vec<u8> = r.get(0);
            let sealed: Option<Vec<u8>> = r.get(1);
            (hash, sealed)
        })
        .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    assert_eq!(rows.len(), 1);
    let secret = admin.rsplit('.').next().unwrap().as_bytes();
    let value = cookie.split_once('=').unwrap().1.as_bytes();
    let (hash, sealed) = &rows[0];
    let sealed = sealed.as_ref().expect("opened with a token");
    for held in [hash, sealed] {
        assert!(!held.windows(secret.len()).any(|w| w == secret));
        assert!(!held.windows(value.len()).any(|w| w == value));
    }

    // Signed out on B, closed on A.
    let out = http
        .delete(format!("{}/studio/session", b.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(session(a.base.clone()).await, false);
    assert_eq!(
        common::studio_projects(&http, &a.base, &cookie).await,
        StatusCode::UNAUTHORIZED
    );
}
