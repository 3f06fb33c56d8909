//! Decisions: what the verifier answers.
//!
//! JSON shape: `{ "allow": true, "reason": "allowed", "principal": "…",
//! "filter": [ { "ownerId": "token:…" } ], "masked": ["email"] }`.
//! `principal` is absent for public and denied requests; `filter` is absent
//! when the request is not limited to some rows, and otherwise lists
//! alternatives: a row may be touched if it matches **any** of them (each one
//! a set of field equalities that must all hold). `masked` is always present.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::grant::Condition;

/// Why a decision came out as it did. The wire names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// A token's grants allow the request.
    Allowed,
    /// No credentials, and the environment's public grants allow it.
    Public,
    /// No credentials, and public access does not allow it.
    MissingCredentials,
    /// The `Authorization` value is not a well-formed token header.
    Malformed,
    /// No record for the tokenId.
    UnknownToken,
    /// The secret does not match (the id's hash prefix or the stored hash).
    BadSecret,
    /// The token's `expiresAt` has passed.
    Expired,
    /// The token was revoked.
    Revoked,
    /// The token is bound to another environment.
    WrongEnvironment,
    /// Authenticated, but no grant covers the request.
    NotGranted,
}

impl Reason {
    /// Every reason, in the order of DESIGN.md.
    pub const ALL: [Reason; 10] = [
        Reason::Allowed,
        Reason::Public,
        Reason::MissingCredentials,
        Reason::Malformed,
        Reason::UnknownToken,
        Reason::BadSecret,
        Reason::Expired,
        Reason::Revoked,
        Reason::WrongEnvironment,
        Reason::NotGranted,
    ];

    /// The stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::Public => "public",
            Reason::MissingCredentials => "missing_credentials",
            Reason::Malformed => "malformed",
            Reason::UnknownToken => "unknown_token",
            Reason::BadSecret => "bad_secret",
            Reason::Expired => "expired",
            Reason::Revoked => "revoked",
            Reason::WrongEnvironment => "wrong_environment",
            Reason::NotGranted => "not_granted",
        }
    }

    /// Whether this reason allows the request.
    pub fn allows(self) -> bool {
        matches!(self, Reason::Allowed | Reason::Public)
    }

    /// Whether the caller's identity was not established (HTTP 401), as
    /// opposed to established but not permitted (HTTP 403) or allowed.
    pub fn is_unauthenticated(self) -> bool {
        matches!(
            self,
            Reason::MissingCredentials
                | Reason::Malformed
                | Reason::UnknownToken
                | Reason::BadSecret
                | Reason::Expired
                | Reason::Revoked
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verifier's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decision {
    /// Whether to let the request through.
    pub allow: bool,
    /// Why.
    pub reason: Reason,
    /// Who is asking (allowed token requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The rows the request is limited to (any of these), `$principal`
    /// resolved; `None` = not limited. The caller must apply it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Vec<Condition>>,
    /// Sensitive fields the caller must mask in what it returns.
    #[serde(default)]
    pub masked: Vec<String>,
}

impl Decision {
    /// A denial for `reason`.
    pub fn deny(reason: Reason) -> Self {
        Decision {
            allow: false,
            reason,
            principal: None,
            filter: None,
            masked: Vec::new(),
        }
    }
}

/// A decision as it is made: the principal borrowed when the record (or
/// what a driver keeps prepared with it) already holds it, so deciding does
/// not copy it; the module encodes this directly. [`Decision`] is its owned
/// form.
#[derive(Debug)]
pub(crate) struct Verdict<'a> {
    pub(crate) allow: bool,
    pub(crate) reason: Reason,
    pub(crate) principal: Option<alloc::borrow::Cow<'a, str>>,
    pub(crate) filter: Option<Vec<Condition>>,
    pub(crate) masked: Vec<String>,
}

impl Verdict<'_> {
    /// A denial for `reason`.
    pub(crate) fn deny(reason: Reason) -> Self {
        Verdict {
            allow: false,
            reason,
            principal: None,
            filter: None,
            masked: Vec::new(),
        }
    }
}

impl From<Verdict<'_>> for Decision {
    fn from(v: Verdict<'_>) -> Self {
        Decision {
            allow: v.allow,
            reason: v.reason,
            principal: v.principal.map(alloc::borrow::Cow::into_owned),
            filter: v.filter,
            masked: v.masked,
        }
    }
}
