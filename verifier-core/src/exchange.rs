//! The setup-code exchange, on Hygraph's wire.
//!
//! - The authority's `POST {managementApiBaseUrl}/app-exchange-token` takes
//!   [`ExchangeRequest`] `{ clientId, clientSecret, exchangeCode }` and answers
//!   [`ExchangeResponse`] `{ appToken }`, or an [`ErrorBody`] `{ message }`.
//! - The app backend's own route (`/api/exchangeSetupCode`) takes
//!   [`SetupCodeExchange`] `{ code, environmentId, managementApiBaseUrl }`
//!   from the app's frontend.
//!
//! Both parsers name every missing field in their error, in field order, so a
//! 400 tells the caller all that is wrong at once.
//!
//! A backend that posts its client secret to a `managementApiBaseUrl` it got
//! from a browser must first check that URL against the authorities it trusts
//! ([`SetupCodeExchange::check_authority`]); otherwise anyone could have it
//! send its credentials elsewhere. Hygraph's sample route does not; ours does.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::BodyError;

/// Body of `POST /app-exchange-token`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeRequest {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// The one-time setup code.
    pub exchange_code: String,
}

impl ExchangeRequest {
    /// Parses a request body; every field must be a non-empty string.
    pub fn from_json(body: &[u8]) -> Result<Self, BodyError> {
        let [client_id, client_secret, exchange_code] =
            required_strings(body, ["clientId", "clientSecret", "exchangeCode"])?;
        Ok(ExchangeRequest {
            client_id,
            client_secret,
            exchange_code,
        })
    }
}

impl fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeRequest")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("exchange_code", &"<redacted>")
            .finish()
    }
}

/// Success answer of `POST /app-exchange-token`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeResponse {
    /// The app token, `<tokenId>.<secret>`, shown this once.
    pub app_token: String,
}

impl fmt::Debug for ExchangeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExchangeResponse { app_token: <redacted> }")
    }
}

/// Error answer body `{ "message": "…" }` (the authority adds a `reason`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable message.
    pub message: String,
    /// Stable machine-readable reason, where the sender gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Body of the app backend's `/api/exchangeSetupCode` route, sent by the SDK.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupCodeExchange {
    /// The setup code captured from `?code=`.
    pub code: String,
    /// The environment the app is being installed in.
    pub environment_id: String,
    /// Where the authority's `/app-exchange-token` lives.
    pub management_api_base_url: String,
}

impl SetupCodeExchange {
    /// Parses a request body; every field must be a non-empty string and
    /// `managementApiBaseUrl` an `http(s)` URL without query or fragment.
    pub fn from_json(body: &[u8]) -> Result<Self, BodyError> {
        let [code, environment_id, management_api_base_url] =
            required_strings(body, ["code", "environmentId", "managementApiBaseUrl"])?;
        check_http_url(&management_api_base_url, "managementApiBaseUrl")?;
        Ok(SetupCodeExchange {
            code,
            environment_id,
            management_api_base_url: String::from(management_api_base_url.trim_end_matches('/')),
        })
    }

    /// Checks `managementApiBaseUrl` against the authority base URLs this
    /// backend trusts (exact match, trailing `/` ignored).
    pub fn check_authority(&self, trusted: &[&str]) -> Result<(), BodyError> {
        let ours = self.management_api_base_url.trim_end_matches('/');
        if trusted.iter().any(|t| t.trim_end_matches('/') == ours) {
            Ok(())
        } else {
            Err(BodyError::Invalid {
                field: "managementApiBaseUrl",
                message: String::from("not an authority this app trusts"),
            })
        }
    }

    /// The URL to post the exchange to: `{managementApiBaseUrl}/app-exchange-token`.
    pub fn exchange_url(&self) -> String {
        alloc::format!("{}/app-exchange-token", self.management_api_base_url)
    }
}

impl fmt::Debug for SetupCodeExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetupCodeExchange")
            .field("code", &"<redacted>")
            .field("environment_id", &self.environment_id)
            .field("management_api_base_url", &self.management_api_base_url)
            .finish()
    }
}

/// `managementApiBaseUrl` from a project's `mgmtApi`: the URL without its last
/// path segment (`https://h/v1/management` → `https://h/v1`). A trailing `/`
/// is ignored; a URL with no path segment, a query or a fragment is refused.
pub fn management_api_base_url(mgmt_api: &str) -> Result<String, BodyError> {
    check_http_url(mgmt_api, "mgmtApi")?;
    let trimmed = mgmt_api.trim_end_matches('/');
    // check_http_url has seen an `http://` or `https://` prefix; the last `/`
    // must come after it (no slicing by index: this runs in the SDK's wasm,
    // where a panic path costs kilobytes).
    let scheme_len = if trimmed.starts_with("https://") {
        8
    } else {
        7
    };
    match trimmed.rsplit_once('/') {
        Some((base, _)) if base.len() >= scheme_len => Ok(String::from(base)),
        _ => Err(BodyError::Invalid {
            field: "mgmtApi",
            message: String::from("has no path segment to remove"),
        }),
    }
}

fn check_http_url(url: &str, field: &'static str) -> Result<(), BodyError> {
    let invalid = |message: &str| BodyError::Invalid {
        field,
        message: String::from(message),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("must be an http(s) URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(invalid("must name a host (and no user info)"));
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must have no query, fragment or white space"));
    }
    Ok(())
}

/// Reads `N` required non-empty string fields of a JSON object, naming all the
/// missing ones at once.
fn required_strings<const N: usize>(
    body: &[u8],
    names: [&'static str; N],
) -> Result<[String; N], BodyError> {
    let mut object: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => object,
        _ => return Err(BodyError::NotAnObject),
    };
    let mut missing = Vec::new();
    let values = names.map(|name| match object.remove(name) {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => {
            missing.push(name);
            String::new()
        }
    });
    if missing.is_empty() {
        Ok(values)
    } else {
        Err(BodyError::MissingFields(missing))
    }
}
