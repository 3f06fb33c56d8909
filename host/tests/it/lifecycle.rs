//! An app's life after it is installed, over real HTTP: editing it,
//! rotating its client secret, uninstalling it and deleting it.

use crate::common;

use common::{assert_not_stored, assert_refused, bearer, start, str_of, verify_read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The audit entries with `action`, oldest first.
async fn audited(s: &common::TestServer, action: &str) -> Vec<Value> {
    let (_, log) = s.admin(Method::GET, "/v1/audit?limit=1000", None).await;
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

/// Whether the exchange takes these client credentials: a code no one was
/// given is 404 for the right credentials and 401 for wrong ones.
async fn credentials_accepted(s: &common::TestServer, client_id: &str, secret: &str) -> bool {
    let answer = s
        .exchange(
            client_id,
            secret,
            "c_no-such-code-0000000000000000000000000",
        )
        .await;
    match answer.0 {
        StatusCode::NOT_FOUND => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("unexpected {other}: {}", answer.1),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_is_edited_checked_and_audited() {
    let s = start().await;
    let (id, _, _) = s.app().await;
    let path = format!("/v1/apps/{id}");

    let (st, app) = s
        .admin(
            Method::PATCH,
            &path,
            Some(json!({
                "name": "Renamed",
                "origins": ["http://127.0.0.1:3000", "HTTPS://Apps.Example.com:443/"],
                "url": "https://apps.example.com/main"
            })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{app}");
    assert_eq!(app["name"], "Renamed");
    assert_eq!(
        app["origins"],
        json!(["http://127.0.0.1:3000", "https://apps.example.com"])
    );
    assert_eq!(app["url"], "https://apps.example.com/main");
    assert_eq!(app["setupUrl"], "http://127.0.0.1:3000/setup");
    let (_, read) = s.admin(Method::GET, &path, None).await;
    assert_eq!(read, app);

    // Refused edits change nothing: a main page off the app's origins
    // (also when the origins it was on are dropped), an origin that is not
    // one, an unknown field, an empty name.
    for body in [
        json!({"url": "https://elsewhere.example.com/"}),
        json!({"origins": ["http://127.0.0.1:3000"]}),
        json!({"origins": ["https://apps.example.com/path"]}),
        json!({"origins": []}),
        json!({"webhookUrl": "https://apps.example.com/hook"}),
        json!({"name": " "}),
        json!({"setupUrl": "ftp://apps.example.com/"}),
        // serde reads a struct from an array of its fields; the API takes
        // objects only.
        json!([null, null, null, null]),
        json!(["Renamed again"]),
    ] {
        let answer = s.admin(Method::PATCH, &path, Some(body.clone())).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_request");
    }
    let (_, unchanged) = s.admin(Method::GET, &path, None).await;
    assert_eq!(unchanged, app);

    // `url: null` removes the main page; absent fields stay.
    let (st, cleared) = s
        .admin(Method::PATCH, &path, Some(json!({"url": null})))
        .await;
    assert_eq!(
        (st, &cleared["url"], &cleared["name"]),
        (StatusCode::OK, &Value::Null, &json!("Renamed"))
    );

    let edits = audited(&s, "app.update").await;
    assert_eq!(edits.len(), 2, "refused edits are not audited: {edits:?}");
    assert_eq!(
        edits[0]["detail"]["name"],
        json!({"from": "Example app", "to": "Renamed"})
    );
    assert_eq!(
        edits[1]["detail"],
        json!({"url": {"from": "https://apps.example.com/main", "to": null}})
    );

    let answer = s
        .admin(
            Method::PATCH,
            "/v1/apps/app_nope",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_refused(&answer, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_client_secret_works_only_through_its_grace_period() {
    let s = start().await;
    s.project().await;
    let (id, client_id, first) = s.app().await;
    let rotate = format!("/v1/apps/{id}/client-secret/rotate");

    let (st, rotated) = s
        .admin(Method::POST, &rotate, Some(json!({"graceSeconds": 60})))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{rotated}");
    assert_eq!(rotated["clientId"], client_id.as_str());
    let second = str_of(&rotated, "clientSecret");
    assert_ne!(second, first);
    let until = common::T0 + 60;
    assert_eq!(rotated["previousSecretExpiresAt"], until);
    let (_, app) = s.admin(Method::GET, &format!("/v1/apps/{id}"), None).await;
    assert_eq!(app["previousSecretExpiresAt"], until);

    // Both work until the grace ends, to the second; then only the new one.
    s.clock.advance(59);
    assert!(credentials_accepted(&s, &client_id, &first).await);
    assert!(credentials_accepted(&s, &client_id, &second).await);
    let (_, code) = s.install(&id).await;
    let (st, _) = s.exchange(&client_id, &first, &code).await;
    assert_eq!(
        st,
        StatusCode::OK,
        "the old secret redeems a code in its grace"
    );
    s.clock.advance(1);
    assert!(!credentials_accepted(&s, &client_id, &first).await);
    assert!(credentials_accepted(&s, &client_id, &second).await);
    let (_, app) = s.admin(Method::GET, &format!("/v1/apps/{id}"), None).await;
    assert_eq!(app["previousSecretExpiresAt"], Value::Null);

    // Two rotations within a grace: the oldest stops at once, so at most
    // two secrets ever work.
    let (_, r) = s
        .admin(Method::POST, &rotate, Some(json!({"graceSeconds": 3600})))
        .await;
    let third = str_of(&r, "clientSecret");
    let (_, r) = s
        .admin(Method::POST, &rotate, Some(json!({"graceSeconds": 3600})))
        .await;
    let fourth = str_of(&r, "clientSecret");
    assert!(!credentials_accepted(&s, &client_id, &second).await);
    assert!(credentials_accepted(&s, &client_id, &third).await);
    assert!(credentials_accepted(&s, &client_id, &fourth).await);

    // The default grace is none.
    let (st, r) = s.admin(Method::POST, &rotate, Some(json!({}))).await;
    assert_eq!(
        (st, &r["previousSecretExpiresAt"]),
        (StatusCode::CREATED, &Value::Null)
    );
    let fifth = str_of(&r, "clientSecret");
    assert!(!credentials_accepted(&s, &client_id, &fourth).await);
    assert!(credentials_accepted(&s, &client_id, &fifth).await);

    for grace in [json!(-1), json!(604_801), json!(1.5), json!("60")] {
        let answer = s
            .admin(Method::POST, &rotate, Some(json!({"graceSeconds": grace})))
            .await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_request");
    }
    // A whole number is one however JSON spells it.
    let (st, r) = s
        .admin(Method::POST, &rotate, Some(json!({"graceSeconds": 60.0})))
        .await;
    assert_eq!(
        (st, &r["previousSecretExpiresAt"]),
        (StatusCode::CREATED, &json!(common::T0 + 60 + 60))
    );
    let answer = s
        .admin(
            Method::POST,
            "/v1/apps/app_nope/client-secret/rotate",
            Some(json!({})),
        )
        .await;
    assert_refused(&answer, StatusCode::NOT_FOUND, "not_found");

    let rotations = audited(&s, "app.client_secret.rotate").await;
    assert_eq!(rotations.len(), 5);
    assert_eq!(rotations[0]["detail"]["graceSeconds"], 60);
    for secret in [&first, &second, &third, &fourth, &fifth] {
        assert_not_stored(s.dir.path(), secret);
    }
    let (_, log) = s.admin(Method::GET, "/v1/audit?limit=1000", None).await;
    assert!(!log.to_string().contains(&fifth[fifth.len() - 20..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn uninstalling_revokes_at_once_and_keeps_the_row() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (installation, code) = s.install(&app_id).await;
    let (_, exchanged) = s.exchange(&client_id, &secret, &code).await;
    let app_token = bearer(&str_of(&exchanged, "appToken"));
    let path = format!("/v1/installations/{installation}");
    let (st, _) = s
        .call(
            Method::PATCH,
            &path,
            Some(&app_token),
            Some(json!({"status": "COMPLETED", "config": {"apiKey": "kept until uninstall"}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, session) = s
        .admin(Method::POST, &format!("{path}/session-token"), None)
        .await;
    let session_token = bearer(&str_of(&session, "token"));
    assert_eq!(
        verify_read(&s.http, &s.base, Some(&app_token)).await,
        StatusCode::OK
    );
    assert_eq!(
        verify_read(&s.http, &s.base, Some(&session_token)).await,
        StatusCode::OK
    );

    // An app's own token cannot uninstall; PATCH cannot either.
    let answer = s.call(Method::DELETE, &path, Some(&app_token), None).await;
    assert_refused(&answer, StatusCode::FORBIDDEN, "not_granted");
    let answer = s
        .admin(Method::PATCH, &path, Some(json!({"status": "UNINSTALLED"})))
        .await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_request");

    let (st, gone) = s.admin(Method::DELETE, &path, None).await;
    assert_eq!(st, StatusCode::OK, "{gone}");
    assert_eq!(gone["status"], "UNINSTALLED");
    assert_eq!(gone["config"], json!({}));
    // At once: the very next check refuses both tokens.
    for token in [&app_token, &session_token] {
        assert_eq!(
            verify_read(&s.http, &s.base, Some(token)).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let (_, read) = s.admin(Method::GET, &path, None).await;
    assert_eq!(read, gone);
    let (_, list) = s.admin(Method::GET, "/v1/installations", None).await;
    assert!(list.as_array().unwrap().contains(&gone));

    // Nothing moves it again.
    let answer = s
        .admin(Method::PATCH, &path, Some(json!({"status": "PENDING"})))
        .await;
    assert_refused(&answer, StatusCode::CONFLICT, "installation_uninstalled");
    let answer = s
        .admin(Method::POST, &format!("{path}/session-token"), None)
        .await;
    assert_refused(&answer, StatusCode::CONFLICT, "installation_uninstalled");
    let answer = s
        .admin(Method::POST, &format!("{path}/setup-code"), None)
        .await;
    assert_refused(&answer, StatusCode::CONFLICT, "conflict");
    // Uninstalling again changes nothing and is not audited again.
    let (st, again) = s.admin(Method::DELETE, &path, None).await;
    assert_eq!((st, &again), (StatusCode::OK, &gone));
    let uninstalls = audited(&s, "installation.uninstall").await;
    assert_eq!(uninstalls.len(), 1);
    assert_eq!(uninstalls[0]["detail"]["from"], "COMPLETED");

    let answer = s
        .admin(Method::DELETE, "/v1/installations/in_nope", None)
        .await;
    assert_refused(&answer, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uninstall_spends_the_codes_it_leaves() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (installation, code) = s.install(&app_id).await;
    s.admin(
        Method::DELETE,
        &format!("/v1/installations/{installation}"),
        None,
    )
    .await;
    let answer = s.exchange(&client_id, &secret, &code).await;
    assert_refused(&answer, StatusCode::GONE, "installation_not_pending");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_is_deleted_only_when_nothing_is_installed() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (first, _) = s.install(&app_id).await;
    let (second, _) = s.install(&app_id).await;
    let path = format!("/v1/apps/{app_id}");

    let answer = s.admin(Method::DELETE, &path, None).await;
    assert_refused(&answer, StatusCode::CONFLICT, "app_installed");
    let message = answer.1["message"].as_str().unwrap();
    assert!(
        message.contains(&first) && message.contains(&second),
        "{message}"
    );

    s.admin(Method::DELETE, &format!("/v1/installations/{first}"), None)
        .await;
    let answer = s.admin(Method::DELETE, &path, None).await;
    assert_refused(&answer, StatusCode::CONFLICT, "app_installed");
    assert!(!answer.1["message"].as_str().unwrap().contains(&first));
    s.admin(Method::DELETE, &format!("/v1/installations/{second}"), None)
        .await;

    let (st, _) = s.admin(Method::DELETE, &path, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(audited(&s, "app.delete").await.len(), 1);
    // Gone from every read; its installations stay, UNINSTALLED.
    let answer = s.admin(Method::GET, &path, None).await;
    assert_refused(&answer, StatusCode::NOT_FOUND, "not_found");
    let (_, apps) = s.admin(Method::GET, "/v1/apps", None).await;
    assert_eq!(apps, json!([]));
    let (_, kept) = s
        .admin(Method::GET, &format!("/v1/installations/{first}"), None)
        .await;
    assert_eq!(kept["status"], "UNINSTALLED");
    assert!(!credentials_accepted(&s, &client_id, &secret).await);
    let answer = s
        .admin(
            Method::POST,
            "/v1/environments/master/installations",
            Some(json!({"appId": app_id})),
        )
        .await;
    assert_refused(&answer, StatusCode::NOT_FOUND, "not_found");
    let answer = s.admin(Method::DELETE, &path, None).await;
    assert_refused(&answer, StatusCode::NOT_FOUND, "not_found");
}

/// `GET {base}/v1/verify` for reading `model` in master.
async fn may_read(http: &reqwest::Client, base: &str, token: &str, model: &str) -> bool {
    let status = http
        .get(format!("{base}/v1/verify"))
        .header("x-tally-environment", "master")
        .header("x-tally-action", "read")
        .header("x-tally-model", model)
        .header("authorization", token)
        .send()
        .await
        .unwrap()
        .status();
    match status {
        StatusCode::OK => true,
        StatusCode::FORBIDDEN => false,
        other => panic!("verify answered {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wider_grant_update_waits_for_consent_then_moves_every_token() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (installation, code) = s.install(&app_id).await;
    let (_, exchanged) = s.exchange(&client_id, &secret, &code).await;
    let app_token = bearer(&str_of(&exchanged, "appToken"));
    let path = format!("/v1/installations/{installation}");
    let session_path = format!("{path}/session-token");
    let session = async |s: &common::TestServer| {
        let (_, v) = s.admin(Method::POST, &session_path, None).await;
        bearer(&str_of(&v, "token"))
    };
    let first_session = session(&s).await;
    let replica = common::tally_process(
        &["--replica-of", &s.base],
        &[("TALLY_REPLICA_TOKEN", &s.admin)],
    );
    let http = reqwest::Client::new();
    // Grants as the API writes them back (every scope spelt out).
    let read = |model: &str| {
        let grant: verifier_core::Grant =
            serde_json::from_value(json!({"api": "content", "action": "read", "models": [model]}))
                .unwrap();
        serde_json::to_value(grant).unwrap()
    };
    let (read_post, read_author) = (read("Post"), read("Author"));
    let grants = format!("/v1/apps/{app_id}/grants");

    // Wider: requested, nothing moves.
    let (st, published) = s
        .admin(Method::PUT, &grants, Some(json!([read_post, read_author])))
        .await;
    assert_eq!(st, StatusCode::OK, "{published}");
    assert_eq!(published["version"], 2);
    assert_eq!(published["applied"], json!([]));
    assert_eq!(published["requested"], json!([installation]));
    let (_, seen) = s.admin(Method::GET, &path, None).await;
    assert_eq!(
        (&seen["grantsVersion"], &seen["requestedVersion"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(seen["grants"], json!([read_post]));
    assert_eq!(seen["requestedGrants"], json!([read_post, read_author]));
    // The app sees the request on its own installation, too.
    let (_, own) = s.call(Method::GET, &path, Some(&app_token), None).await;
    assert_eq!(own["requestedVersion"], 2);
    let new_session = session(&s).await;
    for token in [&app_token, &first_session, &new_session] {
        assert!(may_read(&http, &s.base, token, "Post").await);
        assert!(
            !may_read(&http, &s.base, token, "Author").await,
            "not before consent"
        );
    }

    // Approving another version than the one requested changes nothing.
    let answer = s
        .admin(
            Method::POST,
            &format!("{path}/grants/approve"),
            Some(json!({"version": 3})),
        )
        .await;
    assert_refused(&answer, StatusCode::CONFLICT, "conflict");
    let (st, approved) = s
        .admin(
            Method::POST,
            &format!("{path}/grants/approve"),
            Some(json!({"version": 2})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{approved}");
    assert_eq!(
        (&approved["grantsVersion"], &approved["requestedGrants"]),
        (&json!(2), &Value::Null)
    );
    // At once on this node, for the APP token and every session token.
    for token in [&app_token, &first_session, &new_session] {
        assert!(may_read(&http, &s.base, token, "Author").await);
    }
    // Within a second on a replica, through the feed.
    let started = std::time::Instant::now();
    while !may_read(&http, &replica.base, &app_token, "Author").await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "replica lags"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let answer = s
        .admin(
            Method::POST,
            &format!("{path}/grants/approve"),
            Some(json!({})),
        )
        .await;
    assert_refused(&answer, StatusCode::CONFLICT, "conflict");

    // Declined: nothing moves, and the request is gone.
    let read_tag = read("Tag");
    s.admin(
        Method::PUT,
        &grants,
        Some(json!([read_post, read_author, read_tag])),
    )
    .await;
    let (st, declined) = s
        .admin(
            Method::POST,
            &format!("{path}/grants/decline"),
            Some(json!({})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{declined}");
    assert_eq!(
        (&declined["grantsVersion"], &declined["requestedVersion"]),
        (&json!(2), &Value::Null)
    );
    assert!(!may_read(&http, &s.base, &app_token, "Tag").await);

    // Narrower: applies at once, without consent, to tokens and replicas.
    let (_, narrowed) = s
        .admin(Method::PUT, &grants, Some(json!([read_post])))
        .await;
    assert_eq!(narrowed["applied"], json!([installation]));
    assert!(!may_read(&http, &s.base, &app_token, "Author").await);
    assert!(!may_read(&http, &s.base, &new_session, "Author").await);
    assert!(may_read(&http, &s.base, &app_token, "Post").await);
    let started = std::time::Instant::now();
    while may_read(&http, &replica.base, &app_token, "Author").await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "replica lags"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // A token made after the narrowing gets the narrowed grants too.
    let (_, after) = s.admin(Method::GET, &path, None).await;
    assert_eq!(after["grants"], json!([read_post]));

    // Every step audited with before and after.
    let publish = audited(&s, "app.grants_publish").await;
    assert_eq!(publish.len(), 3);
    assert_eq!(publish[0]["detail"]["from"], json!([read_post]));
    let approve = audited(&s, "installation.grants_approve").await;
    assert_eq!(approve[0]["detail"]["to"], json!([read_post, read_author]));
    assert_eq!(approve[0]["detail"]["from"], json!([read_post]));
    assert_eq!(audited(&s, "installation.grants_decline").await.len(), 1);
    let narrowed = audited(&s, "installation.grants_update").await;
    assert_eq!(narrowed[0]["detail"]["to"], json!([read_post]));

    // Bad grants are refused; an app's grants never hold the admin grant.
    for body in [
        json!([{"api": "management", "action": "admin"}]),
        json!({"api": "content", "action": "read"}),
    ] {
        let answer = s.admin(Method::PUT, &grants, Some(body)).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_filters_by_action_actor_and_target() {
    let s = start().await;
    s.project().await;
    let (app, _, _) = s.app().await;
    let (installation, _) = s.install(&app).await;
    s.admin(
        Method::PATCH,
        &format!("/v1/apps/{app}"),
        Some(json!({"name": "Renamed"})),
    )
    .await;
    let s = &s;
    let page = async |query: &str| {
        let (st, v) = s
            .admin(Method::GET, &format!("/v1/audit?{query}"), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| str_of(e, "action"))
            .collect::<Vec<_>>()
    };
    assert_eq!(page("action=app.").await, ["app.create", "app.update"]);
    assert_eq!(page("action=app.update").await, ["app.update"]);
    assert_eq!(
        page(&format!("target={app}")).await,
        ["app.create", "app.update"]
    );
    assert_eq!(
        page(&format!("target={installation}")).await,
        ["installation.create"]
    );
    assert_eq!(page("actor=cli").await, ["token.create"]);
    assert_eq!(page("action=app.&target=nope").await, Vec::<String>::new());
    // Filters page like the whole log: after the last seq seen.
    let (_, all) = s.admin(Method::GET, "/v1/audit?action=app.", None).await;
    let first = all[0]["seq"].as_i64().unwrap();
    assert_eq!(
        page(&format!("action=app.&after={first}")).await,
        ["app.update"]
    );
    // A filter is matched as text, never as a pattern.
    assert_eq!(page("action=%25").await, Vec::<String>::new());
}
