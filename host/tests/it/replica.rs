//! `tally serve --replica-of`: a verify-only node fed by an authority's
//! record feed. A token made on the authority verifies on the replica; a
//! revocation there is denied here within a second (the lag is printed for
//! BENCHMARKS.md); public grants and the model registry follow; changes are
//! refused with 503.

use crate::common;

use std::time::{Duration, Instant};

use common::{Events, bearer, start, str_of, tally_process, verify_read as verify};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A SYSTEM token with the replica grant, as an `Authorization` value.
async fn replica_token(s: &common::TestServer) -> String {
    let (_, replica) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"kind": "SYSTEM", "name": "edge",
                        "grants": [{"api": "management", "action": "replica"}]})),
        )
        .await;
    format!("Bearer {}", str_of(&replica, "token"))
}

/// Polls until `verify` gives `want`, failing after `within`; returns how long it took.
async fn until(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    want: StatusCode,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        if verify(http, base, token).await == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "still not {want} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_verifies_locally_and_follows_revocations() {
    let s = start().await;
    s.project().await;
    let pat = s.reader("reader").await;
    let token = format!("Bearer {}", str_of(&pat, "token"));

    let replica = tally_process(
        &["--replica-of", &s.base],
        &[("TALLY_REPLICA_TOKEN", &s.admin)],
    );
    assert!(replica.head.contains("replica: "), "{}", replica.head);
    let http = reqwest::Client::new();
    // Caught up before it listened: the token made before it started verifies at once.
    assert_eq!(
        verify(&http, &replica.base, Some(&token)).await,
        StatusCode::OK
    );
    assert_eq!(
        verify(&http, &replica.base, None).await,
        StatusCode::UNAUTHORIZED
    );

    // A token made afterwards arrives through the long poll.
    let later = s.reader("later").await;
    let later = format!("Bearer {}", str_of(&later, "token"));
    until(
        &http,
        &replica.base,
        Some(&later),
        StatusCode::OK,
        Duration::from_secs(2),
    )
    .await;

    // Revoked on the authority: denied here within a second.
    let path = format!("/v1/tokens/{}", str_of(&pat, "tokenId"));
    assert_eq!(s.admin(Method::DELETE, &path, None).await.0, StatusCode::OK);
    let lag = until(
        &http,
        &replica.base,
        Some(&token),
        StatusCode::UNAUTHORIZED,
        Duration::from_secs(1),
    )
    .await;
    println!(
        "revocation reached the replica after {} ms",
        lag.as_millis()
    );

    // Environment changes follow too: public read access switched on.
    let (st, _) = s
        .admin(
            Method::PUT,
            "/v1/environments/master/public-grants",
            Some(json!([{"api": "content", "action": "read"}])),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    until(
        &http,
        &replica.base,
        None,
        StatusCode::OK,
        Duration::from_secs(2),
    )
    .await;

    // And the model registry: the sensitive fields it registers are masked
    // there too.
    let (st, _) = s
        .admin(
            Method::PUT,
            "/v1/environments/master/models/Post",
            Some(json!({"apiIdPlural": "Posts", "sensitiveFields": ["internalNotes"]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let started = Instant::now();
    loop {
        let res = http
            .get(format!("{}/v1/verify", replica.base))
            .header("x-tally-environment", "master")
            .header("x-tally-action", "read")
            .header("x-tally-model", "Post")
            .send()
            .await
            .unwrap();
        if res
            .headers()
            .get("x-tally-masked")
            .and_then(|v| v.to_str().ok())
            == Some("internalNotes")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the replica never masked the registered field"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // It refuses changes, with a reason that says where to make them.
    let res = http
        .post(format!("{}/v1/tokens", replica.base))
        .header("authorization", &s.admin)
        .json(&json!({"kind": "SYSTEM", "name": "x", "grants": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "read_only_replica");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_needs_admin_or_replica_and_long_polls() {
    let s = start().await;
    s.project().await;
    let (st, _) = s.call(Method::GET, "/v1/records", None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let reader = s.reader("reader").await;
    let (st, _) = s
        .call(
            Method::GET,
            "/v1/records",
            Some(&format!("Bearer {}", str_of(&reader, "token"))),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let replica = replica_token(&s).await;
    let (st, page) = s
        .call(Method::GET, "/v1/records?after=0", Some(&replica), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let cursor = page["cursor"].as_i64().unwrap();
    assert!(cursor > 0);
    // The replica grant reads records, but is no admin.
    let (st, _) = s
        .call(Method::GET, "/v1/tokens", Some(&replica), None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // An empty page is held for `wait` seconds, and released by a change.
    let started = Instant::now();
    let (st, empty) = s
        .call(
            Method::GET,
            &format!("/v1/records?after={cursor}&wait=1"),
            Some(&replica),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(empty["changes"], json!([]));
    assert_eq!(empty["cursor"], cursor);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let waiting = {
        let (http, base, replica) = (s.http.clone(), s.base.clone(), replica.clone());
        tokio::spawn(async move {
            http.get(format!("{base}/v1/records?after={cursor}&wait=10"))
                .header("authorization", replica)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let path = format!("/v1/tokens/{}", str_of(&reader, "tokenId"));
    s.admin(Method::DELETE, &path, None).await;
    let page = waiting.await.unwrap();
    assert_eq!(page["changes"][0]["record"]["tokenId"], reader["tokenId"]);
    assert_eq!(page["changes"][0]["record"]["revoked"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_streams_events_and_resumes_after_the_last_id() {
    let s = start().await;
    s.project().await;
    let replica = replica_token(&s).await;
    let first = s.reader("first").await;

    // From the start: every change so far, the reader's creation last,
    // ids increasing, each event what a page would hold.
    let mut events = Events::open(
        &s.http,
        &format!("{}/v1/records?after=0", s.base),
        &replica,
        None,
    )
    .await;
    let (st, page) = s
        .call(Method::GET, "/v1/records?after=0", Some(&replica), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut last = 0;
    for expected in page["changes"].as_array().unwrap() {
        let (id, data) = events.next_change().await.unwrap();
        assert!(id > last);
        assert_eq!(&data, expected);
        last = id;
    }
    assert_eq!(last, page["cursor"].as_i64().unwrap());

    // Then a change as it happens, on the open stream.
    let path = format!("/v1/tokens/{}", str_of(&first, "tokenId"));
    s.admin(Method::DELETE, &path, None).await;
    let (id, data) = events.next_change().await.unwrap();
    assert!(id > last);
    assert_eq!(data["record"]["tokenId"], first["tokenId"]);
    assert_eq!(data["record"]["revoked"], true);
    drop(events);

    // A client that reconnects with Last-Event-ID gets what it missed, and
    // nothing it had (`after` is ignored then).
    let second = s.reader("second").await;
    let mut events = Events::open(
        &s.http,
        &format!("{}/v1/records?after=0", s.base),
        &replica,
        Some(&id.to_string()),
    )
    .await;
    let (next, data) = events.next_change().await.unwrap();
    assert!(next > id);
    assert_eq!(data["record"]["tokenId"], second["tokenId"]);

    // The stream needs the same grant as the pages.
    let res = s
        .http
        .get(format!("{}/v1/records", s.base))
        .header("accept", "text/event-stream")
        .header("authorization", bearer(&str_of(&second, "token")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
