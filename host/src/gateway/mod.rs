//! Checking requests with the verifier plugin: `GET /v1/verify` (an nginx
//! `auth_request` / Envoy `ext_authz` style check) and the gateway that
//! proxies `/v1/content/{environment}/{model}[/{id}]` to an upstream after a
//! check.
//!
//! The path of one check: the plugin's `parse` names the tokenId → the record
//! comes from the cached store → the environment's policy likewise → the
//! plugin's `verify` decides. Allowed: 200 (or the upstream's answer) with
//! `X-Tally-Principal`, `X-Tally-Filter` (JSON list of alternatives) and
//! `X-Tally-Masked` (comma-separated). Denied: 401 when the caller's identity
//! was not established, 403 when it was but is not granted, both with
//! `{message, reason}`. A plugin failure of any kind is a denial too: 503
//! with reason `verifier_failed` (fail closed), counted in `/metrics`.
//! Repeated 401s from one address are answered 429 (`throttled`) for a while.
//!
//! Choices made here: the request descriptor headers are `X-Tally-*` as in
//! DESIGN.md; `X-Tally-Api` defaults to `content`, `X-Tally-Action` is
//! required; the gateway maps GET/HEAD → read, POST → create, PUT/PATCH →
//! update, DELETE → delete, and never forwards the caller's `Authorization`.

pub mod throttle;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use verifier_core::{Action, Api, Decision, Environment, Reason, Request, abi};

use crate::authority::AuthorityError;
use crate::http::AppState;
use crate::runtime::PluginError;

/// Why a check could not be decided.
#[derive(Debug)]
pub(crate) enum CheckError {
    /// The request descriptor is incomplete or invalid (400).
    Descriptor(String),
    /// The plugin failed (503, fail closed).
    Plugin(PluginError),
    /// Storage failed (500).
    Store(AuthorityError),
}

/// Decides one request (blocking: storage and the plugin are synchronous).
pub(crate) fn decide(
    state: &AppState,
    header: &str,
    request: &Request,
) -> Result<Decision, CheckError> {
    let plugin = state.verifier.plugin();
    let store = state.authority.store();
    let record = match plugin
        .parse(header.as_bytes())
        .map_err(CheckError::Plugin)?
    {
        Ok(id) => store.token(&id).map_err(|e| CheckError::Store(e.into()))?,
        Err(_) => None, // verify gives the same reason
    };
    let environment = match &request.environment_id {
        Some(id) => store
            .environment(id)
            .map_err(|e| CheckError::Store(e.into()))?
            .map(|row| Environment {
                id: row.id,
                default_stage: row.default_stage,
                public_grants: row.public_grants,
            }),
        None => None,
    };
    let input = abi::encode_input(
        record.as_ref().map(|row| &row.record),
        environment.as_ref(),
        request,
    );
    plugin
        .verify(header.as_bytes(), &input)
        .map_err(CheckError::Plugin)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, CheckError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()).filter(|s| !s.is_empty()))
            .map_err(|_| CheckError::Descriptor(format!("{name} is not valid text"))),
    }
}

/// The request descriptor of `/v1/verify`, from `X-Tally-*` headers.
fn descriptor(headers: &HeaderMap, now: i64) -> Result<Request, CheckError> {
    let api = match header_str(headers, "x-tally-api")? {
        None | Some("content") => Api::Content,
        Some("management") => Api::Management,
        Some(other) => {
            return Err(CheckError::Descriptor(format!(
                "X-Tally-Api must be content or management, not {other:?}"
            )));
        }
    };
    let action = header_str(headers, "x-tally-action")?
        .ok_or_else(|| CheckError::Descriptor("missing X-Tally-Action".into()))?;
    let action =
        Action::new(action).map_err(|e| CheckError::Descriptor(format!("X-Tally-Action: {e}")))?;
    let mut request = Request::new(api, action, now);
    request.environment_id = header_str(headers, "x-tally-environment")?.map(str::to_owned);
    request.model = header_str(headers, "x-tally-model")?.map(str::to_owned);
    request.stage = header_str(headers, "x-tally-stage")?.map(str::to_owned);
    request.locale = header_str(headers, "x-tally-locale")?.map(str::to_owned);
    Ok(request)
}

fn authorization(headers: &HeaderMap) -> String {
    // A value that is not text cannot be a token; the verifier calls it malformed.
    headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map_or_else(|_| "\u{1}".to_owned(), str::to_owned)
        })
        .unwrap_or_default()
}

fn error(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "message": message, "reason": reason })),
    )
        .into_response()
}

/// The headers that carry an allowed decision.
fn decision_headers(decision: &Decision) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    let mut push = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.push((HeaderName::from_static(name), v));
        }
    };
    if let Some(p) = &decision.principal {
        push("x-tally-principal", p.clone());
    }
    if let Some(f) = &decision.filter {
        push(
            "x-tally-filter",
            serde_json::to_string(f).unwrap_or_default(),
        );
    }
    push("x-tally-masked", decision.masked.join(","));
    push("x-tally-reason", decision.reason.as_str().to_owned());
    out
}

fn denial(decision: &Decision) -> Response {
    let (status, message) = if decision.reason.is_unauthenticated() {
        (
            StatusCode::UNAUTHORIZED,
            "the request has no valid credentials",
        )
    } else {
        (
            StatusCode::FORBIDDEN,
            "the credentials do not grant this request",
        )
    };
    error(status, decision.reason.as_str(), message)
}

/// Runs a check for `addr` and turns failures into answers; `Ok` carries an
/// allowed decision.
async fn check(
    state: &Arc<AppState>,
    addr: SocketAddr,
    header: String,
    request: Result<Request, CheckError>,
) -> Result<Decision, Response> {
    let now = state.authority.now();
    if state.throttle.blocked(addr.ip(), now) {
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "too many failed verifications from this address",
        ));
    }
    let request = request.map_err(|e| respond_error(state, e))?;
    let s = Arc::clone(state);
    let outcome = tokio::task::spawn_blocking(move || decide(&s, &header, &request))
        .await
        .map_err(|_| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        })?;
    match outcome {
        Ok(decision) => {
            state.metrics.decision(decision.reason);
            if decision.allow {
                Ok(decision)
            } else {
                if decision.reason.is_unauthenticated()
                    && decision.reason != Reason::MissingCredentials
                {
                    state.throttle.failed(addr.ip(), now);
                }
                Err(denial(&decision))
            }
        }
        Err(e) => Err(respond_error(state, e)),
    }
}

fn respond_error(state: &AppState, e: CheckError) -> Response {
    match e {
        CheckError::Descriptor(message) => error(StatusCode::BAD_REQUEST, "bad_request", &message),
        CheckError::Plugin(e) => {
            state.metrics.plugin_failure(e.kind());
            tracing::warn!(error = %e, "verifier plugin failed; denying");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "verifier_failed",
                "the verifier failed; the request is denied",
            )
        }
        CheckError::Store(e) => crate::http::ApiError(e).into_response(),
    }
}

/// `GET /v1/verify`.
pub(crate) async fn verify(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let request = descriptor(&headers, state.authority.now());
    match check(&state, addr, authorization(&headers), request).await {
        Ok(decision) => {
            let mut response = StatusCode::OK.into_response();
            response.headers_mut().extend(decision_headers(&decision));
            response
        }
        Err(response) => response,
    }
}

/// Where the gateway forwards allowed requests.
pub struct Upstream {
    base: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Body,
    >,
}

impl Upstream {
    /// An upstream at `base` (`http://host:port`, no trailing slash needed).
    pub fn new(base: &str) -> Self {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(hyper_util::client::legacy::connect::HttpConnector::new());
        Upstream {
            base: base.trim_end_matches('/').to_owned(),
            client,
        }
    }
}

fn action_of(method: &Method) -> Option<Action> {
    Some(match *method {
        Method::GET | Method::HEAD => Action::READ,
        Method::POST => Action::CREATE,
        Method::PUT | Method::PATCH => Action::UPDATE,
        Method::DELETE => Action::DELETE,
        _ => return None,
    })
}

fn query_param(uri: &Uri, key: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key && !v.is_empty()).then(|| v.to_owned())
    })
}

/// `ANY /v1/content/{environment}/{model}[/{id}]`: check, then proxy.
pub(crate) async fn proxy(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(params): Path<Vec<(String, String)>>,
    request: axum::extract::Request,
) -> Response {
    let Some(upstream) = state.upstream.as_ref() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no upstream is configured (tally serve --upstream URL)",
        );
    };
    let (mut parts, body) = request.into_parts();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let descriptor = match action_of(&parts.method) {
        None => Err(CheckError::Descriptor(format!(
            "method {} is not mapped to an action",
            parts.method
        ))),
        Some(action) => {
            let mut r = Request::new(Api::Content, action, state.authority.now());
            r.environment_id = param("environment");
            r.model = param("model");
            r.stage = query_param(&parts.uri, "stage").or_else(|| {
                header_str(&parts.headers, "x-tally-stage")
                    .ok()
                    .flatten()
                    .map(str::to_owned)
            });
            r.locale = query_param(&parts.uri, "locale").or_else(|| {
                header_str(&parts.headers, "x-tally-locale")
                    .ok()
                    .flatten()
                    .map(str::to_owned)
            });
            Ok(r)
        }
    };
    let decision = match check(&state, addr, authorization(&parts.headers), descriptor).await {
        Ok(decision) => decision,
        Err(response) => return response,
    };
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let Ok(uri) = format!("{}{path_and_query}", upstream.base).parse::<Uri>() else {
        return error(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "cannot form the upstream URL",
        );
    };
    parts.uri = uri;
    parts.headers.remove(axum::http::header::AUTHORIZATION);
    parts.headers.remove(axum::http::header::HOST);
    for name in [
        "x-tally-principal",
        "x-tally-filter",
        "x-tally-masked",
        "x-tally-reason",
    ] {
        parts.headers.remove(name); // never trust a caller's copy
    }
    parts.headers.extend(decision_headers(&decision));
    match upstream
        .client
        .request(axum::http::Request::from_parts(parts, body))
        .await
    {
        Ok(response) => response.map(Body::new),
        Err(e) => {
            tracing::warn!(error = %e, "upstream unreachable");
            error(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "the upstream could not be reached",
            )
        }
    }
}
