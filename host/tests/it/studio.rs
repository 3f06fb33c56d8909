//! The studio's server side over real HTTP: sign-in with an admin token, the
//! session cookie and its flags, the CSRF header, sessions ending with their
//! admin token, the page's Content-Security-Policy, the bridge assets, and
//! the listing and record endpoints the studio and edges use.

use crate::common;

use common::{start, str_of};
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE};
use serde_json::{Value, json};

/// Signs in; returns the `tally_studio=<value>` pair and the whole Set-Cookie.
async fn sign_in(s: &common::TestServer, token: &str) -> (StatusCode, Option<(String, String)>) {
    let res = s
        .http
        .post(format!("{}/studio/session", s.base))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let cookie = res.headers().get(SET_COOKIE).map(|v| {
        let full = v.to_str().unwrap().to_owned();
        let pair = full.split(';').next().unwrap().to_owned();
        (pair, full)
    });
    (status, cookie)
}

async fn with_cookie(
    s: &common::TestServer,
    method: Method,
    path: &str,
    cookie: &str,
    studio_header: bool,
) -> (StatusCode, Value) {
    let mut req = s
        .http
        .request(method, format!("{}{path}", s.base))
        .header(COOKIE, cookie);
    if studio_header {
        req = req.header("x-tally-studio", "1");
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_sets_a_strict_http_only_cookie_that_is_not_the_token() {
    let s = start().await;
    let (status, cookie) = sign_in(&s, &s.admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (pair, full) = cookie.expect("a Set-Cookie");
    assert!(pair.starts_with("tally_studio="), "{full}");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/studio;",
        "Max-Age=28800",
    ] {
        assert!(full.contains(flag), "{flag} missing in {full}");
    }
    assert!(!full.contains("Secure"), "http public URL: no Secure flag");
    let secret = s.admin.split('.').nth(1).unwrap();
    assert!(!full.contains(secret), "the cookie carries the admin token");

    let (st, v) = with_cookie(&s, Method::GET, "/studio/session", &pair, false).await;
    let admin_id = s
        .admin
        .split_once(' ')
        .unwrap()
        .1
        .split('.')
        .next()
        .unwrap();
    assert_eq!(
        (st, v),
        (
            StatusCode::OK,
            json!({
                "signedIn": true,
                "user": { "id": format!("token:{admin_id}"), "name": "admin" },
                "access": true,
                "claimable": false,
                "signIn": { "oidc": false, "adminToken": true },
            })
        )
    );
    let (st, v) = s.call(Method::GET, "/studio/session", None, None).await;
    assert_eq!(
        (st, v),
        (
            StatusCode::OK,
            json!({ "signedIn": false, "signIn": { "oidc": false, "adminToken": true } })
        )
    );

    // Also accepted without the scheme, as a bare `<tokenId>.<secret>`.
    let bare = s.admin.split_once(' ').unwrap().1;
    assert_eq!(sign_in(&s, bare).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_or_non_admin_token_does_not_sign_in() {
    let s = start().await;
    s.project().await;
    let (st, none) = sign_in(
        &s,
        "AppToken 0011223344556677.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(none.is_none());
    let pat = s.reader("reader").await;
    let (st, none) = sign_in(&s, &format!("AppToken {}", str_of(&pat, "token"))).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(none.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cookie_authenticates_only_with_the_studio_header() {
    let s = start().await;
    let (_, cookie) = sign_in(&s, &s.admin).await;
    let (pair, _) = cookie.unwrap();
    let (st, projects) = with_cookie(&s, Method::GET, "/studio/api/v1/projects", &pair, true).await;
    assert_eq!(st, StatusCode::OK, "{projects}");
    // A cross-site form could send the cookie (were it not Strict) but never the header.
    let (st, e) = with_cookie(&s, Method::GET, "/studio/api/v1/projects", &pair, false).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(e["reason"], "missing_credentials");
    let (st, _) = with_cookie(
        &s,
        Method::GET,
        "/studio/api/v1/projects",
        "tally_studio=forged",
        true,
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Outside /studio the cookie is no credential at all, header or not
    // (replayed from wherever it leaked, it opens nothing).
    let (st, e) = with_cookie(&s, Method::GET, "/v1/projects", &pair, true).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_credentials"))
    );
    let (st, _) = with_cookie(&s, Method::POST, "/v1/tokens", &pair, true).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Signing out ends the session.
    let (st, _) = with_cookie(&s, Method::DELETE, "/studio/session", &pair, true).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = with_cookie(&s, Method::GET, "/studio/api/v1/projects", &pair, true).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_the_admin_token_ends_its_sessions_at_once() {
    let s = start().await;
    let (_, minted) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"kind": "SYSTEM", "name": "second admin",
                        "grants": [{"api": "management", "action": "admin"}]})),
        )
        .await;
    let second = format!("AppToken {}", str_of(&minted, "token"));
    let (_, cookie) = sign_in(&s, &second).await;
    let (pair, _) = cookie.unwrap();
    assert_eq!(
        with_cookie(&s, Method::GET, "/studio/api/v1/tokens", &pair, true)
            .await
            .0,
        StatusCode::OK
    );
    let path = format!("/v1/tokens/{}", str_of(&minted, "tokenId"));
    assert_eq!(s.admin(Method::DELETE, &path, None).await.0, StatusCode::OK);
    let (st, e) = with_cookie(&s, Method::GET, "/studio/api/v1/tokens", &pair, true).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(e["reason"], "revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_frames_only_installed_app_origins() {
    let s = start().await;
    let page = s
        .http
        .get(format!("{}/studio", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-src 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("<script type=\"module\" src=\"/studio/studio.js\">"));
    assert!(!html.contains("<script>"), "no inline script");

    let (app_id, _, _) = s.app().await;
    let csp_of = |cookie: Option<String>| {
        let mut req = s.http.get(format!("{}/studio", s.base));
        if let Some(cookie) = cookie {
            req = req.header(COOKIE, cookie);
        }
        async move {
            let page = req.send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            page.headers()[CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    // Anonymous visitors learn nothing of the apps; a session frames them.
    let csp = csp_of(None).await;
    assert!(csp.contains("frame-src 'none'"), "{csp}");
    let (_, cookie) = sign_in(&s, &s.admin).await;
    let (pair, _) = cookie.unwrap();
    // Registered is not enough: only installed apps may be framed.
    let csp = csp_of(Some(pair.clone())).await;
    assert!(csp.contains("frame-src 'none'"), "{csp}");
    s.project().await;
    s.install(&app_id).await;
    let csp = csp_of(Some(pair)).await;
    assert!(csp.contains("frame-src http://127.0.0.1:3000;"), "{csp}");

    // The bridge is the npm package's entry over the sdk-wasm parent module.
    for (path, kind) in [
        ("/studio/studio.js", "text/javascript"),
        ("/studio/bridge/src/parent.js", "text/javascript"),
        ("/studio/bridge/dist/parent/tally_sdk.js", "text/javascript"),
        (
            "/studio/bridge/dist/parent/tally_sdk_bg.wasm",
            "application/wasm",
        ),
    ] {
        let res = s
            .http
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{path}"
        );
        let body = res.bytes().await.unwrap();
        if kind == "application/wasm" {
            assert_eq!(&body[..4], b"\0asm");
        }
    }
    let entry = s
        .http
        .get(format!("{}/studio/bridge/src/parent.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        entry.text().await.unwrap(),
        include_str!("../../../npm/src/parent.js")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listings_and_verifier_records() {
    let s = start().await;
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (installation, code) = s.install(&app_id).await;

    let (st, projects) = s.admin(Method::GET, "/v1/projects", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(projects[0]["id"], "p1");
    assert_eq!(projects[0]["mgmtApi"], format!("{}/v1/management", s.base));
    assert_eq!(projects[0]["environments"][0]["id"], "master");

    let (_, apps) = s.admin(Method::GET, "/v1/apps", None).await;
    assert_eq!(apps[0]["clientId"], client_id.as_str());
    let listed = apps.to_string();
    assert!(
        !listed.contains(&secret) && !listed.contains("clientSecret") && !listed.contains("Hash")
    );

    let (_, installations) = s.admin(Method::GET, "/v1/installations", None).await;
    assert_eq!(installations[0]["id"], installation.as_str());
    assert_eq!(installations[0]["status"], "PENDING");

    let (_, exchanged) = s.exchange(&client_id, &secret, &code).await;
    let token = str_of(&exchanged, "appToken");
    let token_id = token
        .trim_start_matches("AppToken ")
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let (st, record) = s
        .admin(Method::GET, &format!("/v1/records/{token_id}"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{record}");
    assert_eq!(record["tokenId"], token_id.as_str());
    assert_eq!(record["kind"], "APP");
    assert_eq!(record["revoked"], false);
    assert_eq!(record["secretHash"].as_str().unwrap().len(), 64);
    assert!(
        !record
            .to_string()
            .contains(token.split('.').nth(1).unwrap())
    );

    s.admin(Method::DELETE, &format!("/v1/tokens/{token_id}"), None)
        .await;
    let (_, record) = s
        .admin(Method::GET, &format!("/v1/records/{token_id}"), None)
        .await;
    assert_eq!(
        record["revoked"], true,
        "a revocation is served, so caches learn of it"
    );

    let (st, env) = s
        .admin(Method::GET, "/v1/environments/master/record", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        env,
        json!({"id": "master", "defaultStage": "PUBLISHED", "publicGrants": []})
    );

    for path in [
        "/v1/records/0011223344556677",
        "/v1/records/nonsense",
        "/v1/environments/nope/record",
    ] {
        let (st, e) = s.admin(Method::GET, path, None).await;
        assert_eq!(
            (st, e["reason"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{path}"
        );
    }
    // Records are admin-only: the app token itself may not read them.
    let (st, _) = s
        .call(
            Method::GET,
            "/v1/records/0011223344556677",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_bad_stored_origin_never_stops_the_studio() {
    let s = start().await;
    s.project().await;
    let (app_id, _, _) = s.app().await;
    s.install(&app_id).await;
    // A row written before origins were validated as they are now.
    let db = rusqlite::Connection::open(s.dir.path().join("tally.db")).unwrap();
    db.execute(
        "INSERT INTO apps (id, name, client_id, client_secret_hash, setup_url, origins, grants, created_at) \
         VALUES ('app_bad', 'Bad', 'cl_bad', zeroblob(32), 'https://bad.example/setup', ?1, '[]', 0)",
        [r#"["https://bad.example\u0001", "https://x.example; script-src *"]"#],
    )
    .unwrap();
    drop(db);
    s.install("app_bad").await;
    let (_, cookie) = sign_in(&s, &s.admin).await;
    let (pair, _) = cookie.unwrap();
    for cookie in [None, Some(pair)] {
        let mut req = s.http.get(format!("{}/studio", s.base));
        if let Some(c) = &cookie {
            req = req.header(COOKIE, c);
        }
        let page = req.send().await.unwrap();
        assert_eq!(
            page.status(),
            StatusCode::OK,
            "signed in: {}",
            cookie.is_some()
        );
        let csp = page.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            !csp.contains("bad.example") && !csp.contains("x.example"),
            "{csp}"
        );
        if cookie.is_some() {
            assert!(csp.contains("frame-src http://127.0.0.1:3000;"), "{csp}");
        }
    }
}
