//! The studio: one page at `/studio` over the management API.
//!
//! - **Sign-in**, two ways. A person signs in with OpenID Connect
//!   (`oidc`: `--oidc-issuer`); their session is theirs, and every call
//!   it makes is authorized by their roles as they are then (the first
//!   user claims ownership with the code printed at start, `POST
//!   /studio/claim`). Or an admin token (bootstrap, automation; off with
//!   `--no-admin-token-sign-in`):
//!   the token is posted once to `POST /studio/session`;
//!   the server checks it like any admin call and answers with a session
//!   cookie `tally_studio` (`HttpOnly`, `SameSite=Strict`, `Path=/studio`,
//!   `Secure` when the public URL is https, eight hours). The studio calls
//!   the management API under `/studio/api/v1/…`, and the cookie is read
//!   there only: it is never sent to, nor accepted by, `/v1/…`, the
//!   gateway or anything it proxies to. The browser never stores the
//!   token (no localStorage, not in the cookie). Sessions are kept in the
//!   store (`authority::sessions`: by the SHA-256 of the cookie value, an
//!   admin token sealed under a key only the cookie gives), so every node
//!   on one database knows them and a restart signs no one out; a replica
//!   has no store and opens none. Each request made with the cookie is
//!   authenticated again with what the session was opened with, so
//!   revoking that token ends the session at once.
//! - **CSRF.** Besides `SameSite=Strict`, a request authenticated by the
//!   cookie must carry `X-Tally-Studio: 1`, a header no cross-site form or
//!   simple request can set ([`SESSION_HEADER`]).
//! - **Content-Security-Policy.** No inline script or style; scripts only
//!   from this origin (plus `wasm-unsafe-eval` for the bridge's module);
//!   `frame-src` lists the installed apps' origins only for a signed-in
//!   session (`'none'` for anyone else: the page tells an anonymous
//!   visitor nothing of the apps), so the page can frame nothing else;
//!   `frame-ancestors 'none'`. An origin that cannot stand in the policy
//!   (a row stored before origins were validated as they are now) is left
//!   out and logged, never allowed to stop the page from being served.
//! - **Connected apps** ask a person's consent on a page of their own,
//!   `/studio/oauth/authorize` (`consent`).
//! - **Apps in frames** are hosted with the npm package's parent bridge
//!   (`tally-sdk/parent`): `npm/src/parent.js` and the `sdk-wasm` parent
//!   module built by `host/build.rs`, served under `/studio/bridge/`.
//! - **Elements and content** (`assets/elements.js`): a small content
//!   editor over the gateway, with the installed apps' field editors and
//!   sidebar panels in the open entry, their pages in the navigation and
//!   their dialogs; the choices it makes are written at its top.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::authority::{AuthorityError, Opened, Presented, SESSION_SECONDS};
use crate::http::{ApiError, AppState, JsonBody, blocking};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "tally_studio";
/// The header a cookie-authenticated request must carry (value `1`).
pub const SESSION_HEADER: &str = "x-tally-studio";

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/studio.js");
const ELEMENTS: &str = include_str!("assets/elements.js");
const STYLE: &str = include_str!("assets/studio.css");
const BRIDGE_ENTRY: &str = include_str!("../../../npm/src/parent.js");
const BRIDGE_GLUE: &str = include_str!(concat!(env!("OUT_DIR"), "/bridge/tally_sdk.js"));
const BRIDGE_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bridge/tally_sdk_bg.wasm"));

mod consent;
mod oidc;

pub use oidc::{Oidc, SignInOptions};

/// The `tally_studio` cookie of a request, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE_NAME)
}

/// The session a request presents to be authenticated by: its cookie, but
/// only with `X-Tally-Studio: 1` ([`SESSION_HEADER`]); without the header a
/// cookie alone authenticates nothing (CSRF).
pub(crate) fn marked_session(headers: &HeaderMap) -> Option<Presented> {
    marked_cookie(headers).map(|value| Presented::Session(value.to_owned()))
}

/// The session cookie's value, with `X-Tally-Studio: 1` only (see
/// [`marked_session`]).
fn marked_cookie(headers: &HeaderMap) -> Option<&str> {
    let marked = headers
        .get(SESSION_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1");
    session_cookie(headers).filter(|_| marked)
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
            "/studio/elements.js",
            get(|| async { asset("text/javascript; charset=utf-8", ELEMENTS) }),
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
        .route("/studio/oidc/login", get(oidc_login))
        .route("/studio/oidc/callback", get(oidc_callback))
        .route("/studio/claim", axum::routing::post(claim))
        .route("/studio/oauth/authorize", get(consent::page))
        .route(
            "/studio/consent.js",
            get(|| async { asset("text/javascript; charset=utf-8", consent::SCRIPT) }),
        )
        .route("/studio/oauth/request", get(consent::request))
        .route(
            "/studio/oauth/consent",
            axum::routing::post(consent::consent),
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

/// `GET /studio`: the page, with a policy that frames only installed apps
/// (an installation that is not UNINSTALLED), and those only for a
/// signed-in session; the studio reloads after an install so the new
/// app's origin is in it.
#[utoipa::path(get, path = "/studio", summary = "The studio page (HTML; CSP frame-src = installed apps' origins)", security(()),
    responses((status = 200, description = "HTML", content_type = "text/html")))]
async fn page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = session_cookie(&headers).map(|value| Presented::Session(value.to_owned()));
    // Only a session that still authenticates sees the apps' origins; a
    // failure to read them is the page's failure, as before.
    let installed = match session {
        Some(session) => {
            blocking(&state, move |a| match a.caller(&session) {
                Ok(_) => a.installed_app_origins().map(Some),
                Err(_) => Ok(None),
            })
            .await?
        }
        None => None,
    };
    let mut origins: Vec<String> = if let Some(installed) = installed {
        installed
            .into_iter()
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

/// `GET /studio/session`: `{ signedIn, user?, access?, signIn }`. Signed
/// in while the session lives and what it was opened with still
/// authenticates; `user` is who signed in, as the studio tells the apps it
/// frames (`context.user`): for a person `{ id: "user:<id>", name, email,
/// roles }`, for an admin token its actor (`token:<tokenId>`) and name;
/// `access` whether the management API is theirs (a person without a role
/// has none until given one, or until they claim ownership: `claimable`);
/// `signIn` the ways this server offers (`oidc`, `adminToken`).
#[utoipa::path(get, path = "/studio/session", summary = "Whether the studio session cookie is valid", security(()),
    responses((status = 200, description = "OK", body = inline(crate::authority::schema::StudioSession))))]
async fn session(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let ways = serde_json::json!({
        "oidc": state.sign_in.oidc.is_some(),
        "adminToken": state.sign_in.admin_token,
    });
    let caller = match session_cookie(&headers).map(|value| Presented::Session(value.to_owned())) {
        Some(presented) => blocking(&state, move |a| {
            let caller = a.caller(&presented)?;
            let claimable = caller.user.is_some() && !a.store()?.has_owner()?;
            Ok((caller, claimable))
        })
        .await
        .ok(),
        None => None,
    };
    let body = match caller {
        Some((caller, claimable)) => {
            let user = match (&caller.user, &caller.record) {
                (Some(signed_in), _) => serde_json::json!({
                    "id": caller.actor.as_str(),
                    "name": signed_in.user.name.clone().or_else(|| signed_in.user.email.clone()),
                    "email": signed_in.user.email,
                    "roles": signed_in.roles,
                }),
                (None, Some(record)) => {
                    serde_json::json!({ "id": caller.actor.as_str(), "name": record.name })
                }
                (None, None) => serde_json::json!({ "id": caller.actor.as_str() }),
            };
            serde_json::json!({
                "signedIn": true, "user": user, "access": caller.may_somewhere(crate::authority::Need::View),
                "claimable": claimable, "signIn": ways,
            })
        }
        None => serde_json::json!({ "signedIn": false, "signIn": ways }),
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
    if !state.sign_in.admin_token {
        return Err(ApiError(AuthorityError::Forbidden {
            reason: crate::reason::Reason::Decision(verifier_core::Reason::NotGranted),
            message: "signing in to the studio with an admin token is turned off on this server"
                .into(),
        }));
    }
    let token = body.token.trim().to_owned();
    // Accept the token with or without its scheme, as it is printed.
    let header = if token.contains(' ') {
        token
    } else {
        format!("AppToken {token}")
    };
    let value = blocking(&state, move |a| {
        a.authenticate_admin(&Presented::Header(header.clone()))?;
        a.open_studio_session(Opened::Token(header))
    })
    .await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, session_cookie_header(&state, &value)?)],
    )
        .into_response())
}

/// `; Secure` when the public URL is https.
fn secure(state: &AppState) -> &'static str {
    if state.authority.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text).map_err(|_| {
        ApiError(AuthorityError::Internal(
            "cookie is not a header value".into(),
        ))
    })
}

fn session_cookie_header(state: &AppState, value: &str) -> Result<HeaderValue, ApiError> {
    header_value(&format!(
        "{COOKIE_NAME}={value}; HttpOnly; SameSite=Strict; Path=/studio; Max-Age={SESSION_SECONDS}{}",
        secure(state)
    ))
}

#[derive(Deserialize)]
struct Login {
    #[serde(rename = "return")]
    return_to: Option<String>,
}

/// `GET /studio/oidc/login[?return=<path>]`: to the provider, with a flow
/// bound to this browser (see `oidc`) that comes back to `return` once
/// signed in: a path of the studio ([`oidc::return_path`]; 400 for any
/// other), the studio itself without one.
async fn oidc_login(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(login): axum::extract::Query<Login>,
) -> Result<Response, ApiError> {
    let Some(oidc) = &state.sign_in.oidc else {
        return Err(ApiError(AuthorityError::NotFound("route")));
    };
    let return_to = match login.return_to.as_deref() {
        None => None,
        Some(path) => Some(
            oidc::return_path(path)
                .ok_or_else(|| ApiError::bad_request("return must be a path of the studio"))?
                .to_owned(),
        ),
    };
    let started = oidc
        .start(state.authority.now(), return_to)
        .map_err(|e| ApiError(AuthorityError::Internal(e)))?;
    let row = started.row;
    blocking(&state, move |a| a.start_sign_in(&row)).await?;
    let cookie = header_value(&format!(
        "{}={}; HttpOnly; SameSite=Lax; Path=/studio/oidc; Max-Age={}{}",
        oidc::FLOW_COOKIE,
        started.binding,
        oidc::FLOW_SECONDS,
        secure(&state)
    ))?;
    let location = header_value(&started.url)?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (axum::http::header::LOCATION, location),
            (SET_COOKIE, cookie),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

#[derive(Deserialize)]
struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// `GET /studio/oidc/callback`: completes the flow, opens a session for
/// the user, back to the studio; any failure goes back with
/// `?signInError=<reason>` and no session.
async fn oidc_callback(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Query(callback): axum::extract::Query<Callback>,
) -> Result<Response, ApiError> {
    let Some(oidc) = state.sign_in.oidc.clone() else {
        return Err(ApiError(AuthorityError::NotFound("route")));
    };
    let now = state.authority.now();
    let binding = cookie(&headers, oidc::FLOW_COOKIE).map(str::to_owned);
    let mut return_to = None;
    let outcome = match (callback.state, callback.code, callback.error) {
        (Some(flow), Some(code), None) => {
            let taken = blocking(&state, move |a| a.take_sign_in(&flow)).await?;
            return_to = taken.as_ref().and_then(|t| t.return_to.clone());
            oidc.finish(taken, &code, binding.as_deref(), now)
                .await
                .map_err(|e| {
                    tracing::warn!(reason = e.reason(), error = %e, "studio sign-in failed");
                    e.reason()
                })
        }
        (_, _, Some(error)) => {
            tracing::warn!(error = %error.escape_debug(), "the provider refused the studio sign-in");
            Err("provider_refused")
        }
        _ => Err("sign_in_expired"),
    };
    let clear_flow = header_value(&format!(
        "{}=; HttpOnly; SameSite=Lax; Path=/studio/oidc; Max-Age=0",
        oidc::FLOW_COOKIE
    ))?;
    let back = |location: &str, cookies: Vec<HeaderValue>| {
        let mut response = (
            StatusCode::SEE_OTHER,
            [(
                axum::http::header::LOCATION,
                HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/studio")),
            )],
        )
            .into_response();
        for c in cookies {
            response.headers_mut().append(SET_COOKIE, c);
        }
        response
    };
    let identity = match outcome {
        Ok(identity) => identity,
        Err(reason) => {
            return Ok(back(
                &format!("/studio?signInError={reason}"),
                vec![clear_flow],
            ));
        }
    };
    let user = blocking(&state, move |a| {
        a.sign_in_user(
            &identity.issuer,
            &identity.subject,
            identity.email,
            identity.name,
        )
    })
    .await?;
    let value = blocking(&state, move |a| {
        a.open_studio_session(Opened::User(user.id))
    })
    .await?;
    // Checked when the sign-in started; checked again, as it goes into a
    // header.
    let to = return_to
        .as_deref()
        .and_then(oidc::return_path)
        .unwrap_or("/studio");
    Ok(back(
        to,
        vec![clear_flow, session_cookie_header(&state, &value)?],
    ))
}

/// A cookie of a request, by name.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Claim {
    code: String,
}

/// `POST /studio/claim { code }`: the signed-in person becomes the owner of
/// every project with the code printed at start (204; 403 otherwise).
/// Needs the session cookie and `X-Tally-Studio: 1`.
async fn claim(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Claim>,
) -> Result<Response, ApiError> {
    let cookie = marked_cookie(&headers).map(str::to_owned);
    blocking(&state, move |a| {
        let opened = match cookie {
            Some(cookie) => a.studio_session(&cookie)?,
            None => None,
        };
        let Some(Opened::User(user)) = opened else {
            return Err(AuthorityError::Unauthorized {
                reason: crate::reason::Reason::Decision(verifier_core::Reason::MissingCredentials),
                message: "sign in with your OpenID provider first".into(),
            });
        };
        a.claim_ownership(&user, &body.code)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /studio/session`: closes the session and clears the cookie.
#[utoipa::path(delete, path = "/studio/session", summary = "Sign out", security(()),
    responses((status = 204, description = "Signed out")))]
async fn sign_out(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(value) = session_cookie(&headers).map(str::to_owned) {
        blocking(&state, move |a| a.close_studio_session(&value)).await?;
    }
    let clear = HeaderValue::from_static(
        "tally_studio=; HttpOnly; SameSite=Strict; Path=/studio; Max-Age=0",
    );
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clear)]).into_response())
}
