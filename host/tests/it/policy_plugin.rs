//! `examples/policy-plugin` loaded by `tally serve --plugin`: the example's
//! policy (published content is read-only) decides `/v1/verify`, where the
//! embedded module lets the same write through.
//!
//! Needs the example built for wasm32: set `TALLY_POLICY_PLUGIN` to its
//! `.wasm` (`.ci/test` builds it first, with `cargo build -p
//! tally-policy-plugin --target wasm32-unknown-unknown --profile
//! wasm-release`). `#[ignore]`d so a plain `cargo test` reports it as
//! ignored rather than passing; `.ci/test` runs it with `--include-ignored`
//! and fails without the path.

use crate::common::{TallyProcess, bearer, tally_process};

use reqwest::StatusCode;
use serde_json::{Value, json};

const NEEDS: &str = "needs the example plugin: set TALLY_POLICY_PLUGIN";

/// A SYSTEM token that may read and update content anywhere (its
/// `Authorization` value).
async fn editor(http: &reqwest::Client, tally: &TallyProcess) -> String {
    let admin = tally.admin.as_deref().unwrap();
    let created: Value = http
        .post(format!("{}/v1/tokens", tally.base))
        .header("authorization", admin)
        .json(&json!({"kind": "SYSTEM", "name": "editor", "grants": [
            {"api": "content", "action": "read"},
            {"api": "content", "action": "update"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"));
    bearer(token)
}

/// `/v1/verify` for `action` in `stage`: status and reason.
async fn verify(
    http: &reqwest::Client,
    tally: &TallyProcess,
    token: &str,
    action: &str,
    stage: Option<&str>,
) -> (StatusCode, String) {
    let mut req = http
        .get(format!("{}/v1/verify", tally.base))
        .header("authorization", token)
        .header("x-tally-action", action)
        .header("x-tally-model", "Post");
    if let Some(stage) = stage {
        req = req.header("x-tally-stage", stage);
    }
    let res = req.send().await.unwrap();
    let reason = res.headers()["x-tally-reason"].to_str().unwrap().to_owned();
    (res.status(), reason)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the example plugin: set TALLY_POLICY_PLUGIN"]
async fn the_example_policy_keeps_published_content_read_only() {
    let plugin = std::env::var("TALLY_POLICY_PLUGIN").expect(NEEDS);
    let http = reqwest::Client::new();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let tally = tally_process(&["--data", data, "--plugin", &plugin], &[]);
    let token = editor(&http, &tally).await;
    let denied = (StatusCode::FORBIDDEN, "not_granted".to_owned());
    let allowed = (StatusCode::OK, "allowed".to_owned());
    assert_eq!(
        verify(&http, &tally, &token, "update", Some("DRAFT")).await,
        allowed
    );
    assert_eq!(
        verify(&http, &tally, &token, "update", Some("PUBLISHED")).await,
        denied
    );
    assert_eq!(verify(&http, &tally, &token, "update", None).await, denied);
    assert_eq!(
        verify(&http, &tally, &token, "read", Some("PUBLISHED")).await,
        allowed
    );
    assert_eq!(verify(&http, &tally, &token, "read", None).await, allowed);
    drop(tally);

    // The same data, the embedded module: the grants alone let the write in.
    let tally = tally_process(&["--data", data], &[]);
    assert_eq!(
        verify(&http, &tally, &token, "update", Some("PUBLISHED")).await,
        allowed
    );
}
