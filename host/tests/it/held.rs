//! The content proxy (`/v1/content/…`) holding answers and writes to a
//! decision that limits rows or masks fields, against a real upstream on
//! loopback that ignores `X-Tally-Filter` and `X-Tally-Masked` entirely.

use crate::common::{TestServer, bearer, start_with_options, str_of};

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::Path;
use axum::routing::get;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<String>>>;

/// An upstream with two posts (u1's and u2's), each with notes; it records
/// every write it receives. `/v1/content/master/Raw` answers text.
async fn upstream() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let rows = || {
        json!([
            {"id": "1", "ownerId": "u1", "title": "mine", "notes": "n1"},
            {"id": "2", "ownerId": "u2", "title": "theirs", "notes": "n2"}
        ])
    };
    let (w1, w2, w3) = (Arc::clone(&seen), Arc::clone(&seen), Arc::clone(&seen));
    let app = axum::Router::new()
        .route(
            "/v1/content/master/Post",
            get(move || async move { Json(rows()) }).post(move |body: String| async move {
                w1.lock().unwrap().push(format!("POST {body}"));
                (
                    StatusCode::CREATED,
                    Json(serde_json::from_str::<Value>(&body).unwrap_or(Value::Null)),
                )
            }),
        )
        .route(
            "/v1/content/master/Post/{id}",
            get(move |Path(id): Path<String>| async move {
                match rows()
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["id"] == id.as_str())
                {
                    Some(row) => Ok(Json(row.clone())),
                    None => Err(StatusCode::NOT_FOUND),
                }
            })
            .put(move |Path(id): Path<String>, body: String| async move {
                w2.lock().unwrap().push(format!("PUT {id} {body}"));
                Json(json!({"id": id, "ownerId": "u1", "notes": "n"}))
            })
            .delete(move |Path(id): Path<String>| async move {
                w3.lock().unwrap().push(format!("DELETE {id}"));
                StatusCode::NO_CONTENT
            }),
        )
        .route("/v1/content/master/Raw", get(|| async { "not json" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

/// A server before that upstream, Post registered with sensitive `notes`,
/// and a token limited to u1's posts.
async fn server() -> (TestServer, Seen, String) {
    let (url, seen) = upstream().await;
    let s = start_with_options(|o| o.upstream = Some(url)).await;
    s.project().await;
    let (st, _) = s
        .admin(
            Method::PUT,
            "/v1/environments/master/models/Post",
            Some(json!({"apiIdPlural": "Posts", "ownerField": "ownerId", "sensitiveFields": ["notes"]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let grants: Vec<Value> = ["read", "create", "update", "delete"]
        .iter()
        .map(|a| json!({"api": "content", "action": a, "models": ["Post", "Raw"], "condition": {"ownerId": "u1"}}))
        .collect();
    let (st, t) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(json!({"kind": "PAT", "name": "u1", "environmentId": "master", "grants": grants})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    (s, seen, bearer(&str_of(&t, "token")))
}

async fn call(
    s: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s
        .http
        .request(method, format!("{}/v1/content/master/{path}", s.base))
        .header("authorization", token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_answer_only_the_callers_rows_without_masked_fields() {
    let (s, _, token) = server().await;
    let (st, list) = call(&s, &token, Method::GET, "Post", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list, json!([{"id": "1", "ownerId": "u1", "title": "mine"}]));
    let (st, mine) = call(&s, &token, Method::GET, "Post/1", None).await;
    assert_eq!(
        (st, mine),
        (
            StatusCode::OK,
            json!({"id": "1", "ownerId": "u1", "title": "mine"})
        )
    );
    let (st, theirs) = call(&s, &token, Method::GET, "Post/2", None).await;
    assert_eq!(
        (st, theirs["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let head = s
        .http
        .head(format!("{}/v1/content/master/Post/2", s.base))
        .header("authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.status(),
        StatusCode::NOT_FOUND,
        "HEAD does not tell that it exists"
    );
    let (st, raw) = call(&s, &token, Method::GET, "Raw", None).await;
    assert_eq!(
        (st, raw["reason"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("unreadable_answer"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_stay_within_the_callers_rows_and_never_touch_masked_fields() {
    let (s, seen, token) = server().await;
    let (st, e) = call(
        &s,
        &token,
        Method::POST,
        "Post",
        Some(json!({"ownerId": "u2", "title": "x"})),
    )
    .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_granted"))
    );
    let (st, e) = call(
        &s,
        &token,
        Method::POST,
        "Post",
        Some(json!({"ownerId": "u1", "notes": "x"})),
    )
    .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("masked_field"))
    );
    let (st, made) = call(
        &s,
        &token,
        Method::POST,
        "Post",
        Some(json!({"ownerId": "u1", "title": "t"})),
    )
    .await;
    assert_eq!(
        (st, made),
        (StatusCode::CREATED, json!({"ownerId": "u1", "title": "t"}))
    );

    let (st, e) = call(
        &s,
        &token,
        Method::PUT,
        "Post/2",
        Some(json!({"title": "mine now"})),
    )
    .await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (st, e) = call(&s, &token, Method::DELETE, "Post/2", None).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (st, e) = call(&s, &token, Method::DELETE, "Post", None).await;
    assert_eq!(
        (st, e["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("unenforceable_filter"))
    );
    let (st, updated) = call(
        &s,
        &token,
        Method::PUT,
        "Post/1",
        Some(json!({"title": "new"})),
    )
    .await;
    assert_eq!(
        (st, updated),
        (StatusCode::OK, json!({"id": "1", "ownerId": "u1"})),
        "notes stripped from the answer"
    );

    let writes = seen.lock().unwrap().clone();
    assert_eq!(
        writes,
        [
            r#"POST {"ownerId":"u1","title":"t"}"#,
            r#"PUT 1 {"title":"new"}"#
        ]
    );
}
