//! The HTTP API (axum): routes, the server ([`Server`], [`ServerLimits`]:
//! timeouts and the connection cap), the client's address
//! ([`TrustedProxies`]), errors ([`error_response`]: every one JSON with a
//! reason).
//!
//! Handlers are thin: extract, call one [`Authority`] method on the blocking
//! pool (storage is synchronous), answer JSON. The API reference is
//! `host/API.md`; the OpenAPI document is served at `/v1/openapi.json`.
//!
//! The management API is served twice: at `/v1/…` for tokens, and at
//! `/studio/api/v1/…` for the studio, the only place where its session
//! cookie (scoped to `Path=/studio`) is read.

mod apps;
mod client;
mod error;
mod extract;
mod feed;
mod models;
mod oauth;
pub mod openapi;
mod server;
mod tls;
mod users;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use verifier_core::{Grant, InstallationUpdate};

pub use client::TrustedProxies;
pub use error::{ApiError, ErrorBody, UpstreamAnswer, error_response, error_with_body};
use extract::{Admin, Authed, Developer, RawBody, Replica, SomeAdmin, Viewer};
pub(crate) use extract::{JsonBody, JsonList};
pub use server::{Server, ServerLimits};
pub use tls::{Tls, TlsError};

use crate::authority::{
    Authority, AuthorityError, Caller, GrantsDecision, Need, NewEnvironment, NewInstallation,
    NewProject, NewToken, On,
};
use crate::gateway::throttle::Throttle;
use crate::gateway::{self, Upstream};
use crate::metrics::Metrics;
use crate::runtime::Verifier;

/// Largest request body, bytes (413 beyond).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What every handler shares.
pub struct AppState {
    /// The authority.
    pub authority: Arc<Authority>,
    /// Counters.
    pub metrics: Metrics,
    /// The verifier plugin.
    pub verifier: Arc<Verifier>,
    /// Where the plugin was loaded from (`None`: the embedded module).
    pub plugin_path: Option<PathBuf>,
    /// Failed-verification throttle.
    pub throttle: Throttle,
    /// The gateway's upstream, if any.
    pub upstream: Option<Upstream>,
    /// The platform's management endpoint, if any (`/v1/management`).
    pub management_upstream: Option<Upstream>,
    /// Records and environments in the verifier's prepared form.
    pub(crate) prepared: crate::gateway::PreparedRows,
    /// Whether checks repeated within a second are answered from the
    /// worker's memo of allowed decisions (`gateway/memo.rs`).
    pub(crate) decision_memo: bool,
    /// Peers whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// GraphQL introspection through `/v2/…` open to every caller
    /// (`--graphql-introspection`); else a grant of the action `introspect`.
    pub graphql_introspection: bool,
    /// How people and admin tokens sign in to the studio.
    pub sign_in: crate::studio::SignInOptions,
}

/// How the verify path and the gateway are set up.
pub struct Options {
    /// The verifier plugin.
    pub verifier: Arc<Verifier>,
    /// Where the plugin was loaded from, for reloads (`None`: embedded).
    pub plugin_path: Option<PathBuf>,
    /// Failures per address within the window before 429 (0: off).
    pub throttle_failures: u32,
    /// The throttle's window, seconds.
    pub throttle_window: i64,
    /// The gateway's upstream base URL.
    pub upstream: Option<String>,
    /// The platform's management GraphQL endpoint, a full URL.
    pub management_upstream: Option<String>,
    /// Answer a check repeated within the same second (same `Authorization`,
    /// request, rows and plugin) with the allowed decision the plugin gave
    /// it, without calling the plugin again. Sound for any plugin that keeps
    /// no state between calls, as ABI.md requires.
    pub decision_memo: bool,
    /// Peers whose `Forwarded` / `X-Forwarded-For` name the client
    /// (`--trusted-proxy`); none by default.
    pub trusted_proxies: TrustedProxies,
    /// Open GraphQL introspection at `/v2/…` to every caller.
    pub graphql_introspection: bool,
    /// How people and admin tokens sign in to the studio.
    pub sign_in: crate::studio::SignInOptions,
}

impl Options {
    /// The embedded plugin, throttling at 50 failures a minute, no upstream,
    /// the decision memo on.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        Options {
            verifier,
            plugin_path: None,
            throttle_failures: 50,
            throttle_window: 60,
            upstream: None,
            management_upstream: None,
            decision_memo: true,
            trusted_proxies: TrustedProxies::default(),
            graphql_introspection: false,
            sign_in: crate::studio::SignInOptions::default(),
        }
    }
}

impl AppState {
    /// Reloads the plugin from where it was loaded (the embedded module when
    /// none was given). A plugin that does not load leaves the current one.
    pub fn reload_plugin(&self) -> Result<(), String> {
        let bytes = match &self.plugin_path {
            Some(path) => {
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
            None => crate::runtime::DEFAULT_MODULE.to_vec(),
        };
        self.verifier.reload(&bytes).map_err(|e| e.to_string())
    }
}

/// Runs an authority call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Authority) -> Result<T, AuthorityError> + Send + 'static,
) -> Result<T, ApiError> {
    let authority = Arc::clone(&state.authority);
    tokio::task::spawn_blocking(move || f(&authority))
        .await
        .map_err(|e| ApiError(AuthorityError::Internal(format!("task failed: {e}"))))?
        .map_err(ApiError)
}

/// The router with every route of the API, and the state it shares (for
/// signal handlers that reload the plugin).
pub fn router(authority: Arc<Authority>, options: Options) -> (Router, Arc<AppState>) {
    let state = Arc::new(AppState {
        authority,
        metrics: Metrics::default(),
        verifier: options.verifier,
        plugin_path: options.plugin_path,
        throttle: Throttle::new(options.throttle_failures, options.throttle_window),
        upstream: options.upstream.as_deref().map(Upstream::new),
        management_upstream: options.management_upstream.as_deref().map(Upstream::new),
        prepared: Default::default(),
        decision_memo: options.decision_memo,
        trusted_proxies: options.trusted_proxies,
        graphql_introspection: options.graphql_introspection,
        sign_in: options.sign_in,
    });
    let studio_api = management()
        .layer(middleware::from_fn(extract::mark_studio))
        .fallback(not_found);
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .merge(management())
        .nest("/studio/api", studio_api)
        .route("/v1/app-exchange-token", post(exchange))
        .route("/v1/oauth/token", post(oauth::token))
        .route("/v1/oauth/revoke", post(oauth::revoke))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
        .route("/v1/verify", get(gateway::verify))
        // Envoy's ext_authz (HTTP) form: the original method, the original
        // path after the check's (`gateway/forwarded.rs`).
        .route(
            "/v1/verify/{*path}",
            get(gateway::verify_envoy)
                .post(gateway::verify_envoy)
                .put(gateway::verify_envoy)
                .patch(gateway::verify_envoy)
                .delete(gateway::verify_envoy),
        )
        .route("/v1/management", post(gateway::management))
        .route(
            "/v2/{p}/{e}",
            post(gateway::graphql).get(gateway::graphql_get),
        )
        // `/v1/content/{environment}/{model}[/{id}]`, read from the raw path
        // by the gateway itself: any other path under the prefix (`a/../b`
        // and the like) is its to refuse as ambiguous, not a plain 404.
        .route("/v1/content/{*rest}", any(gateway::proxy))
        .merge(crate::studio::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(error::header_limits))
        .layer(TraceLayer::new_for_http())
        // Outermost, so every response is counted.
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            count_responses,
        ))
        .with_state(Arc::clone(&state));
    (router, state)
}

/// The management API's routes (admin or replica callers, or an
/// installation's own tokens), served at `/v1/…` and under `/studio/api`.
fn management() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/projects", post(create_project).get(list_projects))
        .route("/v1/projects/{p}/environments", post(create_environment))
        .route("/v1/environments/{e}/public-grants", put(set_public_grants))
        .route("/v1/environments/{e}/models", get(models::list_models))
        .route(
            "/v1/environments/{e}/models/{m}",
            get(models::get_model)
                .put(models::put_model)
                .delete(models::delete_model),
        )
        .route("/v1/apps", post(apps::create_app).get(apps::list_apps))
        .route(
            "/v1/apps/{id}",
            get(apps::get_app)
                .patch(apps::edit_app)
                .delete(apps::delete_app),
        )
        .route(
            "/v1/apps/{id}/client-secret/rotate",
            post(apps::rotate_client_secret),
        )
        .route("/v1/apps/{id}/grants", put(apps::publish_grants))
        .route(
            "/v1/apps/{id}/webhook-secret/rotate",
            post(apps::rotate_webhook_secret),
        )
        .route("/v1/apps/{id}/deliveries", get(apps::deliveries))
        .route(
            "/v1/apps/{id}/deliveries/{d}/retry",
            post(apps::retry_delivery),
        )
        .route("/v1/installations", get(list_installations))
        .route("/v1/records", get(feed::feed))
        .route("/v1/records/snapshot", get(feed::snapshot))
        .route("/v1/records/{t}", get(token_record))
        .route("/v1/environments/{e}/record", get(environment_record))
        .route("/v1/environments/{e}/installations", post(install))
        .route(
            "/v1/installations/{i}",
            get(get_installation)
                .patch(update_installation)
                .delete(uninstall),
        )
        .route("/v1/installations/{i}/grants/approve", post(approve_grants))
        .route("/v1/installations/{i}/grants/decline", post(decline_grants))
        .route("/v1/installations/{i}/session-token", post(session_token))
        .route(
            "/v1/installations/{i}/elements",
            axum::routing::patch(set_installation_elements),
        )
        .route("/v1/installations/{i}/setup-code", post(new_setup_code))
        .route("/v1/tokens", post(create_token).get(list_tokens))
        .route("/v1/tokens/{t}", axum::routing::delete(revoke_token))
        .route("/v1/tokens/{t}/rotate", post(rotate_token))
        .route("/v1/audit", get(audit))
        .route("/v1/users", get(users::list_users))
        .route("/v1/users/{id}/role", put(users::set_role))
        .route(
            "/v1/invitations",
            post(users::invite).get(users::list_invitations),
        )
        .route("/v1/connections", get(oauth::connections))
        .route(
            "/v1/connections/{id}",
            axum::routing::delete(oauth::end_connection),
        )
        .route(
            "/v1/invitations/{id}",
            axum::routing::delete(users::revoke_invitation),
        )
        .route("/v1/plugin/reload", post(reload_plugin))
}

/// Counts every response by status class and route, times it, and writes
/// the access-log line: method, path (never the query, which may carry
/// values a log must not keep), status, latency and reason. Credentials are
/// in headers and bodies, which are never logged.
async fn count_responses(
    State(state): State<Arc<AppState>>,
    req: axum::extract::Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state.metrics.response(status);
    state
        .metrics
        .latency(crate::metrics::route_of(&path), elapsed);
    let reason = response
        .headers()
        .get(error::REASON_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info!(
        target: "tally::access",
        method = %method,
        path = %path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        reason,
        "request"
    );
    response
}

async fn not_found() -> ApiError {
    ApiError(AuthorityError::NotFound("route"))
}

#[utoipa::path(get, path = "/healthz", summary = "Liveness and storage check", security(()),
    responses((status = 200, description = "ok")))]
async fn healthz(State(state): State<Arc<AppState>>) -> Result<&'static str, ApiError> {
    blocking(&state, |a| {
        a.store()?.project("").map_err(AuthorityError::from)
    })
    .await?;
    Ok("ok")
}

#[utoipa::path(get, path = "/readyz", summary = "Readiness: 204 when storage answers and the verifier plugin is loaded, else 503", security(()),
    responses((status = 204, description = "ready"),
        (status = 503, description = "not ready: storage unreachable, or no plugin", body = ErrorBody)))]
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let storage = blocking(&state, |a| {
        a.store()?.project("").map_err(AuthorityError::from)
    })
    .await;
    let plugin = state.verifier.is_loaded();
    match (storage, plugin) {
        (Ok(_), true) => StatusCode::NO_CONTENT.into_response(),
        (Err(_), _) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            crate::reason::Reason::Internal,
            "not ready: storage does not answer",
        ),
        (_, false) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            crate::reason::Reason::VerifierFailed,
            "not ready: no verifier plugin is loaded",
        ),
    }
}

#[utoipa::path(get, path = "/livez", summary = "Liveness: 204, touching nothing", security(()),
    responses((status = 204, description = "alive")))]
async fn livez() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[utoipa::path(get, path = "/metrics", summary = "Prometheus metrics", security(()),
    responses((status = 200, description = "text exposition")))]
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[utoipa::path(get, path = "/v1/openapi.json", summary = "This document", security(()),
    responses((status = 200, description = "OpenAPI 3.1")))]
async fn openapi() -> Response {
    let mut response = openapi::served().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

type Answer<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

#[utoipa::path(post, path = "/v1/projects", summary = "Create a project", request_body = NewProject,
    responses((status = 201, description = "Created", body = crate::authority::ProjectView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody)))]
async fn create_project(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
    JsonBody(body): JsonBody<NewProject>,
) -> Created<crate::authority::ProjectView> {
    let project = blocking(&s, move |a| a.create_project(&actor, body)).await?;
    Ok((StatusCode::CREATED, Json(project)))
}

#[utoipa::path(post, path = "/v1/projects/{p}/environments", summary = "Create an environment",
    params(("p" = String, Path)), request_body = NewEnvironment,
    responses((status = 201, description = "Created", body = crate::authority::EnvironmentView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody)))]
async fn create_environment(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<NewEnvironment>,
) -> Created<crate::authority::EnvironmentView> {
    let env = blocking(&s, move |a| a.create_environment(&actor, &project, body)).await?;
    Ok((StatusCode::CREATED, Json(env)))
}

#[utoipa::path(put, path = "/v1/environments/{e}/public-grants", summary = "Replace public grants",
    params(("e" = String, Path)), request_body = inline(crate::authority::schema::PublicGrants),
    responses((status = 200, description = "OK", body = inline(crate::authority::schema::GrantList)),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn set_public_grants(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
    Path(env): Path<String>,
    JsonList(grants): JsonList<Vec<Grant>>,
) -> Answer<Vec<Grant>> {
    Ok(Json(
        blocking(&s, move |a| a.set_public_grants(&actor, &env, grants)).await?,
    ))
}

#[utoipa::path(post, path = "/v1/environments/{e}/installations", summary = "Install an app: PENDING + setup code",
    params(("e" = String, Path)), request_body = NewInstallation,
    responses((status = 201, description = "Created", body = crate::authority::Installed),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn install(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path(env): Path<String>,
    JsonBody(body): JsonBody<NewInstallation>,
) -> Created<crate::authority::Installed> {
    let installed = blocking(&s, move |a| a.install(&actor, &env, body)).await?;
    Ok((StatusCode::CREATED, Json(installed)))
}

#[utoipa::path(get, path = "/v1/installations/{i}", summary = "Read an installation (admin or its own tokens)",
    params(("i" = String, Path)),
    responses((status = 200, description = "OK", body = crate::authority::schema::InstallationSchema),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn get_installation(
    State(s): State<Arc<AppState>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Answer<crate::authority::InstallationView> {
    Ok(Json(
        blocking(&s, move |a| a.installation(&caller, &id)).await?,
    ))
}

#[utoipa::path(patch, path = "/v1/installations/{i}", summary = "Update status/config (admin or its own tokens)",
    params(("i" = String, Path)), request_body = crate::authority::schema::InstallationUpdateSchema,
    responses((status = 200, description = "OK", body = crate::authority::schema::InstallationSchema),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody)))]
async fn update_installation(
    State(s): State<Arc<AppState>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    JsonBody(update): JsonBody<InstallationUpdate>,
) -> Answer<crate::authority::InstallationView> {
    Ok(Json(
        blocking(&s, move |a| a.update_installation(&caller, &id, update)).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/installations/{i}", summary = "Uninstall: tokens revoked, codes spent, config erased; kept as UNINSTALLED",
    params(("i" = String, Path)),
    responses((status = 200, description = "Uninstalled (or was already)", body = crate::authority::schema::InstallationSchema),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn uninstall(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path(id): Path<String>,
) -> Answer<crate::authority::InstallationView> {
    Ok(Json(blocking(&s, move |a| a.uninstall(&actor, &id)).await?))
}

#[utoipa::path(post, path = "/v1/installations/{i}/grants/approve", summary = "Approve the app's requested grants: the installation and its live tokens move at once",
    params(("i" = String, Path)), request_body = GrantsDecision,
    responses((status = 200, description = "Approved", body = crate::authority::schema::InstallationSchema),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "No update requested, another version requested, or uninstalled", body = ErrorBody)))]
async fn approve_grants(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<GrantsDecision>,
) -> Answer<crate::authority::InstallationView> {
    Ok(Json(
        blocking(&s, move |a| a.approve_grants(&actor, &id, body)).await?,
    ))
}

#[utoipa::path(post, path = "/v1/installations/{i}/grants/decline", summary = "Decline the app's requested grants: nothing moves",
    params(("i" = String, Path)), request_body = GrantsDecision,
    responses((status = 200, description = "Declined", body = crate::authority::schema::InstallationSchema),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "No update requested, another version requested, or uninstalled", body = ErrorBody)))]
async fn decline_grants(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<GrantsDecision>,
) -> Answer<crate::authority::InstallationView> {
    Ok(Json(
        blocking(&s, move |a| a.decline_grants(&actor, &id, body)).await?,
    ))
}

#[utoipa::path(post, path = "/v1/installations/{i}/session-token", summary = "A SESSION token for the app frame (1 h)",
    params(("i" = String, Path)),
    responses((status = 201, description = "Created", body = crate::authority::IssuedTokenView),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody)))]
async fn session_token(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path(id): Path<String>,
) -> Created<crate::authority::IssuedTokenView> {
    let token = blocking(&s, move |a| a.session_token(&actor, &id)).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

#[utoipa::path(patch, path = "/v1/installations/{i}/elements", summary = "Turn the app's elements on or off in this installation ({ <apiId>: true | false })",
    params(("i" = String, Path)),
    request_body(content = inline(crate::authority::schema::ElementSwitches)),
    responses((status = 200, description = "OK", body = crate::authority::schema::InstallationSchema),
        (status = 400, description = "Not one of the app's elements", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Uninstalled", body = ErrorBody)))]
async fn set_installation_elements(
    State(s): State<Arc<AppState>>,
    Developer(caller): Developer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<std::collections::BTreeMap<String, bool>>,
) -> Answer<crate::authority::InstallationView> {
    Ok(Json(
        blocking(&s, move |a| a.set_installation_elements(&caller, &id, body)).await?,
    ))
}

#[utoipa::path(post, path = "/v1/installations/{i}/setup-code", summary = "A fresh setup code for a PENDING installation",
    params(("i" = String, Path)),
    responses((status = 201, description = "Created", body = crate::authority::SetupCodeView),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody)))]
async fn new_setup_code(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path(id): Path<String>,
) -> Created<crate::authority::SetupCodeView> {
    let code = blocking(&s, move |a| a.new_code(&actor, &id)).await?;
    Ok((StatusCode::CREATED, Json(code)))
}

#[utoipa::path(post, path = "/v1/tokens", summary = "Create a PAT or SYSTEM token (shown once)", request_body = NewToken,
    responses((status = 201, description = "Created", body = crate::authority::IssuedTokenView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn create_token(
    State(s): State<Arc<AppState>>,
    SomeAdmin(caller): SomeAdmin,
    JsonBody(body): JsonBody<NewToken>,
) -> Created<crate::authority::IssuedTokenView> {
    let token = blocking(&s, move |a| a.create_token(&caller, body)).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

#[utoipa::path(get, path = "/v1/projects", summary = "List projects with their environments",
    responses((status = 200, description = "OK", body = [crate::authority::ProjectListing])))]
async fn list_projects(
    State(s): State<Arc<AppState>>,
    Viewer(caller): Viewer,
) -> Answer<Vec<crate::authority::ProjectListing>> {
    Ok(Json(blocking(&s, move |a| a.projects(&caller)).await?))
}

#[utoipa::path(get, path = "/v1/installations", summary = "List installations",
    responses((status = 200, description = "OK", body = [crate::authority::schema::InstallationSchema])))]
async fn list_installations(
    State(s): State<Arc<AppState>>,
    Viewer(caller): Viewer,
) -> Answer<Vec<crate::authority::InstallationView>> {
    Ok(Json(blocking(&s, move |a| a.installations(&caller)).await?))
}

#[utoipa::path(get, path = "/v1/records/{t}", summary = "A token's verifier record (for edges and replicas) (admin or management replica grant)",
    params(("t" = String, Path)),
    responses((status = 200, description = "OK", body = crate::authority::schema::TokenRecordSchema),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn token_record(
    State(s): State<Arc<AppState>>,
    _: Replica,
    Path(t): Path<String>,
) -> Answer<verifier_core::TokenRecord> {
    Ok(Json(blocking(&s, move |a| a.record(&t)).await?))
}

#[utoipa::path(get, path = "/v1/environments/{e}/record", summary = "An environment's verifier record (admin or management replica grant)",
    params(("e" = String, Path)),
    responses((status = 200, description = "OK", body = crate::authority::schema::EnvironmentRecordSchema),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn environment_record(
    State(s): State<Arc<AppState>>,
    _: Replica,
    Path(e): Path<String>,
) -> Answer<verifier_core::Environment> {
    Ok(Json(blocking(&s, move |a| a.environment_record(&e)).await?))
}

#[utoipa::path(get, path = "/v1/tokens", summary = "List tokens (metadata only)",
    responses((status = 200, description = "OK", body = [crate::authority::TokenView])))]
async fn list_tokens(
    State(s): State<Arc<AppState>>,
    Viewer(caller): Viewer,
) -> Answer<Vec<crate::authority::TokenView>> {
    Ok(Json(blocking(&s, move |a| a.tokens(&caller)).await?))
}

#[utoipa::path(delete, path = "/v1/tokens/{t}", summary = "Revoke a token",
    params(("t" = String, Path)),
    responses((status = 200, description = "OK", body = crate::authority::TokenView),
        (status = 404, description = "Not found", body = ErrorBody)))]
async fn revoke_token(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
    Path(id): Path<String>,
) -> Answer<crate::authority::TokenView> {
    Ok(Json(
        blocking(&s, move |a| a.revoke_token(&actor, &id)).await?,
    ))
}

#[utoipa::path(post, path = "/v1/tokens/{t}/rotate", summary = "Rotate a token",
    params(("t" = String, Path)),
    responses((status = 201, description = "Created", body = crate::authority::IssuedTokenView),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not rotated: the token is revoked (token_revoked), expired (token_expired) or rotated already (token_rotated: rotate its successor)", body = ErrorBody)))]
async fn rotate_token(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
    Path(id): Path<String>,
) -> Created<crate::authority::IssuedTokenView> {
    let token = blocking(&s, move |a| a.rotate_token(&actor, &id)).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

#[utoipa::path(post, path = "/v1/plugin/reload", summary = "Reload the verifier plugin (admin)",
    responses((status = 200, description = "Reloaded", body = inline(crate::authority::schema::Reloaded)),
        (status = 400, description = "The plugin does not load; the current one stays", body = ErrorBody)))]
async fn reload_plugin(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
) -> Response {
    let state = Arc::clone(&s);
    match tokio::task::spawn_blocking(move || state.reload_plugin()).await {
        Ok(Ok(())) => {
            tracing::info!(actor = actor.as_str(), "verifier plugin reloaded");
            Json(serde_json::json!({ "reloaded": true })).into_response()
        }
        Ok(Err(message)) => ApiError::bad_request(message).into_response(),
        Err(e) => ApiError(AuthorityError::Internal(e.to_string())).into_response(),
    }
}

/// `?after=&limit=` of `GET /v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditPage {
    /// events with a larger seq
    #[serde(default)]
    #[param(default = 0)]
    after: i64,
    /// at most this many; read as 1 to 1000
    #[param(default = 100, format = Int64, minimum = 0, maximum = 4294967295_u32)]
    limit: Option<u32>,
    /// only actions starting with this (`app.` keeps every app action)
    action: Option<String>,
    /// only this actor (`token:<id>`, `client:<id>`, `cli`)
    actor: Option<String>,
    /// only this target id
    target: Option<String>,
    /// only what this person (`usr_…`) did, themselves or through an app
    user: Option<String>,
}

#[utoipa::path(get, path = "/v1/audit", summary = "Audit log, oldest first",
    params(AuditPage),
    responses((status = 200, description = "OK", body = [crate::storage::AuditEvent]),
        (status = 400, description = "Bad input", body = ErrorBody)))]
async fn audit(
    State(s): State<Arc<AppState>>,
    Viewer(caller): Viewer,
    Query(page): Query<AuditPage>,
) -> Answer<Vec<crate::storage::AuditEvent>> {
    Ok(Json(
        blocking(&s, move |a| {
            a.require(&caller, Need::View, &On::Instance)?;
            let filter = crate::storage::AuditFilter {
                action: page.action,
                actor: page.actor,
                target: page.target,
                user: page.user,
            };
            a.audit_log(page.after, page.limit, &filter)
        })
        .await?,
    ))
}

/// `POST /v1/app-exchange-token`. Wrong client credentials count against
/// the caller's address in the throttle; a throttled address gets 429 for
/// a wrong secret (never for a right one).
#[utoipa::path(post, path = "/v1/app-exchange-token", summary = "Exchange a setup code for an app token", security(()),
    request_body = crate::authority::schema::ExchangeRequestSchema,
    responses((status = 200, description = "OK", body = crate::authority::schema::ExchangeResponseSchema),
        (status = 400, description = "Bad body (names the missing fields)", body = ErrorBody),
        (status = 401, description = "Bad client credentials", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 410, description = "The code was used (code_used), has expired (code_expired), or its installation is no longer PENDING (installation_not_pending)", body = ErrorBody),
        (status = 429, description = "Throttled (reason throttled): too many failed credential checks from this address; a request with good credentials is never refused for it", body = ErrorBody)))]
async fn exchange(
    State(s): State<Arc<AppState>>,
    client: extract::ClientIp,
    RawBody(body): RawBody,
) -> Answer<verifier_core::exchange::ExchangeResponse> {
    let result = blocking(&s, move |a| a.exchange(&body)).await;
    s.metrics.exchange(result.is_ok());
    let result = result.map_err(|e| extract::throttle_failure(&s, client.0, e));
    Ok(Json(result?))
}

/// Binds `addr`.
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
