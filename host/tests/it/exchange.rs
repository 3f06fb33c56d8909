//! `POST /v1/app-exchange-token` on Hygraph's wire, over real HTTP.

use crate::common;

use common::{T0, bearer, start, start_with, str_of};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_code_becomes_an_app_token_bound_to_its_installation() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (installation, code) = s.install(&app_id).await;
    let (st, body) = s.exchange(&client_id, &secret, &code).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body.as_object().unwrap().len(), 1, "only appToken: {body}");
    let token = str_of(&body, "appToken");
    let id = &token[..16];
    assert!(verifier_core::Credentials::from_token(&token).is_ok());

    let (_, list) = s.admin(Method::GET, "/v1/tokens", None).await;
    let record = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tokenId"] == id)
        .unwrap()
        .clone();
    assert_eq!(record["kind"], "APP");
    assert_eq!(record["environmentId"], "master");
    assert_eq!(record["projectId"], "p1");
    assert_eq!(record["installationId"], installation.as_str());
    assert_eq!(record["grants"][0]["models"], json!(["Post"]));
    assert_eq!(record["expiresAt"], json!(null));

    // The token acts for its installation.
    let (st, got) = s
        .call(
            Method::GET,
            &format!("/v1/installations/{installation}"),
            Some(&bearer(&token)),
            None,
        )
        .await;
    assert_eq!(
        (st, got["id"].as_str()),
        (StatusCode::OK, Some(installation.as_str()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_status_of_the_exchange() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (_, code) = s.install(&app_id).await;

    // 400: a body that is not what the endpoint takes, naming missing fields.
    for (body, message) in [
        ("not json", "Body must be a JSON object"),
        ("[1,2]", "Body must be a JSON object"),
        (
            "{}",
            "Missing required fields: clientId, clientSecret, exchangeCode",
        ),
        (
            r#"{"clientId":"a","exchangeCode":""}"#,
            "Missing required fields: clientSecret, exchangeCode",
        ),
        (
            r#"{"clientId":"a","clientSecret":5,"exchangeCode":"c"}"#,
            "Missing required fields: clientSecret",
        ),
    ] {
        let res = s
            .http
            .post(format!("{}/v1/app-exchange-token", s.base))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            (v["message"].as_str(), v["reason"].as_str()),
            (Some(message), Some("bad_request")),
            "{body}"
        );
    }

    // 401: bad client credentials, whichever part is wrong.
    // Another well-formed secret: change a middle character (the last one
    // carries padding bits and has only four canonical values).
    let flipped = if secret.as_bytes()[10] == b'A' {
        'B'
    } else {
        'A'
    };
    let wrong_secret = format!("{}{flipped}{}", &secret[..10], &secret[11..]);
    assert_ne!(wrong_secret, secret);
    for (id, sec) in [
        (client_id.as_str(), wrong_secret.as_str()),
        ("cl_unknown", secret.as_str()),
        (client_id.as_str(), "short"),
    ] {
        let (st, e) = s.exchange(id, sec, &code).await;
        assert_eq!(
            (st, e["reason"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("bad_client_credentials"))
        );
        assert_eq!(e["message"], "Invalid client credentials");
    }

    // 404: unknown codes, well-formed or not.
    let unknown = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    for c in [unknown, "nope"] {
        let (st, e) = s.exchange(&client_id, &secret, c).await;
        assert_eq!(
            (st, e["reason"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{c}"
        );
    }

    // A code presented by another app is unknown to it, and stays redeemable.
    let (_, other_id, other_secret) = s.app().await;
    let (st, _) = s.exchange(&other_id, &other_secret, &code).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // 410: used.
    let (st, _) = s.exchange(&client_id, &secret, &code).await;
    assert_eq!(st, StatusCode::OK);
    let (st, e) = s.exchange(&client_id, &secret, &code).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::GONE, Some("code_used"))
    );

    // Failures and successes are counted.
    let (_, metrics) = s.call(Method::GET, "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("tally_exchanges_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tally_exchanges_total{outcome=\"failed\"} 12"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_code_is_gone() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (_, code) = s.install(&app_id).await;
    let (_, late) = s.install(&app_id).await;
    s.clock.advance(599);
    let (st, _) = s.exchange(&client_id, &secret, &code).await;
    assert_eq!(st, StatusCode::OK, "valid until the last second");
    s.clock.advance(1);
    let (st, e) = s.exchange(&client_id, &secret, &late).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::GONE, Some("code_expired"))
    );
    assert_eq!(e["message"], "Exchange code has expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_code_lifetime_is_configurable() {
    let s = start_with(|c| c.setup_code_ttl = 30).await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (st, v) = s
        .admin(
            Method::POST,
            "/v1/environments/master/installations",
            Some(json!({"appId": app_id})),
        )
        .await;
    assert_eq!(
        (st, v["expiresAt"].as_i64()),
        (StatusCode::CREATED, Some(T0 + 30))
    );
    s.clock.advance(30);
    let (st, _) = s
        .exchange(&client_id, &secret, &str_of(&v, "setupCode"))
        .await;
    assert_eq!(st, StatusCode::GONE);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_exchanges_of_one_code_give_exactly_one_token() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (installation, code) = s.install(&app_id).await;
    let body = json!({"clientId": client_id, "clientSecret": secret, "exchangeCode": code});
    let url = format!("{}/v1/app-exchange-token", s.base);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            // One client each: 32 connections, not one queue.
            let (client, url, body, barrier) = (
                reqwest::Client::new(),
                url.clone(),
                body.clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let res = client.post(url).json(&body).send().await.unwrap();
                let status = res.status();
                (status, res.json::<serde_json::Value>().await.unwrap())
            })
        })
        .collect();
    let mut ok = Vec::new();
    let mut gone = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => ok.push(str_of(&body, "appToken")),
            StatusCode::GONE => {
                assert_eq!(body["reason"], "code_used");
                gone += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok.len(), gone), (1, 31));
    // Exactly one APP token exists for the installation.
    let (_, list) = s.admin(Method::GET, "/v1/tokens", None).await;
    let app_tokens: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["installationId"] == installation.as_str())
        .collect();
    assert_eq!(app_tokens.len(), 1);
    assert_eq!(app_tokens[0]["tokenId"].as_str().unwrap(), &ok[0][..16]);
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_die_when_their_installation_leaves_pending() {
    for to in ["COMPLETED", "DISABLED"] {
        let s = start().await;
        s.project().await;
        let (app_id, client_id, secret) = s.app().await;
        let (installation, code) = s.install(&app_id).await;
        // A second, outstanding code of the same installation.
        let path = format!("/v1/installations/{installation}");
        let (st, fresh) = s
            .admin(Method::POST, &format!("{path}/setup-code"), None)
            .await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, _) = s
            .admin(Method::PATCH, &path, Some(json!({"status": to})))
            .await;
        assert_eq!(st, StatusCode::OK);
        for code in [code, str_of(&fresh, "setupCode")] {
            let (st, e) = s.exchange(&client_id, &secret, &code).await;
            assert_eq!(
                (st, e["reason"].as_str()),
                (StatusCode::GONE, Some("installation_not_pending")),
                "{to}: {e}"
            );
        }
        if to == "DISABLED" {
            // Reinstalled (PENDING again): the old codes stay spent.
            let (st, _) = s
                .admin(Method::PATCH, &path, Some(json!({"status": "PENDING"})))
                .await;
            assert_eq!(st, StatusCode::OK);
            let (st, _) = s
                .exchange(&client_id, &secret, &str_of(&fresh, "setupCode"))
                .await;
            assert_eq!(st, StatusCode::GONE);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_exchange_revokes_the_installations_earlier_app_token() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (installation, first_code) = s.install(&app_id).await;
    let (st, second) = s
        .admin(
            Method::POST,
            &format!("/v1/installations/{installation}/setup-code"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (_, first) = s.exchange(&client_id, &secret, &first_code).await;
    let first = bearer(&str_of(&first, "appToken"));
    assert_eq!(
        common::verify_read(&s.http, &s.base, Some(&first)).await,
        StatusCode::OK
    );
    let (st, newer) = s
        .exchange(&client_id, &secret, &str_of(&second, "setupCode"))
        .await;
    assert_eq!(st, StatusCode::OK);
    let newer = bearer(&str_of(&newer, "appToken"));
    assert_eq!(
        common::verify_read(&s.http, &s.base, Some(&newer)).await,
        StatusCode::OK
    );
    assert_eq!(
        common::verify_read(&s.http, &s.base, Some(&first)).await,
        StatusCode::UNAUTHORIZED,
        "one live APP token an installation"
    );
    let (_, events) = s.admin(Method::GET, "/v1/audit?limit=1000", None).await;
    let first_id = first.split_once(' ').unwrap().1.split('.').next().unwrap();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "token.revoke"
                && e["target"] == first_id
                && e["actor"] == format!("client:{client_id}")),
        "the revocation is audited: {events}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_client_secrets_is_throttled_and_the_right_secret_never_is() {
    let s = start().await; // threshold 5
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (_, code) = s.install(&app_id).await;
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for _ in 0..5 {
        let (st, e) = s.exchange(&client_id, wrong, &code).await;
        assert_eq!(
            (st, e["reason"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("bad_client_credentials"))
        );
    }
    let (st, e) = s.exchange(&client_id, wrong, &code).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("throttled"))
    );
    let (st, e) = s.exchange(&client_id, &secret, &code).await;
    assert_eq!(st, StatusCode::OK, "{e}");
    s.clock.advance(60);
    let (st, _) = s.exchange(&client_id, wrong, &code).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the window passed");
}
