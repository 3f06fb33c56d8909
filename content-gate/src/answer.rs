//! Holding the upstream's answer to the decisions: rows outside the
//! caller's dropped (lists, `edges`) or answered `null` (one row), the
//! masked fields `null` wherever the query selected them (under any alias,
//! through fragments), the gate's own aliases removed, and the masked paths
//! listed in `extensions.masked`. The preflight's answer decides whether
//! one-row writes go on.

use serde_json::{Map, Value};

use crate::authorize::{Authorized, Enforced};
use crate::document::Selected;
use crate::error::{Denied, FieldError, GateReason};
use crate::naming::Shape;
use crate::plan::RESERVED_PREFIX;
use crate::values::{meets, scalar_text};

impl Authorized {
    /// Whether every one-row write may go on: its row, as the preflight
    /// query found it, exists and is the caller's. Denied otherwise
    /// (`not_your_row`: a missing row and another's are not told apart).
    pub fn check_preflight(&self, answer: &Value) -> Result<(), Denied> {
        let data = answer.get("data");
        let errors: Vec<FieldError> = self
            .fields
            .iter()
            .filter_map(|e| {
                let alias = e.preflight.as_ref()?;
                let row = data.and_then(|d| d.get(alias));
                let ours = row.is_some_and(|r| row_meets(e, r));
                (!ours).then(|| FieldError {
                    reason: GateReason::NotYourRow.as_str().into(),
                    message: "no such row among the caller's".into(),
                    path: vec![e.key.clone()],
                })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Denied {
                status: 403,
                errors,
            })
        }
    }

    /// The answer held to the decisions, and the masked paths (`key.field`,
    /// `key.edges.node.field`, response keys, each once).
    pub fn finish(&self, mut answer: Value) -> (Value, Vec<String>) {
        let mut masked = Vec::new();
        if let Some(data) = answer.get_mut("data").and_then(Value::as_object_mut) {
            for e in &self.fields {
                if let Some(value) = data.get_mut(&e.key) {
                    hold(e, value, &mut masked);
                }
            }
        }
        if !masked.is_empty()
            && let Some(object) = answer.as_object_mut()
        {
            let extensions = object
                .entry("extensions")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(ext) = extensions.as_object_mut() {
                ext.insert(
                    "masked".into(),
                    Value::Array(masked.iter().cloned().map(Value::String).collect()),
                );
            }
        }
        (answer, masked)
    }
}

/// Whether `row`'s hidden condition fields meet the field's requirement.
fn row_meets(e: &Enforced, row: &Value) -> bool {
    let Some(object) = row.as_object() else {
        return false;
    };
    meets(&e.requirement, |field| {
        let (alias, _) = e.hidden.iter().find(|(_, f)| f == field)?;
        object.get(alias).and_then(scalar_text)
    })
}

fn hold(e: &Enforced, value: &mut Value, masked: &mut Vec<String>) {
    match e.shape {
        Some(Shape::Many) => {
            if let Some(rows) = value.as_array_mut() {
                if e.checks_rows {
                    rows.retain(|row| row_meets(e, row));
                }
                for row in rows.iter_mut() {
                    tidy_row(e, row, &e.root.below, &e.key, masked);
                }
            }
        }
        Some(Shape::Connection) => hold_connection(e, value, masked),
        Some(Shape::One | Shape::Create | Shape::Upsert) => {
            if e.checks_rows && !value.is_null() && !row_meets(e, value) {
                *value = Value::Null;
            }
            tidy_row(e, value, &e.root.below, &e.key, masked);
        }
        None => {}
    }
}

/// `edges` of a connection: those whose hidden twin does not meet the
/// requirement dropped (the twin, `_tallyedges`, is the same list in the
/// same order), every node's masked fields nulled.
fn hold_connection(e: &Enforced, value: &mut Value, masked: &mut Vec<String>) {
    let Some(connection) = value.as_object_mut() else {
        return;
    };
    let twin_key = format!("{RESERVED_PREFIX}edges");
    let keep: Option<Vec<bool>> = connection.remove(&twin_key).map(|twin| {
        let node_key = format!("{RESERVED_PREFIX}node");
        twin.as_array()
            .map(|edges| {
                edges
                    .iter()
                    .map(|edge| edge.get(&node_key).is_some_and(|n| row_meets(e, n)))
                    .collect()
            })
            .unwrap_or_default()
    });
    for edges_sel in e.root.below.iter().filter(|s| s.name == "edges") {
        let Some(edges) = connection
            .get_mut(&edges_sel.key)
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        if e.checks_rows {
            let keep = keep.clone().unwrap_or_default();
            let mut i = 0;
            edges.retain(|_| {
                let kept = keep.get(i).copied().unwrap_or(false);
                i += 1;
                kept
            });
        }
        for node_sel in edges_sel.below.iter().filter(|s| s.name == "node") {
            let path = format!("{}.{}.{}", e.key, edges_sel.key, node_sel.key);
            for edge in edges.iter_mut() {
                if let Some(node) = edge.get_mut(&node_sel.key) {
                    tidy_row(e, node, &node_sel.below, &path, masked);
                }
            }
        }
    }
}

/// One row: the gate's aliases removed, masked fields nulled.
fn tidy_row(
    e: &Enforced,
    row: &mut Value,
    below: &[Selected],
    path: &str,
    masked: &mut Vec<String>,
) {
    let Some(object) = row.as_object_mut() else {
        return;
    };
    for (alias, _) in &e.hidden {
        object.remove(alias);
    }
    for s in below.iter().filter(|s| e.masked.contains(&s.name)) {
        if let Some(v) = object.get_mut(&s.key) {
            *v = Value::Null;
            let p = format!("{path}.{}", s.key);
            if !masked.contains(&p) {
                masked.push(p);
            }
        }
    }
}
