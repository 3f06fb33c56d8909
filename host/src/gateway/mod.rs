//! Checking requests with the verifier plugin: `GET /v1/verify` (an nginx
//! `auth_request` / Envoy `ext_authz` style check) and the gateway that
//! proxies `/v1/content/{environment}/{model}[/{id}]` to an upstream after a
//! check.
//!
//! The path of one check, on one plugin instance: the plugin's `parse` names
//! the tokenId → the record comes from the cached store → the plugin's
//! `verify_prepared` decides with the record and the environment's policy
//! prepared in the instance (decoded once per instance, not per request,
//! see `prepared.rs`). When the rows are in memory the check runs right on
//! the async worker; otherwise (or while the plugin has run into its
//! deadline within the last minute, `Limits::timeout_window`) on the
//! blocking pool. An allowed check repeated within the same second, with
//! the same rows and plugin, is answered from the worker's memo without a
//! plugin call (`memo.rs`). Allowed: 200 (or the upstream's answer) with
//! `X-Tally-Principal`, `X-Tally-Filter` (JSON list of alternatives) and
//! `X-Tally-Masked` (comma-separated). Denied: 401 when the caller's identity
//! was not established, 403 when it was but is not granted, both with
//! `{message, reason}` and the reason again in `X-Tally-Reason` (a proxy
//! that replaces the body keeps it). A plugin failure of any kind is a
//! denial too: 503 with reason `verifier_failed` (fail closed), counted in
//! `/metrics`. An address with repeated 401s is answered 429 (`throttled`)
//! for a while — for bad credentials only: a request that the check allows
//! is never throttled.
//!
//! Choices made here: the request descriptor headers are `X-Tally-*` as in
//! DESIGN.md; `X-Tally-Api` defaults to `content`, `X-Tally-Action` is
//! required; the gateway maps GET/HEAD → read, POST → create, PUT/PATCH →
//! update, DELETE → delete. How the gateway reads a target is in
//! `target.rs` (ambiguous spellings refused), what it forwards in
//! `forward.rs` (credentials, `X-Tally-*` and hop-by-hop headers never).

mod forward;
mod memo;
mod prepared;
mod target;
pub mod throttle;

pub(crate) use prepared::PreparedRows;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use verifier_core::abi::DecisionView;
use verifier_core::abi::wire::ReqRef;
use verifier_core::{Action, Api, Reason, Request};

use crate::authority::AuthorityError;
use crate::http::{AppState, UpstreamAnswer, error_response as error};
use crate::reason::Reason as HostReason;
use crate::runtime::{Plugin, PluginError};

/// Why a check could not be decided.
#[derive(Debug)]
pub(crate) enum CheckError {
    /// The request descriptor is incomplete or invalid (400).
    Descriptor(String),
    /// The request can be read in more than one way (400
    /// `ambiguous_request`, see [`target`]).
    Ambiguous(String),
    /// The plugin failed (503, fail closed).
    Plugin(PluginError),
    /// Storage failed (500).
    Store(AuthorityError),
}

/// Where a check may look rows up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Memory only (the store's caches): safe on an async worker.
    Memory,
    /// Anywhere, storage included: blocking.
    Store,
}

/// A check that could not be decided with [`Lookup::Memory`].
enum Undecided {
    /// It needs storage: run it again with [`Lookup::Store`].
    NeedsStore,
    /// It failed.
    Failed(CheckError),
}

impl From<CheckError> for Undecided {
    fn from(e: CheckError) -> Self {
        Undecided::Failed(e)
    }
}

/// A row from memory or the store, as `lookup` allows.
fn row<T>(
    lookup: Lookup,
    peek: impl FnOnce() -> Option<Option<T>>,
    load: impl FnOnce() -> Result<Option<T>, crate::storage::StoreError>,
) -> Result<Option<T>, Undecided> {
    match (peek(), lookup) {
        (Some(hit), _) => Ok(hit),
        (None, Lookup::Memory) => Err(Undecided::NeedsStore),
        (None, Lookup::Store) => load().map_err(|e| CheckError::Store(e.into()).into()),
    }
}

/// A check's request descriptor with its names borrowed from the HTTP
/// request (headers, path, query): a check decided on the async worker
/// copies none of them into strings of its own; only a check sent to the
/// blocking pool makes an owned [`Request`] ([`Descriptor::to_request`]).
struct Descriptor<'h> {
    api: Api,
    action: Action,
    environment_id: Option<&'h str>,
    model: Option<&'h str>,
    stage: Option<&'h str>,
    locale: Option<&'h str>,
    now: i64,
}

impl Descriptor<'_> {
    /// The request as the plugin's encoder takes it.
    fn wire(&self) -> ReqRef<'_> {
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
    fn to_request(&self) -> Request {
        let mut request = Request::new(self.api, self.action.clone(), self.now);
        request.environment_id = self.environment_id.map(str::to_owned);
        request.model = self.model.map(str::to_owned);
        request.stage = self.stage.map(str::to_owned);
        request.locale = self.locale.map(str::to_owned);
        request
    }
}

/// Decides one request: the environment's policy, then on one plugin
/// instance `parse` → the record → `verify` with both prepared. Also
/// returns the rows it decided with (for the memo).
fn decide(
    state: &AppState,
    plugin: &Plugin,
    header: &[u8],
    request: ReqRef<'_>,
    lookup: Lookup,
) -> Result<(Outcome, memo::Rows), Undecided> {
    let store = state.authority.store();
    let environment_row = match request.environment_id {
        Some(id) => Some(row(
            lookup,
            || store.peek_environment(id),
            || store.environment(id),
        )?),
        None => None,
    };
    let environment = environment_row
        .as_ref()
        .and_then(Option::as_ref)
        .map(|row| state.prepared.environment(row));
    let mut call = plugin.call(header).map_err(CheckError::Plugin)?;
    let token = match call.parse().map_err(CheckError::Plugin)? {
        Ok(id) => {
            let found = row(lookup, || store.peek_token(&id), || store.token(&id))?;
            Some((id, found))
        }
        Err(_) => None, // verify gives the same reason
    };
    let record = token
        .as_ref()
        .and_then(|(_, row)| row.as_ref())
        .map(|row| state.prepared.record(row));
    let outcome = call
        .decide(
            record.as_deref(),
            environment.as_deref(),
            request,
            Outcome::of,
        )
        .map_err(CheckError::Plugin)?;
    let rows = memo::Rows {
        token,
        environment: environment_row,
    };
    Ok((outcome, rows))
}

/// What a check decided, in the form its answer needs: made while the
/// decision is read in place in the plugin's memory, with no owned
/// [`verifier_core::Decision`] in between.
#[derive(Clone)]
struct Outcome {
    reason: Reason,
    /// The headers that carry the decision; `None` when it denies.
    allowed: Option<DecisionHeaders>,
}

impl Outcome {
    fn of(view: DecisionView<'_>) -> Self {
        Outcome {
            reason: view.reason,
            allowed: view.allow.then(|| DecisionHeaders::of(&view)),
        }
    }
}

/// The headers that carry an allowed decision: `X-Tally-Principal` (when
/// there is one), `X-Tally-Filter` (JSON list of alternatives, when the
/// request is limited), `X-Tally-Masked` (comma-separated, empty for none)
/// and `X-Tally-Reason`. A value that cannot be a header value (a plugin's
/// control characters) is left out. A clone shares the values' bytes.
#[derive(Clone)]
pub(crate) struct DecisionHeaders {
    principal: Option<HeaderValue>,
    filter: Option<HeaderValue>,
    masked: Option<HeaderValue>,
    reason: Reason,
}

impl DecisionHeaders {
    fn of(view: &DecisionView<'_>) -> Self {
        DecisionHeaders {
            principal: view.principal.and_then(|p| HeaderValue::from_str(p).ok()),
            filter: view.filter_conditions().and_then(|f| {
                HeaderValue::from_str(&serde_json::to_string(&f).unwrap_or_default()).ok()
            }),
            masked: if view.masked.is_empty() {
                Some(HeaderValue::from_static(""))
            } else {
                HeaderValue::from_str(&view.masked.join(",")).ok()
            },
            reason: view.reason,
        }
    }

    /// Adds these headers (straight into the map: no list to build and
    /// then copy).
    fn put(self, headers: &mut HeaderMap) {
        headers.reserve(4);
        if let Some(v) = self.principal {
            headers.insert(X_TALLY_PRINCIPAL, v);
        }
        if let Some(v) = self.filter {
            headers.insert(X_TALLY_FILTER, v);
        }
        if let Some(v) = self.masked {
            headers.insert(X_TALLY_MASKED, v);
        }
        headers.insert(
            X_TALLY_REASON,
            HeaderValue::from_static(self.reason.as_str()),
        );
    }
}

/// Decides one request where it is cheapest: from this thread's memo when
/// it is a repeat within the second (`memo.rs`); else on this async worker
/// when the rows are in memory and the plugin has not run into its deadline
/// lately (a call is then a few microseconds); else on the blocking pool.
async fn decide_anywhere(
    state: &Arc<AppState>,
    header: &HeaderValue,
    request: &Descriptor<'_>,
) -> Result<Result<Outcome, CheckError>, Response> {
    // One plugin for the whole check, even if a reload swaps it meanwhile.
    let plugin = state.verifier.plugin();
    let key = if state.decision_memo {
        memo::Key::new(plugin.id(), header.as_bytes(), request.wire())
    } else {
        None
    };
    if let Some(key) = &key {
        let store = state.authority.store().as_ref();
        let current = |rows: &memo::Rows| rows.current(store, request.environment_id);
        if let Some(outcome) = memo::recall(key, current) {
            state.metrics.memo_hit();
            return Ok(Ok(outcome));
        }
    }
    if !plugin.timed_out_recently() {
        match decide(
            state,
            &plugin,
            header.as_bytes(),
            request.wire(),
            Lookup::Memory,
        ) {
            Ok((decision, rows)) => {
                if let Some(key) = key {
                    memo::remember(key, rows, &decision);
                }
                return Ok(Ok(decision));
            }
            Err(Undecided::Failed(e)) => return Ok(Err(e)),
            Err(Undecided::NeedsStore) => {}
        }
    }
    let s = Arc::clone(state);
    // A clone of a `HeaderValue` shares its bytes: nothing is copied.
    let header = header.clone();
    let request = request.to_request();
    tokio::task::spawn_blocking(move || {
        decide(
            &s,
            &plugin,
            header.as_bytes(),
            (&request).into(),
            Lookup::Store,
        )
        .map(|(decision, _)| decision)
        .map_err(|e| match e {
            Undecided::Failed(e) => e,
            // `row` answers NeedsStore only under Lookup::Memory.
            Undecided::NeedsStore => CheckError::Store(AuthorityError::Internal(
                "a store lookup was refused".into(),
            )),
        })
    })
    .await
    .map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            HostReason::Internal,
            "internal error",
        )
    })
}

/// The request descriptor's headers, as names made once: a lookup by `&str`
/// parses the name on every call (measured: ~2 % of a check under load).
const X_TALLY_API: HeaderName = HeaderName::from_static("x-tally-api");
const X_TALLY_ACTION: HeaderName = HeaderName::from_static("x-tally-action");
const X_TALLY_ENVIRONMENT: HeaderName = HeaderName::from_static("x-tally-environment");
const X_TALLY_MODEL: HeaderName = HeaderName::from_static("x-tally-model");
const X_TALLY_STAGE: HeaderName = HeaderName::from_static("x-tally-stage");
const X_TALLY_LOCALE: HeaderName = HeaderName::from_static("x-tally-locale");
/// The decision's headers, likewise.
const X_TALLY_PRINCIPAL: HeaderName = HeaderName::from_static("x-tally-principal");
const X_TALLY_FILTER: HeaderName = HeaderName::from_static("x-tally-filter");
const X_TALLY_MASKED: HeaderName = HeaderName::from_static("x-tally-masked");
const X_TALLY_REASON: HeaderName = HeaderName::from_static("x-tally-reason");

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

/// The request descriptor of `/v1/verify`, from `X-Tally-*` headers (one
/// pass over the headers: six lookups by name took 380 ns a request, this
/// 240 ns), the names borrowed from them.
fn descriptor(headers: &HeaderMap, now: i64) -> Result<Descriptor<'_>, CheckError> {
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
fn value_str<'h>(
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
fn authorization(headers: &HeaderMap) -> &HeaderValue {
    static NONE: HeaderValue = HeaderValue::from_static("");
    headers
        .get(axum::http::header::AUTHORIZATION)
        .unwrap_or(&NONE)
}

fn denial(reason: Reason) -> Response {
    let (status, message) = if reason.is_unauthenticated() {
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
    error(status, reason.into(), message)
}

/// Runs a check at `now` and turns failures into answers; `Ok` carries the
/// headers of an allowed decision. The throttle is asked only after a
/// denial for bad credentials, so an allowed request is never refused for
/// its address; `client` names that address, and is worked out only then
/// (never on the allowed path).
async fn check(
    state: &Arc<AppState>,
    client: impl FnOnce() -> IpAddr,
    header: &HeaderValue,
    now: i64,
    request: Result<Descriptor<'_>, CheckError>,
) -> Result<DecisionHeaders, Response> {
    let request = request.map_err(|e| respond_error(state, e))?;
    let outcome = decide_anywhere(state, header, &request).await?;
    match outcome {
        Ok(Outcome { reason, allowed }) => {
            state.metrics.decision(reason);
            match allowed {
                Some(headers) => Ok(headers),
                None => {
                    if reason.is_unauthenticated()
                        && reason != Reason::MissingCredentials
                        && state.throttle.refuse_failure(client(), now)
                    {
                        return Err(
                            crate::http::ApiError(AuthorityError::Throttled).into_response()
                        );
                    }
                    Err(denial(reason))
                }
            }
        }
        Err(e) => Err(respond_error(state, e)),
    }
}

fn respond_error(state: &AppState, e: CheckError) -> Response {
    match e {
        CheckError::Descriptor(message) => {
            error(StatusCode::BAD_REQUEST, HostReason::BadRequest, &message)
        }
        CheckError::Ambiguous(message) => error(
            StatusCode::BAD_REQUEST,
            HostReason::AmbiguousRequest,
            &message,
        ),
        CheckError::Plugin(e) => {
            state.metrics.plugin_failure(e.kind());
            tracing::warn!(error = %e, "verifier plugin failed; denying");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                HostReason::VerifierFailed,
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
    // The whole request rather than `HeaderMap`, which would copy the headers.
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers();
    let now = state.authority.now();
    let descriptor = descriptor(headers, now);
    let client = || state.trusted_proxies.client(addr, headers);
    match check(&state, client, authorization(headers), now, descriptor).await {
        Ok(allowed) => {
            let mut response = StatusCode::OK.into_response();
            allowed.put(response.headers_mut());
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

/// `ANY /v1/content/{environment}/{model}[/{id}]`: check, then proxy. The
/// target is read from the raw path and query by [`target::read`], and
/// the upstream gets that very path and query.
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
    let host = parts.headers.get(axum::http::header::HOST).cloned();
    let origin = forward::Origin {
        trusted_peer: state.trusted_proxies.trusts(addr.ip()),
        peer: addr.ip(),
        host: host.as_ref(),
    };
    forward::request_headers(&mut parts.headers, &origin);
    allowed.put(&mut parts.headers);
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
            response
        }
        Err(e) => {
            tracing::warn!(error = %e, "upstream unreachable");
            error(
                StatusCode::BAD_GATEWAY,
                HostReason::BadGateway,
                "the upstream could not be reached",
            )
        }
    }
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
