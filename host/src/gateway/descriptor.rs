//! The request descriptor: what a check is asked about, read from the
//! `X-Tally-*` headers of `GET /v1/verify` (DESIGN.md) or, for the gateway,
//! built from the method and the target `target.rs` read. Each header's
//! first value, trimmed; a missing action or an invalid value is refused
//! with its reason.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use verifier_core::abi::wire::ReqRef;
use verifier_core::{Action, Api, Request};

use super::check::CheckError;

/// A check's request descriptor with its names borrowed from the HTTP
/// request (headers, path, query): a check decided on the async worker
/// copies none of them into strings of its own; only a check sent to the
/// blocking pool makes an owned [`Request`] ([`Descriptor::to_request`]).
pub(super) struct Descriptor<'h> {
    pub(super) api: Api,
    pub(super) action: Action,
    pub(super) environment_id: Option<&'h str>,
    pub(super) model: Option<&'h str>,
    pub(super) stage: Option<&'h str>,
    pub(super) locale: Option<&'h str>,
    pub(super) now: i64,
}

impl Descriptor<'_> {
    /// The request as the plugin's encoder takes it.
    pub(super) fn wire(&self) -> ReqRef<'_> {
        ReqRef {
            api: self.api,
            action: self.action.as_str(),
            environment_id: self.environment_id,
            model: self.model,
            stage: self.stage,
            locale: self.locale,
            document: None,
            sensitive_fields: &[],
            now: self.now,
        }
    }

    /// The same request, owned (to move to another thread).
    pub(super) fn to_request(&self) -> Request {
        let mut request = Request::new(self.api, self.action.clone(), self.now);
        request.environment_id = self.environment_id.map(str::to_owned);
        request.model = self.model.map(str::to_owned);
        request.stage = self.stage.map(str::to_owned);
        request.locale = self.locale.map(str::to_owned);
        request
    }
}

/// The request descriptor's headers, as names made once: a lookup by `&str`
/// parses the name on every call.
pub(super) const X_TALLY_API: HeaderName = HeaderName::from_static("x-tally-api");

pub(super) const X_TALLY_ACTION: HeaderName = HeaderName::from_static("x-tally-action");

pub(super) const X_TALLY_ENVIRONMENT: HeaderName = HeaderName::from_static("x-tally-environment");

pub(super) const X_TALLY_MODEL: HeaderName = HeaderName::from_static("x-tally-model");

pub(super) const X_TALLY_STAGE: HeaderName = HeaderName::from_static("x-tally-stage");

pub(super) const X_TALLY_LOCALE: HeaderName = HeaderName::from_static("x-tally-locale");

/// The decision's headers, likewise.
pub(super) const X_TALLY_PRINCIPAL: HeaderName = HeaderName::from_static("x-tally-principal");
/// The person a token acts for (`usr_…`), when it acts for one.
pub(super) const X_TALLY_USER: HeaderName = HeaderName::from_static("x-tally-user");

pub(super) const X_TALLY_FILTER: HeaderName = HeaderName::from_static("x-tally-filter");

pub(super) const X_TALLY_MASKED: HeaderName = HeaderName::from_static("x-tally-masked");

pub(super) const X_TALLY_REASON: HeaderName = HeaderName::from_static("x-tally-reason");

/// The descriptor headers' values, found in one pass over the request's
/// headers (the first value of each name, as `HeaderMap::get` gives).
fn descriptor_values(headers: &HeaderMap) -> [Option<&HeaderValue>; 6] {
    let mut found = [None; 6];
    for (name, value) in headers {
        let Some(rest) = name.as_str().strip_prefix("x-tally-") else {
            continue;
        };
        let slot = match rest {
            "api" => 0,
            "action" => 1,
            "environment" => 2,
            "model" => 3,
            "stage" => 4,
            "locale" => 5,
            _ => continue,
        };
        found[slot].get_or_insert(value);
    }
    found
}

/// The request descriptor of `/v1/verify`, from `X-Tally-*` headers in one
/// pass over the headers (rather than a lookup by name for each), the
/// names borrowed from them.
pub(super) fn descriptor(headers: &HeaderMap, now: i64) -> Result<Descriptor<'_>, CheckError> {
    let [api, action, environment, model, stage, locale] = descriptor_values(headers);
    let api = match value_str(api, &X_TALLY_API)? {
        None | Some("content") => Api::Content,
        Some("management") => Api::Management,
        Some(other) => {
            return Err(CheckError::Descriptor(format!(
                "X-Tally-Api must be content or management, not {other:?}"
            )));
        }
    };
    let action = value_str(action, &X_TALLY_ACTION)?
        .ok_or_else(|| CheckError::Descriptor("missing X-Tally-Action".into()))?;
    let action = action
        .parse::<Action>()
        .map_err(|e| CheckError::Descriptor(format!("X-Tally-Action: {e}")))?;
    Ok(Descriptor {
        api,
        action,
        environment_id: value_str(environment, &X_TALLY_ENVIRONMENT)?,
        model: value_str(model, &X_TALLY_MODEL)?,
        stage: value_str(stage, &X_TALLY_STAGE)?,
        locale: value_str(locale, &X_TALLY_LOCALE)?,
        now,
    })
}

/// A descriptor header's value as text, trimmed; `None` when absent or
/// empty. ASCII trimming is all there is to do: `to_str` accepts visible
/// ASCII, spaces and tabs only.
pub(super) fn value_str<'h>(
    value: Option<&'h HeaderValue>,
    name: &HeaderName,
) -> Result<Option<&'h str>, CheckError> {
    match value {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim_ascii()).filter(|s| !s.is_empty()))
            .map_err(|_| CheckError::Descriptor(format!("{name} is not valid text"))),
    }
}

/// The `Authorization` value as its raw bytes (empty when absent); the
/// plugin calls a value that is not UTF-8 malformed.
pub(super) fn authorization(headers: &HeaderMap) -> &HeaderValue {
    pub(super) static NONE: HeaderValue = HeaderValue::from_static("");
    headers
        .get(axum::http::header::AUTHORIZATION)
        .unwrap_or(&NONE)
}

/// The descriptor headers as OpenAPI parameters of `GET /v1/verify` (the
/// document's `http/openapi.rs` puts them there), from the names above.
pub(crate) fn openapi_parameters() -> serde_json::Value {
    use crate::authority::schema as written;
    let value = written::header_value_json();
    let header =
        |name: &HeaderName, required: bool, schema: serde_json::Value, description: &str| {
            let display: Vec<String> = name
                .as_str()
                .split('-')
                .map(|part| {
                    let mut chars = part.chars();
                    chars
                        .next()
                        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                        .unwrap_or_default()
                })
                .collect();
            let mut parameter = serde_json::json!({
                "name": display.join("-"), "in": "header", "required": required, "schema": schema,
            });
            if !description.is_empty() {
                parameter["description"] = description.into();
            }
            parameter
        };
    serde_json::json!([
        header(
            &X_TALLY_ENVIRONMENT,
            false,
            value.clone(),
            "the environment the request is for; a token bound to an environment is denied (wrong_environment) without it"
        ),
        header(&X_TALLY_API, false, written::api_name_json(), ""),
        header(&X_TALLY_ACTION, true, written::action_name_json(), ""),
        header(&X_TALLY_MODEL, false, value.clone(), ""),
        header(
            &X_TALLY_STAGE,
            false,
            value.clone(),
            "default: the environment's default stage"
        ),
        header(&X_TALLY_LOCALE, false, value, ""),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static [u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for &(name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_bytes(value).unwrap_or_else(|_| unreachable!()),
            );
        }
        map
    }

    /// The message of a refused descriptor; empty if it was not refused.
    fn refusal(map: &HeaderMap) -> String {
        match descriptor(map, 0) {
            Err(CheckError::Descriptor(message)) => message,
            _ => String::new(),
        }
    }

    #[test]
    fn the_descriptor_takes_each_headers_first_value_trimmed() {
        let map = headers(&[
            ("host", b"example.test"),
            ("x-tally-action", b"read"),
            ("x-tally-action", b"delete"),
            ("x-tally-models", b"Other"),
            ("x-tally-model", b"  Post "),
            ("x-tally-stage", b""),
            ("x-tally-environment", b"master"),
            ("x-tally-locale", b"en"),
            ("x-tally-locale", b"de"),
        ]);
        let request = descriptor(&map, 7).unwrap_or_else(|_| unreachable!());
        assert_eq!(
            (request.api, &request.action),
            (Api::Content, &Action::READ)
        );
        assert_eq!(request.environment_id, Some("master"));
        assert_eq!(request.model, Some("Post"));
        assert_eq!(request.stage, None);
        assert_eq!(request.locale, Some("en"));
        assert_eq!(request.now, 7);

        let map = headers(&[
            ("x-tally-api", b"management"),
            ("x-tally-action", b"publish"),
        ]);
        let request = descriptor(&map, 0).unwrap_or_else(|_| unreachable!());
        assert_eq!(request.api, Api::Management);
        assert_eq!(request.action.as_str(), "publish");
    }

    #[test]
    fn a_check_on_the_blocking_pool_sends_the_plugin_the_same_request() {
        let map = headers(&[
            ("x-tally-api", b"management"),
            ("x-tally-action", b"custom-action"),
            ("x-tally-environment", b"master"),
            ("x-tally-model", b"Post"),
            ("x-tally-stage", b"DRAFT"),
            ("x-tally-locale", b"de"),
        ]);
        let borrowed = descriptor(&map, -5).unwrap_or_else(|_| unreachable!());
        let owned = borrowed.to_request();
        assert_eq!(owned.environment_id.as_deref(), Some("master"));
        assert_eq!(owned.action.as_str(), "custom-action");
        assert_eq!(
            verifier_core::abi::encode_request(borrowed.wire()),
            verifier_core::abi::encode_request(&owned)
        );
    }

    #[test]
    fn an_incomplete_or_invalid_descriptor_is_refused_with_its_reason() {
        assert_eq!(
            refusal(&headers(&[("x-tally-model", b"Post")])),
            "missing X-Tally-Action"
        );
        assert_eq!(
            refusal(&headers(&[("x-tally-action", b" ")])),
            "missing X-Tally-Action"
        );
        assert!(
            refusal(&headers(&[
                ("x-tally-action", b"read"),
                ("x-tally-api", b"other")
            ]))
            .starts_with("X-Tally-Api must be content or management")
        );
        assert_eq!(
            refusal(&headers(&[
                ("x-tally-action", b"read"),
                ("x-tally-model", b"P\xc3\xa9")
            ])),
            "x-tally-model is not valid text"
        );
        assert!(
            refusal(&headers(&[("x-tally-action", b"no such action!")]))
                .starts_with("X-Tally-Action: ")
        );
    }
}
