//! Argument values: resolved against the request's variables into JSON, and
//! JSON written back as GraphQL literals (the filters the gate adds).

use serde_json::{Map, Value};
use verifier_core::Condition;

use crate::document::Written;

/// `written` with its variables taken from `variables` (an absent variable
/// is `null`, as GraphQL has it for an optional one).
pub fn resolve(written: &Written, variables: &Map<String, Value>) -> Value {
    match written {
        Written::Variable(name) => variables.get(name).cloned().unwrap_or(Value::Null),
        Written::String(s) | Written::Enum(s) => Value::String(s.clone()),
        Written::Number(n) => n
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| n.parse::<f64>().map(Value::from))
            .unwrap_or(Value::Null),
        Written::Boolean(b) => Value::Bool(*b),
        Written::Null => Value::Null,
        Written::List(items) => Value::Array(items.iter().map(|v| resolve(v, variables)).collect()),
        Written::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), resolve(v, variables)))
                .collect(),
        ),
    }
}

/// A scalar as the verifier compares it: strings as they are, numbers and
/// booleans in their JSON form; `None` for null, lists and objects.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `value` as a GraphQL input literal: objects, lists, strings (escaped),
/// numbers, booleans, null. `None` when an object key is not a GraphQL
/// name: spliced into a document it could be syntax, so nothing is written.
pub fn literal(value: &Value) -> Option<String> {
    let mut out = String::new();
    write_literal(value, &mut out).then_some(out)
}

/// Whether `name` is a GraphQL name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

#[must_use]
fn write_literal(value: &Value, out: &mut String) -> bool {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        // A JSON string is a valid GraphQL string: the same escapes.
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if !write_literal(item, out) {
                    return false;
                }
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if !is_name(k) {
                    return false;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(": ");
                if !write_literal(v, out) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    true
}

/// The rows a field is limited to: every entry must hold (one per check
/// that came back limited), and an entry holds when any of its conditions
/// does (the verifier's alternatives). Empty: not limited.
pub type Requirement = Vec<Vec<Condition>>;

/// The requirement as a `where` input: `{ AND: [{ OR: [{ f: "v" }, …] }, …] }`.
pub fn requirement_input(requirement: &Requirement) -> Value {
    let entries = requirement
        .iter()
        .map(|alternatives| {
            let any = alternatives
                .iter()
                .map(|c| {
                    Value::Object(
                        c.iter()
                            .map(|(f, v)| (f.clone(), Value::String(v.clone())))
                            .collect(),
                    )
                })
                .collect();
            let mut or = Map::new();
            or.insert("OR".into(), Value::Array(any));
            Value::Object(or)
        })
        .collect();
    let mut and = Map::new();
    and.insert("AND".into(), Value::Array(entries));
    Value::Object(and)
}

/// Whether a row whose condition fields read `field(name)` meets the
/// requirement.
pub fn meets(requirement: &[Vec<Condition>], field: impl Fn(&str) -> Option<String>) -> bool {
    requirement.iter().all(|alternatives| {
        alternatives.iter().any(|c| {
            c.iter()
                .all(|(f, v)| field(f).as_deref() == Some(v.as_str()))
        })
    })
}

/// The condition fields a requirement reads, each once, sorted.
pub fn requirement_fields(requirement: &Requirement) -> Vec<String> {
    let mut fields: Vec<String> = requirement
        .iter()
        .flatten()
        .flat_map(|c| c.keys().cloned())
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals_are_graphql() {
        let v =
            json!({"AND": [{"title": "a \"b\"\n"}, {"n": 1, "ok": true, "x": null, "l": [1, 2]}]});
        assert_eq!(
            literal(&v).unwrap(),
            r#"{AND: [{title: "a \"b\"\n"}, {l: [1, 2], n: 1, ok: true, x: null}]}"#
        );
        // A key that is not a name could be syntax: nothing is written.
        assert_eq!(
            literal(&json!({"id: \"1\"}) { secret } x: posts(where: {id": "2"})),
            None
        );
        assert_eq!(literal(&json!([{"ok": 1}, {"no way": 2}])), None);
    }

    #[test]
    fn a_requirement_is_and_of_ors() {
        let c = |f: &str, v: &str| Condition::from([(f.to_string(), v.to_string())]);
        let req: Requirement = vec![
            vec![c("ownerId", "u1"), c("shared", "true")],
            vec![c("team", "t")],
        ];
        assert_eq!(
            requirement_input(&req),
            json!({"AND": [{"OR": [{"ownerId": "u1"}, {"shared": "true"}]}, {"OR": [{"team": "t"}]}]})
        );
        let row = |o: &str, s: &str, t: &str| {
            let (o, s, t) = (o.to_string(), s.to_string(), t.to_string());
            move |f: &str| match f {
                "ownerId" => Some(o.clone()),
                "shared" => Some(s.clone()),
                "team" => Some(t.clone()),
                _ => None,
            }
        };
        assert!(meets(&req, row("u1", "false", "t")));
        assert!(meets(&req, row("u2", "true", "t")));
        assert!(!meets(&req, row("u2", "false", "t")));
        assert!(!meets(&req, row("u1", "false", "x")));
        assert!(meets(&Vec::new(), row("", "", "")));
        assert_eq!(requirement_fields(&req), ["ownerId", "shared", "team"]);
    }
}
