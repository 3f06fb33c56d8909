//! The verifier module under wasmtime: the same decisions as native, and
//! hostile plugins fail closed without hurting the host.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tally::runtime::{DEFAULT_MODULE, Limits, PluginError, Prepared, Runtime, Verifier};
use verifier_core::{Environment, Request, TokenRecord, abi, verify};

/// verifier-core's test data helpers: the decision table and the vectors
/// (this module reads both, not every helper).
#[allow(dead_code)]
#[path = "../../../verifier-core/tests/it/common.rs"]
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

/// The default limits with a long deadline, for the tests that check
/// decisions rather than deadlines: a deadline is wall time, and these run
/// beside each other (and beside the hostile plugins' busy loops) on a
/// two-core machine, where a thread can wait longer than 20 ms for a core.
fn patient() -> Limits {
    Limits {
        deadline: Duration::from_secs(5),
        ..Limits::default()
    }
}

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
    let verifier = Verifier::new(None, patient()).unwrap();
    let plugin = verifier.plugin();
    let cases = cases();
    assert!(cases.len() >= 60);
    for (name, header, record, env, request, expect) in cases {
        let native = verify(&header, record.as_ref(), env.as_ref(), &request);
        let input = abi::encode_input(record.as_ref(), env.as_ref(), &request);
        let wasm = plugin.verify(header.as_bytes(), &input).unwrap();
        assert_eq!(wasm, native, "{name}");
        assert_eq!(serde_json::to_value(&wasm).unwrap(), expect, "{name}");
        // The prepared path, as /v1/verify runs it, decides the same.
        let (r, e) = (
            record.as_ref().map(Prepared::record),
            env.as_ref().map(Prepared::environment),
        );
        let mut call = plugin.call(header.as_bytes()).unwrap();
        let prepared = call.verify(r.as_ref(), e.as_ref(), &request).unwrap();
        assert_eq!(prepared, native, "{name} (prepared)");
    }
}

#[test]
fn prepared_values_are_kept_per_instance_evicted_and_never_stale() {
    // Two values an instance at most: every check below prepares, hits and
    // evicts in turn, and must still decide exactly as native.
    let limits = Limits {
        prepared_values: 2,
        idle_instances: 1,
        ..patient()
    };
    let verifier = Verifier::new(None, limits).unwrap();
    let plugin = verifier.plugin();
    let cases: Vec<_> = cases()
        .into_iter()
        .filter(|c| c.2.is_some() && c.3.is_some())
        .collect();
    assert!(cases.len() >= 10);
    let prepared: Vec<_> = cases
        .iter()
        .map(|c| {
            (
                Prepared::record(c.2.as_ref().unwrap()),
                Prepared::environment(c.3.as_ref().unwrap()),
            )
        })
        .collect();
    for round in 0..3 {
        for step in 0..cases.len() {
            // Forwards, then backwards, then every other one.
            let i = match round {
                0 => step,
                1 => cases.len() - 1 - step,
                _ => (step * 2) % cases.len(),
            };
            let (_, header_i, record_i, env_i, request_i, _) = &cases[i];
            let native = verify(header_i, record_i.as_ref(), env_i.as_ref(), request_i);
            let mut call = plugin.call(header_i.as_bytes()).unwrap();
            let got = call
                .verify(Some(&prepared[i].0), Some(&prepared[i].1), request_i)
                .unwrap();
            assert_eq!(got, native, "{} round {round}", cases[i].0);
        }
    }
    // A changed record is a new Prepared value: the very next check sees it.
    let (_, header, record, env, request, _) = cases
        .iter()
        .find(|c| verify(&c.1, c.2.as_ref(), c.3.as_ref(), &c.4).allow)
        .unwrap();
    let (r, e) = (
        Prepared::record(record.as_ref().unwrap()),
        Prepared::environment(env.as_ref().unwrap()),
    );
    let check = |r: &Prepared| {
        let mut call = plugin.call(header.as_bytes()).unwrap();
        call.verify(Some(r), Some(&e), request).unwrap()
    };
    assert!(check(&r).allow);
    let mut revoked = record.clone().unwrap();
    revoked.revoked = true;
    let d = check(&Prepared::record(&revoked));
    assert_eq!(d.reason, verifier_core::Reason::Revoked);
    assert!(
        check(&r).allow,
        "the old value, if still held, is unchanged"
    );
}

#[test]
fn many_distinct_records_do_not_exhaust_an_instance() {
    // 5,000 records through one instance keeping 256: the module releases
    // what the host evicts, so its memory (16 MiB) is never exhausted.
    let limits = Limits {
        idle_instances: 1,
        ..patient()
    };
    let verifier = Verifier::new(None, limits).unwrap();
    let plugin = verifier.plugin();
    let (_, header, record, env, request, _) = cases()
        .into_iter()
        .find(|c| c.2.is_some() && verify(&c.1, c.2.as_ref(), c.3.as_ref(), &c.4).allow)
        .unwrap();
    let record = record.unwrap();
    let env = env.as_ref().map(Prepared::environment);
    for n in 0..5_000 {
        let mut record = record.clone();
        record.name = format!("token {n} {}", "x".repeat(512));
        let mut call = plugin.call(header.as_bytes()).unwrap();
        let d = call
            .verify(Some(&Prepared::record(&record)), env.as_ref(), &request)
            .unwrap();
        assert!(d.allow, "{n}");
    }
}

#[test]
fn a_request_larger_than_the_scratch_block_decides_as_native() {
    // The request is encoded straight into the instance's 1 KiB scratch
    // block; a larger one must take a block of its own, not be cut short.
    let verifier = Verifier::new(None, patient()).unwrap();
    let plugin = verifier.plugin();
    for (name, header, record, env, request, _) in cases() {
        let mut request = request.clone();
        request.sensitive_fields = (0..200).map(|i| format!("field{i}")).collect();
        assert!(abi::encode_request(&request).len() > 1024, "{name}");
        let native = verify(&header, record.as_ref(), env.as_ref(), &request);
        let (r, e) = (
            record.as_ref().map(Prepared::record),
            env.as_ref().map(Prepared::environment),
        );
        // Twice on the same instance: the scratch block is reused after.
        for round in 0..2 {
            let mut call = plugin.call(header.as_bytes()).unwrap();
            let got = call.verify(r.as_ref(), e.as_ref(), &request).unwrap();
            assert_eq!(got, native, "{name} round {round}");
            let small = call.verify(r.as_ref(), e.as_ref(), &cases_request(&request));
            let expected = verify(
                &header,
                record.as_ref(),
                env.as_ref(),
                &cases_request(&request),
            );
            assert_eq!(
                small.unwrap(),
                expected,
                "{name} round {round} (small after large)"
            );
        }
    }
}

/// `request` without its sensitive fields.
fn cases_request(request: &Request) -> Request {
    Request {
        sensitive_fields: Vec::new(),
        ..request.clone()
    }
}

#[test]
fn token_vectors_under_wasmtime() {
    let vectors = table::token_vectors();
    let verifier = Verifier::new(None, patient()).unwrap();
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
    let verifier = Arc::new(Verifier::new(None, patient()).unwrap());
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

#[test]
fn plugins_used_on_one_thread_never_share_instances() {
    // Each thread keeps an idle instance of its own: a call must never get
    // another plugin's, whichever was loaded first or used last. `older`
    // allows everything (its result block is a fixed encoded decision),
    // the default module denies this request.
    let always_allow = hostile(
        "i32.const 2048",
        r#"(data (i32.const 2048) "\06\00\00\00\00\01\00\00\00\00")"#,
    );
    let runtime = Runtime::new().unwrap();
    let older = runtime.load(&always_allow, patient()).unwrap();
    let newer = runtime.load(DEFAULT_MODULE, patient()).unwrap();
    let environment = Prepared::environment(&Environment::new("master"));
    for _ in 0..3 {
        for (plugin, allow) in [
            (&older, true),
            (&newer, false),
            (&newer, false),
            (&older, true),
        ] {
            let mut call = plugin.call(b"").unwrap();
            let d = call.verify(None, Some(&environment), &request()).unwrap();
            assert_eq!(d.allow, allow);
        }
    }
    // From other threads too, each with its own instances.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..50 {
                    let input = abi::encode_input(None, None, &request());
                    assert!(older.verify(b"", &input).unwrap().allow);
                    assert!(!newer.verify(b"", &input).unwrap().allow);
                }
            });
        }
    });
}

// Hostile plugins: each exports the whole ABI, and misbehaves in one way.
const ABI_OK: &str = r#"
  (memory (export "memory") 1)
  (func (export "abi_version") (result i32) i32.const 3)
  (func (export "tally_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "tally_dealloc") (param i32 i32))
  (func (export "tally_prepare") (param i32 i32 i32) (result i32) i32.const 1)
  (func (export "tally_release") (param i32))
"#;

/// A plugin whose parse, verify and verify_prepared all run `verify_body`
/// (the parameters of interest are locals 0 and 1: the header).
fn hostile(verify_body: &str, extra: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module {ABI_OK} {extra}
          (func (export "tally_parse") (param i32 i32) (result i32) {verify_body})
          (func (export "tally_verify") (param i32 i32 i32 i32) (result i32) {verify_body})
          (func (export "tally_verify_prepared") (param i32 i32 i32 i32 i32 i32) (result i32) {verify_body}))"#
    );
    wat::parse_str(wat).unwrap()
}

fn request() -> Request {
    Request::new(verifier_core::Api::Content, verifier_core::Action::READ, 0)
}

/// Runs the hostile plugin the way `/v1/verify` does (one instance: parse,
/// then verify_prepared with a prepared environment), and the one-shot
/// verify; both must fail the same way.
fn call(wasm: &[u8]) -> (Result<verifier_core::Decision, PluginError>, Duration) {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(wasm, Limits::default()).unwrap();
    let input = abi::encode_input(None, None, &request());
    let one_shot = plugin.verify(b"", &input);
    let environment = Prepared::environment(&Environment::new("master"));
    let start = Instant::now();
    let out = plugin
        .call(b"")
        .and_then(|mut call| call.verify(None, Some(&environment), &request()));
    let elapsed = start.elapsed();
    assert_eq!(one_shot, out);
    (out, elapsed)
}

/// A module that exports `tally_verify_credentials` is handed a well-formed
/// header's hash, never the header: the host answers its parse and the
/// module gets 32 bytes. A module without the export, or with the host's
/// parse turned off, parses the header itself.
#[test]
fn the_host_parses_for_a_module_that_takes_credentials() {
    let header = verifier_core::IssuedToken::from_random([5; 32]).header();
    let id = verifier_core::Credentials::from_header(&header)
        .unwrap()
        .token_id();
    let runtime = Runtime::new().unwrap();
    // Every entry the header would reach traps.
    let without = hostile("unreachable", "");
    // The credentials entry spins (a timeout) on 32 bytes, traps on others.
    let with = hostile(
        "unreachable",
        r#"(func (export "tally_verify_credentials") (param i32 i32 i32 i32 i32 i32) (result i32)
             (if (i32.ne (local.get 1) (i32.const 32)) (then unreachable))
             (loop (br 0)) i32.const 0)"#,
    );
    let plugin = runtime.load(&without, Limits::default()).unwrap();
    let parsed = plugin.call(header.as_bytes()).unwrap().parse();
    assert!(matches!(parsed, Err(PluginError::Trap(_))), "{parsed:?}");

    let plugin = runtime.load(&with, Limits::default()).unwrap();
    let mut call = plugin.call(header.as_bytes()).unwrap();
    assert_eq!(call.parse().unwrap(), Ok(id));
    let decided = call.verify(None, None, &request());
    assert_eq!(decided.unwrap_err(), PluginError::Timeout);
    // A header that does not parse still goes to the module as it came.
    let malformed = plugin.call(b"Bearer nope").unwrap().parse();
    assert!(
        matches!(malformed, Err(PluginError::Trap(_))),
        "{malformed:?}"
    );

    let off = Limits {
        host_parses: false,
        ..Limits::default()
    };
    let plugin = runtime.load(&with, off).unwrap();
    let parsed = plugin.call(header.as_bytes()).unwrap().parse();
    assert!(matches!(parsed, Err(PluginError::Trap(_))), "{parsed:?}");
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
    // A version 1 module (no prepared values) is refused for its version.
    let v1 = wat::parse_str(
        r#"(module (memory (export "memory") 1)
          (func (export "abi_version") (result i32) i32.const 1)
          (func (export "tally_alloc") (param i32) (result i32) i32.const 0)
          (func (export "tally_dealloc") (param i32 i32))
          (func (export "tally_parse") (param i32 i32) (result i32) i32.const 0)
          (func (export "tally_verify") (param i32 i32 i32 i32) (result i32) i32.const 0))"#,
    )
    .unwrap();
    assert_eq!(
        runtime.load(&v1, Limits::default()).err(),
        Some(PluginError::AbiVersion(1))
    );
    // Every export present, another version (the one before this: its Env
    // has no models).
    let v2 = ABI_OK.replacen(
        r#"(func (export "abi_version") (result i32) i32.const 3)"#,
        r#"(func (export "abi_version") (result i32) i32.const 2)"#,
        1,
    );
    assert!(v2.contains("i32.const 2"));
    let v2 = wat::parse_str(format!(
        r#"(module {v2}
          (func (export "tally_parse") (param i32 i32) (result i32) i32.const 0)
          (func (export "tally_verify") (param i32 i32 i32 i32) (result i32) i32.const 0)
          (func (export "tally_verify_prepared") (param i32 i32 i32 i32 i32 i32) (result i32) i32.const 0))"#
    ))
    .unwrap();
    assert_eq!(
        runtime.load(&v2, Limits::default()).err(),
        Some(PluginError::AbiVersion(2))
    );
    let missing = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "abi_version") (result i32) i32.const 3))"#).unwrap();
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
fn a_timeout_marks_the_plugin_slow_for_the_timeout_window_only() {
    // Loops only when the header is non-empty.
    let wasm = hostile("(if (local.get 1) (then (loop (br 0)))) i32.const 0", "");
    let runtime = Runtime::new().unwrap();
    let limits = Limits {
        timeout_window: Duration::from_secs(2),
        ..Limits::default()
    };
    let plugin = runtime.load(&wasm, limits).unwrap();
    assert!(!plugin.timed_out_recently(), "no call yet");
    assert_eq!(plugin.verify(b"", b"").unwrap_err(), PluginError::Alloc);
    assert!(
        !plugin.timed_out_recently(),
        "a failure that is not a timeout"
    );
    assert_eq!(plugin.verify(b"x", b"").unwrap_err(), PluginError::Timeout);
    assert!(plugin.timed_out_recently());
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!plugin.timed_out_recently(), "the window has passed");
}

#[test]
fn a_reload_swaps_the_plugin_and_a_bad_one_is_refused() {
    let verifier = Verifier::new(None, patient()).unwrap();
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
