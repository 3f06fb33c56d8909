//! The setup-code exchange through the app's own backend.
//!
//! The browser never sees the app's client secret: the SDK posts
//! `{ code, environmentId, managementApiBaseUrl }` (verifier-core's
//! [`SetupCodeExchange`]) to the app backend's route, which adds its client
//! credentials and calls the authority's `/app-exchange-token`. The backend's
//! JSON answer is handed to the app as it is; an error status becomes
//! [`SdkError::Exchange`] with the backend's `{ message }`.
//!
//! The request is the browser's `fetch` through `web-sys`, called directly:
//! one POST needs none of a client library's builder, and gloo-net's cost
//! the app module about 2 KB (BENCHMARKS.md, "SDK size").

use verifier_core::exchange::SetupCodeExchange;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, Response};

use crate::error::SdkError;
use crate::js;

/// The route the app backend serves unless the app names another.
pub(crate) const DEFAULT_ENDPOINT: &str = "/api/exchangeSetupCode";

/// Posts `body` to `endpoint` and returns the backend's JSON answer.
pub(crate) async fn post(endpoint: &str, body: &SetupCodeExchange) -> Result<JsValue, SdkError> {
    let code = JsValue::from_str(&body.code);
    let environment_id = JsValue::from_str(&body.environment_id);
    let base_url = JsValue::from_str(&body.management_api_base_url);
    let value = js::object(&[
        ("code", &code),
        ("environmentId", &environment_id),
        ("managementApiBaseUrl", &base_url),
    ]);
    let json = js_sys::JSON::stringify(&value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| SdkError::Protocol(String::from("could not encode the exchange body")))?;
    let init = RequestInit::new();
    init.set_method("POST");
    let content_type = JsValue::from_str("application/json");
    init.set_headers(&js::object(&[("Content-Type", &content_type)]));
    init.set_body(&JsValue::from_str(&json));
    let network = |e: JsValue| SdkError::Network(crate::error::describe(&e));
    let fetched = crate::protocol::window()?.fetch_with_str_and_init(endpoint, &init);
    let response: Response = JsFuture::from(fetched)
        .await
        .map_err(network)?
        .unchecked_into();
    let status = response.status();
    let text = JsFuture::from(response.text().map_err(network)?)
        .await
        .map_err(network)?
        .as_string()
        .unwrap_or_default();
    let parsed = js_sys::JSON::parse(&text).ok();
    if response.ok() {
        return parsed.filter(JsValue::is_object).ok_or_else(|| {
            SdkError::Protocol(format!(
                "the exchange route answered {} without a JSON object",
                crate::error::number(f64::from(status))
            ))
        });
    }
    let message = parsed
        .and_then(|p| js::get(&p, "message").as_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| response.status_text());
    Err(SdkError::Exchange { status, message })
}
