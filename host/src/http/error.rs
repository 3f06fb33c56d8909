//! The one place authority errors become HTTP statuses. Every error body is
//! `{ "message": "...", "reason": "..." }`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::authority::AuthorityError;

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

    /// A body that could not be read: 413 when it is over the limit.
    pub fn body(e: axum::extract::rejection::BytesRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError(AuthorityError::TooLarge)
        } else {
            ApiError::bad_request(format!("cannot read the body: {e}"))
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            AuthorityError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AuthorityError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AuthorityError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AuthorityError::NotFound(_) => StatusCode::NOT_FOUND,
            AuthorityError::Conflict(_) => StatusCode::CONFLICT,
            AuthorityError::Gone { .. } => StatusCode::GONE,
            AuthorityError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
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
        let body = json!({ "message": self.0.to_string(), "reason": self.0.reason() });
        (status, Json(body)).into_response()
    }
}
