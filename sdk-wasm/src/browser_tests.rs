//! SDK internals in a real browser (`wasm-bindgen-test`, headless Chromium;
//! see `sdk-wasm/webdriver.json` and `.ci/test`). The two-origin flow with a
//! real parent page and app iframe is `tests/sdk/` (Playwright).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use crate::context::Context;
use crate::error::SdkError;
use crate::protocol::{self, Calls, Envelope, Kind, RemoteError};

wasm_bindgen_test_configure!(run_in_browser);

fn window() -> web_sys::Window {
    web_sys::window().unwrap()
}

fn set_url(url: &str) {
    window()
        .history()
        .unwrap()
        .replace_state_with_url(&JsValue::NULL, "", Some(url))
        .unwrap();
}

fn href() -> String {
    window().location().href().unwrap()
}

fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &key.into()).unwrap()
}

#[wasm_bindgen_test]
fn setup_code_is_taken_once_and_scrubbed_from_the_url() {
    let before = window().history().unwrap().length().unwrap();
    set_url("?keep=1&code=s3cr3t-code&other=2#section");
    assert_eq!(
        crate::setup_code::take(&window()).unwrap().as_deref(),
        Some("s3cr3t-code")
    );
    let now = href();
    assert!(!now.contains("s3cr3t"), "code left in {now}");
    assert!(
        now.ends_with("?keep=1&other=2#section"),
        "other parts lost: {now}"
    );
    // replaceState: no new history entry that could still hold the code.
    assert_eq!(window().history().unwrap().length().unwrap(), before);
    assert_eq!(crate::setup_code::take(&window()).unwrap(), None);
}

#[wasm_bindgen_test]
fn an_empty_code_is_scrubbed_and_counts_as_none() {
    set_url("?code=");
    assert_eq!(crate::setup_code::take(&window()).unwrap(), None);
    assert!(!href().contains("code"), "{}", href());
}

#[wasm_bindgen_test]
fn origins_must_be_exactly_an_origin() {
    assert_eq!(
        protocol::check_origin("https://app.example.com", "o").unwrap(),
        "https://app.example.com"
    );
    assert_eq!(
        protocol::check_origin("http://localhost:5173/", "o").unwrap(),
        "http://localhost:5173"
    );
    assert_eq!(
        protocol::check_origin("https://APP.example.com", "o").unwrap(),
        "https://app.example.com"
    );
    for bad in [
        "*",
        "null",
        "",
        "app.example.com",
        "https://app.example.com/setup",
        "https://app.example.com?x=1",
        "https://user:pw@app.example.com",
        "ftp://app.example.com",
        "javascript:alert(1)",
    ] {
        let err = protocol::check_origin(bad, "parentOrigin").unwrap_err();
        assert_eq!(err.code(), "invalid_argument", "{bad:?} was accepted");
    }
}

#[wasm_bindgen_test]
fn connection_ids_are_random_hex() {
    let a = protocol::connection_id(&window()).unwrap();
    let b = protocol::connection_id(&window()).unwrap();
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[wasm_bindgen_test]
fn envelopes_read_only_this_protocol_version() {
    let good = js(
        r#"{"tally":1,"kind":"call","conn":"c1","id":7,"method":"resize","payload":{"height":10}}"#,
    );
    let envelope = Envelope::read(&good).unwrap();
    assert_eq!(envelope.kind, Kind::Call);
    assert_eq!(envelope.id, Some(7));
    assert_eq!(get(&envelope.payload, "height").as_f64(), Some(10.0));
    for bad in [
        r#"{"tally":2,"kind":"call","conn":"c1"}"#,
        r#"{"tally":1,"kind":"shout","conn":"c1"}"#,
        r#"{"tally":1,"kind":"hello","conn":""}"#,
        r#"{"tally":1,"kind":"hello"}"#,
        r#"{"type":"webpackOk"}"#,
        r#"{"tally":1,"kind":"result","conn":"c1","id":-1}"#,
        r#"{"tally":1,"kind":"result","conn":"c1","id":1.5}"#,
        r#"{"tally":1,"kind":"error","conn":"c1","id":1,"error":{"code":7}}"#,
        r#""just a string""#,
        "null",
    ] {
        assert!(Envelope::read(&js(bad)).is_none(), "{bad} was read");
    }
}

#[wasm_bindgen_test]
fn envelopes_round_trip_through_structured_data() {
    let mut e = Envelope::new(Kind::Error, "conn-1");
    e.id = Some(3);
    e.error = Some(RemoteError {
        code: "unknown_method".into(),
        message: "no".into(),
    });
    let back = Envelope::read(&e.to_js()).unwrap();
    assert_eq!(back.kind, Kind::Error);
    assert_eq!(back.conn, "conn-1");
    assert_eq!(back.error, e.error);
    assert!(back.payload.is_undefined());
}

const CONTEXT: &str = r#"{
  "project": {"id": "p1", "name": "Shop", "mgmtApi": "http://127.0.0.1:8787/v1/management"},
  "environment": {"id": "e1", "name": "master", "endpoint": "http://127.0.0.1:8787/v1/content/e1", "authToken": "AppToken x.y"},
  "installation": {"id": "i1", "appId": "a1", "status": "PENDING", "config": {}},
  "user": {"id": "u1", "name": "Ada"}
}"#;

#[wasm_bindgen_test]
fn contexts_are_checked_on_their_design_shape() {
    let context = Context::check(&js(CONTEXT), "test").unwrap();
    assert_eq!(context.environment_id, "e1");
    assert_eq!(context.mgmt_api, "http://127.0.0.1:8787/v1/management");
    for (path, value) in [
        ("environment", r#"{"id":"e1","name":"m","endpoint":"x"}"#),
        (
            "installation",
            r#"{"id":"i1","status":"INSTALLED","config":{}}"#,
        ),
        (
            "installation",
            r#"{"id":"i1","status":"PENDING","config":[]}"#,
        ),
        ("project", "null"),
    ] {
        let context = js(CONTEXT);
        js_sys::Reflect::set(&context, &path.into(), &js(value)).unwrap();
        let err = Context::check(&context, "test").unwrap_err();
        assert_eq!(err.code(), "invalid_argument", "{path} = {value} accepted");
    }
}

#[wasm_bindgen_test]
fn errors_reach_javascript_as_tally_errors_with_a_code() {
    let js_err: JsValue = SdkError::Exchange {
        status: 502,
        message: "authority down".into(),
    }
    .into();
    let err = js_err.dyn_ref::<js_sys::Error>().unwrap();
    assert_eq!(String::from(err.name()), "TallyError");
    assert_eq!(
        get(&js_err, "code").as_string().as_deref(),
        Some("exchange_failed")
    );
    assert_eq!(get(&js_err, "status").as_f64(), Some(502.0));
    assert!(String::from(err.message()).contains("authority down"));
}

#[wasm_bindgen_test]
async fn calls_settle_once_by_id() {
    let calls = Calls::default();
    let (first, answered) = calls.start("getContext");
    let (second, failed) = calls.start("resize");
    assert_ne!(first, second);
    calls.resolve(first, &JsValue::from(42));
    calls.resolve(first, &JsValue::from(43)); // a second answer is ignored
    calls.resolve(999, &JsValue::from(1)); // an id never asked is ignored
    assert_eq!(JsFuture::from(answered).await.unwrap().as_f64(), Some(42.0));
    calls.reject_remote(
        second,
        RemoteError {
            code: "not_handled".into(),
            message: "m".into(),
        },
    );
    let err = JsFuture::from(failed).await.unwrap_err();
    assert_eq!(
        get(&err, "code").as_string().as_deref(),
        Some("not_handled")
    );
}

#[wasm_bindgen_test]
async fn init_outside_a_frame_is_refused() {
    // The test page is the top window.
    assert!(js_sys::Object::is(
        window().parent().unwrap().unwrap().as_ref(),
        window().as_ref()
    ));
    // Pinned or not (no options at all is valid: the origin would be learned).
    for options in [
        js(r#"{"parentOrigin":"https://platform.example.com","timeoutMs":50}"#),
        js("{}"),
        JsValue::UNDEFINED,
    ] {
        let err = crate::init(options).await.err().unwrap();
        assert_eq!(
            get(&err, "code").as_string().as_deref(),
            Some("not_in_frame")
        );
    }
}

#[wasm_bindgen_test]
async fn init_refuses_a_wildcard_parent_origin_and_unknown_options() {
    for options in [
        r#"{"parentOrigin":"*"}"#,
        r#"{"parentOrigin":"https://a.example","timeout":5}"#,
        r#"{"parentOrigins":[]}"#,
        r#"{"parentOrigins":"https://a.example"}"#,
        r#"{"parentOrigins":["https://a.example","*"]}"#,
        r#"{"parentOrigin":"https://a.example","parentOrigins":["https://b.example"]}"#,
    ] {
        let err = crate::init(js(options)).await.err().unwrap();
        assert_eq!(
            get(&err, "code").as_string().as_deref(),
            Some("invalid_argument"),
            "{options}"
        );
    }
}

#[wasm_bindgen_test]
fn update_arguments_are_checked_with_verifier_core_names() {
    crate::context::check_update(&js(r#"{"status":"COMPLETED","config":{"a":1}}"#), "u").unwrap();
    crate::context::check_update(&js("{}"), "u").unwrap();
    for bad in [
        r#"{"status":"DONE"}"#,
        r#"{"status":"completed"}"#,
        r#"{"config":[1]}"#,
        r#"{"config":"x"}"#,
        r#"{"state":"COMPLETED"}"#,
        "[]",
        "null",
    ] {
        let err = crate::context::check_update(&js(bad), "u").unwrap_err();
        assert_eq!(err.code(), "invalid_argument", "{bad} accepted");
    }
}

#[wasm_bindgen_test]
fn an_element_is_read_from_the_context_and_checked_by_kind() {
    use crate::element::{Kind as Element, read};
    let base = r#""project":{"id":"p","name":"P","mgmtApi":"https://a.example/v1/management"},"environment":{"id":"e","name":"E","endpoint":"https://a.example","authToken":"t"},"installation":{"id":"i","status":"COMPLETED","config":{}}"#;
    let with = |element: &str| js(&format!("{{{base},\"element\":{element}}}"));
    assert_eq!(read(&js(&format!("{{{base}}}"))).unwrap(), None);
    let field = read(&with(r##"{"type":"field","apiId":"colour","config":{},"field":{"apiId":"c","type":"color"},"model":"Post","value":null,"isReadOnly":false}"##)).unwrap().unwrap();
    assert_eq!(field.kind, Element::Field);
    assert_eq!(field.field.as_deref(), Some("c"));
    assert_eq!(field.field_type.as_deref(), Some("color"));
    for bad in [
        r#"{"type":"widget","apiId":"a","config":{}}"#,
        r#"{"type":"page","apiId":"a","config":{}}"#,
        r#"{"type":"sidebar","apiId":"a","config":{},"model":"Post","values":[]}"#,
        r#"{"type":"field","apiId":"a","config":{},"field":{"apiId":"c","type":"colour"},"model":"Post","value":null,"isReadOnly":false}"#,
        r#"{"type":"field","apiId":"a","config":{},"field":{"apiId":"c","type":"color"},"model":"Post","isReadOnly":false}"#,
    ] {
        let err = read(&with(bad)).unwrap_err();
        assert_eq!(err.code(), "invalid_argument", "{bad}");
    }
    // The whole context check carries it.
    let checked = Context::check(
        &with(r#"{"type":"page","apiId":"a","config":{},"route":"/"}"#),
        "test",
    )
    .unwrap();
    assert_eq!(checked.element.map(|e| e.kind), Some(Element::Page));
}

#[wasm_bindgen_test]
fn each_element_calls_only_its_own_methods() {
    use crate::element::{Element, Kind, allows};
    let of = |kind| Element {
        kind,
        field: None,
        field_type: None,
    };
    let field = of(Kind::Field);
    let dialog = of(Kind::Dialog);
    let sidebar = of(Kind::Sidebar);
    let page = of(Kind::Page);
    assert!(allows(Some(&field), "setValue") && allows(Some(&field), "setInvalid"));
    assert!(
        !allows(Some(&sidebar), "setValue")
            && !allows(Some(&page), "setInvalid")
            && !allows(None, "setValue")
    );
    assert!(allows(Some(&dialog), "closeDialog") && !allows(Some(&field), "closeDialog"));
    assert!(allows(None, "updateInstallation") && allows(Some(&page), "updateInstallation"));
    assert!(
        !allows(Some(&field), "updateInstallation") && !allows(Some(&dialog), "updateInstallation")
    );
    for method in [
        "openDialog",
        "navigate",
        "confirm",
        "showToast",
        "resize",
        "getSessionToken",
    ] {
        assert!(allows(Some(&sidebar), method), "{method}");
    }
}

#[wasm_bindgen_test]
fn a_field_value_must_be_of_the_fields_type() {
    use crate::element::check_value;
    let ok = [
        ("string", "\"x\""),
        ("text", "\"long\""),
        ("number", "3.5"),
        ("boolean", "false"),
        ("json", "{\"a\":[1]}"),
        ("date", "\"2026-12-06\""),
        ("dateTime", "\"2026-12-06T10:00:00Z\""),
        ("color", "\"#1E90ff\""),
        ("color", "null"),
    ];
    for (t, v) in ok {
        assert!(check_value(t, &js(v)).is_ok(), "{t} {v}");
    }
    let bad = [
        ("string", "3"),
        ("number", "\"3\""),
        ("boolean", "0"),
        ("date", "\"2026-13-06\""),
        ("date", "\"06/12/2026\""),
        ("dateTime", "\"2026-12-06\""),
        ("dateTime", "\"2026-12-06Tnope\""),
        ("color", "\"#12345\""),
        ("color", "\"red\""),
        ("unknown", "\"x\""),
    ];
    for (t, v) in bad {
        assert_eq!(
            check_value(t, &js(v)).unwrap_err().code(),
            "invalid_argument",
            "{t} {v}"
        );
    }
}
