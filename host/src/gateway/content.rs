//! `POST` (and `GET ?query=`) `/v2/{projectId}/{environment}`: a GraphQL
//! content API behind the gateway, with the verifier's answers enforced by
//! `content-gate`: every root field checked at its stages and locales,
//! filters written into the document, one-row writes preceded by a
//! preflight read, masked fields nulled in the answer.
//!
//! The flow: read the request (JSON body, or the query string for `GET`,
//! which runs queries only) → the environment's record (it must be the
//! project's, read from memory when the store's cache holds it) → its plan
//! (this worker thread's `PlanCache`) → the checks decided: remembered
//! whole for the same header and plan within its second (`memo.rs`), else
//! each by one plugin on the blocking pool → `Plan::authorize` → the
//! preflight, if any, sent to the
//! upstream and checked → the rewritten operation sent as JSON to
//! `--upstream` at the same path, with `X-Tally-Principal`,
//! `X-Tally-Masked` and `X-Tally-Reason` (no filter header: it is in the
//! document) and the forwarding headers → the answer read as JSON (at most
//! [`MAX_ANSWER_BYTES`]; not JSON is a 502, never passed through
//! unchecked) and held to the decisions → the client. Every refusal is
//! GraphQL's error shape with `extensions: { reason, path }` and
//! `X-Tally-Reason`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use content_gate::{Denied, GraphqlRequest, Options, Plan, PlanCache, Stop};
use serde_json::{Value, json};
use verifier_core::Environment;

use crate::http::{AppState, MAX_BODY_BYTES, error_with_body};
use crate::reason::Reason as HostReason;
use crate::storage::EnvironmentRow;

use super::Upstream;
use super::check::{DecisionHeaders, Refusal, decisions};
use super::descriptor::{X_TALLY_STAGE, authorization, value_str};
use super::memo;
use super::proxy::send;

/// The largest upstream answer the gateway reads to hold it to the
/// decisions.
pub(crate) const MAX_ANSWER_BYTES: usize = 16 << 20;

thread_local! {
    /// Each worker thread's documents read lately and their plans
    /// (`PlanCache`): a repeated request is not read or planned again.
    static PLANS: std::cell::RefCell<PlanCache> = std::cell::RefCell::default();

    /// The policy of the environment row this thread planned against last,
    /// made once per row (a change in the store is a new row).
    static POLICY: std::cell::RefCell<Option<(Arc<EnvironmentRow>, Arc<Environment>)>> =
        const { std::cell::RefCell::new(None) };
}

/// `row`'s policy, shared while the store hands out the same row: the plan
/// cache then knows the plans made against it by address.
fn policy(row: &Arc<EnvironmentRow>) -> Arc<Environment> {
    POLICY.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((seen, policy)) = &*last
            && Arc::ptr_eq(seen, row)
        {
            return Arc::clone(policy);
        }
        let policy = Arc::new(row.policy());
        *last = Some((Arc::clone(row), Arc::clone(&policy)));
        policy
    })
}

/// `X-Tally-Locale`: the locales of fields that name none.
const X_TALLY_LOCALE: &str = "x-tally-locale";

fn errors(status: StatusCode, reason: HostReason, message: &str, path: &[&str]) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "reason": reason.as_str(), "path": path } }] });
    error_with_body(status, reason, axum::Json(body))
}

fn refused(refusal: &Refusal) -> Response {
    errors(refusal.status, refusal.reason, &refusal.message, &[])
}

fn denied(d: &Denied) -> Response {
    let status = StatusCode::from_u16(d.status).unwrap_or(StatusCode::FORBIDDEN);
    let reason = HostReason::from_wire(d.reason())
        .unwrap_or(HostReason::Decision(verifier_core::Reason::NotGranted));
    error_with_body(status, reason, axum::Json(d.body()))
}

/// The GraphQL request of a `GET`: `query`, `variables` (JSON) and
/// `operationName` from the query string.
fn from_query(query: Option<&str>) -> Result<GraphqlRequest, String> {
    let mut document = None;
    let mut variables = None;
    let mut operation_name = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let slot = match k.as_ref() {
            "query" => &mut document,
            "variables" => &mut variables,
            "operationName" => &mut operation_name,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(format!("{k} is given twice"));
        }
    }
    let variables = match variables {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| format!("variables is not a JSON object: {e}"))?,
        ),
        None => None,
    };
    Ok(GraphqlRequest {
        query: document.ok_or("a GET needs ?query=")?,
        variables,
        operation_name,
        extensions: None,
    })
}

/// `GET /v2/{projectId}/{environment}?query=…`: [`graphql`] for queries.
#[utoipa::path(get, path = "/v2/{projectId}/{environment}",
    summary = "GraphQL content API by GET: queries only, as POST otherwise",
    security(("appToken" = []), ()),
    params(("projectId" = String, Path), ("environment" = String, Path),
        ("query" = String, Query, description = "The document"),
        ("variables" = Option<String>, Query, description = "Its variables, a JSON object"),
        ("operationName" = Option<String>, Query)),
    responses(
        (status = 200, description = "The upstream's answer, held to the decisions (any status)"),
        (status = 400, description = "Not a GraphQL request the gateway takes", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 401, description = "No valid credentials", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 403, description = "A root field is denied (extensions.path names it)", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 404, description = "No such environment in this project, or no upstream", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 405, description = "A mutation by GET", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 429, description = "Throttled", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 502, description = "The upstream could not be reached, or its answer is not JSON", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 503, description = "The verifier plugin failed: denied (reason verifier_failed)", body = crate::authority::schema::GraphqlErrorsSchema)))]
pub(crate) async fn graphql_get(
    state: State<Arc<AppState>>,
    addr: ConnectInfo<SocketAddr>,
    path: Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    graphql(state, addr, path, request).await
}

/// `/v2/{projectId}/{environment}` (see the module docs).
#[utoipa::path(post, path = "/v2/{projectId}/{environment}",
    summary = "GraphQL content API: every root field checked, filters and masking enforced, then forwarded to --upstream",
    description = "Also GET with ?query=&variables=&operationName= (queries only).",
    security(("appToken" = []), ()),
    params(("projectId" = String, Path), ("environment" = String, Path)),
    request_body = inline(crate::authority::schema::GraphqlRequest),
    responses(
        (status = 200, description = "The upstream's answer, held to the decisions (any status)"),
        (status = 400, description = "Not a GraphQL request the gateway takes: invalid_document, document_too_large, document_too_deep, too_many_root_fields, too_many_aliases or bad_request", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 401, description = "No valid credentials", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 403, description = "A root field is denied (extensions.path names it): not_granted, unknown_field, masked_field, not_your_row, …", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 404, description = "No such environment in this project, or no upstream", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 405, description = "A mutation by GET", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 429, description = "Throttled: too many failed verifications from this address", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 502, description = "The upstream could not be reached, or its answer is not JSON", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 503, description = "The verifier plugin failed: denied (reason verifier_failed)", body = crate::authority::schema::GraphqlErrorsSchema)))]
pub(crate) async fn graphql(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path((project, environment)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Some(upstream) = state.upstream.as_ref() else {
        return errors(
            StatusCode::NOT_FOUND,
            HostReason::NotFound,
            "no upstream is configured (tally serve --upstream URL)",
            &[],
        );
    };
    let graphql = if parts.method == Method::GET {
        from_query(parts.uri.query())
    } else {
        match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => serde_json::from_slice::<GraphqlRequest>(&bytes).map_err(|e| {
                format!(
                    "the body is not a GraphQL request ({{ query, variables, operationName }}): {e}"
                )
            }),
            Err(_) => {
                return errors(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    HostReason::TooLarge,
                    "the request body is too large",
                    &[],
                );
            }
        }
    };
    let graphql = match graphql {
        Ok(g) => g,
        Err(message) => {
            return errors(
                StatusCode::BAD_REQUEST,
                HostReason::BadRequest,
                &message,
                &[],
            );
        }
    };
    // From memory when the store's cache holds it; else on the blocking
    // pool.
    let records = Arc::clone(state.authority.records());
    let known = records.peek_environment(&environment);
    let env_id = environment.clone();
    let row = match known {
        Some(row) => Ok(Ok(row)),
        None => tokio::task::spawn_blocking(move || records.environment(&env_id)).await,
    };
    let row = match row {
        Ok(Ok(row)) => row,
        _ => {
            return errors(
                StatusCode::INTERNAL_SERVER_ERROR,
                HostReason::Internal,
                "internal error",
                &[],
            );
        }
    };
    let Some(row) = row.filter(|r| r.project_id == project || r.project_id.is_empty()) else {
        return errors(
            StatusCode::NOT_FOUND,
            HostReason::NotFound,
            "no such environment in this project",
            &[],
        );
    };
    let now = state.authority.now();
    let stage = match value_str(parts.headers.get(&X_TALLY_STAGE), &X_TALLY_STAGE) {
        Ok(stage) => stage.map(String::from),
        Err(e) => return refused(&super::check::refusal(&state, e)),
    };
    let locales = parts
        .headers
        .get(X_TALLY_LOCALE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let options = Options {
        stage,
        locales,
        introspection: state.graphql_introspection,
        now,
    };
    let policy = policy(&row);
    let plan = match PLANS.with(|cache| cache.borrow_mut().plan_shared(&graphql, &policy, &options))
    {
        Ok(plan) => plan,
        Err(Stop::Refused(r)) => {
            let reason = HostReason::from_wire(r.reason()).unwrap_or(HostReason::InvalidDocument);
            return errors(StatusCode::BAD_REQUEST, reason, &r.to_string(), &[]);
        }
        Err(Stop::Denied(d)) => return denied(&d),
    };
    if parts.method == Method::GET
        && plan.document.kind != content_gate::document::OperationKind::Query
    {
        return errors(
            StatusCode::METHOD_NOT_ALLOWED,
            HostReason::MethodNotAllowed,
            "mutations are sent with POST",
            &[],
        );
    }
    let authorized = match decide(&state, addr, &parts, now, &plan).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let reason = authorized.reason;
    let authorized = authorized.authorized;
    let masked: Vec<String> = authorized
        .fields
        .iter()
        .flat_map(|f| f.masked.clone())
        .collect();
    let headers = || DecisionHeaders::enforced(authorized.principal.as_deref(), &masked, reason);
    let path = format!("/v2/{project}/{environment}");
    if let Some(preflight) = &authorized.preflight {
        let body = json!({ "query": preflight });
        let answer = match post_json(&state, upstream, addr, &parts, &path, &body, headers()).await
        {
            Ok((_, answer)) => answer,
            Err(response) => return response,
        };
        if let Err(d) = authorized.check_preflight(&answer) {
            return denied(&d);
        }
    }
    let (status, answer) = match post_json(
        &state,
        upstream,
        addr,
        &parts,
        &path,
        &authorized.body(),
        headers(),
    )
    .await
    {
        Ok(answered) => answered,
        Err(response) => return response,
    };
    let (answer, _) = authorized.finish(answer);
    let mut response = Response::new(Body::from(answer.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .extensions_mut()
        .insert(crate::http::UpstreamAnswer);
    response
}

/// `plan`'s checks decided for the request's `Authorization` and
/// authorized: from this thread's memo when the same header came with the
/// same plan and the store still hands out the same rows (`memo.rs`), else
/// each check by the plugin on the blocking pool.
async fn decide(
    state: &Arc<AppState>,
    addr: SocketAddr,
    parts: &axum::http::request::Parts,
    now: i64,
    plan: &Arc<Plan>,
) -> Result<Decided, Response> {
    let header = authorization(&parts.headers);
    let plugin = state.verifier.plugin();
    let key = state
        .decision_memo
        .then(|| memo::PlanKey::new(plugin.id(), header.as_bytes(), plan));
    if let Some(key) = &key {
        let store = state.authority.records().as_ref();
        let environment_id = Some(plan.environment.id.as_str());
        if let Some(operation) =
            memo::recall_operation(key, |rows| rows.current(store, environment_id))
        {
            for reason in &operation.reasons {
                state.metrics.memo_hit();
                state.metrics.decision(*reason);
            }
            return Ok(Decided::of(operation));
        }
    }
    let requests = plan.requests().cloned().collect();
    let client = || state.trusted_proxies.client(addr, &parts.headers);
    let (decided, rows) = decisions(state, plugin, client, header, now, requests)
        .await
        .map_err(|refusal| refused(&refusal))?;
    let authorized = plan.authorize(&decided).map_err(|d| denied(&d))?;
    let operation = memo::Operation {
        reasons: decided.iter().map(|d| d.reason).collect(),
        authorized,
    };
    if let (Some(key), Some(rows)) = (key, rows) {
        memo::remember_operation(key, rows, operation.clone());
    }
    Ok(Decided::of(operation))
}

/// An operation allowed: the first check's reason and what was authorized.
struct Decided {
    reason: verifier_core::Reason,
    authorized: Arc<content_gate::Authorized>,
}

impl Decided {
    fn of(operation: memo::Operation) -> Self {
        Decided {
            reason: operation
                .reasons
                .first()
                .copied()
                .unwrap_or(verifier_core::Reason::Allowed),
            authorized: operation.authorized,
        }
    }
}

/// Sends `body` as JSON to the upstream at `path` with the client's
/// forwardable headers and the decision's; the answer's status and JSON.
async fn post_json(
    state: &AppState,
    upstream: &Upstream,
    addr: SocketAddr,
    original: &axum::http::request::Parts,
    path: &str,
    body: &Value,
    allowed: DecisionHeaders,
) -> Result<(StatusCode, Value), Response> {
    let bad_gateway = |reason, message: &str| errors(StatusCode::BAD_GATEWAY, reason, message, &[]);
    let Ok(uri) = format!("{}{path}", upstream.base).parse::<Uri>() else {
        return Err(bad_gateway(
            HostReason::BadGateway,
            "cannot form the upstream URL",
        ));
    };
    let mut request = axum::http::Request::new(Body::from(body.to_string()));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    *request.headers_mut() = original.headers.clone();
    let headers = request.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::ACCEPT_ENCODING);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let (parts, body) = request.into_parts();
    let Some(response) = send(state, upstream, addr, parts, body, Some(allowed)).await else {
        return Err(bad_gateway(
            HostReason::BadGateway,
            "the upstream could not be reached",
        ));
    };
    let status = response.status();
    let Ok(bytes) = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES).await else {
        return Err(bad_gateway(
            HostReason::UnreadableAnswer,
            "the upstream's answer is too large to hold to the decisions",
        ));
    };
    match serde_json::from_slice(&bytes) {
        Ok(answer) => Ok((status, answer)),
        Err(_) => Err(bad_gateway(
            HostReason::UnreadableAnswer,
            "the upstream's answer is not JSON; it is not passed on unchecked",
        )),
    }
}
