//! The consent page of connected apps (`authority::connections`): `GET
//! /studio/oauth/authorize` serves it (a page of its own: no app is framed
//! there, and it may not be framed, against clickjacking); its script asks
//! `GET /studio/oauth/request` what the app wants and the person may give,
//! and posts their answer to `POST /studio/oauth/consent`. Both read the
//! studio session (cookie and `X-Tally-Studio: 1`); each answers `{
//! redirect }` when the browser is to go back to the app (a code, or an
//! error the app may be told), 400 `{ message }` for what must be shown
//! instead (an unknown client, a redirect URI not registered), 401 without
//! a session.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::marked_session;
use crate::authority::{AuthorityError, AuthorizeError, AuthorizeQuery, Caller};
use crate::http::{ApiError, AppState, JsonBody, blocking};

const PAGE: &str = include_str!("assets/consent.html");
/// The consent page's script.
pub(super) const SCRIPT: &str = include_str!("assets/consent.js");

/// `GET /studio/oauth/authorize`: the consent page (its script reads the
/// query).
pub(super) async fn page() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; style-src 'self'; \
                     connect-src 'self'; base-uri 'none'; form-action 'none'; \
                     frame-ancestors 'none'",
                ),
            ),
            (
                axum::http::header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ),
            (
                axum::http::header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        PAGE,
    )
        .into_response()
}

/// The signed-in caller of a consent request, or 401.
async fn caller(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let presented = marked_session(headers).ok_or_else(|| {
        ApiError(AuthorityError::Unauthorized {
            reason: crate::reason::Reason::Decision(verifier_core::Reason::MissingCredentials),
            message: "sign in to the studio first".into(),
        })
    })?;
    blocking(state, move |a| a.caller(&presented)).await
}

/// The authorization request in a query string; a parameter given twice
/// makes it none (RFC 6749 §3.1: the request is refused).
fn query_of(raw: Option<&str>) -> AuthorizeQuery {
    let mut query = AuthorizeQuery::default();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let slot = match key.as_ref() {
            "response_type" => &mut query.response_type,
            "client_id" => &mut query.client_id,
            "redirect_uri" => &mut query.redirect_uri,
            "scope" => &mut query.scope,
            "state" => &mut query.state,
            "code_challenge" => &mut query.code_challenge,
            "code_challenge_method" => &mut query.code_challenge_method,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return AuthorizeQuery::default();
        }
    }
    query
}

fn answer(result: Result<serde_json::Value, AuthorizeError>) -> Response {
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(AuthorizeError::Redirect(url)) => {
            axum::Json(serde_json::json!({ "redirect": url })).into_response()
        }
        Err(AuthorizeError::Show(message)) => ApiError::bad_request(message).into_response(),
    }
}

/// `GET /studio/oauth/request?<the authorization request>`.
pub(super) async fn request(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    let query = query_of(raw.as_deref());
    let result = blocking(&state, move |a| {
        Ok(a.authorization_request(&caller, &query)
            .map(|view| serde_json::to_value(view).unwrap_or_default()))
    })
    .await?;
    Ok(answer(result))
}

/// The person's answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Answer {
    /// The authorization request's query string, as the page got it.
    query: String,
    /// The environment picked.
    #[serde(default)]
    environment_id: Option<String>,
    /// Allow or deny.
    approve: bool,
}

/// `POST /studio/oauth/consent { query, environmentId?, approve }`.
pub(super) async fn consent(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Answer>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    let query = query_of(Some(body.query.trim_start_matches('?')));
    let result = blocking(&state, move |a| {
        Ok(a.consent(
            &caller,
            &query,
            body.environment_id.as_deref(),
            body.approve,
        )
        .map(|url| serde_json::json!({ "redirect": url })))
    })
    .await?;
    Ok(match result {
        Ok(body) => (StatusCode::OK, axum::Json(body)).into_response(),
        Err(e) => answer(Err(e)),
    })
}
