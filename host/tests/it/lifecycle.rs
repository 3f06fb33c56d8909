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
