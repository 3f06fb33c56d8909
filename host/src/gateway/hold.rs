//! The content proxy's answers held to the decision: a decision that
//! limits rows (a grant's condition) or masks fields is enforced on what
//! the upstream sends back and on what the caller writes, not only handed
//! to the upstream in `X-Tally-Filter` / `X-Tally-Masked`.
//!
//! - Reads: a list (a JSON array) keeps the rows that meet the filter; one
//!   row (the path names an id) that does not meet it is 404, as if absent;
//!   masked fields are removed from every row.
//! - Creates (`POST`): the body must be a JSON object that meets the filter
//!   (its owner field set to the principal, say), else 403 `not_granted`.
//! - Writes to one row (`PUT`, `PATCH`, `DELETE` with an id): the row is
//!   read first (`GET` on the same path); unless it exists and meets the
//!   filter the write is 404 and never forwarded. Writes to a whole
//!   collection under a filter cannot be held to it: 403
//!   `unenforceable_filter`.
//! - A write of a masked field is 403 `masked_field`.
//!
//! Rows are compared as the verifier compares a document: a condition's
//! fields against the row's top-level scalars (`content_gate::values`).
//! Answers that are not JSON cannot be held to anything: 502
//! `unreadable_answer`, never passed through.

use content_gate::values::{meets, scalar_text};
use serde_json::Value;
use verifier_core::Condition;
use verifier_core::abi::DecisionView;

use crate::reason::Reason as HostReason;

/// What a decision limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The rows (any of these), or `None` for every row.
    pub(crate) filter: Option<Vec<Condition>>,
    /// Fields to mask.
    pub(crate) masked: Vec<String>,
}

impl Limits {
    /// The limits of an allowed decision, if it has any.
    pub(crate) fn of(view: &DecisionView<'_>) -> Option<Limits> {
        let filter = view.filter_conditions();
        (filter.is_some() || !view.masked.is_empty()).then(|| Limits {
            filter,
            masked: view.masked.iter().map(|m| String::from(*m)).collect(),
        })
    }

    /// Whether `row` (a JSON object) is among the caller's rows.
    pub(crate) fn meets(&self, row: &Value) -> bool {
        let Some(filter) = &self.filter else {
            return true;
        };
        let Some(object) = row.as_object() else {
            return false;
        };
        meets(&vec![filter.clone()], |field| {
            object.get(field).and_then(scalar_text)
        })
    }

    /// `row` without its masked fields.
    fn strip(&self, row: &mut Value) {
        if let Some(object) = row.as_object_mut() {
            for field in &self.masked {
                object.remove(field);
            }
        }
    }

    /// A read's answer held to the limits; `None` when the one row it is
    /// (`single`) is not the caller's.
    pub(crate) fn answer(&self, single: bool, mut value: Value) -> Option<Value> {
        if single || value.is_object() {
            if self.filter.is_some() && !self.meets(&value) {
                return if single { None } else { Some(Value::Null) };
            }
            self.strip(&mut value);
            return Some(value);
        }
        if let Some(rows) = value.as_array_mut() {
            rows.retain(|row| self.meets(row));
            for row in rows.iter_mut() {
                self.strip(row);
            }
            return Some(value);
        }
        // A scalar answer has neither rows nor fields to hold.
        Some(value)
    }

    /// Whether a written body may go on: no masked field, and (`create`)
    /// among the caller's rows.
    pub(crate) fn write(&self, body: &Value, create: bool) -> Result<(), (HostReason, String)> {
        if let Some(field) = self
            .masked
            .iter()
            .find(|f| body.as_object().is_some_and(|o| o.contains_key(f.as_str())))
        {
            return Err((
                HostReason::MaskedField,
                format!("{field} is masked for these credentials and cannot be written"),
            ));
        }
        if create && !self.meets(body) {
            return Err((
                HostReason::Decision(verifier_core::Reason::NotGranted),
                "the new row is not among the rows these credentials may create".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> Limits {
        Limits {
            filter: Some(vec![Condition::from([("ownerId".into(), "u1".into())])]),
            masked: vec!["notes".into()],
        }
    }

    #[test]
    fn lists_keep_the_callers_rows_and_single_rows_of_others_are_absent() {
        let l = limits();
        let list =
            json!([{"id": 1, "ownerId": "u1", "notes": "x"}, {"id": 2, "ownerId": "u2"}, "odd"]);
        assert_eq!(
            l.answer(false, list),
            Some(json!([{"id": 1, "ownerId": "u1"}]))
        );
        assert_eq!(l.answer(true, json!({"id": 2, "ownerId": "u2"})), None);
        assert_eq!(
            l.answer(true, json!({"id": 1, "ownerId": "u1", "notes": "x"})),
            Some(json!({"id": 1, "ownerId": "u1"}))
        );
        let only_masked = Limits {
            filter: None,
            masked: vec!["notes".into()],
        };
        assert_eq!(
            only_masked.answer(false, json!([{"ownerId": "u2", "notes": 1}])),
            Some(json!([{"ownerId": "u2"}]))
        );
    }

    #[test]
    fn writes_are_held_to_the_limits() {
        let l = limits();
        assert!(
            l.write(&json!({"ownerId": "u1", "title": "t"}), true)
                .is_ok()
        );
        assert_eq!(
            l.write(&json!({"ownerId": "u2"}), true).unwrap_err().0,
            HostReason::Decision(verifier_core::Reason::NotGranted)
        );
        assert_eq!(
            l.write(&json!({"title": "t"}), true)
                .unwrap_err()
                .0
                .as_str(),
            "not_granted"
        );
        assert_eq!(
            l.write(&json!({"notes": "n"}), false).unwrap_err().0,
            HostReason::MaskedField
        );
        assert!(l.write(&json!({"title": "t"}), false).is_ok());
    }
}
