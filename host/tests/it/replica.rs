//! `tally serve --replica-of`: a verify-only node fed by an authority's
//! record feed. A token made on the authority verifies on the replica; a
//! revocation there is denied here within a second (the lag is printed for
//! BENCHMARKS.md); public grants and the model registry follow; changes are
//! refused with 503. A replica starts from the snapshot, and a snapshot read
//! while tokens change, followed by the feed from its cursor, misses
//! nothing; nor does a replica restarted while tokens change.

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
    // Studio sessions live in the store, which a replica has none of.
    let res = http
        .post(format!("{}/studio/session", replica.base))
        .json(&json!({"token": s.admin}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().get("set-cookie").is_none());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "read_only_replica");
}

/// A replica does not hold a token it does not know yet against the client
/// that presents it (a token made on the authority a moment ago is unknown
/// there until the feed brings it); other failures still count.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_does_not_throttle_tokens_it_does_not_know_yet() {
    let s = start().await;
    s.project().await;
    let replica = tally_process(
        &["--replica-of", &s.base, "--throttle-failures", "2"],
        &[("TALLY_REPLICA_TOKEN", &s.admin)],
    );
    let http = reqwest::Client::new();
    // Well formed, and not on the replica: more tries than the threshold,
    // each answered 401 unknown_token, none 429.
    let unknown = verifier_core::IssuedToken::from_random([9; 32]).header();
    for _ in 0..5 {
        let res = http
            .get(format!("{}/v1/verify", replica.base))
            .header("x-tally-environment", "master")
            .header("x-tally-action", "read")
            .header("authorization", &unknown)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["x-tally-reason"], "unknown_token");
    }
    // A token made now is polled for until it arrives, uncounted too.
    let pat = s.reader("reader").await;
    let token = format!("Bearer {}", str_of(&pat, "token"));
    until(
        &http,
        &replica.base,
        Some(&token),
        StatusCode::OK,
        Duration::from_secs(2),
    )
    .await;
    // Revoked: the first denial and the next count, the third is refused.
    let path = format!("/v1/tokens/{}", str_of(&pat, "tokenId"));
    assert_eq!(s.admin(Method::DELETE, &path, None).await.0, StatusCode::OK);
    until(
        &http,
        &replica.base,
        Some(&token),
        StatusCode::UNAUTHORIZED,
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(
        verify(&http, &replica.base, Some(&token)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        verify(&http, &replica.base, Some(&token)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
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

/// Every token's record as the authority has it now: id → revoked.
async fn records_now(s: &common::TestServer) -> std::collections::BTreeMap<String, bool> {
    let (st, tokens) = s.admin(Method::GET, "/v1/tokens", None).await;
    assert_eq!(st, StatusCode::OK, "{tokens}");
    let mut now = std::collections::BTreeMap::new();
    for t in tokens.as_array().unwrap() {
        let id = str_of(t, "tokenId");
        let (st, record) = s
            .admin(Method::GET, &format!("/v1/records/{id}"), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{record}");
        now.insert(id, record["revoked"].as_bool().unwrap());
    }
    now
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_read_while_tokens_change_then_the_feed_misses_nothing() {
    let s = start().await;
    s.project().await;
    let replica = replica_token(&s).await;
    let mut readers = Vec::new();
    for i in 0..7 {
        readers.push(s.reader(&format!("reader {i}")).await);
    }
    let get = |path: String| {
        let replica = replica.clone();
        let s = &s;
        async move {
            let (st, body) = s.call(Method::GET, &path, Some(&replica), None).await;
            assert_eq!(st, StatusCode::OK, "{path}: {body}");
            body
        }
    };
    // Everything read: id → revoked, as the snapshot then the feed say.
    let mut seen = std::collections::BTreeMap::new();
    let mut read_page = |page: &serde_json::Value| {
        let lists = page["grantLists"].as_array().unwrap();
        let records = page["records"].as_array().unwrap();
        for r in records {
            let list = usize::try_from(r["grantList"].as_u64().unwrap()).unwrap();
            assert!(list < lists.len(), "{page}");
            seen.insert(str_of(r, "tokenId"), r["revoked"].as_bool().unwrap());
        }
        (records.len(), lists.len())
    };

    let first = get("/v1/records/snapshot?limit=3".into()).await;
    let cursor = first["cursor"].as_i64().unwrap();
    assert_eq!(first["environments"][0]["id"], "master", "{first}");
    let (records, lists) = read_page(&first);
    assert_eq!(records, 3);
    let (mut all_records, mut all_lists) = (records, lists);

    // While the rest is read: new tokens (some sorting before what was
    // read), a revocation of a token already read and of one not yet read.
    // A reader's (the page may hold the admin's and the replica token too).
    let reader_ids: Vec<String> = readers.iter().map(|r| str_of(r, "tokenId")).collect();
    let read_id = first["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| str_of(r, "tokenId"))
        .find(|id| reader_ids.contains(id))
        .unwrap();
    assert_eq!(
        s.admin(Method::DELETE, &format!("/v1/tokens/{read_id}"), None)
            .await
            .0,
        StatusCode::OK
    );
    let mut after = first["next"].as_str().map(str::to_owned);
    let mut revoked_unread = false;
    while let Some(next) = after {
        s.reader("made mid-snapshot").await;
        if !revoked_unread {
            let unread = readers
                .iter()
                .map(|r| str_of(r, "tokenId"))
                .find(|id| *id > next)
                .unwrap();
            s.admin(Method::DELETE, &format!("/v1/tokens/{unread}"), None)
                .await;
            revoked_unread = true;
        }
        let page = get(format!("/v1/records/snapshot?after={next}&limit=3")).await;
        assert_eq!(page["environments"], json!([]), "{page}");
        let (records, lists) = read_page(&page);
        all_records += records;
        all_lists += lists;
        after = page["next"].as_str().map(str::to_owned);
    }
    assert!(revoked_unread);
    assert!(
        all_lists < all_records,
        "a page names the readers' one list once"
    );

    // Then the feed from the first page's cursor.
    let mut at = cursor;
    loop {
        let page = get(format!("/v1/records?after={at}")).await;
        let changes = page["changes"].as_array().unwrap();
        if changes.is_empty() {
            break;
        }
        for c in changes {
            if c["record"].is_object() {
                seen.insert(
                    str_of(&c["record"], "tokenId"),
                    c["record"]["revoked"].as_bool().unwrap(),
                );
            }
        }
        at = page["cursor"].as_i64().unwrap();
    }
    assert_eq!(seen, records_now(&s).await);
    assert_eq!(seen.get(&read_id), Some(&true));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_snapshot_needs_admin_or_replica_and_a_token_id() {
    let s = start().await;
    s.project().await;
    let reader = s.reader("reader").await;
    let reader = format!("Bearer {}", str_of(&reader, "token"));
    let (st, _) = s
        .call(Method::GET, "/v1/records/snapshot", None, None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = s
        .call(Method::GET, "/v1/records/snapshot", Some(&reader), None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, body) = s
        .admin(Method::GET, "/v1/records/snapshot?after=nothex", None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["reason"], "bad_request");
    // The last page says so: no next.
    let (st, all) = s.admin(Method::GET, "/v1/records/snapshot", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(all.get("next").is_none(), "{all}");
    assert_eq!(all["records"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_restarted_while_tokens_change_misses_nothing() {
    let s = std::sync::Arc::new(start().await);
    s.project().await;
    // Tokens made and revoked all along, before, across and after the restart.
    let writer = {
        let s = std::sync::Arc::clone(&s);
        tokio::spawn(async move {
            let mut made = Vec::new();
            for i in 0..60 {
                let t = s.reader(&format!("reader {i}")).await;
                if i % 4 == 0 {
                    let path = format!("/v1/tokens/{}", str_of(&t, "tokenId"));
                    assert_eq!(s.admin(Method::DELETE, &path, None).await.0, StatusCode::OK);
                }
                made.push((format!("Bearer {}", str_of(&t, "token")), i % 4 == 0));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            made
        })
    };
    let args = ["--replica-of", s.base.as_str()];
    let env = [("TALLY_REPLICA_TOKEN", s.admin.as_str())];
    let first = tally_process(&args, &env);
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(first);
    let second = tally_process(&args, &env);
    assert!(
        second.head.contains("records from the snapshot"),
        "{}",
        second.head
    );
    let made = writer.await.unwrap();
    let http = reqwest::Client::new();
    for (token, revoked) in made {
        let want = if revoked {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        until(
            &http,
            &second.base,
            Some(&token),
            want,
            Duration::from_secs(2),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_loading_small_pages_while_tokens_change_misses_nothing() {
    let s = std::sync::Arc::new(start().await);
    s.project().await;
    for i in 0..20 {
        s.reader(&format!("before {i}")).await;
    }
    let writer = {
        let s = std::sync::Arc::clone(&s);
        tokio::spawn(async move {
            let (_, tokens) = s.admin(Method::GET, "/v1/tokens", None).await;
            // Revoke what was there (tokens read early and late alike) while
            // adding more.
            for (i, t) in tokens.as_array().unwrap().iter().enumerate() {
                if str_of(t, "name").starts_with("before") {
                    let path = format!("/v1/tokens/{}", str_of(t, "tokenId"));
                    s.admin(Method::DELETE, &path, None).await;
                    s.reader(&format!("during {i}")).await;
                }
            }
        })
    };
    let store = tally::storage::ReplicaStore::new();
    let source = tally::follow::Source::new(&s.base, &s.admin).with_snapshot_page(2);
    let first = tally::follow::catch_up(&store, &source).await.unwrap();
    assert!(first.snapshot_records > 0);
    writer.await.unwrap();
    let rest = tally::follow::catch_up(&store, &source).await.unwrap();
    assert_eq!(
        rest.snapshot_records, 0,
        "a replica with a cursor reads the feed"
    );
    let now = records_now(&s).await;
    assert_eq!(store.token_count(), now.len());
    for (id, revoked) in now {
        let id = verifier_core::TokenId::parse(&id).unwrap();
        use tally::storage::Records;
        let row = store.token(&id).unwrap().unwrap();
        assert_eq!(row.record.revoked, revoked, "{id:?}");
    }
    assert_eq!(
        store.grant_list_count(),
        2,
        "readers share one list, the admin has its own"
    );
}
