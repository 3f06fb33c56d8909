//! [`AuthorityError`]: why an operation failed, with its stable reason. The
//! HTTP layer maps each variant to one status (`http::error`).

use verifier_core::Reason as Decision;

use crate::random::RandomError;
use crate::reason::Reason;
use crate::storage::StoreError;

/// Why an operation failed. [`AuthorityError::reason`] is the stable
/// machine-readable code; the HTTP layer maps each variant to one status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorityError {
    /// Bad input (400).
    #[error("{0}")]
    BadRequest(String),
    /// No or bad credentials (401); `reason` is a decision reason or
    /// `bad_client_credentials`.
    #[error("{message}")]
    Unauthorized {
        /// Stable reason.
        reason: Reason,
        /// Human message.
        message: String,
    },
    /// Authenticated, not allowed (403).
    #[error("{message}")]
    Forbidden {
        /// Stable reason.
        reason: Reason,
        /// Human message.
        message: String,
    },
    /// No such thing (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Conflicts with the current state (409); `reason` is `conflict` or
    /// a more precise one (`token_revoked`, `token_expired`,
    /// `token_rotated`).
    #[error("{message}")]
    Conflict {
        /// Stable reason.
        reason: Reason,
        /// Human message.
        message: String,
    },
    /// A setup code that was used or has expired (410).
    #[error("{message}")]
    Gone {
        /// `code_used` or `code_expired`.
        reason: Reason,
        /// Human message.
        message: String,
    },
    /// The request body is over the limit (413).
    #[error("the request body is too large")]
    TooLarge,
    /// The request body stalled past the server's body timeout (408).
    #[error("the request body was not received in time")]
    Timeout,
    /// Too many failed credential checks from the caller's address (429).
    #[error("too many failed credential checks from this address; try again later")]
    Throttled,
    /// Storage or the random source failed (500). Details are logged, not
    /// returned.
    #[error("internal error")]
    Internal(String),
    /// This node is a read-only replica (`--replica-of`): it verifies, and
    /// changes are made on the authority (503).
    #[error("this node is a read-only replica; make changes on the authority")]
    ReadOnly,
}

impl AuthorityError {
    /// The stable machine-readable reason.
    pub fn reason(&self) -> Reason {
        match self {
            AuthorityError::BadRequest(_) => Reason::BadRequest,
            AuthorityError::Unauthorized { reason, .. }
            | AuthorityError::Forbidden { reason, .. }
            | AuthorityError::Conflict { reason, .. }
            | AuthorityError::Gone { reason, .. } => *reason,
            AuthorityError::NotFound(_) => Reason::NotFound,
            AuthorityError::TooLarge => Reason::TooLarge,
            AuthorityError::Throttled => Reason::Throttled,
            AuthorityError::Timeout => Reason::Timeout,
            AuthorityError::Internal(_) => Reason::Internal,
            AuthorityError::ReadOnly => Reason::ReadOnlyReplica,
        }
    }
}

impl From<StoreError> for AuthorityError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => conflict(format!("{what} already exists")),
            StoreError::NotFound(what) => AuthorityError::NotFound(what),
            StoreError::Invalid(message) => AuthorityError::BadRequest(message),
            StoreError::Database(message) => AuthorityError::Internal(message),
        }
    }
}

impl From<RandomError> for AuthorityError {
    fn from(e: RandomError) -> Self {
        AuthorityError::Internal(e.to_string())
    }
}

pub(super) fn unauthorized(reason: Decision) -> AuthorityError {
    AuthorityError::Unauthorized {
        reason: Reason::Decision(reason),
        message: match reason {
            Decision::MissingCredentials => "missing Authorization header".into(),
            Decision::Malformed => "Authorization is not an AppToken or Bearer token".into(),
            Decision::Expired => "the token has expired".into(),
            Decision::Revoked => "the token was revoked".into(),
            _ => "invalid token".into(),
        },
    }
}

/// A 403 with the reason `not_granted`: authenticated, without the grant
/// the call needs.
pub(super) fn not_granted(message: &str) -> AuthorityError {
    AuthorityError::Forbidden {
        reason: Reason::Decision(Decision::NotGranted),
        message: message.into(),
    }
}

/// A 409 with the reason `installation_uninstalled`.
pub(super) fn uninstalled() -> AuthorityError {
    AuthorityError::Conflict {
        reason: Reason::InstallationUninstalled,
        message: "the installation is uninstalled".into(),
    }
}

/// A 409 with the reason `conflict`.
pub(super) fn conflict(message: impl Into<String>) -> AuthorityError {
    AuthorityError::Conflict {
        reason: Reason::Conflict,
        message: message.into(),
    }
}
