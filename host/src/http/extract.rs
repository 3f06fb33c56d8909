//! Extractors: the caller's token, and JSON bodies whose errors are ours.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState, blocking};
use crate::authority::{Actor, Authority, AuthorityError, Caller};

/// The caller's credentials: the `Authorization` value, or else, for a
/// studio request (session cookie and `X-Tally-Studio: 1`), the admin token
/// its session was opened with. Nothing (`""`) when neither.
fn authorization(parts: &Parts, state: &AppState) -> Result<String, ApiError> {
    match parts.headers.get(AUTHORIZATION) {
        None => Ok(studio_credentials(parts, state).unwrap_or_default()),
        Some(value) => value.to_str().map(str::to_owned).map_err(|_| {
            ApiError(AuthorityError::Unauthorized {
                reason: "malformed",
                message: "Authorization is not valid text".into(),
            })
        }),
    }
}

fn studio_credentials(parts: &Parts, state: &AppState) -> Option<String> {
    let value = crate::studio::session_cookie(&parts.headers)?;
    let marked = parts
        .headers
        .get(crate::studio::SESSION_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1");
    // Without the header a cookie alone authenticates nothing (CSRF).
    marked.then(|| state.sessions.token(value, state.authority.now()))?
}

/// Runs one of the authority's `authenticate*` checks on the caller's
/// credentials (see [`authorization`]), on the blocking pool.
async fn authenticated<T: Send + 'static>(
    parts: &Parts,
    state: &Arc<AppState>,
    check: fn(&Authority, &str) -> Result<T, AuthorityError>,
) -> Result<T, ApiError> {
    let header = authorization(parts, state)?;
    blocking(state, move |a| check(a, &header)).await
}

/// A caller with the management `admin` grant.
pub struct Admin(pub Actor);

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        authenticated(parts, state, Authority::authenticate_admin)
            .await
            .map(Admin)
    }
}

/// A caller that may read token records: management `admin` or `replica`.
pub struct Replica;

impl FromRequestParts<Arc<AppState>> for Replica {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        authenticated(parts, state, Authority::authenticate_replica)
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
        authenticated(parts, state, Authority::authenticate)
            .await
            .map(Authed)
    }
}

/// A JSON body; a body that does not decode is a 400 whose message says why.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(ApiError::body)?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
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
