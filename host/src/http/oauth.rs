//! The OAuth endpoints: `POST /v1/oauth/token` (authorization code and
//! refresh token for connected apps, RFC 8693 token exchange;
//! `authority::oauth`, `authority::connections`), `POST /v1/oauth/revoke`
//! (RFC 7009), `GET /.well-known/oauth-authorization-server` (RFC 8414),
//! and a person's connections (`/v1/connections`). The forms are read as
//! RFC 6749 says (`application/x-www-form-urlencoded`,
//! no parameter twice; client credentials in HTTP Basic, each
//! form-urlencoded, or in the form), its answers `no-store`, its errors
//! RFC 6749's `{ error, error_description }` (with Tally's `message` and
//! `reason` beside them). Wrong client credentials count in the throttle
//! as the setup-code exchange's do.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::extract::{Authed, ClientIp, RawBody};
use super::{AppState, ErrorBody};
use crate::authority::{Authority, ConnectionView, OAuthError, TokenAnswer, TokenRequest};
use crate::reason::Reason;

#[utoipa::path(post, path = "/v1/oauth/token", summary = "Tokens for connected apps (authorization_code, refresh_token) and RFC 8693 token exchange (a frame's session token for a token acting for its person)", security(()),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "OK", body = TokenAnswer),
        (status = 400, description = "invalid_request, invalid_grant, invalid_scope or unsupported_grant_type", body = ErrorBody),
        (status = 401, description = "invalid_client", body = ErrorBody),
        (status = 429, description = "Throttled (reason throttled)", body = ErrorBody)))]
pub(super) async fn token(
    State(s): State<Arc<AppState>>,
    client: ClientIp,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Response {
    client_call(&s, client, &headers, &body, |a, form, basic| {
        a.oauth_token(form, basic).map(|answer| {
            (
                [
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    (header::PRAGMA, HeaderValue::from_static("no-cache")),
                ],
                axum::Json(answer),
            )
                .into_response()
        })
    })
    .await
}

#[utoipa::path(post, path = "/v1/oauth/revoke", summary = "RFC 7009: revoke a connected app's access token, or a refresh token and its whole connection", security(()),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or not a token (RFC 7009)"),
        (status = 400, description = "invalid_request, unauthorized_client (another client's token)", body = ErrorBody),
        (status = 401, description = "invalid_client", body = ErrorBody),
        (status = 429, description = "Throttled (reason throttled)", body = ErrorBody)))]
pub(super) async fn revoke(
    State(s): State<Arc<AppState>>,
    client: ClientIp,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Response {
    client_call(&s, client, &headers, &body, |a, form, basic| {
        a.oauth_revoke(form, basic).map(|()| {
            (
                [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
                StatusCode::OK,
            )
                .into_response()
        })
    })
    .await
}

/// Runs an OAuth client's form request (`f` with the form and its HTTP
/// Basic credentials, off the async threads) and answers RFC 6749's error
/// shape; a failed client authentication counts toward the caller's
/// throttle, and a throttled caller gets 429.
async fn client_call(
    s: &Arc<AppState>,
    client: ClientIp,
    headers: &HeaderMap,
    body: &[u8],
    f: impl FnOnce(&Authority, TokenRequest, Option<(String, String)>) -> Result<Response, OAuthError>
    + Send
    + 'static,
) -> Response {
    let form = match read_form(body) {
        Ok(form) => form,
        Err(e) => return error(e),
    };
    let basic = match basic_credentials(headers) {
        Ok(basic) => basic,
        Err(e) => return error(e),
    };
    let authority = Arc::clone(&s.authority);
    let result = tokio::task::spawn_blocking(move || f(&authority, form, basic))
        .await
        .unwrap_or_else(|e| Err(OAuthError::Internal(e.to_string())));
    match result {
        Ok(answer) => answer,
        Err(OAuthError::InvalidClient)
            if s.throttle.refuse_failure(client.0, s.authority.now()) =>
        {
            super::ApiError(crate::authority::AuthorityError::Throttled).into_response()
        }
        Err(e) => error(e),
    }
}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", summary = "RFC 8414 authorization server metadata (connected apps)", security(()),
    responses((status = 200, description = "OK", body = inline(crate::authority::schema::OAuthMetadata))))]
pub(super) async fn metadata(State(s): State<Arc<AppState>>) -> Response {
    axum::Json(s.authority.authorization_server_metadata()).into_response()
}

#[utoipa::path(get, path = "/v1/connections", summary = "Connected apps: the signed-in person's connections (a management admin token: everyone's), newest first",
    responses((status = 200, description = "OK", body = [ConnectionView])))]
pub(super) async fn connections(
    State(s): State<Arc<AppState>>,
    Authed(caller): Authed,
) -> super::Answer<Vec<ConnectionView>> {
    Ok(axum::Json(
        super::blocking(&s, move |a| a.connections(&caller)).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/connections/{id}", summary = "End a connection: its tokens stop working at once (the person's own, or a management admin)",
    params(("id" = String, Path)),
    responses((status = 204, description = "Ended"),
        (status = 403, description = "Not the caller's", body = ErrorBody),
        (status = 404, description = "Not found, or ended already", body = ErrorBody)))]
pub(super) async fn end_connection(
    State(s): State<Arc<AppState>>,
    Authed(caller): Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, super::ApiError> {
    super::blocking(&s, move |a| a.end_connection(&caller, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The form, each parameter at most once.
fn read_form(body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let mut form = TokenRequest::default();
    for (key, value) in form_urlencoded::parse(body) {
        let slot = match key.as_ref() {
            "grant_type" => &mut form.grant_type,
            "code" => &mut form.code,
            "redirect_uri" => &mut form.redirect_uri,
            "code_verifier" => &mut form.code_verifier,
            "refresh_token" => &mut form.refresh_token,
            "scope" => &mut form.scope,
            "token" => &mut form.token,
            "token_type_hint" => &mut form.token_type_hint,
            "subject_token" => &mut form.subject_token,
            "subject_token_type" => &mut form.subject_token_type,
            "requested_token_type" => &mut form.requested_token_type,
            "client_id" => &mut form.client_id,
            "client_secret" => &mut form.client_secret,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(OAuthError::InvalidRequest(format!("{key} is given twice")));
        }
    }
    Ok(form)
}

/// `Authorization: Basic` client credentials, if sent.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::InvalidClient;
    let text = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = text.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

fn error(e: OAuthError) -> Response {
    let (status, reason) = match &e {
        OAuthError::InvalidClient => (StatusCode::UNAUTHORIZED, Reason::BadClientCredentials),
        OAuthError::Internal(detail) => {
            tracing::error!(error = %detail, "token exchange failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Reason::Internal)
        }
        _ => (StatusCode::BAD_REQUEST, Reason::BadRequest),
    };
    let description = e.description();
    let mut response = (
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::HeaderName::from_static(super::error::REASON_HEADER),
                HeaderValue::from_static(reason.as_str()),
            ),
        ],
        axum::Json(serde_json::json!({
            "error": e.code(),
            "error_description": description,
            "message": description,
            "reason": reason.as_str(),
        })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tally\""),
        );
    }
    response
}
