//! Webhooks to an app's backend, against a real receiver on loopback:
//! every lifecycle event arrives signed per Standard Webhooks (checked here
//! from the specification, and by the npm library in tests/webhooks); a
//! failing receiver is retried until it answers; a delivery can be sent
//! again; internal addresses are refused unless allowed; a delivery
//! committed before the sender is killed (-9) arrives after its restart.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{assert_refused, bearer, str_of};
use hmac::{KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// An app backend's webhook endpoint: answers 503 to its first `failing`
/// requests, then 204.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    _task: common::AbortOnDrop,
}

pub async fn receiver(failing: usize) -> Receiver {
    let got = Arc::new(Mutex::new(Vec::new()));
    let left = Arc::new(AtomicUsize::new(failing));
    let (seen, fail) = (Arc::clone(&got), Arc::clone(&left));
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let (seen, fail) = (Arc::clone(&seen), Arc::clone(&fail));
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                seen.lock().unwrap().push(Received {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                    body,
                });
                let failing = fail
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url,
        got,
        _task: common::AbortOnDrop(task),
    }
}

impl Receiver {
    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds of what arrived.
    pub async fn until(
        &self,
        within: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(
                started.elapsed() < within,
                "not there after {within:?}: {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Checks a delivery's signature as the Standard Webhooks specification
/// defines it: base64 HMAC-SHA256, keyed with the secret's base64 part,
/// over "id.timestamp.body".
fn signed_by(r: &Received, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

fn with_webhooks(c: &mut tally::authority::AuthorityConfig) {
    c.webhook_key = Some(Arc::new(tally::webhooks::WebhookKey::from_bytes([9; 32])));
}

/// Registers an app whose webhooks go to `url`; (id, clientId, client
/// secret, webhook secret).
async fn app_with_hook(s: &common::TestServer, url: &str) -> (String, String, String, String) {
    let (st, app) = s
        .admin(
            Method::POST,
            "/v1/apps",
            Some(json!({
                "name": "Hooked", "setupUrl": "http://127.0.0.1:3000/setup",
                "origins": ["http://127.0.0.1:3000"], "webhookUrl": url,
                "grants": [{"api": "content", "action": "read"}]
            })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{app}");
    (
        str_of(&app, "id"),
        str_of(&app, "clientId"),
        str_of(&app, "clientSecret"),
        str_of(&app, "webhookSecret"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_lifecycle_event_reaches_the_app_signed() {
    let hooks = receiver(0).await;
    let s = common::start_with(with_webhooks).await;
    s.project().await;
    let (app, client_id, secret, whsec) = app_with_hook(&s, &hooks.url).await;
    assert!(whsec.starts_with("whsec_"));
    let (installation, code) = s.install(&app).await;
    let (_, exchanged) = s.exchange(&client_id, &secret, &code).await;
    let token = str_of(&exchanged, "appToken");
    let path = format!("/v1/installations/{installation}");
    s.call(
        Method::PATCH,
        &path,
        Some(&bearer(&token)),
        Some(json!({"status": "COMPLETED"})),
    )
    .await;
    s.admin(
        Method::POST,
        &format!("/v1/apps/{app}/client-secret/rotate"),
        Some(json!({})),
    )
    .await;
    s.admin(
        Method::PUT,
        &format!("/v1/apps/{app}/grants"),
        Some(json!([{"api": "content", "action": "read", "models": ["Post"]}])),
    )
    .await;
    let token_id = &token[..16];
    s.admin(Method::DELETE, &format!("/v1/tokens/{token_id}"), None)
        .await;
    s.admin(Method::DELETE, &path, None).await;

    let want = [
        "installation.created",
        "installation.completed",
        "client_secret.rotated",
        "installation.grants_updated",
        "token.revoked",
        "installation.uninstalled",
    ];
    let got = hooks
        .until(Duration::from_secs(30), |g| g.len() >= want.len())
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = {
        let mut all = hooks.got();
        all.sort_by_key(|r| r.id.trim_start_matches("msg_").parse::<i64>().unwrap());
        assert_eq!(all.len(), got.len(), "each event once");
        all
    };
    let types: Vec<Value> = got.iter().map(|r| r.json()["type"].clone()).collect();
    assert_eq!(types, want.map(Value::from).to_vec());
    for r in &got {
        assert!(signed_by(r, &whsec), "{r:?}");
        let body = r.json();
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(body["data"]["appId"], app.as_str());
    }
    let data = |i: usize| got[i].json()["data"].clone();
    assert_eq!(data(0)["installationId"], installation.as_str());
    assert_eq!(data(0)["environmentId"], "master");
    assert_eq!(data(3)["grantsVersion"], 2);
    assert_eq!(data(4)["tokenId"], token_id);
    assert_eq!(data(4)["kind"], "APP");

    // The delivery log says the same.
    let (_, log) = s
        .admin(Method::GET, &format!("/v1/apps/{app}/deliveries"), None)
        .await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), want.len());
    for d in log {
        assert_eq!(
            (&d["status"], &d["attempts"], &d["lastStatus"]),
            (&json!("delivered"), &json!(1), &json!(204)),
            "{d}"
        );
    }
    assert_eq!(log[0]["type"], "installation.uninstalled", "newest first");

    // A rotated signing secret signs what comes next, shown once.
    let (st, rotated) = s
        .admin(
            Method::POST,
            &format!("/v1/apps/{app}/webhook-secret/rotate"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let whsec2 = str_of(&rotated, "webhookSecret");
    assert_ne!(whsec2, whsec);
    s.install(&app).await;
    let got = hooks
        .until(Duration::from_secs(30), |g| g.len() > want.len())
        .await;
    let last = got.last().unwrap();
    assert!(signed_by(last, &whsec2) && !signed_by(last, &whsec));
    // Signing secrets are derived, never stored: no file holds one.
    for secret in [&whsec, &whsec2] {
        let text = secret.trim_start_matches("whsec_");
        let raw = STANDARD.decode(text).unwrap();
        for (name, bytes) in common::files(s.dir.path()) {
            assert!(
                !common::contains(&bytes, text.as_bytes()) && !common::contains(&bytes, &raw),
                "{name} holds a webhook secret"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_receiver_is_retried_until_it_answers() {
    let hooks = receiver(3).await;
    let s = common::start_with(with_webhooks).await;
    s.project().await;
    let (app, _, _, whsec) = app_with_hook(&s, &hooks.url).await;
    s.install(&app).await;
    let got = hooks.until(Duration::from_secs(30), |g| g.len() >= 4).await;
    // The same delivery each time: one id, every attempt signed.
    assert!(
        got.iter()
            .all(|r| r.id == got[0].id && signed_by(r, &whsec))
    );
    let deliveries = format!("/v1/apps/{app}/deliveries");
    let started = Instant::now();
    let delivered = loop {
        let (_, log) = s.admin(Method::GET, &deliveries, None).await;
        if log[0]["status"] == "delivered" {
            break log[0].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(delivered["attempts"], 4);
    assert_eq!(delivered["lastStatus"], 204);
    assert!(delivered["giveUpMs"].as_i64().unwrap() > delivered["deliveredMs"].as_i64().unwrap());

    // Sent again on request, with the same id (receivers drop repeats by it).
    let id = str_of(&delivered, "id");
    let (st, retried) = s
        .admin(Method::POST, &format!("{deliveries}/{id}/retry"), None)
        .await;
    assert_eq!(
        (st, &retried["status"]),
        (StatusCode::OK, &json!("pending"))
    );
    let got = hooks.until(Duration::from_secs(30), |g| g.len() >= 5).await;
    assert_eq!(got[4].id, id);
    let answer = s
        .admin(Method::POST, &format!("{deliveries}/msg_0/retry"), None)
        .await;
    assert_refused(&answer, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_webhook_key_no_url_is_taken() {
    let s = common::start().await;
    let answer = s
        .admin(
            Method::POST,
            "/v1/apps",
            Some(json!({
                "name": "Hooked", "setupUrl": "http://127.0.0.1:3000/setup",
                "origins": ["http://127.0.0.1:3000"], "webhookUrl": "https://hooks.example.com/",
                "grants": []
            })),
        )
        .await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_request");
    let (id, _, _) = s.app().await;
    let (_, log) = s
        .admin(Method::GET, &format!("/v1/apps/{id}/deliveries"), None)
        .await;
    assert_eq!(log, json!([]));
}

/// `GET /v1/apps/{app}/deliveries` of a process until `done` holds of it.
async fn deliveries_until(
    base: &str,
    admin: &str,
    app: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let log: Value = http
            .get(format!("{base}/v1/apps/{app}/deliveries"))
            .header("authorization", admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done(&log) {
            return log;
        }
        // A bound on liveness (a busy machine starts a process slowly),
        // not a measure of speed.
        assert!(started.elapsed() < Duration::from_secs(30), "{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn hooked_app(base: &str, admin: &str, url: &str) -> String {
    let http = reqwest::Client::new();
    let app: Value = http
        .post(format!("{base}/v1/apps"))
        .header("authorization", admin)
        .json(&json!({
            "name": "Hooked", "setupUrl": "http://127.0.0.1:3000/setup",
            "origins": ["http://127.0.0.1:3000"], "webhookUrl": url, "grants": []
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = str_of(&app, "id");
    // An app changed: its secret rotated, an event.
    http.post(format!("{base}/v1/apps/{id}/client-secret/rotate"))
        .header("authorization", admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_addresses_are_refused_unless_allowed() {
    let hooks = receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let tally = common::tally_process(&["--data", data, "--webhook-backoff-ms", "60000"], &[]);
    let admin = tally.admin.clone().unwrap();
    let app = hooked_app(&tally.base, &admin, &hooks.url).await;
    let log = deliveries_until(&tally.base, &admin, &app, |l| l[0]["attempts"] == 1).await;
    assert_eq!(log[0]["status"], "pending");
    let error = log[0]["lastError"].as_str().unwrap();
    assert!(
        error.contains("refused") && error.contains("127.0.0.1"),
        "{error}"
    );
    assert!(
        hooks.got().is_empty(),
        "nothing reached the loopback receiver"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_committed_before_a_kill_arrives_after_the_restart() {
    let hooks = receiver(1).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let args = [
        "--data",
        data,
        "--allow-private-webhooks",
        "--webhook-backoff-ms",
        "1000",
    ];
    let tally = common::tally_process(&args, &[]);
    let admin = tally.admin.clone().unwrap();
    let app = hooked_app(&tally.base, &admin, &hooks.url).await;
    // The first attempt fails; the next is a second away when the sender
    // dies without a chance to do anything (SIGKILL).
    hooks.until(Duration::from_secs(30), |g| g.len() == 1).await;
    drop(tally);
    let tally = common::tally_process(&args, &[]);
    let log = deliveries_until(&tally.base, &admin, &app, |l| l[0]["status"] == "delivered").await;
    assert_eq!(log[0]["attempts"], 2);
    let got = hooks.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, got[1].id);
}
