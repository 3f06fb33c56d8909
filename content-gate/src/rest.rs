//! The REST content gateway's rules for a decision that limits rows (a
//! grant's condition) or masks fields: what the host's proxy
//! (`/v1/content/…`) and an edge worker both enforce on the caller's
//! writes and the upstream's answers, so neither leaves it to the upstream.
//!
//! - Reads: a list (a JSON array) keeps the rows that meet the filter; one
//!   row (the path names an id) that does not meet it is absent (404);
//!   masked fields are removed from every row.
//! - Creates: the body must be a JSON object that meets the filter (its
//!   owner field set to the principal, say): else `not_granted`.
//! - A write of a masked field: `masked_field`.
//!
//! (Writes to one row are preceded by a read of it, whose answer must be
//! present and meet the filter; writes to a whole collection under a filter
//! cannot be held to it. The callers do the I/O for both.)
//!
//! Rows are compared as the verifier compares a document: a condition's
//! fields against the row's top-level scalars.

use serde_json::Value;
use verifier_core::{Condition, Decision};

use crate::values::{meets, scalar_text};

/// What a decision limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The rows (any of these), or `None` for every row.
    pub filter: Option<Vec<Condition>>,
    /// Fields to mask.
    pub masked: Vec<String>,
}

/// Why a write is refused: a stable reason (`not_granted`,
/// `masked_field`) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRefused {
    /// The stable reason.
    pub reason: &'static str,
    /// For people.
    pub message: String,
}

impl Limits {
    /// The limits of an allowed decision, if it has any.
    pub fn of(decision: &Decision) -> Option<Limits> {
        (decision.filter.is_some() || !decision.masked.is_empty()).then(|| Limits {
            filter: decision.filter.clone(),
            masked: decision.masked.clone(),
        })
    }

    /// Whether `row` (a JSON object) is among the caller's rows.
    pub fn meets(&self, row: &Value) -> bool {
        let Some(filter) = &self.filter else {
            return true;
        };
        let Some(object) = row.as_object() else {
            return false;
        };
        meets(core::slice::from_ref(filter), |field| {
            object.get(field).and_then(scalar_text)
        })
    }

    fn strip(&self, row: &mut Value) {
        if let Some(object) = row.as_object_mut() {
            for field in &self.masked {
                object.remove(field);
            }
        }
    }

    /// A read's answer held to the limits; `None` when the one row it is
    /// (`single`) is not the caller's. An object answered to a list path
    /// (a created or changed row) is one row too: `null` if not the
    /// caller's.
    pub fn answer(&self, single: bool, mut value: Value) -> Option<Value> {
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
        }
        Some(value)
    }

    /// Whether a written body may go on: no masked field, and (`create`)
    /// among the caller's rows.
    pub fn write(&self, body: &Value, create: bool) -> Result<(), WriteRefused> {
        let object = body.as_object();
        if let Some(field) = self
            .masked
            .iter()
            .find(|f| object.is_some_and(|o| o.contains_key(f.as_str())))
        {
            return Err(WriteRefused {
                reason: "masked_field",
                message: format!("{field} is masked for these credentials and cannot be written"),
            });
        }
        if create && !self.meets(body) {
            return Err(WriteRefused {
                reason: "not_granted",
                message: "the new row is not among the rows these credentials may create".into(),
            });
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
            l.write(&json!({"ownerId": "u2"}), true).unwrap_err().reason,
            "not_granted"
        );
        assert_eq!(
            l.write(&json!({"title": "t"}), true).unwrap_err().reason,
            "not_granted"
        );
        assert_eq!(
            l.write(&json!({"notes": "n"}), false).unwrap_err().reason,
            "masked_field"
        );
        assert!(l.write(&json!({"title": "t"}), false).is_ok());
    }
}
