//! Every management endpoint and its error statuses, over real HTTP.

use crate::common;

use common::{T0, assert_refused, bearer, start, start_with, str_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

// ---- Projects and environments ------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_project_is_created_once_and_answers_its_management_url() {
    let s = start().await;
    let (st, p) = s
        .admin(
            Method::POST,
            "/v1/projects",
            Some(json!({"id": "p1", "name": "One"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(p["mgmtApi"], format!("{}/v1/management", s.base));
    assert_eq!(p["createdAt"], T0);
    let again = s
        .admin(
            Method::POST,
            "/v1/projects",
            Some(json!({"id": "p1", "name": "Again"})),
        )
        .await;
    assert_refused(&again, StatusCode::CONFLICT, "conflict");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_needs_a_valid_id() {
    let s = start().await;
    let bad = s
        .admin(
            Method::POST,
            "/v1/projects",
            Some(json!({"id": "bad id!", "name": "x"})),
        )
        .await;
    assert_refused(&bad, StatusCode::BAD_REQUEST, "bad_request");
    let (st, e) = s
        .admin(Method::POST, "/v1/projects", Some(json!({"name": "no id"})))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("missing field `id`"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_belongs_to_an_existing_project_and_has_a_default_stage() {
    let s = start().await;
    s.admin(
        Method::POST,
        "/v1/projects",
        Some(json!({"id": "p1", "name": "One"})),
    )
    .await;
    let (st, env) = s
        .admin(
            Method::POST,
            "/v1/projects/p1/environments",
            Some(json!({"id": "master", "name": "Master"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(env["defaultStage"], "PUBLISHED");
    assert_eq!(env["publicGrants"], json!([]));
    let (st, env) = s
        .admin(
            Method::POST,
            "/v1/projects/p1/environments",
            Some(json!({"id": "dev", "name": "Dev", "defaultStage": "DRAFT"})),
        )
        .await;
    assert_eq!(
        (st, env["defaultStage"].as_str()),
        (StatusCode::CREATED, Some("DRAFT"))
    );
    let (st, _) = s
        .admin(
            Method::POST,
            "/v1/projects/nope/environments",
            Some(json!({"id": "x", "name": "X"})),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .admin(
            Method::POST,
            "/v1/projects/p1/environments",
            Some(json!({"id": "master", "name": "M"})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread")]
async fn public_grants_are_answered_in_full_form() {
    let s = start().await;
    s.project().await;
    let grants = json!([{"api": "content", "action": "read", "models": ["Post"]}]);
    let (st, g) = s
        .admin(
            Method::PUT,
            "/v1/environments/master/public-grants",
            Some(grants.clone()),
        )
        .await;
    // Omitted scopes are "*".
    let full = json!([{"api": "content", "action": "read", "models": ["Post"],
                       "stages": "*", "locales": "*", "environments": "*"}]);
    assert_eq!((st, g), (StatusCode::OK, full));
    let (st, _) = s
        .admin(
            Method::PUT,
            "/v1/environments/nope/public-grants",
            Some(grants),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn public_grants_refuse_unknown_fields_and_too_many_grants() {
    let s = start().await;
    s.project().await;
    let (st, _) = s
        .admin(
            Method::PUT,
            "/v1/environments/master/public-grants",
            Some(json!([{"api": "content", "action": "read", "ipAllow": []}])),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let too_many: Vec<_> = (0..65)
        .map(|_| json!({"api": "content", "action": "read"}))
        .collect();
    let (st, e) = s
        .admin(
            Method::PUT,
            "/v1/environments/master/public-grants",
            Some(json!(too_many)),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        e["message"].as_str().unwrap().contains("too many grants"),
        "{e}"
    );
}

// ---- Apps and installations ---------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_app_gets_ids_and_a_secret_and_needs_valid_urls_and_origins() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    assert!(app_id.starts_with("app_") && client_id.starts_with("cl_"));
    assert_eq!(secret.len(), 43);
    for bad in [
        json!({"name": "x", "setupUrl": "ftp://x", "origins": ["http://a"], "grants": []}),
        json!({"name": "x", "setupUrl": "http://a/s", "origins": [], "grants": []}),
        json!({"name": "x", "setupUrl": "http://a/s", "origins": ["http://a/path"], "grants": []}),
        json!({"name": "", "setupUrl": "http://a/s", "origins": ["http://a"], "grants": []}),
        json!({"name": "x", "setupUrl": "http://a/s", "url": "http://b/", "origins": ["http://a"], "grants": []}),
        json!({"name": "x", "setupUrl": "http://a/s", "url": "http://a/#main", "origins": ["http://a"], "grants": []}),
    ] {
        let (st, _) = s.admin(Method::POST, "/v1/apps", Some(bad.clone())).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_may_name_a_main_page_on_one_of_its_origins() {
    let s = start().await;
    let (st, created) = s
        .admin(
            Method::POST,
            "/v1/apps",
            Some(
                json!({"name": "With a main page", "setupUrl": "http://a.example/setup",
                        "url": "http://a.example/", "origins": ["http://a.example"], "grants": []}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let (_, apps) = s.admin(Method::GET, "/v1/apps", None).await;
    let urls: Vec<&Value> = apps.as_array().unwrap().iter().map(|a| &a["url"]).collect();
    assert_eq!(urls, [&json!("http://a.example/")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_installation_starts_pending_with_a_setup_url() {
    let s = start().await;
    s.project().await;
    let (app_id, ..) = s.app().await;
    let (st, v) = s
        .admin(
            Method::POST,
            "/v1/environments/master/installations",
            Some(json!({"appId": app_id})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let code = str_of(&v, "setupCode");
    assert_eq!(v["installation"]["status"], "PENDING");
    assert_eq!(
        v["setupUrl"],
        format!("http://127.0.0.1:3000/setup?code={code}")
    );
    assert_eq!(v["expiresAt"], T0 + 600);
    let path = format!("/v1/installations/{}", str_of(&v["installation"], "id"));
    let (st, got) = s.admin(Method::GET, &path, None).await;
    assert_eq!(
        (st, got["status"].as_str()),
        (StatusCode::OK, Some("PENDING"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_installation_needs_an_existing_app_and_environment() {
    let s = start().await;
    s.project().await;
    let (app_id, ..) = s.app().await;
    let (st, _) = s
        .admin(
            Method::POST,
            "/v1/environments/master/installations",
            Some(json!({"appId": "app_nope"})),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .admin(
            Method::POST,
            "/v1/environments/nope/installations",
            Some(json!({"appId": app_id})),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .admin(Method::GET, "/v1/installations/in_nope", None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// A project, an app and a completed exchange: the installation's path,
/// its APP token's `Authorization` value, and the app's credentials.
async fn installed(s: &common::TestServer) -> (String, String, (String, String, String)) {
    s.project().await;
    let app = s.app().await;
    let (installation, code) = s.install(&app.0).await;
    let (st, t) = s.exchange(&app.1, &app.2, &code).await;
    assert_eq!(st, StatusCode::OK, "{t}");
    (
        format!("/v1/installations/{installation}"),
        bearer(&str_of(&t, "appToken")),
        app,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apps_own_token_completes_its_installation_and_sets_its_config() {
    let s = start().await;
    let (path, app_token, _) = installed(&s).await;
    let (st, got) = s
        .call(
            Method::PATCH,
            &path,
            Some(&app_token),
            Some(json!({"status": "COMPLETED", "config": {"theme": "dark"}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{got}");
    assert_eq!(
        (got["status"].as_str(), &got["config"]),
        (Some("COMPLETED"), &json!({"theme": "dark"}))
    );
    let back = s
        .call(
            Method::PATCH,
            &path,
            Some(&app_token),
            Some(json!({"status": "PENDING"})),
        )
        .await;
    assert_refused(&back, StatusCode::CONFLICT, "conflict");
    assert_eq!(
        back.1["message"],
        "an installation cannot go from COMPLETED to PENDING"
    );
    for bad in [json!({"config": [1]}), json!({"state": "x"})] {
        let (st, _) = s
            .call(Method::PATCH, &path, Some(&app_token), Some(bad.clone()))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_installations_token_may_not_touch_it() {
    let s = start().await;
    let (path, _, (app_id, client_id, secret)) = installed(&s).await;
    let (_, other_code) = s.install(&app_id).await;
    let (_, t2) = s.exchange(&client_id, &secret, &other_code).await;
    let (st, _) = s
        .call(
            Method::GET,
            &path,
            Some(&bearer(&str_of(&t2, "appToken"))),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_token_for_the_frame_lasts_an_hour() {
    let s = start().await;
    let (path, ..) = installed(&s).await;
    let (st, session) = s
        .admin(Method::POST, &format!("{path}/session-token"), None)
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(session["expiresAt"], T0 + 3600);
    // Relative too, so a frame's bridge schedules the refresh on its own clock.
    assert_eq!(session["expiresIn"], 3600);
    let session_token = bearer(&str_of(&session, "token"));
    let (st, _) = s.call(Method::GET, &path, Some(&session_token), None).await;
    assert_eq!(st, StatusCode::OK);
    s.clock.advance(3600);
    let late = s.call(Method::GET, &path, Some(&session_token), None).await;
    assert_refused(&late, StatusCode::UNAUTHORIZED, "expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_revokes_the_installations_tokens_and_it_can_be_set_up_again() {
    let s = start().await;
    let (path, app_token, (_, client_id, secret)) = installed(&s).await;
    let (st, _) = s
        .admin(Method::PATCH, &path, Some(json!({"status": "DISABLED"})))
        .await;
    assert_eq!(st, StatusCode::OK);
    let after = s.call(Method::GET, &path, Some(&app_token), None).await;
    assert_refused(&after, StatusCode::UNAUTHORIZED, "revoked");
    let (st, _) = s
        .admin(Method::POST, &format!("{path}/session-token"), None)
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    // Set up again: DISABLED -> PENDING, then a fresh code.
    let (st, got) = s
        .admin(Method::PATCH, &path, Some(json!({"status": "PENDING"})))
        .await;
    assert_eq!(
        (st, got["status"].as_str()),
        (StatusCode::OK, Some("PENDING"))
    );
    let (st, fresh) = s
        .admin(Method::POST, &format!("{path}/setup-code"), None)
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = s
        .exchange(&client_id, &secret, &str_of(&fresh, "setupCode"))
        .await;
    assert_eq!(st, StatusCode::OK);
}

// ---- Tokens -------------------------------------------------------------

/// A SYSTEM admin token expiring at `T0 + 100`.
fn ci_token() -> Value {
    json!({"kind": "SYSTEM", "name": "ci",
           "grants": [{"api": "management", "action": "admin"}], "expiresAt": T0 + 100})
}

/// Creates [`ci_token`]: its id, its `Authorization` value and the answer.
async fn create_ci_token(s: &common::TestServer) -> (String, String, Value) {
    let (st, t) = s.admin(Method::POST, "/v1/tokens", Some(ci_token())).await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    (str_of(&t, "tokenId"), bearer(&str_of(&t, "token")), t)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_created_token_works_and_is_listed_without_its_secret() {
    let s = start().await;
    s.project().await;
    // An admin token is bound to no environment (a bound one is refused).
    let (id, token, t) = create_ci_token(&s).await;
    assert!(str_of(&t, "token").starts_with(&format!("{id}.")));
    let (st, _) = s.call(Method::GET, "/v1/tokens", Some(&token), None).await;
    assert_eq!(st, StatusCode::OK);

    let (st, list) = s.admin(Method::GET, "/v1/tokens", None).await;
    assert_eq!(st, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2); // the admin token and this one
    let listed = list.iter().find(|t| t["tokenId"] == id.as_str()).unwrap();
    assert_eq!(
        (listed["kind"].as_str(), listed["expiresAt"].as_i64()),
        (Some("SYSTEM"), Some(T0 + 100))
    );
    let text = serde_json::to_string(&list).unwrap();
    assert!(!text.contains("secret") && !text.contains(&str_of(&t, "token")[17..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_request_that_breaks_a_rule_is_refused() {
    let s = start().await;
    s.project().await;
    for (bad, why) in [
        (
            json!({"kind": "APP", "name": "x", "environmentId": "master", "grants": []}),
            "APP",
        ),
        (
            json!({"kind": "PAT", "name": "x", "grants": []}),
            "no environment",
        ),
        (
            json!({"kind": "PAT", "name": "x", "environmentId": "nope", "grants": []}),
            "unknown env",
        ),
        (
            json!({"kind": "PAT", "name": "x", "environmentId": "master", "grants": [], "expiresAt": T0}),
            "past",
        ),
        (
            json!({"kind": "PAT", "name": "x", "environmentId": "master", "grants": [{"api": "content", "action": "no way"}]}),
            "action",
        ),
        (
            json!({"kind": "PAT", "name": "x", "environmentId": "master", "grants": [{"api": "management", "action": "admin"}]}),
            "admin bound to an environment",
        ),
        (
            json!({"kind": "SYSTEM", "name": "x", "grants": [{"api": "management", "action": "admin", "condition": {"id": "x"}}]}),
            "admin with a condition",
        ),
        (
            json!({"kind": "SYSTEM", "name": "x", "grants": [{"api": "management", "action": "admin", "environments": ["master"]}]}),
            "admin with a scope",
        ),
        (
            json!({"kind": "SYSTEM", "name": "x\u{1}", "grants": []}),
            "control character in the name",
        ),
    ] {
        let (st, _) = s.admin(Method::POST, "/v1/tokens", Some(bad)).await;
        assert!(
            st == StatusCode::BAD_REQUEST || st == StatusCode::NOT_FOUND,
            "{why}: {st}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_keeps_the_expiry_and_revokes_the_old_secret_at_once() {
    let s = start().await;
    let (id, token, _) = create_ci_token(&s).await;
    let (st, r) = s
        .admin(Method::POST, &format!("/v1/tokens/{id}/rotate"), None)
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let rotated = bearer(&str_of(&r, "token"));
    assert_eq!(r["expiresAt"], T0 + 100);
    let (st, _) = s
        .call(Method::GET, "/v1/tokens", Some(&rotated), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let old = s.call(Method::GET, "/v1/tokens", Some(&token), None).await;
    assert_refused(&old, StatusCode::UNAUTHORIZED, "revoked");
    let again = s
        .admin(Method::POST, &format!("/v1/tokens/{id}/rotate"), None)
        .await;
    assert_refused(&again, StatusCode::CONFLICT, "token_revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_refused_and_an_unknown_one_is_not_found() {
    let s = start().await;
    let (id, token, _) = create_ci_token(&s).await;
    let (st, v) = s
        .admin(Method::DELETE, &format!("/v1/tokens/{id}"), None)
        .await;
    assert_eq!((st, v["revoked"].as_bool()), (StatusCode::OK, Some(true)));
    let after = s.call(Method::GET, "/v1/tokens", Some(&token), None).await;
    assert_refused(&after, StatusCode::UNAUTHORIZED, "revoked");
    for unknown in ["0000000000000000", "not-an-id"] {
        let (st, _) = s
            .admin(Method::DELETE, &format!("/v1/tokens/{unknown}"), None)
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{unknown}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_expires_by_the_clock() {
    let s = start().await;
    let (_, token, _) = create_ci_token(&s).await;
    s.clock.advance(100);
    let late = s.call(Method::GET, "/v1/tokens", Some(&token), None).await;
    assert_refused(&late, StatusCode::UNAUTHORIZED, "expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn management_needs_an_admin_token() {
    let s = start().await;
    s.project().await;
    let body = Some(json!({"id": "p2", "name": "Two"}));
    let (st, e) = s
        .call(Method::POST, "/v1/projects", None, body.clone())
        .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_credentials"))
    );
    let (st, e) = s
        .call(
            Method::POST,
            "/v1/projects",
            Some("Basic abc"),
            body.clone(),
        )
        .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("malformed"))
    );
    let forged = "AppToken 630dcd2966c43366.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    let (st, e) = s
        .call(Method::POST, "/v1/projects", Some(forged), body.clone())
        .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unknown_token"))
    );

    // A PAT with content grants is authenticated but not an admin.
    let (st, t) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(
                json!({"kind": "PAT", "name": "reader", "environmentId": "master",
                        "grants": [{"api": "content", "action": "read"}]}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let pat = bearer(&str_of(&t, "token"));
    for (method, path) in [
        (Method::POST, "/v1/projects"),
        (Method::GET, "/v1/tokens"),
        (Method::POST, "/v1/tokens"),
        (Method::GET, "/v1/audit"),
        (Method::POST, "/v1/apps"),
    ] {
        let (st, e) = s.call(method.clone(), path, Some(&pat), body.clone()).await;
        assert_eq!(
            (st, e["reason"].as_str()),
            (StatusCode::FORBIDDEN, Some("not_granted")),
            "{method} {path}"
        );
    }
    // A management grant that is not admin does not pass either.
    let (_, t) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"kind": "SYSTEM", "name": "ops", "grants": [{"api": "management", "action": "tokens.read"}]})),
        )
        .await;
    let (st, _) = s
        .call(
            Method::GET,
            "/v1/tokens",
            Some(&bearer(&str_of(&t, "token"))),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_grace_keeps_the_old_secret_for_a_while() {
    let s = start_with(|c| c.rotation_grace = 60).await;
    s.project().await;
    let (_, t) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"kind": "SYSTEM", "name": "ci", "grants": [{"api": "management", "action": "admin"}]})),
        )
        .await;
    let old = bearer(&str_of(&t, "token"));
    let (st, _) = s
        .admin(
            Method::POST,
            &format!("/v1/tokens/{}/rotate", str_of(&t, "tokenId")),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = s.call(Method::GET, "/v1/tokens", Some(&old), None).await;
    assert_eq!(st, StatusCode::OK);
    s.clock.advance(60);
    let (st, e) = s.call(Method::GET, "/v1/tokens", Some(&old), None).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("expired"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_records_who_did_what_and_pages() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (installation, code) = s.install(&app_id).await;
    let (st, _) = s.exchange(&client_id, &secret, &code).await;
    assert_eq!(st, StatusCode::OK);

    let (st, all) = s.admin(Method::GET, "/v1/audit", None).await;
    assert_eq!(st, StatusCode::OK);
    let all = all.as_array().unwrap().clone();
    let actions: Vec<_> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "token.create",
            "project.create",
            "environment.create",
            "app.create",
            "installation.create",
            "installation.exchange"
        ]
    );
    let admin_id = &s.admin["AppToken ".len()..][..16];
    assert_eq!(all[0]["actor"], "cli");
    assert_eq!(all[1]["actor"], format!("token:{admin_id}"));
    assert_eq!(all[5]["actor"], format!("client:{client_id}"));
    assert_eq!(all[5]["target"], installation.as_str());
    assert!(all.iter().all(|e| e["at"] == T0));
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains(&secret) && !text.contains(&code),
        "the audit log holds a secret"
    );

    let (_, page) = s.admin(Method::GET, "/v1/audit?limit=2", None).await;
    assert_eq!(page.as_array().unwrap().len(), 2);
    let after = page[1]["seq"].as_i64().unwrap();
    let (_, next) = s
        .admin(
            Method::GET,
            &format!("/v1/audit?after={after}&limit=2"),
            None,
        )
        .await;
    assert_eq!(next[0]["seq"].as_i64().unwrap(), after + 1);
    assert_eq!(next[0]["action"], "environment.create");
    let (st, _) = s.admin(Method::GET, "/v1/audit?limit=x", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn service_routes() {
    let s = start().await;
    let (st, body) = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((st, body), (StatusCode::OK, json!("ok")));
    let (st, _) = s.call(Method::GET, "/livez", None, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, spec) = s.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(spec["openapi"], "3.1.0");
    let (st, e) = s.call(Method::GET, "/v1/nothing-here", None, None).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let big = "x".repeat(tally::http::MAX_BODY_BYTES + 1);
    let res = s
        .http
        .post(format!("{}/v1/app-exchange-token", s.base))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (st, metrics) = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(st, StatusCode::OK);
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains("tally_http_responses_total{class=\"4xx\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tally_exchanges_total{outcome=\"failed\"} 0"),
        "{metrics}"
    );

    // Every documented path and method is routed (an unrouted one would be a
    // 404 "route not found" or a 405).
    let paths = spec["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 52);
    for (path, ops) in paths {
        let concrete = [
            "{p}",
            "{e}",
            "{i}",
            "{t}",
            "{environment}",
            "{model}",
            "{id}",
            "{apiId}",
            "{projectId}",
            "{path}",
        ]
        .iter()
        .fold(path.clone(), |p, param| p.replace(param, "x"));
        for method in ops.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = s
                .http
                .request(m, format!("{}{concrete}", s.base))
                .send()
                .await
                .unwrap();
            assert_ne!(
                res.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let body = res.text().await.unwrap();
            assert!(
                !body.contains("route not found"),
                "{method} {path} is not routed"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_management_tokens_is_throttled_and_a_good_token_never_is() {
    let s = start().await; // threshold 5
    let forged = "AppToken 630dcd2966c43366.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    for _ in 0..5 {
        let (st, _) = s.call(Method::GET, "/v1/tokens", Some(forged), None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, e) = s.call(Method::GET, "/v1/tokens", Some(forged), None).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("throttled"))
    );
    let (st, _) = s.admin(Method::GET, "/v1/tokens", None).await;
    assert_eq!(st, StatusCode::OK, "the admin token from the same address");
    // No credentials at all is not a guess.
    let (st, e) = s.call(Method::GET, "/v1/tokens", None, None).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_credentials"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn app_origins_and_names_are_validated_as_browsers_read_them() {
    let s = start().await;
    let app = |name: &str, origins: Value| json!({"name": name, "setupUrl": "https://app.example/setup", "origins": origins, "grants": []});
    for bad in [
        "https://app.example/path",
        "https://app.example?x=1",
        "https://app.example#f",
        "https://user@app.example",
        "ftp://app.example",
        "javascript:alert(1)",
        "https://",
        "app.example",
        "https://app.example;",
        "https://a.example, https://b.example",
        "https://app.example 'unsafe-inline'",
        "https://app\u{1}.example",
        "https://app.example\u{1}",
        "https://app.example\\",
        "https://app.example\"",
        "*",
        "https://a*.example",
        "https://*.example",
        "https://a_b.example",
    ] {
        let (st, e) = s
            .admin(Method::POST, "/v1/apps", Some(app("App", json!([bad]))))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad:?} was accepted: {e}");
        assert_eq!(e["reason"], "bad_request");
    }
    let (st, e) = s
        .admin(
            Method::POST,
            "/v1/apps",
            Some(app("A\u{1}pp", json!(["https://app.example"]))),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    // Accepted origins are kept as browsers serialise them.
    let (st, _) = s
        .admin(
            Method::POST,
            "/v1/apps",
            Some(app(
                "App",
                json!(["HTTPS://App.Example:443/", "http://127.0.0.1:3000"]),
            )),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (_, apps) = s.admin(Method::GET, "/v1/apps", None).await;
    assert_eq!(
        apps[0]["origins"],
        json!(["https://app.example", "http://127.0.0.1:3000"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_is_rotated_once_and_never_when_revoked_or_expired() {
    let s = start_with(|c| c.rotation_grace = 300).await;
    s.project().await;
    let (_, t) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(
                json!({"kind": "PAT", "name": "r", "environmentId": "master",
                        "grants": [{"api": "content", "action": "read"}], "expiresAt": T0 + 3600}),
            ),
        )
        .await;
    let id = str_of(&t, "tokenId");
    let (st, successor) = s
        .admin(Method::POST, &format!("/v1/tokens/{id}/rotate"), None)
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(successor["expiresAt"], T0 + 3600);
    // In its grace period the old token still works, but is not rotated again
    // (its successor would inherit the grace period's end as its expiry).
    let (st, e) = s
        .admin(Method::POST, &format!("/v1/tokens/{id}/rotate"), None)
        .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::CONFLICT, Some("token_rotated")),
        "{e}"
    );
    let (_, list) = s.admin(Method::GET, "/v1/tokens", None).await;
    let listed = |tid: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["tokenId"] == tid)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        listed(&str_of(&successor, "tokenId"))["expiresAt"],
        T0 + 3600
    );
    assert_eq!(listed(&id)["expiresAt"], T0 + 300);

    // Rotating the successor works; an expired token does not rotate.
    s.clock.advance(3600);
    let (st, e) = s
        .admin(
            Method::POST,
            &format!("/v1/tokens/{}/rotate", str_of(&successor, "tokenId")),
            None,
        )
        .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::CONFLICT, Some("token_expired")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_is_json_with_a_reason() {
    let s = start().await;
    s.project().await;
    let raw = |method: &'static str,
               target: &'static str,
               headers: Vec<(String, String)>,
               body: Vec<u8>| {
        let base = s.base.clone();
        let admin = s.admin.clone();
        async move {
            let mut all: Vec<(&str, &str)> = vec![("Authorization", admin.as_str())];
            all.extend(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            common::raw_request(&base, method, target, &all, &body).await
        }
    };
    let many: Vec<(String, String)> = (0..150).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let cases = [
        (
            raw("GET", "/v1/audit?after=abc", vec![], vec![]).await,
            400,
            "bad_request",
        ),
        (
            raw("GET", "/v1/audit?limit=-1", vec![], vec![]).await,
            400,
            "bad_request",
        ),
        (
            raw("GET", "/v1/installations/%FF", vec![], vec![]).await,
            400,
            "bad_request",
        ),
        (
            raw("GET", "/v1/no-such-route", vec![], vec![]).await,
            404,
            "not_found",
        ),
        (
            raw("PUT", "/v1/projects", vec![], vec![]).await,
            405,
            "method_not_allowed",
        ),
        (
            raw(
                "POST",
                "/v1/projects",
                vec![("content-type".into(), "application/json".into())],
                vec![b' '; 2 << 20],
            )
            .await,
            413,
            "too_large",
        ),
        (
            raw("GET", "/v1/projects", many, vec![]).await,
            431,
            "headers_too_large",
        ),
        (
            raw(
                "GET",
                "/v1/projects",
                vec![("x-big".into(), "v".repeat(40 * 1024))],
                vec![],
            )
            .await,
            431,
            "headers_too_large",
        ),
    ];
    for (answer, status, reason) in cases {
        let body = answer.json();
        assert_eq!(
            (answer.status, body["reason"].as_str()),
            (status, Some(reason)),
            "{body}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        assert_eq!(answer.header("x-tally-reason"), Some(reason));
        if status == 405 {
            let allow = answer.header("allow").unwrap_or_default();
            assert!(
                allow.contains("GET") && allow.contains("POST"),
                "Allow: {allow}"
            );
        }
    }
    let (st, e) = s
        .call(Method::GET, "/v1/tokens", Some("AppToken nope"), None)
        .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("malformed"))
    );
}
