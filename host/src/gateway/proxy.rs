//! The gateway: `/v1/content/{environment}/{model}[/{id}]` checked like
//! `/v1/verify` (the method names the action) and, when allowed, forwarded
//! to the [`Upstream`] with the decision's headers (`forward.rs` says what
//! else goes through). The upstream's answer is passed back as it is.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use verifier_core::{Action, Api};

use serde_json::Value;

use crate::http::{AppState, UpstreamAnswer, error_response as error};
use crate::reason::Reason as HostReason;

use super::check::{CheckError, check};
use super::descriptor::{Descriptor, authorization};
use super::hold::Limits;
use super::{forward, target};

/// Where the gateway forwards allowed requests.
pub struct Upstream {
    pub(super) base: String,
    pub(super) client: hyper_util::client::legacy::Client<
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

/// The action the gateway checks for a method it forwards; `None` (405)
/// for any other. The edge worker's copy (`npm/src/contract.js`) is
/// generated from this function by the contract test.
pub fn action_of(method: &Method) -> Option<Action> {
    Some(match *method {
        Method::GET | Method::HEAD => Action::READ,
        Method::POST => Action::CREATE,
        Method::PUT | Method::PATCH => Action::UPDATE,
        Method::DELETE => Action::DELETE,
        _ => return None,
    })
}

/// `ANY /v1/content/{environment}/{model}[/{id}]`: check, then proxy. The
/// target is read from the raw path and query by [`target::read`], and
/// the upstream gets that very path and query.
#[utoipa::path(method(get, post, put, patch, delete), path = "/v1/content/{environment}/{model}",
    summary = "Gateway: check (method → action), then proxy to --upstream",
    description = "Also served at /v1/content/{environment}/{model}/{id}.",
    security(("appToken" = []), ()),
    params(("environment" = String, Path), ("model" = String, Path),
        ("stage" = Option<String>, Query), ("locale" = Option<String>, Query)),
    responses(
        (status = 200, description = "The upstream's answer (any status)"),
        (status = 400, description = "Bad request descriptor", body = crate::http::ErrorBody),
        (status = 401, description = "No valid credentials (reason: the verifier's)", body = crate::http::ErrorBody),
        (status = 403, description = "Not granted / wrong environment", body = crate::http::ErrorBody),
        (status = 429, description = "Throttled: too many failed verifications from this address", body = crate::http::ErrorBody),
        (status = 503, description = "The verifier plugin failed: denied (reason verifier_failed)", body = crate::http::ErrorBody),
        (status = 502, description = "The upstream could not be reached", body = crate::http::ErrorBody),
        (status = 404, description = "No upstream configured", body = crate::http::ErrorBody)))]
pub(crate) async fn proxy(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let Some(upstream) = state.upstream.as_ref() else {
        return error(
            StatusCode::NOT_FOUND,
            HostReason::NotFound,
            "no upstream is configured (tally serve --upstream URL)",
        );
    };
    let (mut parts, body) = request.into_parts();
    let now = state.authority.now();
    let target = target::read(parts.uri.path(), parts.uri.query(), &parts.headers);
    let descriptor = match (action_of(&parts.method), &target) {
        (None, _) => Err(CheckError::Descriptor(format!(
            "method {} is not mapped to an action",
            parts.method
        ))),
        (_, Err(target::Ambiguous(message))) => Err(CheckError::Ambiguous(message.clone())),
        (Some(action), Ok(target)) => Ok(Descriptor {
            api: Api::Content,
            action,
            environment_id: Some(&target.environment),
            model: Some(&target.model),
            stage: target.stage.as_deref(),
            locale: target.locale.as_deref(),
            now,
        }),
    };
    let client = || state.trusted_proxies.client(addr, &parts.headers);
    let allowed = match check(
        &state,
        client,
        authorization(&parts.headers),
        now,
        descriptor,
    )
    .await
    {
        Ok(allowed) => allowed,
        Err(response) => return response,
    };
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let Ok(uri) = format!("{}{path_and_query}", upstream.base).parse::<Uri>() else {
        return error(
            StatusCode::BAD_GATEWAY,
            HostReason::BadGateway,
            "cannot form the upstream URL",
        );
    };
    parts.uri = uri;
    let Some(limits) = allowed.limits.clone() else {
        return match send(&state, upstream, addr, parts, body, Some(allowed)).await {
            Some(response) => response,
            None => unreachable_upstream(),
        };
    };
    let single = target.as_ref().is_ok_and(|t| t.id.is_some());
    held(
        &state, upstream, addr, parts, body, allowed, &limits, single,
    )
    .await
}

fn unreachable_upstream() -> Response {
    error(
        StatusCode::BAD_GATEWAY,
        HostReason::BadGateway,
        "the upstream could not be reached",
    )
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, HostReason::NotFound, "no such row")
}

fn unreadable() -> Response {
    error(
        StatusCode::BAD_GATEWAY,
        HostReason::UnreadableAnswer,
        "the upstream's answer is not JSON; it cannot be held to the caller's rows and fields",
    )
}

/// An answer's status and JSON (`Null` for an empty body), read whole;
/// `Err` when it is not JSON.
async fn read_json(response: Response) -> Result<(Response, Value), Response> {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, super::content::MAX_ANSWER_BYTES)
        .await
        .map_err(|_| unreadable())?;
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|_| unreadable())?
    };
    Ok((Response::from_parts(parts, Body::empty()), value))
}

/// A request whose decision limits rows or fields, held to them (`hold.rs`).
#[allow(clippy::too_many_arguments)]
async fn held(
    state: &AppState,
    upstream: &Upstream,
    addr: SocketAddr,
    mut parts: axum::http::request::Parts,
    body: Body,
    allowed: super::check::DecisionHeaders,
    limits: &Limits,
    single: bool,
) -> Response {
    let method = parts.method.clone();
    // A HEAD of rows the caller may not see must not tell whether they
    // exist: it is answered from a GET held like any read.
    let head = method == Method::HEAD && limits.filter.is_some();
    if head {
        parts.method = Method::GET;
    }
    let writes = matches!(method, Method::POST | Method::PUT | Method::PATCH);
    let Ok(bytes) = axum::body::to_bytes(body, crate::http::MAX_BODY_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            HostReason::TooLarge,
            "the request body is too large",
        );
    };
    if writes {
        let Ok(written) = serde_json::from_slice::<Value>(&bytes) else {
            return error(
                StatusCode::BAD_REQUEST,
                HostReason::BadRequest,
                "the body must be JSON: these credentials' rows and fields are checked in it",
            );
        };
        if let Err((reason, message)) = super::hold::write(limits, &written, method == Method::POST)
        {
            return error(StatusCode::FORBIDDEN, reason, &message);
        }
    }
    let one_row_write = matches!(method, Method::PUT | Method::PATCH | Method::DELETE);
    if one_row_write && limits.filter.is_some() {
        if !single {
            return error(
                StatusCode::FORBIDDEN,
                HostReason::UnenforceableFilter,
                "the credentials' rows are limited: write one row at a time (its path names it)",
            );
        }
        // The row as it is now: the write goes on only if it is the caller's.
        let mut read = axum::http::Request::new(Body::empty());
        *read.method_mut() = Method::GET;
        *read.uri_mut() = parts.uri.clone();
        *read.headers_mut() = parts.headers.clone();
        read.headers_mut()
            .remove(axum::http::header::CONTENT_LENGTH);
        read.headers_mut().remove(axum::http::header::CONTENT_TYPE);
        let (read_parts, read_body) = read.into_parts();
        let Some(found) = send(
            state,
            upstream,
            addr,
            read_parts,
            read_body,
            Some(allowed.clone()),
        )
        .await
        else {
            return unreachable_upstream();
        };
        if !found.status().is_success() {
            return not_found();
        }
        match read_json(found).await {
            Ok((_, row)) if limits.meets(&row) => {}
            Ok(_) => return not_found(),
            Err(response) => return response,
        }
    }
    let Some(response) = send(
        state,
        upstream,
        addr,
        parts,
        Body::from(bytes),
        Some(allowed),
    )
    .await
    else {
        return unreachable_upstream();
    };
    if !response.status().is_success() || (method == Method::HEAD && !head) {
        return response;
    }
    let (mut response, value) = match read_json(response).await {
        // Nothing answered (a 204): nothing to hold.
        Ok((response, Value::Null)) if !single || method != Method::GET => return response,
        Ok(read) => read,
        Err(response) => return response,
    };
    let read = method == Method::GET || head;
    let Some(value) = limits.answer(single && read, value) else {
        return not_found();
    };
    if head {
        response
            .headers_mut()
            .remove(axum::http::header::CONTENT_LENGTH);
        return response;
    }
    let headers = response.headers_mut();
    headers.remove(axum::http::header::CONTENT_LENGTH);
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    *response.body_mut() = Body::from(value.to_string());
    response
}

/// Sends an allowed request, its URI already the upstream's, with the
/// headers `forward.rs` makes of the client's and the decision's `allowed`;
/// the upstream's answer as it is (its own errors marked as its own), or
/// `None` when it could not be reached.
pub(super) async fn send(
    state: &AppState,
    upstream: &Upstream,
    addr: SocketAddr,
    mut parts: axum::http::request::Parts,
    body: Body,
    allowed: Option<super::check::DecisionHeaders>,
) -> Option<Response> {
    let host = parts.headers.get(axum::http::header::HOST).cloned();
    let origin = forward::Origin {
        trusted_peer: state.trusted_proxies.trusts(addr.ip()),
        peer: addr.ip(),
        host: host.as_ref(),
    };
    forward::request_headers(&mut parts.headers, &origin);
    if let Some(allowed) = allowed {
        allowed.put(&mut parts.headers);
    }
    match upstream
        .client
        .request(axum::http::Request::from_parts(parts, body))
        .await
    {
        Ok(response) => {
            let mut response = response.map(Body::new);
            forward::strip_hop_by_hop(response.headers_mut());
            // The upstream's own errors are its own: passed through as they are.
            response.extensions_mut().insert(UpstreamAnswer);
            Some(response)
        }
        Err(e) => {
            tracing::warn!(error = %e, uri = %upstream.base, "upstream unreachable");
            None
        }
    }
}
