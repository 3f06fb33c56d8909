//! Test data shared by the native tests: the known-answer vectors of
//! `shared/vectors/` and this crate's decision table.

use std::path::PathBuf;

use serde_json::Value;

/// `shared/vectors/tokens.json`: from `$TALLY_VECTORS` if set, else the
/// `shared/` folder beside the checkout. Missing vectors fail the test; they
/// are never skipped.
pub fn token_vectors() -> Value {
    let dir = std::env::var_os("TALLY_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"));
    read_json(dir.join("tokens.json"))
}

/// `verifier-core/tests/data/decisions.json`. (Paths go through the
/// workspace root, so host's tests can include this module too.)
pub fn decision_table() -> Value {
    read_json(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../verifier-core/tests/data/decisions.json"),
    )
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// One decision-table case with its overrides applied to the table's base.
pub struct Case {
    pub name: String,
    pub header: String,
    pub record: Option<Value>,
    pub environment: Option<Value>,
    pub request: Value,
    pub expect: Value,
}

impl Case {
    /// The case's record, environment and request, typed. A case that does
    /// not read is a broken table: the test fails naming it.
    pub fn decoded(
        &self,
    ) -> (
        Option<verifier_core::TokenRecord>,
        Option<verifier_core::Environment>,
        verifier_core::Request,
    ) {
        let record = self.record.clone().map(|r| {
            serde_json::from_value(r).unwrap_or_else(|e| panic!("{}: record: {e}", self.name))
        });
        let environment = self.environment.clone().map(|e| {
            serde_json::from_value(e).unwrap_or_else(|err| panic!("{}: env: {err}", self.name))
        });
        let request = serde_json::from_value(self.request.clone())
            .unwrap_or_else(|e| panic!("{}: request: {e}", self.name));
        (record, environment, request)
    }
}

/// Every case of the decision table, merged. The merge rule is the one the
/// Node runner uses too: an object override replaces keys one level deep; a
/// `null` value removes the key.
pub fn cases() -> Vec<Case> {
    let table = decision_table();
    let base = &table["base"];
    let merged = |case: &Value, key: &str| -> Value {
        let mut out = base[key].clone();
        match (&mut out, case.get(key)) {
            (Value::Object(out), Some(Value::Object(over))) => {
                for (k, v) in over {
                    if v.is_null() {
                        out.remove(k);
                    } else {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            (out, Some(over)) => *out = over.clone(),
            (_, None) => {}
        }
        out
    };
    table["cases"]
        .as_array()
        .expect("cases is an array")
        .iter()
        .map(|case| Case {
            name: case["name"].as_str().expect("case name").to_owned(),
            header: merged(case, "header").as_str().expect("header").to_owned(),
            record: (case.get("noRecord") != Some(&Value::Bool(true)))
                .then(|| merged(case, "record")),
            environment: (case.get("noEnvironment") != Some(&Value::Bool(true)))
                .then(|| merged(case, "environment")),
            request: merged(case, "request"),
            expect: case["expect"].clone(),
        })
        .collect()
}

/// Lowercase hex to bytes.
pub fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("hex")
}
