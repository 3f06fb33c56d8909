//! The wire contract JavaScript shares with the host, generated from the
//! Rust tables rather than copied: `npm/src/contract.js` must be exactly
//! what [`render`] makes of them. After changing a reason or the gateway's
//! `action_of`, rewrite it with
//! `TALLY_BLESS=1 cargo test -p tally --test it contract` and commit it.

use std::path::PathBuf;

use axum::http::Method;
use tally::gateway::action_of;
use tally::reason::Reason;

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
    // Every method HTTP defines; those the gateway maps are written out.
    let methods = [
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
    let actions: Vec<String> = methods
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

#[test]
fn the_javascript_contract_is_generated_from_the_rust_tables() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../npm/src/contract.js");
    let want = render();
    if std::env::var_os("TALLY_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is not what the Rust tables make; rewrite it with \
         TALLY_BLESS=1 cargo test -p tally --test it contract",
        path.display()
    );
}
