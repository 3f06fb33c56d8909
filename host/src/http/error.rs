//! The one place errors become HTTP answers. Every error body is
//! `{ "message": "...", "reason": "..." }`, with the reason again in
//! `X-Tally-Reason` (a proxy that replaces the body, such as nginx
//! `auth_request`, keeps it) and, on a 401, `WWW-Authenticate: AppToken,
//! Bearer`.
//!
//! [`json_errors`] holds the rule for answers Tally did not build itself
//! (axum's rejections of a path or query, 405 with its `Allow`, a body
//! over the limit): any error answer that is not yet JSON is rewritten
//! into this shape with the reason of its status. Answers passed through
//! from the gateway's upstream are marked [`UpstreamAnswer`] and left as
//! they are.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::authority::AuthorityError;
use crate::reason::Reason;

/// The header that repeats an error's reason.
pub const REASON_HEADER: &str = "x-tally-reason";

/// An error answer.
#[derive(Debug)]
pub struct ApiError(pub AuthorityError);

impl From<AuthorityError> for ApiError {
    fn from(e: AuthorityError) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError(AuthorityError::BadRequest(message.into()))
    }

    /// A body that could not be read: 413 when it is over the limit, 408
    /// when it stalled past the body timeout.
    pub fn body(e: axum::extract::rejection::BytesRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError(AuthorityError::TooLarge);
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(cause) = source {
            if cause.is::<tower_http::timeout::TimeoutError>() {
                return ApiError(AuthorityError::Timeout);
            }
            source = cause.source();
        }
        ApiError::bad_request(format!("cannot read the body: {e}"))
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            AuthorityError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AuthorityError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AuthorityError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AuthorityError::NotFound(_) => StatusCode::NOT_FOUND,
            AuthorityError::Conflict { .. } => StatusCode::CONFLICT,
            AuthorityError::Gone { .. } => StatusCode::GONE,
            AuthorityError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AuthorityError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            AuthorityError::Timeout => StatusCode::REQUEST_TIMEOUT,
            AuthorityError::ReadOnly => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AuthorityError::Internal(detail) = &self.0 {
            tracing::error!(%detail, "internal error");
        }
        error_response(status, self.0.reason(), &self.0.to_string())
    }
}

/// An error answer: `status` with `{ message, reason }`, `X-Tally-Reason`,
/// and `WWW-Authenticate` on a 401.
pub fn error_response(status: StatusCode, reason: Reason, message: &str) -> Response {
    let body = ErrorBody {
        message,
        reason: reason.as_str(),
    };
    error_with_body(status, reason, Json(body))
}

/// An error answer with `body` (the JSON shape is the caller's: the API's
/// `{ message, reason }`, or GraphQL's errors at `/v1/management`) and the
/// headers every error answer carries: `X-Tally-Reason`, and
/// `WWW-Authenticate` on a 401.
pub fn error_with_body(status: StatusCode, reason: Reason, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(REASON_HEADER, HeaderValue::from_static(reason.as_str()));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("AppToken, Bearer"),
        );
    }
    response
}

/// The JSON body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// What went wrong, for people.
    pub message: &'a str,
    /// Why, for programs: a stable reason ([`Reason`]).
    #[schema(schema_with = crate::http::openapi::reason_names)]
    pub reason: &'static str,
}

/// Marks an answer that the gateway passed through from its upstream:
/// the JSON-errors middleware leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamAnswer;

/// The reason of an error status that Tally's handlers did not answer
/// themselves.
fn reason_of(status: StatusCode) -> Reason {
    match status {
        StatusCode::NOT_FOUND => Reason::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => Reason::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Reason::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Reason::UnsupportedMediaType,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Reason::HeadersTooLarge,
        StatusCode::REQUEST_TIMEOUT => Reason::Timeout,
        StatusCode::UNAUTHORIZED => Reason::Decision(verifier_core::Reason::MissingCredentials),
        s if s.is_server_error() => Reason::Internal,
        _ => Reason::BadRequest,
    }
}

/// Longest text of a rejection kept as the message.
const MAX_MESSAGE: usize = 1024;

/// Middleware: every error answer is JSON with a stable reason (see the
/// module doc).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error())
        || is_json
        || response.extensions().get::<UpstreamAnswer>().is_some()
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_MESSAGE)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let message = text.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    });
    let mut answer = error_response(status, reason_of(status), &message);
    // Keep what the answer said besides its body (405's `Allow`).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name, value.clone());
        }
    }
    answer
}

/// Most header fields a request may carry, and most bytes of names and
/// values together; past either, 431 `headers_too_large` in JSON (hyper's
/// own limits, which answer without a body, sit well above these).
pub const MAX_HEADERS: usize = 100;
/// See [`MAX_HEADERS`].
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Middleware: refuses requests whose headers are over [`MAX_HEADERS`] or
/// [`MAX_HEADER_BYTES`].
pub async fn header_limits(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Reason::HeadersTooLarge,
            &format!(
                "the request's headers are over {MAX_HEADERS} fields or {MAX_HEADER_BYTES} bytes"
            ),
        );
    }
    next.run(request).await
}
