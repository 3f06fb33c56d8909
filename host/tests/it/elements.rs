//! App elements: declared with the app (checked as its origins and main
//! page are), replaced whole by a PATCH and audited, and turned on or off
//! per installation; over a real server on loopback.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestServer, assert_refused, bearer, start, str_of};

/// One element of each kind, on the app's origin.
fn elements() -> Value {
    json!([
        {"type": "page", "apiId": "overview", "name": "Overview", "url": "http://127.0.0.1:3000/page"},
        {"type": "sidebar", "apiId": "wordCount", "name": "Word count", "url": "http://127.0.0.1:3000/sidebar"},
        {"type": "field", "apiId": "colour", "name": "Colour", "url": "http://127.0.0.1:3000/field",
         "fieldType": "color", "config": {"palette": ["#ff0000"]}},
    ])
}

async fn register(s: &TestServer, elements: Value) -> (StatusCode, Value) {
    s.admin(
        Method::POST,
        "/v1/apps",
        Some(json!({
            "name": "Elements", "setupUrl": "http://127.0.0.1:3000/setup",
            "origins": ["http://127.0.0.1:3000"], "grants": [], "elements": elements,
        })),
    )
    .await
}

#[tokio::test]
async fn elements_are_declared_with_the_app_and_checked_as_its_pages_are() {
    let s = start().await;
    let (st, created) = register(&s, elements()).await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let id = str_of(&created, "id");
    let (_, app) = s.admin(Method::GET, &format!("/v1/apps/{id}"), None).await;
    assert_eq!(app["elements"], elements());

    let one = |element: Value| json!([element]);
    let page = json!({"type": "page", "apiId": "p", "name": "P", "url": "http://127.0.0.1:3000/p"});
    let with = |key: &str, value: Value| {
        let mut e = page.clone();
        e[key] = value;
        one(e)
    };
    for (elements, why) in [
        (
            with("url", json!("http://elsewhere.example/p")),
            "url off the app's origins",
        ),
        (with("apiId", json!("1st")), "apiId starting with a digit"),
        (with("apiId", json!("a-b")), "apiId with a dash"),
        (with("name", json!("")), "empty name"),
        (with("fieldType", json!("string")), "fieldType on a page"),
        (with("config", json!([1])), "config not an object"),
        (
            with("config", json!({"x": "y".repeat(5000)})),
            "config too large",
        ),
        (with("type", json!("dialog")), "unknown type"),
        (with("extra", json!(1)), "unknown field"),
        (json!([page, page]), "apiId twice"),
        (
            one(
                json!({"type": "field", "apiId": "f", "name": "F", "url": "http://127.0.0.1:3000/f"}),
            ),
            "field without fieldType",
        ),
        (json!(vec![page.clone(); 33]), "more than 32"),
    ] {
        let (st, answer) = register(&s, elements).await;
        assert_eq!(
            (st, answer["reason"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{why}: {answer}"
        );
    }
    // Nothing of a refused registration was stored.
    let (_, apps) = s.admin(Method::GET, "/v1/apps", None).await;
    assert_eq!(apps.as_array().unwrap().len(), 1);

    // A PATCH replaces them whole, is checked the same way, and is audited.
    let path = format!("/v1/apps/{id}");
    let (st, edited) = s
        .admin(Method::PATCH, &path, Some(json!({"elements": [page]})))
        .await;
    assert_eq!(st, StatusCode::OK, "{edited}");
    assert_eq!(edited["elements"], json!([page]));
    let (_, audit) = s
        .admin(
            Method::GET,
            &format!("/v1/audit?action=app.update&target={id}"),
            None,
        )
        .await;
    let detail = &audit.as_array().unwrap().last().unwrap()["detail"]["elements"];
    assert_eq!(detail["from"], elements());
    assert_eq!(detail["to"], json!([page]));
    // Moving the origin away from an element's page is refused, unchanged.
    let moved = s
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"origins": ["http://127.0.0.1:4000"], "setupUrl": "http://127.0.0.1:4000/setup"})),
        )
        .await;
    assert_refused(&moved, StatusCode::BAD_REQUEST, "bad_request");
    let (_, app) = s.admin(Method::GET, &path, None).await;
    assert_eq!(app["origins"], json!(["http://127.0.0.1:3000"]));
}

#[tokio::test]
async fn each_installation_turns_elements_on_and_off_in_its_environment() {
    let s = start().await;
    s.project().await;
    let (_, created) = register(&s, elements()).await;
    let app = str_of(&created, "id");
    let (installation, _) = s.install(&app).await;
    let path = format!("/v1/installations/{installation}/elements");
    let (_, fresh) = s
        .admin(
            Method::GET,
            &format!("/v1/installations/{installation}"),
            None,
        )
        .await;
    assert_eq!(fresh["disabledElements"], json!([]), "all on at first");

    let (st, off) = s
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"wordCount": false, "colour": false})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{off}");
    assert_eq!(off["disabledElements"], json!(["colour", "wordCount"]));
    // Keys not named stay as they are.
    let (_, on) = s
        .admin(Method::PATCH, &path, Some(json!({"colour": true})))
        .await;
    assert_eq!(on["disabledElements"], json!(["wordCount"]));
    let (_, audit) = s
        .admin(
            Method::GET,
            &format!("/v1/audit?action=installation.elements&target={installation}"),
            None,
        )
        .await;
    let last = &audit.as_array().unwrap().last().unwrap()["detail"];
    assert_eq!(
        (&last["from"], &last["to"]),
        (&json!(["colour", "wordCount"]), &json!(["wordCount"]))
    );

    // Only the app's elements; only callers who may change installations.
    let unknown = s
        .admin(Method::PATCH, &path, Some(json!({"other": false})))
        .await;
    assert_refused(&unknown, StatusCode::BAD_REQUEST, "bad_request");
    let (_, pat) = s
        .admin(
            Method::POST,
            "/v1/tokens",
            Some(
                json!({"kind": "PAT", "name": "reader", "environmentId": "master",
                        "grants": [{"api": "content", "action": "read"}]}),
            ),
        )
        .await;
    let refused = s
        .call(
            Method::PATCH,
            &path,
            Some(&bearer(&str_of(&pat, "token"))),
            Some(json!({"wordCount": true})),
        )
        .await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "not_granted");
    let missing = s
        .admin(
            Method::PATCH,
            "/v1/installations/in_none/elements",
            Some(json!({"wordCount": true})),
        )
        .await;
    assert_refused(&missing, StatusCode::NOT_FOUND, "not_found");
    // Uninstalled, it is done with.
    let (st, _) = s
        .admin(
            Method::DELETE,
            &format!("/v1/installations/{installation}"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let gone = s
        .admin(Method::PATCH, &path, Some(json!({"wordCount": true})))
        .await;
    assert_refused(&gone, StatusCode::CONFLICT, "installation_uninstalled");
}
