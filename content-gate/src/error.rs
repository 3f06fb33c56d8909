//! How the gate stops a request: refused before any check (400), or denied
//! (401/403) with GraphQL's error shape, one error per field, each with a
//! stable reason and the field's path.

use serde::Serialize;
use serde_json::{Value, json};

use crate::document::Refused;

/// The gate's own reasons (the verifier's are `verifier_core::Reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateReason {
    /// A root field that addresses no registered model (nor is
    /// introspection), or sits in the wrong operation type.
    UnknownField,
    /// A write of a field the caller's grants mask.
    MaskedField,
    /// The caller's rows are limited by a condition on a field that is not a
    /// GraphQL name, which the gate cannot write into a `where`.
    UnenforceableFilter,
    /// A one-row write whose row is outside the caller's rows (or does not
    /// exist: the two are not told apart).
    NotYourRow,
}

impl GateReason {
    /// The stable string.
    pub fn as_str(self) -> &'static str {
        match self {
            GateReason::UnknownField => "unknown_field",
            GateReason::MaskedField => "masked_field",
            GateReason::UnenforceableFilter => "unenforceable_filter",
            GateReason::NotYourRow => "not_your_row",
        }
    }
}

/// One field's denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Stable reason.
    pub reason: String,
    /// Human message.
    pub message: String,
    /// The field's path (its response key first).
    pub path: Vec<String>,
}

/// A denial: the status and every field's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// 401 when a credential problem denied it, else 403.
    pub status: u16,
    /// One per field denied.
    pub errors: Vec<FieldError>,
}

impl Denied {
    /// The first error's reason.
    pub fn reason(&self) -> &str {
        self.errors
            .first()
            .map_or("not_granted", |e| e.reason.as_str())
    }

    /// GraphQL's error shape: `{ errors: [{ message, path, extensions: {
    /// reason, path } }] }`.
    pub fn body(&self) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| {
                json!({
                    "message": e.message,
                    "path": e.path,
                    "extensions": { "reason": e.reason, "path": e.path },
                })
            })
            .collect();
        json!({ "errors": errors })
    }
}

/// Why a request does not go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Not a request the gate takes (400), with its reason.
    Refused(Refused),
    /// Checked and denied.
    Denied(Denied),
}

impl From<Refused> for Stop {
    fn from(r: Refused) -> Self {
        Stop::Refused(r)
    }
}

impl Refused {
    /// The stable reason of a refusal.
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::TooLarge => "document_too_large",
            Refused::TooDeep => "document_too_deep",
            Refused::TooManyRootFields => "too_many_root_fields",
            Refused::TooManyAliases => "too_many_aliases",
            Refused::Invalid(_) => "invalid_document",
        }
    }
}
