//! The verifier module under wasmtime: the same decisions as native, and
//! hostile plugins fail closed without hurting the host.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use host::runtime::{DEFAULT_MODULE, Limits, PluginError, Runtime, Verifier};
use serde_json::Value;
use verifier_core::{Environment, Request, TokenRecord, abi, verify};

/// verifier-core's test data helpers: the decision table and the vectors.
#[path = "../../verifier-core/tests/common/mod.rs"]
mod table;

/// One decision-table case: name, header, record, environment, request, expected decision.
type Case = (
    String,
    String,
    Option<TokenRecord>,
    Option<Environment>,
    Request,
    Value,
);

fn cases() -> Vec<Case> {
    table::cases()
        .into_iter()
        .map(|c| {
            (
                c.name,
                c.header,
                c.record.map(|r| serde_json::from_value(r).unwrap()),
                c.environment.map(|e| serde_json::from_value(e).unwrap()),
                serde_json::from_value(c.request).unwrap(),
                c.expect,
            )
        })
        .collect()
}

#[test]
fn the_decision_table_under_wasmtime_matches_native_and_the_expectations() {
    let verifier = Verifier::new(None, Limits::default()).unwrap();
    let plugin = verifier.plugin();
    let cases = cases();
    assert!(cases.len() >= 60);
    for (name, header, record, env, request, expect) in cases {
        let native = verify(&header, record.as_ref(), env.as_ref(), &request);
        let input = abi::encode_input(record.as_ref(), env.as_ref(), &request);
        let wasm = plugin.verify(header.as_bytes(), &input).unwrap();
        assert_eq!(wasm, native, "{name}");
        assert_eq!(serde_json::to_value(&wasm).unwrap(), expect, "{name}");
    }
}

#[test]
fn token_vectors_under_wasmtime() {
    let vectors = table::token_vectors();
    let verifier = Verifier::new(None, Limits::default()).unwrap();
    let plugin = verifier.plugin();
    for v in vectors["valid"].as_array().unwrap() {
        let id = plugin
            .parse(v["header"].as_str().unwrap().as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(id.to_string(), v["tokenId"]);
    }
    for v in vectors["invalidHeaders"].as_array().unwrap() {
        let reason = plugin
            .parse(v["header"].as_str().unwrap().as_bytes())
            .unwrap()
            .unwrap_err();
        assert_eq!(reason.as_str(), v["reason"]);
    }
}

#[test]
fn instances_are_reused_and_calls_from_many_threads_agree() {
    let verifier = Arc::new(Verifier::new(None, Limits::default()).unwrap());
    let cases = Arc::new(cases());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (verifier, cases) = (Arc::clone(&verifier), Arc::clone(&cases));
            std::thread::spawn(move || {
                for _ in 0..20 {
                    for (name, header, record, env, request, expect) in cases.iter() {
                        let input = abi::encode_input(record.as_ref(), env.as_ref(), request);
                        let d = verifier.plugin().verify(header.as_bytes(), &input).unwrap();
                        assert_eq!(&serde_json::to_value(&d).unwrap(), expect, "{name}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

// Hostile plugins: each exports the whole ABI, and misbehaves in one way.
const ABI_OK: &str = r#"
  (memory (export "memory") 1)
  (func (export "abi_version") (result i32) i32.const 1)
  (func (export "tally_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "tally_dealloc") (param i32 i32))
"#;

fn hostile(verify_body: &str, extra: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module {ABI_OK} {extra}
          (func (export "tally_parse") (param i32 i32) (result i32) {verify_body})
          (func (export "tally_verify") (param i32 i32 i32 i32) (result i32) {verify_body}))"#
    );
    wat::parse_str(wat).unwrap()
}

fn call(wasm: &[u8]) -> (Result<verifier_core::Decision, PluginError>, Duration) {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(wasm, Limits::default()).unwrap();
    let input = abi::encode_input(
        None,
        None,
        &Request::new(verifier_core::Api::Content, verifier_core::Action::READ, 0),
    );
    let start = Instant::now();
    let out = plugin.verify(b"", &input);
    (out, start.elapsed())
}

#[test]
fn an_endless_loop_hits_the_deadline() {
    let (out, elapsed) = call(&hostile("(loop (br 0)) i32.const 0", ""));
    assert_eq!(out.unwrap_err(), PluginError::Timeout);
    // Bounded by construction (20 ms deadline, 1 ms epochs); this only
    // guards against a deadline that never fires. Timings: BENCHMARKS.md.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn a_memory_bomb_is_capped_and_then_times_out() {
    // Grows memory until refused (the 16 MiB limit), then spins.
    let bomb = "(block (loop (br_if 1 (i32.eq (memory.grow (i32.const 16)) (i32.const -1))) (br 0))) (loop (br 0)) i32.const 0";
    let (out, _) = call(&hostile(bomb, ""));
    assert_eq!(out.unwrap_err(), PluginError::Timeout);
}

#[test]
fn a_trap_is_a_failure() {
    let (out, _) = call(&hostile("unreachable", ""));
    assert!(matches!(out.unwrap_err(), PluginError::Trap(_)));
}

#[test]
fn garbage_output_is_a_failure() {
    // A result block claiming more bytes than memory holds.
    let (out, _) = call(&hostile(
        "(i32.store (i32.const 2048) (i32.const 0x7fffffff)) i32.const 2048",
        "",
    ));
    assert_eq!(out.unwrap_err(), PluginError::BadOutput);
    // A well-sized block of bytes that are not a verify result.
    let (out, _) = call(&hostile(
        "(i32.store (i32.const 2048) (i32.const 4)) (i32.store (i32.const 2052) (i32.const 0xffffffff)) i32.const 2048",
        "",
    ));
    assert_eq!(out.unwrap_err(), PluginError::BadOutput);
    // A null result.
    let (out, _) = call(&hostile("i32.const 0", ""));
    assert_eq!(out.unwrap_err(), PluginError::Alloc);
}

#[test]
fn a_wrong_abi_version_or_missing_export_does_not_load() {
    let runtime = Runtime::new().unwrap();
    let v2 = wat::parse_str(
        r#"(module (memory (export "memory") 1)
          (func (export "abi_version") (result i32) i32.const 2)
          (func (export "tally_alloc") (param i32) (result i32) i32.const 0)
          (func (export "tally_dealloc") (param i32 i32))
          (func (export "tally_parse") (param i32 i32) (result i32) i32.const 0)
          (func (export "tally_verify") (param i32 i32 i32 i32) (result i32) i32.const 0))"#,
    )
    .unwrap();
    assert_eq!(
        runtime.load(&v2, Limits::default()).err(),
        Some(PluginError::AbiVersion(2))
    );
    let missing = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "abi_version") (result i32) i32.const 1))"#).unwrap();
    assert_eq!(
        runtime.load(&missing, Limits::default()).err(),
        Some(PluginError::MissingExport("tally_alloc"))
    );
    let importing = wat::parse_str(r#"(module (import "env" "clock" (func)))"#).unwrap();
    assert!(matches!(
        runtime.load(&importing, Limits::default()).err(),
        Some(PluginError::Instantiate(_))
    ));
    assert!(matches!(
        runtime.load(b"not wasm", Limits::default()).err(),
        Some(PluginError::Compile(_))
    ));
}

#[test]
fn after_a_failure_the_plugin_keeps_serving() {
    // A plugin that loops only when the header is non-empty: failed calls
    // drop their instance, and the next call gets a fresh one.
    let wasm = hostile("(if (local.get 1) (then (loop (br 0)))) i32.const 0", "");
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&wasm, Limits::default()).unwrap();
    for _ in 0..3 {
        assert_eq!(plugin.verify(b"x", b"").unwrap_err(), PluginError::Timeout);
        assert_eq!(plugin.verify(b"", b"").unwrap_err(), PluginError::Alloc); // answered, not hung
    }
}

#[test]
fn a_reload_swaps_the_plugin_and_a_bad_one_is_refused() {
    let verifier = Verifier::new(None, Limits::default()).unwrap();
    let before = verifier.plugin();
    let input = abi::encode_input(
        None,
        None,
        &Request::new(verifier_core::Api::Content, verifier_core::Action::READ, 0),
    );
    // A bad plugin leaves the good one serving.
    assert!(verifier.reload(b"garbage").is_err());
    assert_eq!(
        verifier.plugin().verify(b"", &input).unwrap().reason,
        verifier_core::Reason::MissingCredentials
    );
    // A good one replaces it; calls holding the old one still work.
    verifier.reload(DEFAULT_MODULE).unwrap();
    assert!(!Arc::ptr_eq(&before, &verifier.plugin()));
    assert_eq!(
        before.verify(b"", &input).unwrap().reason,
        verifier_core::Reason::MissingCredentials
    );
}
