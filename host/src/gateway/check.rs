//! One check: a [`Descriptor`] and an
//! `Authorization` value in, a decision out. Looks through the cache
//! layers drawn in the module doc, runs the plugin on the async worker or
//! the blocking pool, and turns a denial or a failure into its answer
//! (401/403 with the decision's reason, 503 `verifier_failed`, 429 from the
//! throttle). `GET /v1/verify` is this and nothing else.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use verifier_core::Reason;
use verifier_core::abi::DecisionView;
use verifier_core::abi::wire::ReqRef;

use crate::authority::AuthorityError;
use crate::http::{AppState, error_response as error};
use crate::reason::Reason as HostReason;
use crate::runtime::{Plugin, PluginError};

use super::descriptor::{
    Descriptor, X_TALLY_FILTER, X_TALLY_MASKED, X_TALLY_PRINCIPAL, X_TALLY_REASON, X_TALLY_USER,
    authorization, descriptor,
};
use super::forwarded::Forwarded;
use super::memo;

/// Why a check could not be decided.
#[derive(Debug)]
pub(crate) enum CheckError {
    /// The request descriptor is incomplete or invalid (400).
    Descriptor(String),
    /// The request can be read in more than one way (400
    /// `ambiguous_request`, see [`super::target`]).
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
    decide_with(state, plugin, header, request, lookup, Outcome::of)
}

/// [`decide`], the decision read in place by `read`.
fn decide_with<T>(
    state: &AppState,
    plugin: &Plugin,
    header: &[u8],
    request: ReqRef<'_>,
    lookup: Lookup,
    read: impl FnOnce(DecisionView<'_>) -> T,
) -> Result<(T, memo::Rows), Undecided> {
    let store = state.authority.records();
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
        .decide(record.as_deref(), environment.as_deref(), request, read)
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
pub(super) struct Outcome {
    pub(super) reason: Reason,
    /// The headers that carry the decision; `None` when it denies.
    pub(super) allowed: Option<DecisionHeaders>,
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
    pub(super) principal: Option<HeaderValue>,
    pub(super) filter: Option<HeaderValue>,
    pub(super) masked: Option<HeaderValue>,
    pub(super) reason: Reason,
    /// The rows and fields the decision limits, when it limits any: what
    /// the content proxy enforces on the answer (`hold.rs`).
    pub(super) limits: Option<Arc<super::hold::Limits>>,
}

impl DecisionHeaders {
    /// The headers of a decision whose filter the gateway enforced itself:
    /// the principal, the masked fields and the reason, no filter.
    pub(crate) fn enforced(principal: Option<&str>, masked: &[String], reason: Reason) -> Self {
        DecisionHeaders {
            principal: principal.and_then(|p| HeaderValue::from_str(p).ok()),
            filter: None,
            masked: HeaderValue::from_str(&masked.join(",")).ok(),
            reason,
            limits: None,
        }
    }

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
            limits: super::hold::limits_of(view).map(Arc::new),
        }
    }

    /// Adds these headers (straight into the map: no list to build and
    /// then copy).
    pub(super) fn put(self, headers: &mut HeaderMap) {
        headers.reserve(4);
        if let Some(v) = self.principal {
            // A token acting for a person: who, on its own.
            if let Some(user) = v.as_bytes().strip_prefix(b"user:")
                && let Ok(user) = HeaderValue::from_bytes(user)
            {
                headers.insert(X_TALLY_USER, user);
            }
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
) -> Result<Result<Outcome, CheckError>, Refusal> {
    // One plugin for the whole check, even if a reload swaps it meanwhile.
    let plugin = state.verifier.plugin();
    let key = if state.decision_memo {
        memo::Key::new(plugin.id(), header.as_bytes(), request.wire())
    } else {
        None
    };
    if let Some(key) = &key {
        let store = state.authority.records().as_ref();
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
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            HostReason::Internal,
            "internal error",
        )
    })
}

/// A request a check did not allow: the status, reason and message it is
/// answered with (as `{message, reason}` by [`check`]; the management
/// endpoint answers it in GraphQL's error shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) reason: HostReason,
    pub(crate) message: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: HostReason, message: impl Into<String>) -> Self {
        Refusal {
            status,
            reason,
            message: message.into(),
        }
    }

    /// The error answer (`{message, reason}`, `X-Tally-Reason`).
    pub(crate) fn respond(&self) -> Response {
        error(self.status, self.reason, &self.message)
    }
}

impl From<AuthorityError> for Refusal {
    fn from(e: AuthorityError) -> Self {
        let e = crate::http::ApiError(e);
        if let AuthorityError::Internal(detail) = &e.0 {
            tracing::error!(%detail, "internal error");
        }
        Refusal::new(e.status(), e.0.reason(), e.0.to_string())
    }
}

impl From<Reason> for Refusal {
    /// A decision's denial: 401 when the caller's identity was not
    /// established, 403 when it was.
    fn from(reason: Reason) -> Self {
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
        Refusal::new(status, reason.into(), message)
    }
}

/// Runs a check at `now` and turns failures into answers; `Ok` carries the
/// headers of an allowed decision. The throttle is asked only after a
/// denial for bad credentials, so an allowed request is never refused for
/// its address; `client` names that address, and is worked out only then
/// (never on the allowed path).
pub(super) async fn check(
    state: &Arc<AppState>,
    client: impl FnOnce() -> IpAddr,
    header: &HeaderValue,
    now: i64,
    request: Result<Descriptor<'_>, CheckError>,
) -> Result<DecisionHeaders, Response> {
    refusing(state, client, header, now, request)
        .await
        .map_err(|refusal| refusal.respond())
}

/// [`check`], a refusal left as a [`Refusal`] for the caller to answer.
pub(super) async fn refusing(
    state: &Arc<AppState>,
    client: impl FnOnce() -> IpAddr,
    header: &HeaderValue,
    now: i64,
    request: Result<Descriptor<'_>, CheckError>,
) -> Result<DecisionHeaders, Refusal> {
    let request = request.map_err(|e| refusal(state, e))?;
    let outcome = decide_anywhere(state, header, &request).await?;
    match outcome {
        Ok(Outcome { reason, allowed }) => {
            state.metrics.decision(reason);
            match allowed {
                Some(headers) => Ok(headers),
                None => {
                    if counts_against_client(state, reason)
                        && state.throttle.refuse_failure(client(), now)
                    {
                        return Err(AuthorityError::Throttled.into());
                    }
                    Err(reason.into())
                }
            }
        }
        Err(e) => Err(refusal(state, e)),
    }
}

/// Decides several requests made with one `Authorization` (a GraphQL
/// operation's checks) on the blocking pool, with `plugin`, each to its
/// whole [`verifier_core::Decision`] (filters and masked fields are
/// enforced by the caller). Throttled as [`refusing`] is: after a denial
/// for bad credentials. Also returns the rows the checks were decided with
/// when every check saw the same ones (`None` when a change raced them),
/// for the caller's memo.
pub(crate) async fn decisions(
    state: &Arc<AppState>,
    plugin: Arc<Plugin>,
    client: impl FnOnce() -> IpAddr,
    header: &HeaderValue,
    now: i64,
    requests: Vec<verifier_core::Request>,
) -> Result<(Vec<verifier_core::Decision>, Option<memo::Rows>), Refusal> {
    let s = Arc::clone(state);
    let header = header.clone();
    let decided = tokio::task::spawn_blocking(move || {
        let mut decisions = Vec::with_capacity(requests.len());
        let mut shared: Option<Option<memo::Rows>> = None;
        for request in &requests {
            let (decision, rows) = decide_with(
                &s,
                &plugin,
                header.as_bytes(),
                request.into(),
                Lookup::Store,
                |view| view.to_decision(),
            )
            .map_err(|e| match e {
                Undecided::Failed(e) => e,
                Undecided::NeedsStore => CheckError::Store(AuthorityError::Internal(
                    "a store lookup was refused".into(),
                )),
            })?;
            decisions.push(decision);
            shared = Some(match shared {
                None => Some(rows),
                Some(Some(first)) if first.same_as(&rows) => Some(first),
                Some(_) => None,
            });
        }
        Ok::<_, CheckError>((decisions, shared.flatten()))
    })
    .await
    .map_err(|_| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            HostReason::Internal,
            "internal error",
        )
    })?
    .map_err(|e| refusal(state, e))?;
    let (decided, rows) = decided;
    for d in &decided {
        state.metrics.decision(d.reason);
    }
    let bad_credentials = decided
        .iter()
        .any(|d| counts_against_client(state, d.reason));
    if bad_credentials && state.throttle.refuse_failure(client(), now) {
        return Err(AuthorityError::Throttled.into());
    }
    Ok((decided, rows))
}

/// Whether a denial counts toward the client's throttle: credentials
/// presented and refused. Not on a replica when the token is unknown
/// there: a token made on the authority a moment ago is unknown on a
/// replica until the feed brings it, and its client is not to be blocked
/// for retrying (see `throttle.rs`).
fn counts_against_client(state: &AppState, reason: Reason) -> bool {
    reason.is_unauthenticated()
        && reason != Reason::MissingCredentials
        && !(reason == Reason::UnknownToken && state.authority.is_replica())
}

/// The answer to a check that could not be decided.
pub(super) fn refusal(state: &AppState, e: CheckError) -> Refusal {
    match e {
        CheckError::Descriptor(message) => {
            Refusal::new(StatusCode::BAD_REQUEST, HostReason::BadRequest, message)
        }
        CheckError::Ambiguous(message) => Refusal::new(
            StatusCode::BAD_REQUEST,
            HostReason::AmbiguousRequest,
            message,
        ),
        CheckError::Plugin(e) => {
            state.metrics.plugin_failure(e.kind());
            tracing::warn!(error = %e, "verifier plugin failed; denying");
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                HostReason::VerifierFailed,
                "the verifier failed; the request is denied",
            )
        }
        CheckError::Store(e) => e.into(),
    }
}

/// `/v1/verify/{original path}` with the original method: the check as
/// Envoy's `ext_authz` (HTTP) asks it (`forwarded.rs`).
#[utoipa::path(method(get, head, post, put, patch, delete), path = "/v1/verify/{path}",
    summary = "Check a request in Envoy ext_authz's form: the original method, the original path after /v1/verify",
    security(("appToken" = []), ()),
    params(("path" = String, Path, description = "The original path, e.g. v1/content/master/Post/7")),
    responses(
        (status = 200, description = "Allowed; the decision is in X-Tally-Principal, X-Tally-Filter, X-Tally-Masked, X-Tally-Reason"),
        (status = 400, description = "Not a content path with X-Tally-* headers, or an X-Tally-* header the path contradicts", body = crate::http::ErrorBody),
        (status = 401, description = "No valid credentials (reason: the verifier's)", body = crate::http::ErrorBody),
        (status = 403, description = "Not granted / wrong environment", body = crate::http::ErrorBody),
        (status = 429, description = "Throttled: too many failed verifications from this address", body = crate::http::ErrorBody),
        (status = 503, description = "The verifier plugin failed: denied (reason verifier_failed)", body = crate::http::ErrorBody)))]
pub(crate) async fn verify_envoy(
    state: State<Arc<AppState>>,
    addr: ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    verify(state, addr, request).await
}

/// `GET /v1/verify`.
#[utoipa::path(get, path = "/v1/verify", summary = "Check a request (auth_request / ext_authz style)",
    security(("appToken" = []), ()),
    responses(
        (status = 200, description = "Allowed; the decision is in X-Tally-Principal, X-Tally-Filter (JSON list of alternatives), X-Tally-Masked (comma-separated), X-Tally-Reason",
            headers(("X-Tally-Principal" = String), ("X-Tally-Filter" = String), ("X-Tally-Masked" = String), ("X-Tally-Reason" = String))),
        (status = 400, description = "Bad request descriptor", body = crate::http::ErrorBody),
        (status = 401, description = "No valid credentials (reason: the verifier's)", body = crate::http::ErrorBody),
        (status = 403, description = "Not granted / wrong environment", body = crate::http::ErrorBody),
        (status = 429, description = "Throttled: too many failed verifications from this address", body = crate::http::ErrorBody),
        (status = 503, description = "The verifier plugin failed: denied (reason verifier_failed)", body = crate::http::ErrorBody)))]
pub(crate) async fn verify(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    // The whole request rather than `HeaderMap`, which would copy the headers.
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers();
    let now = state.authority.now();
    // A proxy's forwarded request (`forwarded.rs`): a content path is read
    // by the gateway's rules; anything else by the X-Tally-* headers.
    let forwarded = Forwarded::of(request.uri(), request.method(), headers);
    let target;
    let descriptor = match &forwarded {
        Err(_) => Err(CheckError::Descriptor(String::new())),
        Ok(Some(f)) if f.is_content() => match f.target(headers) {
            Ok(t) => {
                target = t;
                f.descriptor(&target, headers, now)
            }
            Err(e) => Err(e),
        },
        Ok(_) => descriptor(headers, now),
    };
    let descriptor = match (forwarded, descriptor) {
        (Err(e), _) => Err(e),
        (_, d) => d,
    };
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
