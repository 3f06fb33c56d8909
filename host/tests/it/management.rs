//! `POST /v1/management` over real HTTP: each root field checked as a
//! management action, then forwarded to a real upstream on loopback.

use crate::common::{self, TestServer, bearer, start_with_options, str_of};

use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What the management upstream received: each request's headers and body.
type Seen = Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>;

/// A management upstream that records what it gets and answers GraphQL data.
async fn upstream() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let app = axum::Router::new().fallback(axum::routing::post(
        move |headers: axum::http::HeaderMap, body: String| {
            let record = Arc::clone(&record);
            async move {
                record.lock().unwrap().push((headers, body));
                axum::Json(json!({"data": {"createModel": {"migration": {"id": "m1"}}}}))
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/graphql"), seen)
}

const CREATE_MODEL: &str = "mutation CreateModelMutation($input: CreateModelInput!) { createModel(data: $input) { migration { id } } }";

/// A server with a management upstream, project `p1`/`master`, and a PAT
/// in `master` that may `createModel` (its `Authorization` value).
async fn server() -> (TestServer, Seen, String) {
    let (url, seen) = upstream().await;
    let s = start_with_options(|o| o.management_upstream = Some(url)).await;
    s.project().await;
    let (st, t) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(
                json!({"kind": "PAT", "name": "modeller", "environmentId": "master",
                        "grants": [{"api": "management", "action": "createModel"}]}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    (s, seen, bearer(&str_of(&t, "token")))
}

fn request(query: &str) -> Value {
    json!({"query": query, "variables": {"environmentId": "master", "input": {"apiId": "Post"}}})
}

/// The GraphQL error's reason and field.
fn refusal(body: &Value) -> (Option<&str>, Option<&str>) {
    let extensions = &body["errors"][0]["extensions"];
    (extensions["reason"].as_str(), extensions["field"].as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_granted_mutation_reaches_the_upstream_with_the_decision_and_no_credentials() {
    let (s, seen, token) = server().await;
    let (st, body) = s
        .call(
            Method::POST,
            "/v1/management",
            Some(&token),
            Some(request(CREATE_MODEL)),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["createModel"]["migration"]["id"], "m1");
    let seen = seen.lock().unwrap();
    let (headers, forwarded) = &seen[0];
    let forwarded: Value = serde_json::from_str(forwarded).unwrap();
    assert_eq!(forwarded, request(CREATE_MODEL));
    assert_eq!(headers["x-tally-reason"], "allowed");
    assert!(headers.get("authorization").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_style_bearer_form_is_accepted() {
    let (s, _, token) = server().await;
    let bearer_form = token.replacen("AppToken ", "Bearer ", 1);
    let (st, body) = s
        .call(
            Method::POST,
            "/v1/management",
            Some(&bearer_form),
            Some(request(CREATE_MODEL)),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_field_not_granted_refuses_the_whole_operation_however_it_is_spelt() {
    let (s, seen, token) = server().await;
    for query in [
        "mutation { createModel { id } deleteModel { id } }",
        "mutation { createModel { id } ok: deleteModel { id } }",
        "mutation { createModel { id } ... on Mutation { deleteModel { id } } }",
        "mutation { createModel { id } ...F } fragment F on Mutation { deleteModel { id } }",
    ] {
        let (st, body) = s
            .call(
                Method::POST,
                "/v1/management",
                Some(&token),
                Some(request(query)),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{query}: {body}");
        assert_eq!(
            refusal(&body),
            (Some("not_granted"), Some("deleteModel")),
            "{query}"
        );
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing refused is forwarded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_valid_credentials_or_in_another_environment_it_is_refused() {
    let (s, seen, token) = server().await;
    let (st, body) = s
        .call(
            Method::POST,
            "/v1/management",
            None,
            Some(request(CREATE_MODEL)),
        )
        .await;
    assert_eq!(
        (st, refusal(&body).0),
        (StatusCode::UNAUTHORIZED, Some("missing_credentials"))
    );
    let mut elsewhere = request(CREATE_MODEL);
    elsewhere["variables"]["environmentId"] = json!("dev");
    let (st, body) = s
        .call(
            Method::POST,
            "/v1/management",
            Some(&token),
            Some(elsewhere),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(refusal(&body).0, Some("wrong_environment"));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_past_a_limit_or_not_executable_are_refused_with_their_reason() {
    let (s, _, token) = server().await;
    let many: String = (0..40).map(|i| format!("f{i} ")).collect();
    let deep = format!("{{ {} }}", "a { ".repeat(40) + "b" + &" }".repeat(40));
    for (query, reason) in [
        ("{ createModel", "invalid_document"),
        ("type Query { a: Int }", "invalid_document"),
        (many.as_str(), "too_many_root_fields"),
        (deep.as_str(), "document_too_deep"),
    ] {
        let query = if query == many {
            format!("{{ {many} }}")
        } else {
            query.to_owned()
        };
        let (st, body) = s
            .call(
                Method::POST,
                "/v1/management",
                Some(&token),
                Some(request(&query)),
            )
            .await;
        assert_eq!(
            (st, refusal(&body).0),
            (StatusCode::BAD_REQUEST, Some(reason)),
            "{query}"
        );
    }
    let large = format!("{{ createModel {} }}", " ".repeat(70 * 1024));
    let (st, body) = s
        .call(
            Method::POST,
            "/v1/management",
            Some(&token),
            Some(request(&large)),
        )
        .await;
    assert_eq!(
        (st, refusal(&body).0),
        (StatusCode::BAD_REQUEST, Some("document_too_large"))
    );
    let mut both = request(CREATE_MODEL);
    both["variables"]["environmentId"] = json!("master");
    let res = s
        .http
        .post(format!("{}/v1/management", s.base))
        .header("authorization", &token)
        .header("x-tally-environment", "dev")
        .json(&both)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_operation_without_an_upstream_is_not_implemented() {
    let s = common::start().await;
    let (st, body) = s
        .admin(Method::POST, "/v1/management", Some(request(CREATE_MODEL)))
        .await;
    assert_eq!(
        (st, refusal(&body).0),
        (StatusCode::NOT_IMPLEMENTED, Some("no_upstream"))
    );
}

/// Hygraph's guide names the environment inside the mutation's input only;
/// that is the environment checked, and a request naming a second one
/// anywhere (header, top-level variable, a literal) is refused before the
/// upstream sees it — else a token of `master` could be checked in
/// `master` while the upstream acts on `prod`.
#[tokio::test(flavor = "multi_thread")]
async fn the_environment_in_the_mutations_input_is_the_one_authorized() {
    let (s, seen, token) = server().await;
    let guide = |env: &str| json!({"query": CREATE_MODEL, "variables": {"input": {"environmentId": env, "apiId": "Post"}}});
    let (st, body) = s
        .call(
            Method::POST,
            "/v1/management",
            Some(&token),
            Some(guide("master")),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // Only in the input, another environment: the token is bound to master.
    let (st, body) = s
        .call(
            Method::POST,
            "/v1/management",
            Some(&token),
            Some(guide("prod")),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(refusal(&body).0, Some("wrong_environment"));
    for smuggled in [
        json!({"query": CREATE_MODEL, "variables": {"environmentId": "master", "input": {"environmentId": "prod"}}}),
        json!({"query": "mutation { createModel(data: { environmentId: \"prod\" }) { id } }", "variables": {"environmentId": "master"}}),
    ] {
        let (st, body) = s
            .call(
                Method::POST,
                "/v1/management",
                Some(&token),
                Some(smuggled.clone()),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{smuggled}: {body}");
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "only the first request was forwarded"
    );
}
