//! The setup-code exchange through the app's own backend.
//!
//! The browser never sees the app's client secret: the SDK posts
//! `{ code, environmentId, managementApiBaseUrl }` (verifier-core's
//! [`SetupCodeExchange`]) to the app backend's route, which adds its client
//! credentials and calls the authority's `/app-exchange-token`. The backend's
//! JSON answer is handed to the app as it is; an error status becomes
//! [`SdkError::Exchange`] with the backend's `{ message }`.

use gloo_net::http::Request;

use verifier_core::exchange::SetupCodeExchange;
use wasm_bindgen::JsValue;

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
    let response = Request::post(endpoint)
        .header("Content-Type", "application/json")
        .body(json)
        .map_err(|e| SdkError::Network(e.to_string()))?
        .send()
        .await
        .map_err(|e| SdkError::Network(e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| SdkError::Network(e.to_string()))?;
    let parsed = js_sys::JSON::parse(&text).ok();
    if response.ok() {
        return parsed.filter(JsValue::is_object).ok_or_else(|| {
            SdkError::Protocol(format!(
                "the exchange route answered {status} without a JSON object"
            ))
        });
    }
    let message = parsed
        .and_then(|p| js::get(&p, "message").as_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| response.status_text());
    Err(SdkError::Exchange { status, message })
}
