//! The studio: one page at `/studio` over the management API.
//!
//! - **Sign-in.** The admin token is posted once to `POST /studio/session`;
//!   the server checks it like any admin call and answers with a session
//!   cookie `tally_studio` (`HttpOnly`, `SameSite=Strict`, `Path=/studio`,
//!   `Secure` when the public URL is https, eight hours). The studio calls
//!   the management API under `/studio/api/v1/…`, and the cookie is read
//!   there only: it is never sent to, nor accepted by, `/v1/…`, the
//!   gateway or anything it proxies to. The browser never stores the
//!   token (no localStorage, not in the cookie). Sessions live in this
//!   process's memory, keyed by the SHA-256 of the cookie value; a restart
//!   signs everyone out. Each request made with the cookie is authenticated
//!   again with the admin token it was opened with, so revoking that token
//!   ends the session at once.
//! - **CSRF.** Besides `SameSite=Strict`, a request authenticated by the
//!   cookie must carry `X-Tally-Studio: 1`, a header no cross-site form or
//!   simple request can set ([`SESSION_HEADER`]).
//! - **Content-Security-Policy.** No inline script or style; scripts only
//!   from this origin (plus `wasm-unsafe-eval` for the bridge's module);
//!   `frame-src` lists the registered apps' origins only for a signed-in
//!   session (`'none'` for anyone else: the page tells an anonymous
//!   visitor nothing of the apps), so the page can frame nothing else;
//!   `frame-ancestors 'none'`. An origin that cannot stand in the policy
//!   (a row stored before origins were validated as they are now) is left
//!   out and logged, never allowed to stop the page from being served.
//! - **Apps in frames** are hosted with the npm package's parent bridge
//!   (`tally-sdk/parent`): `npm/src/parent.js` and the `sdk-wasm` parent
//!   module built by `host/build.rs`, served under `/studio/bridge/`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use verifier_core::OpaqueSecret;
use verifier_core::token::hash_secret_text;

use crate::authority::AuthorityError;
use crate::http::{ApiError, AppState, JsonBody, blocking};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "tally_studio";
/// The header a cookie-authenticated request must carry (value `1`).
pub const SESSION_HEADER: &str = "x-tally-studio";
/// How long a session lasts, seconds.
const SESSION_SECONDS: i64 = 8 * 60 * 60;
/// Sessions kept at most (the oldest go first beyond it).
const MAX_SESSIONS: usize = 1024;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/studio.js");
const STYLE: &str = include_str!("assets/studio.css");
const BRIDGE_ENTRY: &str = include_str!("../../../npm/src/parent.js");
const BRIDGE_GLUE: &str = include_str!(concat!(env!("OUT_DIR"), "/bridge/tally_sdk.js"));
const BRIDGE_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bridge/tally_sdk_bg.wasm"));

/// An admin token held for a session; `Debug` does not show it.
struct HeldToken(String);

impl std::fmt::Debug for HeldToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeldToken(<redacted>)")
    }
}

#[derive(Debug)]
struct Session {
    token: HeldToken,
    expires_at: i64,
}

/// Open studio sessions, by the SHA-256 of their cookie value. The cookie
/// value is 32 random bytes, so looking up its hash in a map leaks nothing a
/// constant-time comparison would protect.
#[derive(Debug, Default)]
pub struct Sessions {
    open: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a session for `token`; returns the cookie value.
    fn create(&self, token: String, now: i64) -> Result<String, ApiError> {
        let bytes = crate::random::secret_bytes()
            .map_err(|e| ApiError(AuthorityError::Internal(e.to_string())))?;
        let secret = OpaqueSecret::from_random(bytes);
        let mut open = self.open();
        open.retain(|_, s| s.expires_at > now);
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, s)| s.expires_at)
                .map(|(k, _)| *k)
        {
            open.remove(&oldest);
        }
        open.insert(
            *secret.hash().as_bytes(),
            Session {
                token: HeldToken(token),
                expires_at: now + SESSION_SECONDS,
            },
        );
        Ok(secret.text().to_owned())
    }

    /// The admin token of the session with cookie value `value`, if open.
    pub(crate) fn token(&self, value: &str, now: i64) -> Option<String> {
        let hash = hash_secret_text(value)?;
        let open = self.open();
        let session = open.get(hash.as_bytes())?;
        (session.expires_at > now).then(|| session.token.0.clone())
    }

    fn close(&self, value: &str) {
        if let Some(hash) = hash_secret_text(value) {
            self.open().remove(hash.as_bytes());
        }
    }
}

/// The `tally_studio` cookie of a request, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// The studio's routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/studio", get(page))
        .route("/studio/", get(page))
        .route(
            "/studio/studio.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/studio/studio.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/studio/bridge/src/parent.js",
            get(|| async { asset("text/javascript; charset=utf-8", BRIDGE_ENTRY) }),
        )
        .route(
            "/studio/bridge/dist/parent/tally_sdk.js",
            get(|| async { asset("text/javascript; charset=utf-8", BRIDGE_GLUE) }),
        )
        .route(
            "/studio/bridge/dist/parent/tally_sdk_bg.wasm",
            get(|| async { asset("application/wasm", BRIDGE_WASM) }),
        )
        .route(
            "/studio/session",
            get(session).post(sign_in).delete(sign_out),
        )
}

fn asset(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body.into(),
    )
        .into_response()
}

/// `GET /studio`: the page, with a policy that frames only registered
/// apps, and those only for a signed-in session.
#[utoipa::path(get, path = "/studio", summary = "The studio page (HTML; CSP frame-src = registered app origins)", security(()),
    responses((status = 200, description = "HTML", content_type = "text/html")))]
async fn page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = state.authority.now();
    let signed_in = session_cookie(&headers)
        .and_then(|value| state.sessions.token(value, now))
        .is_some();
    let mut origins: Vec<String> = if signed_in {
        let apps = blocking(&state, |a| a.apps()).await?;
        apps.into_iter()
            .flat_map(|app| app.origins)
            .filter(|origin| {
                let fits = crate::authority::valid_origin(origin);
                if !fits {
                    tracing::warn!(
                        origin = origin.escape_debug().to_string(),
                        "an app origin is not valid; left out of frame-src"
                    );
                }
                fits
            })
            .collect()
    } else {
        Vec::new()
    };
    origins.sort();
    origins.dedup();
    let frame_src = if origins.is_empty() {
        String::from("'none'")
    } else {
        origins.join(" ")
    };
    let policy = format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; frame-src {frame_src}; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    let policy = HeaderValue::from_str(&policy)
        .map_err(|_| ApiError::bad_request("an app origin cannot be put in a header"))?;
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (axum::http::header::CONTENT_SECURITY_POLICY, policy),
            (
                axum::http::header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ),
            (
                axum::http::header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                axum::http::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        INDEX,
    )
        .into_response())
}

/// `GET /studio/session`: `{ signedIn, user? }`. Signed in while the
/// session lives and its admin token still authenticates; `user` is who
/// signed in, as the studio tells the apps it frames (`context.user`):
/// the token's actor (`token:<tokenId>`, as the audit log names it) and its
/// name. People with accounts of their own come with identity; until then
/// the admin token is the studio's user.
#[utoipa::path(get, path = "/studio/session", summary = "Whether the studio session cookie is valid", security(()),
    responses((status = 200, description = "OK", body = inline(crate::authority::schema::StudioSession))))]
async fn session(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let now = state.authority.now();
    let user = match session_cookie(&headers).and_then(|value| state.sessions.token(value, now)) {
        Some(header) => blocking(&state, move |a| a.authenticate(&header))
            .await
            .ok()
            .map(|caller| serde_json::json!({ "id": caller.actor.as_str(), "name": caller.record.name })),
        None => None,
    };
    let body = match user {
        Some(user) => serde_json::json!({ "signedIn": true, "user": user }),
        None => serde_json::json!({ "signedIn": false }),
    };
    axum::Json(body).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

/// `POST /studio/session { token }`: checks the admin token, opens a session.
#[utoipa::path(post, path = "/studio/session", summary = "Sign in with an admin token; sets the HttpOnly, SameSite=Strict tally_studio cookie", security(()),
    request_body = inline(crate::authority::schema::StudioSignIn),
    responses((status = 204, description = "Signed in (Set-Cookie)"),
        (status = 400, description = "Bad input", body = crate::http::ErrorBody),
        (status = 401, description = "No or bad credentials", body = crate::http::ErrorBody),
        (status = 403, description = "Not granted", body = crate::http::ErrorBody),
        (status = 429, description = "Throttled (reason throttled): too many failed credential checks from this address; a request with good credentials is never refused for it", body = crate::http::ErrorBody)))]
async fn sign_in(
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let token = body.token.trim().to_owned();
    // Accept the token with or without its scheme, as it is printed.
    let header = if token.contains(' ') {
        token
    } else {
        format!("AppToken {token}")
    };
    let checked = header.clone();
    blocking(&state, move |a| a.authenticate_admin(&checked)).await?;
    let value = state.sessions.create(header, state.authority.now())?;
    let secure = if state.authority.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE_NAME}={value}; HttpOnly; SameSite=Strict; Path=/studio; Max-Age={SESSION_SECONDS}{secure}"
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(|_| {
        ApiError(AuthorityError::Internal(
            "cookie is not a header value".into(),
        ))
    })?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie)]).into_response())
}

/// `DELETE /studio/session`: closes the session and clears the cookie.
#[utoipa::path(delete, path = "/studio/session", summary = "Sign out", security(()),
    responses((status = 204, description = "Signed out")))]
async fn sign_out(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(value) = session_cookie(&headers) {
        state.sessions.close(value);
    }
    let clear = HeaderValue::from_static(
        "tally_studio=; HttpOnly; SameSite=Strict; Path=/studio; Max-Age=0",
    );
    (StatusCode::NO_CONTENT, [(SET_COOKIE, clear)]).into_response()
}
