//! Typed errors. Each maps to one stable, machine-readable reason string.
//!
//! Which errors a caller acts on: [`ParseError`] becomes a deny decision (the
//! caller only reports it); [`GrantError`], [`BodyError`] and
//! [`TransitionError`] are input mistakes to return to whoever sent the input
//! (HTTP 400 or 409), with their message.

use alloc::string::String;
use alloc::vec::Vec;

use crate::decision::Reason;
use crate::installation::InstallationStatus;

/// Why an `Authorization` header or token string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No credentials at all (an empty header value).
    #[error("no credentials")]
    Missing,
    /// Not a well-formed token header.
    #[error("malformed credentials: {0}")]
    Malformed(Malformed),
    /// Well-formed, but the tokenId is not the hash prefix of the secret.
    #[error("the secret does not belong to the token id")]
    BadSecret,
}

impl ParseError {
    /// The decision reason this error stands for.
    pub fn reason(self) -> Reason {
        match self {
            ParseError::Missing => Reason::MissingCredentials,
            ParseError::Malformed(_) => Reason::Malformed,
            ParseError::BadSecret => Reason::BadSecret,
        }
    }
}

/// What exactly was wrong with a malformed header (for logs and tests; the
/// public reason is always `malformed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Longer than [`MAX_HEADER_BYTES`](crate::token::MAX_HEADER_BYTES).
    #[error("header too long")]
    TooLong,
    /// The scheme is neither `AppToken` nor `Bearer`.
    #[error("unknown scheme")]
    Scheme,
    /// A scheme with no token after it.
    #[error("no token after the scheme")]
    NoToken,
    /// The token is not exactly 60 characters (this includes trailing data).
    #[error("token has the wrong length")]
    Length,
    /// No `.` between tokenId and secret.
    #[error("no separator between token id and secret")]
    Separator,
    /// The tokenId is not 16 lowercase hex characters.
    #[error("token id is not 16 lowercase hex characters")]
    TokenId,
    /// The secret is not canonical base64url of 32 bytes without padding.
    #[error("secret is not canonical base64url of 32 bytes")]
    Secret,
    /// A stored secret hash is not 64 hex characters.
    #[error("secret hash is not 64 hex characters")]
    SecretHash,
}

/// A grant or a grant list that the authority must not store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// More grants than [`MAX_GRANTS`](crate::grant::MAX_GRANTS).
    #[error("too many grants: {count} (at most {max})")]
    TooMany {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A list (models, stages, …) longer than
    /// [`MAX_LIST`](crate::grant::MAX_LIST), or a name that is empty or longer
    /// than [`MAX_NAME`](crate::grant::MAX_NAME).
    #[error("grant {index}: {field} is out of bounds")]
    OutOfBounds {
        /// Index of the grant.
        index: usize,
        /// The offending field.
        field: &'static str,
    },
    /// An action name with characters outside `[A-Za-z0-9_.:-]`, or empty.
    #[error("invalid action name")]
    Action,
}

/// A content model (or a registry of them) the authority refuses to store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A name that is not a GraphQL name (`[A-Za-z][A-Za-z0-9_]*`) within
    /// [`MAX_NAME`](crate::grant::MAX_NAME), or a list past
    /// [`MAX_LIST`](crate::grant::MAX_LIST).
    #[error("{field} must be GraphQL names ([A-Za-z][A-Za-z0-9_]*, at most 128 bytes)")]
    Name {
        /// The offending field.
        field: &'static str,
    },
    /// `apiIdPlural` equals `apiId` (ignoring case).
    #[error("apiIdPlural must differ from apiId")]
    PluralIsSingular,
    /// A name given twice: a sensitive field, or a model name (singular or
    /// plural) another model of the environment already uses.
    #[error("{0:?} is used twice")]
    Duplicate(String),
    /// More models than the environment may hold.
    #[error("an environment holds at most {max} models")]
    TooMany {
        /// The limit.
        max: usize,
    },
}

/// A JSON request body that is not what the endpoint takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Not a JSON object.
    #[error("body must be a JSON object")]
    NotAnObject,
    /// Required fields absent, empty or not strings (names in order).
    #[error("missing required fields: {}", .0.join(", "))]
    MissingFields(Vec<&'static str>),
    /// A field present with a value that is not allowed.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field's JSON name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// An installation status change that is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an installation cannot go from {from} to {to}")]
pub struct TransitionError {
    /// Current status.
    pub from: InstallationStatus,
    /// Requested status.
    pub to: InstallationStatus,
}

/// A wire name (token kind, installation status) that is not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown name")]
pub struct UnknownName;
