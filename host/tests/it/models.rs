//! The model registry over real HTTP: `/v1/environments/{e}/models`, its
//! rules, and its sensitive fields reaching every check of the model
//! (`X-Tally-Masked` from `/v1/verify`), the environment's record and the
//! feed.

use crate::common::{self, TestServer, bearer, start, str_of};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const POST: &str = "/v1/environments/master/models/Post";

fn post_body() -> Value {
    json!({"apiIdPlural": "Posts", "ownerField": "ownerId", "sensitiveFields": ["internalNotes"]})
}

/// `X-Tally-Masked` of a read of Post in master with `token`.
async fn masked(s: &TestServer, token: &str) -> String {
    let res = s
        .http
        .get(format!("{}/v1/verify", s.base))
        .header("authorization", token)
        .header("x-tally-environment", "master")
        .header("x-tally-action", "read")
        .header("x-tally-model", "Post")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()["x-tally-masked"]
        .to_str()
        .unwrap()
        .to_string()
}

/// A PAT in master reading content, unmasking `unmask`.
async fn reader(s: &TestServer, unmask: &[&str]) -> String {
    let (st, t) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(
                json!({"kind": "PAT", "name": "r", "environmentId": "master",
                "grants": [{"api": "content", "action": "read", "unmask": unmask}]}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    bearer(&str_of(&t, "token"))
}

#[tokio::test(flavor = "multi_thread")]
async fn models_are_registered_read_replaced_and_removed() {
    let s = start().await;
    s.project().await;
    let (st, m) = s.admin(Method::PUT, POST, Some(post_body())).await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert_eq!(
        m,
        json!({"apiId": "Post", "apiIdPlural": "Posts", "ownerField": "ownerId", "sensitiveFields": ["internalNotes"]})
    );
    let (st, got) = s.admin(Method::GET, POST, None).await;
    assert_eq!((st, &got), (StatusCode::OK, &m));
    // What GET answers can be written back as it is: replaced, 200.
    let mut changed = got.clone();
    changed["sensitiveFields"] = json!(["internalNotes", "email"]);
    let (st, replaced) = s.admin(Method::PUT, POST, Some(changed.clone())).await;
    assert_eq!((st, &replaced), (StatusCode::OK, &changed));
    let author = json!({"apiIdPlural": "Authors"});
    let (st, _) = s
        .admin(
            Method::PUT,
            "/v1/environments/master/models/Author",
            Some(author),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, list) = s
        .admin(Method::GET, "/v1/environments/master/models", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["apiId"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Post", "Author"]);

    let (st, _) = s.admin(Method::DELETE, POST, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, e) = s.admin(Method::GET, POST, None).await;
    common::assert_refused(&(st, e), StatusCode::NOT_FOUND, "not_found");
    let (st, e) = s.admin(Method::DELETE, POST, None).await;
    common::assert_refused(&(st, e), StatusCode::NOT_FOUND, "not_found");
    let (st, e) = s
        .admin(
            Method::PUT,
            "/v1/environments/nowhere/models/Post",
            Some(post_body()),
        )
        .await;
    common::assert_refused(&(st, e), StatusCode::NOT_FOUND, "not_found");

    let (_, audit) = s.admin(Method::GET, "/v1/audit", None).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.starts_with("model."))
            .collect::<Vec<_>>(),
        [&"model.put", &"model.put", &"model.put", &"model.delete"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_are_400_and_a_name_clash_is_409_storing_nothing() {
    let s = start().await;
    s.project().await;
    for (path, body) in [
        ("/v1/environments/master/models/1Post", post_body()),
        (POST, json!({"apiIdPlural": "Po sts"})),
        (POST, json!({"apiIdPlural": "post"})),
        (
            POST,
            json!({"apiIdPlural": "Posts", "sensitiveFields": ["a", "a"]}),
        ),
        (POST, json!({"apiIdPlural": "Posts", "ownerField": ""})),
        (POST, json!({"apiIdPlural": "Posts", "apiId": "Other"})),
        (POST, json!({"apiIdPlural": "Posts", "extra": 1})),
    ] {
        let answer = s.admin(Method::PUT, path, Some(body.clone())).await;
        common::assert_refused(&answer, StatusCode::BAD_REQUEST, "bad_request");
    }
    let (st, _) = s.admin(Method::PUT, POST, Some(post_body())).await;
    assert_eq!(st, StatusCode::CREATED);
    // "Posts" is taken by Post's plural.
    let answer = s
        .admin(
            Method::PUT,
            "/v1/environments/master/models/Posts",
            Some(json!({"apiIdPlural": "PostsList"})),
        )
        .await;
    common::assert_refused(&answer, StatusCode::CONFLICT, "conflict");
    let (_, list) = s
        .admin(Method::GET, "/v1/environments/master/models", None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing was stored");
    // Only admins change it.
    let token = reader(&s, &[]).await;
    let (st, _) = s
        .call(Method::PUT, POST, Some(&token), Some(post_body()))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn registered_sensitive_fields_are_masked_by_every_check_of_the_model() {
    let s = start().await;
    s.project().await;
    let plain = reader(&s, &[]).await;
    let unmasking = reader(&s, &["internalNotes"]).await;
    assert_eq!(masked(&s, &plain).await, "", "nothing registered yet");

    let (st, _) = s.admin(Method::PUT, POST, Some(post_body())).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(masked(&s, &plain).await, "internalNotes");
    assert_eq!(masked(&s, &unmasking).await, "");

    // The environment's record and the feed carry the registry.
    let (st, record) = s
        .admin(Method::GET, "/v1/environments/master/record", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        record["models"][0]["sensitiveFields"],
        json!(["internalNotes"])
    );
    let (_, feed) = s.admin(Method::GET, "/v1/records?after=0", None).await;
    let last_env = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|c| c.get("environment").is_some())
        .unwrap()
        .clone();
    assert_eq!(last_env["environment"]["models"][0]["apiId"], "Post");

    // Removed: no longer masked, at once.
    let (st, _) = s.admin(Method::DELETE, POST, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(masked(&s, &plain).await, "");
}
