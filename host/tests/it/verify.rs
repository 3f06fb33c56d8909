//! `GET /v1/verify`, the throttle, plugin failures and reload, and the
//! gateway against a real upstream, over loopback.

use crate::common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use common::{TestServer, bearer, start, start_with_options, str_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tally::runtime::{Limits, Verifier};

/// A project, an app reading Post, an installation and its app token.
async fn installed(s: &TestServer) -> (String, String) {
    s.project().await;
    let (app_id, client_id, secret) = s.app().await;
    let (installation, code) = s.install(&app_id).await;
    let (_, t) = s.exchange(&client_id, &secret, &code).await;
    (installation, bearer(&str_of(&t, "appToken")))
}

async fn check(
    s: &TestServer,
    auth: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let mut req = s.http.get(format!("{}/v1/verify", s.base));
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

const READ_POST: &[(&str, &str)] = &[
    ("X-Tally-Environment", "master"),
    ("X-Tally-Action", "read"),
    ("X-Tally-Model", "Post"),
];

/// A model the test app is not granted.
const READ_AUTHOR: &[(&str, &str)] = &[
    ("X-Tally-Environment", "master"),
    ("X-Tally-Action", "read"),
    ("X-Tally-Model", "Author"),
];

#[tokio::test(flavor = "multi_thread")]
async fn verify_allows_denies_and_says_why() {
    let s = start().await;
    let (installation, token) = installed(&s).await;

    let (st, h, _) = check(&s, Some(&token), READ_POST).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        h["x-tally-principal"],
        format!("installation:{installation}").as_str()
    );
    assert_eq!(h["x-tally-reason"], "allowed");
    assert_eq!(h["x-tally-masked"], "");
    assert!(h.get("x-tally-filter").is_none());

    let create = &[
        ("X-Tally-Environment", "master"),
        ("X-Tally-Action", "create"),
        ("X-Tally-Model", "Post"),
    ];
    let (st, _, e) = check(&s, Some(&token), create).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_granted"))
    );
    let (st, _, e) = check(&s, Some(&token), READ_AUTHOR).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_granted"))
    );

    // Another environment.
    s.admin(
        Method::POST,
        "/v1/projects/p1/environments",
        Some(json!({"id": "staging", "name": "S"})),
    )
    .await;
    let (st, _, e) = check(
        &s,
        Some(&token),
        &[
            ("X-Tally-Environment", "staging"),
            ("X-Tally-Action", "read"),
            ("X-Tally-Model", "Post"),
        ],
    )
    .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("wrong_environment"))
    );

    // Credentials problems are 401 with the verifier's reason.
    let (st, _, e) = check(&s, None, READ_POST).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_credentials"))
    );
    let (st, _, e) = check(&s, Some("AppToken nope"), READ_POST).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("malformed"))
    );
    let (st, _, e) = check(
        &s,
        Some("AppToken 630dcd2966c43366.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
        READ_POST,
    )
    .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unknown_token"))
    );

    // A bad descriptor is the caller's mistake.
    let (st, _, e) = check(&s, Some(&token), &[("X-Tally-Environment", "master")]).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (st, _, _) = check(
        &s,
        Some(&token),
        &[("X-Tally-Api", "graphql"), ("X-Tally-Action", "read")],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Public access once the environment has public grants.
    s.admin(
        Method::PUT,
        "/v1/environments/master/public-grants",
        Some(json!([{"api": "content", "action": "read", "models": ["Post"]}])),
    )
    .await;
    let (st, h, _) = check(&s, None, READ_POST).await;
    assert_eq!(
        (st, h["x-tally-reason"].to_str().unwrap()),
        (StatusCode::OK, "public")
    );
    assert!(h.get("x-tally-principal").is_none());

    let (_, metrics) = s.call(Method::GET, "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("tally_verify_decisions_total{reason=\"allowed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tally_verify_decisions_total{reason=\"not_granted\"} 2"),
        "{metrics}"
    );
    let _ = installation;
}

async fn memo_hits(s: &TestServer) -> u64 {
    let (_, metrics) = s.call(Method::GET, "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap();
    let line = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tally_verify_memo_hits_total "))
        .unwrap_or_else(|| panic!("no memo counter in {metrics}"));
    line.parse().unwrap()
}

/// Two workers: each answers its first check of a second through the
/// plugin, and a repeat from its memo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_check_is_answered_from_the_memo_while_its_rows_and_second_last() {
    let s = start().await;
    let (installation, token) = installed(&s).await;
    let (st, first, _) = check(&s, Some(&token), READ_POST).await;
    assert_eq!(st, StatusCode::OK);
    for _ in 1..32 {
        // The remembered answer carries the same decision headers.
        let (st, h, _) = check(&s, Some(&token), READ_POST).await;
        assert_eq!(st, StatusCode::OK);
        for name in [
            "x-tally-principal",
            "x-tally-filter",
            "x-tally-masked",
            "x-tally-reason",
        ] {
            assert_eq!(h.get(name), first.get(name), "{name}");
        }
    }
    // At most one miss per worker, and the first check may have gone to
    // the blocking pool (its rows not yet in memory).
    let hits = memo_hits(&s).await;
    assert!((29..=31).contains(&hits), "{hits} memo hits of 32");

    // Another request (model) or another second is not a repeat.
    let (st, _, _) = check(&s, Some(&token), READ_AUTHOR).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    s.clock.advance(1);
    assert_eq!(check(&s, Some(&token), READ_POST).await.0, StatusCode::OK);
    assert_eq!(memo_hits(&s).await, hits);

    // Every worker remembers the decision now; disabling the installation
    // revokes the token, and no worker answers from its memo again.
    for _ in 0..8 {
        assert_eq!(check(&s, Some(&token), READ_POST).await.0, StatusCode::OK);
    }
    let hits = memo_hits(&s).await;
    s.admin(
        Method::PATCH,
        &format!("/v1/installations/{installation}"),
        Some(json!({"status": "DISABLED"})),
    )
    .await;
    // (Four: the tests' throttle answers 429 from the fifth failure on.)
    for _ in 0..4 {
        let (st, _, e) = check(&s, Some(&token), READ_POST).await;
        assert_eq!(
            (st, e["reason"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("revoked"))
        );
    }
    assert_eq!(memo_hits(&s).await, hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_memo_every_check_calls_the_plugin() {
    let s = start_with_options(|o| o.decision_memo = false).await;
    let (_, token) = installed(&s).await;
    for _ in 0..8 {
        assert_eq!(check(&s, Some(&token), READ_POST).await.0, StatusCode::OK);
    }
    assert_eq!(memo_hits(&s).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_rotation_and_disabling_apply_on_the_next_request() {
    let s = start().await;
    let (installation, token) = installed(&s).await;
    // Warm the cache.
    assert_eq!(check(&s, Some(&token), READ_POST).await.0, StatusCode::OK);
    let pat_body = json!({"kind": "PAT", "name": "reader", "environmentId": "master",
                          "grants": [{"api": "content", "action": "read", "condition": {"ownerId": "$principal"}}]});
    let (_, pat) = s.admin(Method::POST, "/v1/tokens", Some(pat_body)).await;
    let pat_token = bearer(&str_of(&pat, "token"));
    let (st, h, _) = check(&s, Some(&pat_token), READ_POST).await;
    assert_eq!(st, StatusCode::OK);
    let principal = format!("token:{}", str_of(&pat, "tokenId"));
    assert_eq!(
        h["x-tally-filter"],
        json!([{"ownerId": principal}]).to_string().as_str()
    );

    // Rotation: the old secret is refused on the next request, the new one
    // acts as the same principal.
    let (_, rotated) = s
        .admin(
            Method::POST,
            &format!("/v1/tokens/{}/rotate", str_of(&pat, "tokenId")),
            None,
        )
        .await;
    let (st, _, e) = check(&s, Some(&pat_token), READ_POST).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("revoked"))
    );
    let (st, h, _) = check(&s, Some(&bearer(&str_of(&rotated, "token"))), READ_POST).await;
    assert_eq!(
        (st, h["x-tally-principal"].to_str().unwrap()),
        (StatusCode::OK, principal.as_str())
    );

    // Revocation.
    let (_, t) = s
        .admin(
            Method::DELETE,
            &format!("/v1/tokens/{}", str_of(&rotated, "tokenId")),
            None,
        )
        .await;
    assert_eq!(t["revoked"], true);
    let (st, _, e) = check(&s, Some(&bearer(&str_of(&rotated, "token"))), READ_POST).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("revoked"))
    );

    // Disabling the installation revokes its app token at once.
    s.admin(
        Method::PATCH,
        &format!("/v1/installations/{installation}"),
        Some(json!({"status": "DISABLED"})),
    )
    .await;
    let (st, _, e) = check(&s, Some(&token), READ_POST).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("revoked"))
    );

    // A token created after an unknown-token lookup is found (no stale negative).
    let (_, fresh) = s
        .admin(Method::POST, "/v1/tokens", Some(json!({"kind": "PAT", "name": "n", "environmentId": "master", "grants": [{"api": "content", "action": "read"}]})))
        .await;
    assert_eq!(
        check(&s, Some(&bearer(&str_of(&fresh, "token"))), READ_POST)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_from_one_address_are_throttled_and_others_are_not() {
    let s = start().await; // threshold 5 failures a minute
    let (_, token) = installed(&s).await;
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
            .build()
            .unwrap()
    };
    let (bad, good) = (from(2), from(3));
    let get = |c: &reqwest::Client, auth: &str| {
        c.get(format!("{}/v1/verify", s.base))
            .header("Authorization", auth)
            .header("X-Tally-Environment", "master")
            .header("X-Tally-Action", "read")
            .header("X-Tally-Model", "Post")
            .send()
    };
    // Many successes never throttle.
    for _ in 0..20 {
        assert_eq!(get(&good, &token).await.unwrap().status(), StatusCode::OK);
    }
    let forged = "AppToken 630dcd2966c43366.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    for _ in 0..5 {
        assert_eq!(
            get(&bad, forged).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = get(&bad, forged).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.json::<Value>().await.unwrap()["reason"], "throttled");
    // A good token from the throttled address is never refused for it.
    assert_eq!(get(&bad, &token).await.unwrap().status(), StatusCode::OK);
    // Another address is not slowed.
    assert_eq!(
        get(&good, forged).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // The window passes.
    s.clock.advance(60);
    assert_eq!(
        get(&bad, forged).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_plugin_denies_and_the_server_keeps_serving_until_reloaded() {
    let looping = wat::parse_str(include_str!("fixtures/endless-loop.wat")).unwrap();
    let verifier = Arc::new(Verifier::new(Some(&looping), Limits::default()).unwrap());
    let s = start_with_options(|o| o.verifier = verifier).await;
    s.project().await;

    let checks: Vec<_> = (0..4)
        .map(|_| {
            let (http, url) = (s.http.clone(), format!("{}/v1/verify", s.base));
            tokio::spawn(async move {
                http.get(url)
                    .header("X-Tally-Action", "read")
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    // Meanwhile the rest of the API answers.
    for _ in 0..10 {
        assert_eq!(
            s.call(Method::GET, "/healthz", None, None).await.0,
            StatusCode::OK
        );
    }
    for c in checks {
        let res = c.await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            res.json::<Value>().await.unwrap()["reason"],
            "verifier_failed"
        );
    }
    let (_, metrics) = s.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("tally_plugin_failures_total{kind=\"timeout\"} 4"),
        "{metrics}"
    );

    // Not ready while its plugin does not answer; live all the same.
    let (st, v) = s.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (st, v["reason"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("verifier_failed"))
    );
    assert_eq!(
        s.call(Method::GET, "/livez", None, None).await.0,
        StatusCode::NO_CONTENT
    );

    // Reload (no --plugin path: the embedded module) and it decides again.
    let (st, _) = s.call(Method::POST, "/v1/plugin/reload", None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, v) = s.admin(Method::POST, "/v1/plugin/reload", None).await;
    assert_eq!((st, v["reloaded"].as_bool()), (StatusCode::OK, Some(true)));
    let res = s
        .http
        .get(format!("{}/v1/verify", s.base))
        .header("X-Tally-Action", "read")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.call(Method::GET, "/readyz", None, None).await.0,
        StatusCode::NO_CONTENT
    );
}

/// An upstream that echoes what it received.
async fn echo_upstream() -> SocketAddr {
    use axum::routing::any;
    async fn echo(
        method: axum::http::Method,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::Json<Value> {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
            .collect();
        axum::Json(
            json!({"method": method.as_str(), "uri": uri.to_string(), "headers": headers, "bodyLength": body.len()}),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(any(echo))
        .layer(axum::extract::DefaultBodyLimit::disable());
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_checks_then_forwards_with_the_decision() {
    let upstream = echo_upstream().await;
    let s = start_with_options(|o| o.upstream = Some(format!("http://{upstream}"))).await;
    let (installation, token) = installed(&s).await;

    let res = s
        .http
        .get(format!(
            "{}/v1/content/master/Post/42?stage=DRAFT&locale=en",
            s.base
        ))
        .header("Authorization", &token)
        .header("X-Tally-Principal", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let echo: Value = res.json().await.unwrap();
    assert_eq!(echo["method"], "GET");
    assert_eq!(
        echo["uri"],
        "/v1/content/master/Post/42?stage=DRAFT&locale=en"
    );
    assert_eq!(
        echo["headers"]["x-tally-principal"],
        format!("installation:{installation}")
    );
    assert!(
        echo["headers"].get("authorization").is_none(),
        "the token is not forwarded"
    );

    // Not granted: answered by the gateway, never forwarded.
    let res = s
        .http
        .post(format!("{}/v1/content/master/Post", s.base))
        .header("Authorization", &token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.json::<Value>().await.unwrap()["reason"], "not_granted");

    // A token that may create: a large body streams through.
    let (_, pat) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"kind": "PAT", "name": "writer", "environmentId": "master", "grants": [{"api": "content", "action": "create", "models": ["Post"]}]})),
        )
        .await;
    let body = vec![b'x'; 3 << 20];
    let res = s
        .http
        .post(format!("{}/v1/content/master/Post", s.base))
        .header("Authorization", bearer(&str_of(&pat, "token")))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let echo: Value = res.json().await.unwrap();
    assert_eq!(
        (echo["method"].as_str(), echo["bodyLength"].as_u64()),
        (Some("POST"), Some(3 << 20))
    );

    // No credentials: 401 from the gateway.
    let res = s
        .http
        .get(format!("{}/v1/content/master/Post", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_answers_502_when_the_upstream_is_down() {
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap(); // closed at once
    let s = start_with_options(|o| o.upstream = Some(format!("http://{dead}"))).await;
    let (_, token) = installed(&s).await;
    let res = s
        .http
        .get(format!("{}/v1/content/master/Post", s.base))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(res.json::<Value>().await.unwrap()["reason"], "bad_gateway");
}

/// A gateway in front of the echo upstream, and a token that may read Post
/// at PUBLISHED only in master (what the shared tables assume).
async fn gateway_with_reader(set: impl FnOnce(&mut tally::http::Options)) -> (TestServer, String) {
    let upstream = echo_upstream().await;
    let s = start_with_options(|o| {
        o.upstream = Some(format!("http://{upstream}"));
        set(o);
    })
    .await;
    s.project().await;
    let (st, pat) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"kind": "PAT", "name": "published reader", "environmentId": "master",
                        "grants": [{"api": "content", "action": "read", "models": ["Post"], "stages": ["PUBLISHED"]}]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{pat}");
    (s, bearer(&str_of(&pat, "token")))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_reads_every_tricky_target_as_its_upstream_will() {
    let (s, token) = gateway_with_reader(|_| {}).await;
    let table = common::fixture("gateway-targets.json");
    for case in table["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let target = case["target"].as_str().unwrap();
        let mut headers = vec![("Authorization", token.as_str())];
        if let Some(extra) = case["headers"].as_object() {
            headers.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())));
        }
        let answer = common::raw_request(&s.base, "GET", target, &headers, b"").await;
        let body = answer.json();
        match &case["expect"] {
            Value::String(kind) if kind == "forward" => {
                assert_eq!(answer.status, 200, "{name}: {body}");
                assert_eq!(body["uri"], target, "{name}: forwarded as received");
            }
            Value::String(kind) if kind == "refuse" => {
                assert_eq!(
                    (answer.status, body["reason"].as_str()),
                    (400, Some("ambiguous_request")),
                    "{name}: {body}"
                );
                assert_eq!(answer.header("x-tally-reason"), Some("ambiguous_request"));
            }
            deny => {
                assert_eq!(
                    (answer.status, body["reason"].as_str()),
                    (
                        deny["status"].as_u64().unwrap() as u16,
                        deny["reason"].as_str()
                    ),
                    "{name}: {body}"
                );
                assert!(body.get("uri").is_none(), "{name}: denied, never forwarded");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_forwards_nothing_of_the_clients_credentials_or_tally_headers() {
    let (s, token) = gateway_with_reader(|_| {}).await;
    let table = common::fixture("forwarded-headers.json");
    for case in table["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut headers = vec![("Authorization", token.as_str())];
        headers.extend(
            case["send"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap())),
        );
        let answer =
            common::raw_request(&s.base, "GET", "/v1/content/master/Post", &headers, b"").await;
        let body = answer.json();
        assert_eq!(answer.status, 200, "{name}: {body}");
        let got = body["headers"].as_object().unwrap();
        for absent in case["absent"].as_array().unwrap() {
            let absent = absent.as_str().unwrap().to_ascii_lowercase();
            assert!(
                !got.keys().any(|k| k.eq_ignore_ascii_case(&absent)),
                "{name}: {absent} reached the upstream: {got:?}"
            );
        }
        for (key, want) in case["present"].as_object().unwrap() {
            let value = got.get(key).and_then(Value::as_str).unwrap_or("<absent>");
            let want = want.as_str().unwrap();
            let matches = match want.strip_suffix('*') {
                Some(prefix) => value.starts_with(prefix),
                None => value == want,
            };
            assert!(matches, "{name}: {key} is {value:?}, not {want:?}");
        }
        // Never the token, never anything that spells X-Tally but the decision's.
        assert!(!got.contains_key("authorization"), "{name}");
        for key in got.keys() {
            let k = key.to_ascii_lowercase().replace('_', "-");
            if k.starts_with("x-tally-") {
                assert!(
                    [
                        "x-tally-principal",
                        "x-tally-masked",
                        "x-tally-reason",
                        "x-tally-filter"
                    ]
                    .contains(&key.as_str()),
                    "{name}: {key} reached the upstream"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_proxy_names_the_client_and_its_forwarding_headers_are_kept() {
    let (s, token) = gateway_with_reader(|o| {
        o.trusted_proxies = tally::http::TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()]);
        o.throttle_failures = 2;
    })
    .await;
    let headers = [
        ("Authorization", token.as_str()),
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "content.example"),
    ];
    let answer =
        common::raw_request(&s.base, "GET", "/v1/content/master/Post", &headers, b"").await;
    let body = answer.json();
    assert_eq!(answer.status, 200, "{body}");
    assert_eq!(body["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(body["headers"]["x-forwarded-proto"], "https");
    assert_eq!(body["headers"]["x-forwarded-host"], "content.example");

    // The throttle counts the client the proxy names, not the proxy.
    let forged = "AppToken 630dcd2966c43366.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    let base = s.base.as_str();
    assert_eq!(verify_from(base, "198.51.100.1", forged).await, 401);
    assert_eq!(verify_from(base, "198.51.100.1", forged).await, 401);
    assert_eq!(verify_from(base, "198.51.100.1", forged).await, 429);
    assert_eq!(
        verify_from(base, "198.51.100.2", forged).await,
        401,
        "another client behind the same proxy"
    );
    assert_eq!(
        verify_from(base, "198.51.100.1", &token).await,
        200,
        "a good token is never throttled"
    );
}

/// `/v1/verify` for reading Post in master, as relayed by a proxy for `client`.
async fn verify_from(base: &str, client: &str, auth: &str) -> u16 {
    let headers = [
        ("Authorization", auth),
        ("X-Forwarded-For", client),
        ("X-Tally-Environment", "master"),
        ("X-Tally-Action", "read"),
        ("X-Tally-Model", "Post"),
    ];
    common::raw_request(base, "GET", "/v1/verify", &headers, b"")
        .await
        .status
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bound_token_is_denied_where_no_environment_is_named() {
    let s = start().await;
    let (_, token) = installed(&s).await;
    // Without X-Tally-Environment (or with an empty one) the check must not
    // read the token as good for every environment.
    for environment in [None, Some("")] {
        let mut req = s
            .http
            .get(format!("{}/v1/verify", s.base))
            .header("Authorization", &token)
            .header("X-Tally-Action", "read")
            .header("X-Tally-Model", "Post");
        if let Some(e) = environment {
            req = req.header("X-Tally-Environment", e);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{environment:?}");
        assert_eq!(res.headers()["x-tally-reason"], "wrong_environment");
        assert_eq!(
            res.json::<Value>().await.unwrap()["reason"],
            "wrong_environment"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn denials_carry_their_reason_in_a_header_and_401s_a_challenge() {
    let s = start().await;
    s.project().await;
    let res = s
        .http
        .get(format!("{}/v1/verify", s.base))
        .header(
            "Authorization",
            "AppToken 630dcd2966c43366.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        )
        .header("X-Tally-Environment", "master")
        .header("X-Tally-Action", "read")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-tally-reason"], "unknown_token");
    assert_eq!(res.headers()["www-authenticate"], "AppToken, Bearer");
    let res = s
        .http
        .get(format!("{}/v1/verify", s.base))
        .header("X-Tally-Environment", "master")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["x-tally-reason"], "bad_request");
}

/// The forms reverse proxies send: Caddy's and Traefik's
/// `X-Forwarded-Method` / `X-Forwarded-Uri`, and Envoy's
/// `/v1/verify/{original path}` with the original method, read by the
/// gateway's rules; a client's own `X-Tally-Action` cannot contradict them.
#[tokio::test(flavor = "multi_thread")]
async fn verify_reads_the_request_a_proxy_forwards() {
    let s = start().await;
    let (_, token) = installed(&s).await;
    let forwarded =
        |method: &'static str, uri: &'static str| -> Vec<(&'static str, &'static str)> {
            vec![("X-Forwarded-Method", method), ("X-Forwarded-Uri", uri)]
        };
    let (st, h, _) = check(
        &s,
        Some(&token),
        &forwarded("GET", "/v1/content/master/Post/7?stage=PUBLISHED"),
    )
    .await;
    assert_eq!(
        (st, h["x-tally-reason"].to_str().unwrap()),
        (StatusCode::OK, "allowed")
    );
    // The test app may read Post, not delete it, nor read Author.
    let (st, _, e) = check(
        &s,
        Some(&token),
        &forwarded("DELETE", "/v1/content/master/Post/7"),
    )
    .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_granted"))
    );
    let (st, _, e) = check(
        &s,
        Some(&token),
        &forwarded("GET", "/v1/content/master/Author"),
    )
    .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_granted"))
    );
    // A client's header that contradicts the forwarded request.
    let mut lying = forwarded("DELETE", "/v1/content/master/Post/7");
    lying.push(("X-Tally-Action", "read"));
    let (st, _, e) = check(&s, Some(&token), &lying).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ambiguous_request"))
    );
    // A target the gateway would refuse is refused here too.
    let (st, _, e) = check(
        &s,
        Some(&token),
        &forwarded("GET", "/v1/content/master/Post?stage=A&stage=B"),
    )
    .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ambiguous_request"))
    );
    // Not a content path: the X-Tally-* headers say what is asked.
    let mut other = forwarded("POST", "/api/whatever");
    other.extend_from_slice(READ_POST);
    let (st, _, _) = check(&s, Some(&token), &other).await;
    assert_eq!(st, StatusCode::OK);

    // Envoy: the original method, the original path after /v1/verify.
    let envoy = |method: Method, path: &str| {
        s.http
            .request(method, format!("{}/v1/verify{path}", s.base))
            .header("Authorization", &token)
            .send()
    };
    let res = envoy(Method::GET, "/v1/content/master/Post/7")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-tally-reason"], "allowed");
    let res = envoy(Method::DELETE, "/v1/content/master/Post/7")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = envoy(Method::GET, "/v1/content/master/Post/%2F..")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
