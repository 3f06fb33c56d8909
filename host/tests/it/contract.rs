//! The wire contract JavaScript and TypeScript share with the host,
//! generated from the Rust tables rather than copied: `npm/src/contract.js`
//! must be exactly what [`render`] makes of them, and its types,
//! `npm/src/contract.d.ts`, what [`render_types`] makes. After changing a
//! reason, the gateway's `action_of`, or one of the wire enums listed
//! there, rewrite both with
//! `TALLY_BLESS=1 cargo test -p tally --test it contract` and commit them.

use std::path::PathBuf;

use axum::http::Method;
use tally::gateway::action_of;
use tally::reason::Reason;

/// `MAX_LINE` is where a union type breaks into one member a line.
const MAX_LINE: usize = 100;

/// A TypeScript union of string literals.
fn union(name: &str, doc: &str, names: impl Iterator<Item = String>) -> String {
    let members: Vec<String> = names.map(|n| format!("{n:?}")).collect();
    let line = format!("export type {name} = {};", members.join(" | "));
    let body = if line.len() <= MAX_LINE {
        line
    } else {
        let lines: Vec<String> = members.iter().map(|m| format!("\n  | {m}")).collect();
        format!("export type {name} ={};", lines.concat())
    };
    format!("/** {doc} */\n{body}\n")
}

/// A wire enum's names, as serde spells them on the wire.
fn spelled<T: serde::Serialize>(all: &[T]) -> impl Iterator<Item = String> + '_ {
    all.iter().map(|v| match serde_json::to_value(v) {
        Ok(serde_json::Value::String(name)) => name,
        other => panic!("a wire enum spells itself as a string, not {other:?}"),
    })
}

/// The methods HTTP defines; those the gateway maps are written out.
const METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
    Method::CONNECT,
];

/// The types of `contract.js`, and the wire enums the SDK's types name.
fn render_types() -> String {
    use verifier_core::{Api, FIELD_TYPES, InstallationStatus, TokenKind};
    let reasons = || verifier_core::Reason::ALL.iter();
    let actions: Vec<String> = METHODS
        .iter()
        .filter_map(|m| action_of(m).map(|a| format!("  {m}: {:?};\n", a.as_str())))
        .collect();
    [
        "// Generated from the Rust sources (verifier-core's wire enums, tally::reason,\n\
         // tally::gateway::action_of) by host/tests/it/contract.rs; do not edit.\n\
         // Rewrite: TALLY_BLESS=1 cargo test -p tally --test it contract\n"
            .to_owned(),
        union(
            "DecisionReason",
            "Why a check ended as it did (verifier-core's `Reason`), in wire order.",
            reasons().map(|r| r.as_str().to_owned()),
        ),
        union(
            "UnauthenticatedReason",
            "Decision reasons that mean \"no valid credentials\" (HTTP 401).",
            reasons()
                .filter(|r| r.is_unauthenticated())
                .map(|r| r.as_str().to_owned()),
        ),
        union(
            "HostReason",
            "Reasons the host adds to the decisions' own (errors' `reason`, `X-Tally-Reason`).",
            Reason::HOST.iter().map(|r| r.as_str().to_owned()),
        ),
        union(
            "Api",
            "Which of the platform's APIs a grant or request is about.",
            spelled(&Api::ALL),
        ),
        union(
            "TokenKind",
            "What a token is for.",
            spelled(&TokenKind::ALL),
        ),
        union(
            "InstallationStatus",
            "Where an installation stands.",
            spelled(&InstallationStatus::ALL),
        ),
        union(
            "FieldType",
            "The field types a field element edits (the host's `fieldType`).",
            FIELD_TYPES.iter().map(|t| (*t).to_owned()),
        ),
        "/** Decision reasons, in wire order (the ABI's variant index). */\n\
         export declare const DECISION_REASONS: readonly DecisionReason[];\n\
         /** Decision reasons that mean \"no valid credentials\" (HTTP 401); other denials are 403.\n\
         \x20* Typed as every decision reason, so that `includes(decision.reason)` type-checks. */\n\
         export declare const UNAUTHENTICATED_REASONS: readonly DecisionReason[];\n\
         /** Reasons the host adds to the decisions' own. */\n\
         export declare const HOST_REASONS: readonly HostReason[];\n"
            .to_owned(),
        format!(
            "/** The action the gateway checks for each method it forwards; any other is 405. */\n\
             export declare const METHOD_ACTIONS: Readonly<{{\n{}}}>;\n",
            actions.concat()
        ),
    ]
    .join("\n")
}

fn list(names: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = names.map(|n| format!("  {n:?},\n")).collect();
    format!("[\n{}]", items.concat())
}

/// The file's text, from the Rust tables.
fn render() -> String {
    let decisions = list(
        verifier_core::Reason::ALL
            .iter()
            .map(|r| r.as_str().to_owned()),
    );
    let unauthenticated = list(
        verifier_core::Reason::ALL
            .iter()
            .filter(|r| r.is_unauthenticated())
            .map(|r| r.as_str().to_owned()),
    );
    let host = list(Reason::HOST.iter().map(|r| r.as_str().to_owned()));
    let actions: Vec<String> = METHODS
        .iter()
        .filter_map(|m| action_of(m).map(|a| format!("  {m}: {:?},\n", a.as_str())))
        .collect();
    format!(
        "// Generated from the Rust sources (verifier-core's Reason, tally::reason,\n\
         // tally::gateway::action_of) by host/tests/it/contract.rs; do not edit.\n\
         // Rewrite: TALLY_BLESS=1 cargo test -p tally --test it contract\n\
         \n\
         /** Decision reasons, in wire order (the ABI's variant index). */\n\
         export const DECISION_REASONS = Object.freeze({decisions});\n\
         \n\
         /** Decision reasons that mean \"no valid credentials\" (HTTP 401); other denials are 403. */\n\
         export const UNAUTHENTICATED_REASONS = Object.freeze({unauthenticated});\n\
         \n\
         /** Reasons the host adds to the decisions' own (errors' `reason`, `X-Tally-Reason`). */\n\
         export const HOST_REASONS = Object.freeze({host});\n\
         \n\
         /** The action the gateway checks for each method it forwards; any other is 405. */\n\
         export const METHOD_ACTIONS = Object.freeze({{\n{}}});\n",
        actions.concat()
    )
}

/// `file` (under `npm/src/`) is `want`; rewritten first under `TALLY_BLESS`.
fn generated(file: &str, want: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../npm/src")
        .join(file);
    if std::env::var_os("TALLY_BLESS").is_some() {
        std::fs::write(&path, want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is not what the Rust tables make; rewrite it with \
         TALLY_BLESS=1 cargo test -p tally --test it contract",
        path.display()
    );
}

#[test]
fn the_javascript_contract_is_generated_from_the_rust_tables() {
    generated("contract.js", &render());
}

#[test]
fn the_typescript_contract_is_generated_from_the_rust_tables() {
    generated("contract.d.ts", &render_types());
}
