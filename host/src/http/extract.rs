//! Extractors: the caller's address and token, and JSON bodies whose
//! errors are ours.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, MatchedPath, RawPathParams, Request,
};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use verifier_core::Reason as Decision;

use super::{ApiError, AppState, blocking};
use crate::authority::{Authority, AuthorityError, Caller, Need, On, Presented};
use crate::reason::Reason;

/// Marks a request that came in under `/studio/api`: only there does the
/// studio's session cookie stand for credentials.
#[derive(Debug, Clone, Copy)]
struct StudioRequest;

/// Middleware of the `/studio/api` routes: marks their requests.
pub(super) async fn mark_studio(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(StudioRequest);
    next.run(request).await
}

/// The client's address: the peer's, or the one a trusted proxy names
/// ([`super::TrustedProxies`]). Unknown (unspecified) for a request that
/// did not come through a server (in-process tests).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<Arc<AppState>> for ClientIp {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        Ok(ClientIp(client_ip(parts, state)))
    }
}

fn client_ip(parts: &Parts, state: &AppState) -> IpAddr {
    match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => state.trusted_proxies.client(*peer, &parts.headers),
        None => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// Counts a failed credential check of `client` in the throttle; a client
/// already over the threshold gets [`AuthorityError::Throttled`] instead of
/// the error. Other errors (and missing credentials) pass unchanged.
pub(super) fn throttle_failure(state: &AppState, client: IpAddr, e: ApiError) -> ApiError {
    let failed = match &e.0 {
        AuthorityError::Unauthorized { reason, .. } => {
            *reason != Reason::Decision(Decision::MissingCredentials)
        }
        _ => false,
    };
    if !failed {
        return e;
    }
    if state.throttle.refuse_failure(client, state.authority.now()) {
        return ApiError(AuthorityError::Throttled);
    }
    e
}

/// The caller's credentials: the `Authorization` value, or else, for a
/// studio request (under `/studio/api`, with the session cookie and
/// `X-Tally-Studio: 1`), its session, which the authority resolves to what
/// it was opened with (an admin token, or a signed-in user). Nothing
/// (`""`) when neither.
fn authorization(parts: &Parts) -> Result<Presented, ApiError> {
    match parts.headers.get(AUTHORIZATION) {
        None => Ok(studio_credentials(parts).unwrap_or(Presented::Header(String::new()))),
        Some(value) => value
            .to_str()
            .map(|v| Presented::Header(v.to_owned()))
            .map_err(|_| {
                ApiError(AuthorityError::Unauthorized {
                    reason: Reason::Decision(Decision::Malformed),
                    message: "Authorization is not valid text".into(),
                })
            }),
    }
}

fn studio_credentials(parts: &Parts) -> Option<Presented> {
    parts.extensions.get::<StudioRequest>()?;
    crate::studio::marked_session(&parts.headers)
}

/// Runs one of the authority's `authenticate*` checks on the caller's
/// credentials (see [`authorization`]), on the blocking pool. Failures
/// count in the throttle ([`throttle_failure`]).
async fn authenticated<T: Send + 'static>(
    parts: &Parts,
    state: &Arc<AppState>,
    check: impl FnOnce(&Authority, &Presented) -> Result<T, AuthorityError> + Send + 'static,
) -> Result<T, ApiError> {
    let client = client_ip(parts, state);
    let result = match authorization(parts) {
        Ok(presented) => blocking(state, move |a| check(a, &presented)).await,
        Err(e) => Err(e),
    };
    result.map_err(|e| throttle_failure(state, client, e))
}

/// What a management call is about, from its route's path parameters:
/// `{p}` a project, `{e}` an environment, `{i}` an installation, `{t}` a
/// token, `{id}` under `/v1/apps` an app; `otherwise` when it names none.
async fn on(parts: &mut Parts, state: &Arc<AppState>, otherwise: On) -> On {
    // The studio serves the same routes under `/studio/api`.
    let under_apps = parts
        .extensions
        .get::<MatchedPath>()
        .is_some_and(|m| m.as_str().contains("/v1/apps/{id}"));
    let Ok(params) = RawPathParams::from_request_parts(parts, state).await else {
        return otherwise;
    };
    for (name, value) in &params {
        let value = value.to_owned();
        match name {
            "p" => return On::Project(value),
            "e" => return On::Environment(value),
            "i" => return On::Installation(value),
            "t" => return On::Token(value),
            "id" if under_apps => return On::App(value),
            _ => {}
        }
    }
    otherwise
}

/// Declares an extractor of a caller that may make calls needing `$need`
/// (a token with the management `admin` grant, or a person whose role in
/// the project the call is about meets it, see `authority::On`; `$else`
/// when the path names nothing).
macro_rules! may {
    ($(#[$doc:meta])* $name:ident, $need:expr, $else:expr) => {
        $(#[$doc])*
        pub struct $name(pub Caller);

        impl FromRequestParts<Arc<AppState>> for $name {
            type Rejection = ApiError;
            async fn from_request_parts(
                parts: &mut Parts,
                state: &Arc<AppState>,
            ) -> Result<Self, ApiError> {
                let on = on(parts, state, $else).await;
                authenticated(parts, state, move |a, p| a.authenticate_for(p, $need, &on))
                    .await
                    .map($name)
            }
        }
    };
}

may!(
    /// A caller that may read (`viewer` and up); a listing (no path
    /// parameter) is open to a person with a role in any project.
    Viewer,
    Need::View,
    On::AnyProject
);
may!(
    /// A caller that may change apps and installations (`developer` and up).
    Developer,
    Need::Develop,
    On::Instance
);
may!(
    /// A caller with the management `admin` grant (or the `admin` role).
    Admin,
    Need::Administer,
    On::Instance
);
may!(
    /// A caller who may make apps somewhere (`developer` in some project);
    /// the project its body names is checked by the authority.
    SomeDeveloper,
    Need::Develop,
    On::AnyProject
);
may!(
    /// A caller who administers some project; the project its body names
    /// is checked by the authority.
    SomeAdmin,
    Need::Administer,
    On::AnyProject
);
may!(
    /// A caller who owns some project; the project its body or path names
    /// is checked by the authority.
    SomeOwner,
    Need::Own,
    On::AnyProject
);

/// A caller that may read token records: management `admin` or `replica`
/// (a person: a viewer of what the path names).
pub struct Replica;

impl FromRequestParts<Arc<AppState>> for Replica {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let on = on(parts, state, On::Instance).await;
        authenticated(parts, state, move |a, p| a.authenticate_replica(p, &on))
            .await
            .map(|_| Replica)
    }
}

/// Any authenticated caller.
pub struct Authed(pub Caller);

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        authenticated(parts, state, Authority::caller)
            .await
            .map(Authed)
    }
}

/// A JSON object body; anything else, or an object that does not decode,
/// is a 400 whose message says why. (serde reads a struct from an array of
/// its fields too; an API documented as taking objects must not.)
pub struct JsonBody<T>(pub T);

/// A JSON array body, e.g. a list of grants; else as [`JsonBody`].
pub struct JsonList<T>(pub T);

/// Decodes `bytes` as a `T` if its JSON value opens with `open`.
fn decode<T: DeserializeOwned>(bytes: &[u8], open: u8, kind: &str) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != open) {
        return Err(ApiError::bad_request(format!(
            "invalid JSON body: expected a JSON {kind}"
        )));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(ApiError::body)?;
        decode(&bytes, b'{', "object").map(JsonBody)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonList<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(ApiError::body)?;
        decode(&bytes, b'[', "array").map(JsonList)
    }
}

/// The raw body, with our error for one over the limit.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(ApiError::body)
    }
}
