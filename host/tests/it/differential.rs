//! Differential test: 10,000 generated (header, record, environment,
//! request) cases decided by native verifier-core and by the verifier module
//! under wasmtime (one-shot `verify`, and `verify_prepared` as `/v1/verify`
//! runs it, with the header parsed by the host and by the module) must
//! agree exactly. The cases and decisions are written to
//! `target/differential-cases.json`, where `tests/abi/differential.test.mjs`
//! holds the module in Node to the same decisions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::json;
use tally::runtime::{Limits, Prepared, Verifier};
use verifier_core::{
    Action, Api, Environment, Grant, Grants, IssuedToken, Model, Request, Scope, TokenKind,
    TokenRecord, abi, verify,
};

const CASES: usize = 10_000;
const NOW: i64 = 1_800_000_000;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Post".to_owned()),
        Just("Author".to_owned()),
        Just("PUBLISHED".to_owned()),
        Just("DRAFT".to_owned()),
        Just("en".to_owned()),
        Just("master".to_owned()),
        "[a-z]{1,4}",
    ]
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![3 => Just(Scope::Any), 1 => prop::collection::vec(name(), 0..3).prop_map(Scope::Only)]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => Just(Action::READ),
        1 => Just(Action::CREATE),
        1 => Just(Action::PUBLISH),
        1 => Just(Action::ADMIN),
        1 => Just(Action::new("createApp").unwrap())
    ]
}

fn api() -> impl Strategy<Value = Api> {
    prop_oneof![4 => Just(Api::Content), 1 => Just(Api::Management)]
}

fn env_id() -> impl Strategy<Value = Option<String>> {
    prop_oneof![3 => Just(Some("master".to_owned())), 1 => Just(None), 1 => prop::option::of(name())]
}

fn grant() -> impl Strategy<Value = Grant> {
    (
        api(),
        action(),
        (scope(), scope(), scope(), scope()),
        prop::option::weighted(
            0.25,
            prop::collection::btree_map(
                name(),
                prop_oneof![Just("$principal".to_owned()), name()],
                1..3,
            ),
        ),
        prop::collection::vec(name(), 0..2),
    )
        .prop_map(
            |(api, action, (models, stages, locales, environments), condition, unmask)| Grant {
                api,
                action,
                models,
                stages,
                locales,
                environments,
                condition,
                unmask,
            },
        )
}

#[derive(Debug, Clone)]
struct Case {
    header: String,
    record: Option<TokenRecord>,
    environment: Option<Environment>,
    request: Request,
}

fn case() -> impl Strategy<Value = Case> {
    let record = (
        any::<[u8; 32]>(),
        prop_oneof![
            Just(TokenKind::App),
            Just(TokenKind::Pat),
            Just(TokenKind::System),
            Just(TokenKind::Session)
        ],
        env_id(),
        prop::option::of(name()),
        prop::collection::vec(grant(), 0..5),
        prop::option::weighted(0.3, NOW - 2..NOW + 2),
        prop::bool::weighted(0.1),
    );
    let request = (
        api(),
        action(),
        env_id(),
        (
            prop::option::of(name()),
            prop::option::of(name()),
            prop::option::of(name()),
        ),
        prop::option::of(prop::collection::btree_map(
            name(),
            prop_oneof![name(), Just("installation:in".to_owned())],
            0..3,
        )),
        prop::collection::vec(name(), 0..3),
    );
    // Sometimes a registry: a model named like the requests' (so its
    // sensitive fields join theirs), with fields of its own.
    let models = prop::collection::vec((name(), prop::collection::vec(name(), 0..3)), 0..3);
    let environment = prop::option::weighted(
        0.9,
        (name(), name(), prop::collection::vec(grant(), 1..4), models),
    );
    // 0-3: valid header; 4: none; 5: another secret for the id; 6: malformed;
    // 7: Bearer; 8: one character of the secret replaced
    let header_kind = prop_oneof![
        6 => Just(0u8),
        3 => Just(4u8),
        1 => Just(5u8),
        1 => Just(6u8),
        1 => Just(7u8),
        1 => Just(8u8)
    ];
    (
        record,
        request,
        environment,
        header_kind,
        prop::bool::weighted(0.85),
        any::<[u8; 32]>(),
    )
        .prop_map(
            |(
                (secret, kind, env_id, installation, grants, expires_at, revoked),
                (api, action, req_env, (model, stage, locale), document, sensitive),
                environment,
                header_kind,
                has_record,
                other,
            )| {
                let issued = IssuedToken::from_random(secret);
                let header = match header_kind {
                    0..=3 => issued.header(),
                    4 => String::new(),
                    5 => format!(
                        "AppToken {}.{}",
                        issued.token_id(),
                        IssuedToken::from_random(other).secret()
                    ),
                    6 => format!("AppToken {}", &issued.token()[1..]),
                    7 => format!("bearer {}", issued.token()),
                    _ => {
                        // A character outside the alphabet, another one of
                        // it, or in last place one whose trailing bits are
                        // not zero: each decoder (base64-simd's scalar code
                        // natively, its SIMD code in the module) must agree.
                        const SWAPS: &[u8] = b"+/=.~ Aw_-zB";
                        let mut token = issued.token().into_bytes();
                        let at = token.len() - 1 - usize::from(other[1]) % 43;
                        token[at] = SWAPS[usize::from(other[2]) % SWAPS.len()];
                        format!("AppToken {}", String::from_utf8(token).unwrap())
                    }
                };
                let record = has_record.then(|| TokenRecord {
                    token_id: issued.token_id(),
                    // Sometimes the stored hash is another secret's: bad_secret after lookup.
                    secret_hash: if other[0] % 16 == 0 {
                        IssuedToken::from_random(other).secret_hash()
                    } else {
                        issued.secret_hash()
                    },
                    kind,
                    name: "diff".into(),
                    project_id: None,
                    environment_id: env_id,
                    installation_id: installation.map(|_| "in".to_owned()),
                    principal: None,
                    grants: Grants::shared(grants),
                    expires_at,
                    revoked,
                });
                let mut request = Request::new(api, action, NOW);
                request.environment_id = req_env.clone();
                request.model = model;
                request.stage = stage;
                request.locale = locale;
                request.document = document.map(|d: BTreeMap<String, String>| d);
                request.sensitive_fields = sensitive;
                let environment = environment.map(|(id, stage, public, models)| Environment {
                    // Often the request's own environment, so public grants apply.
                    id: req_env.filter(|_| secret[0] % 10 != 0).unwrap_or(id),
                    default_stage: stage,
                    public_grants: public,
                    models: models
                        .into_iter()
                        .enumerate()
                        .map(|(i, (api_id, sensitive_fields))| Model {
                            // The first often the request's model.
                            api_id: match (&request.model, i) {
                                (Some(m), 0) if secret[1] % 2 == 0 => m.clone(),
                                _ => api_id,
                            },
                            api_id_plural: format!("Many{i}"),
                            owner_field: None,
                            sensitive_fields,
                        })
                        .collect(),
                });
                Case {
                    header,
                    record,
                    environment,
                    request,
                }
            },
        )
}

#[test]
fn native_and_wasmtime_agree_on_10000_generated_cases() {
    // A long deadline: this checks decisions, and a deadline is wall time
    // (Node runs beside this on two cores).
    let limits = Limits {
        deadline: std::time::Duration::from_secs(5),
        ..Limits::default()
    };
    let verifier = Verifier::new(None, limits.clone()).unwrap();
    let plugin = verifier.plugin();
    // The same module with the host's own parse off: every header goes to
    // the module (as for a module built before `tally_verify_credentials`).
    let module_parses = Verifier::new(
        None,
        Limits {
            host_parses: false,
            ..limits
        },
    )
    .unwrap()
    .plugin();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = case();
    let mut out = Vec::with_capacity(CASES);
    let mut reasons = BTreeMap::new();
    for i in 0..CASES {
        let c = strategy.new_tree(&mut runner).unwrap().current();
        let native = verify(
            &c.header,
            c.record.as_ref(),
            c.environment.as_ref(),
            &c.request,
        );
        let input = abi::encode_input(c.record.as_ref(), c.environment.as_ref(), &c.request);
        let wasm = plugin.verify(c.header.as_bytes(), &input).unwrap();
        assert_eq!(wasm, native, "case {i}: {c:?}");
        // And the prepared path /v1/verify takes: parse, then
        // verify_prepared, on one instance.
        let record = c.record.as_ref().map(Prepared::record);
        let environment = c.environment.as_ref().map(Prepared::environment);
        for (how, plugin) in [("host parses", &plugin), ("module parses", &module_parses)] {
            let mut call = plugin.call(c.header.as_bytes()).unwrap();
            let parsed = call.parse().unwrap();
            assert_eq!(
                parsed,
                verifier_core::Credentials::from_header(&c.header)
                    .map(|c| c.token_id())
                    .map_err(|e| e.reason()),
                "case {i} ({how}, parse): {c:?}"
            );
            let prepared = call
                .verify(record.as_ref(), environment.as_ref(), &c.request)
                .unwrap();
            assert_eq!(prepared, native, "case {i} (prepared, {how}): {c:?}");
        }
        *reasons.entry(native.reason.as_str()).or_insert(0) += 1;
        out.push(json!({
            "header": c.header, "record": c.record, "environment": c.environment,
            "request": c.request, "expect": native,
        }));
    }
    // The generator reaches every reason, or the comparison proves little.
    for reason in verifier_core::Reason::ALL {
        assert!(
            reasons.get(reason.as_str()).copied().unwrap_or(0) > 10,
            "{reason}: {reasons:?}"
        );
    }
    let path = std::env::var_os("TALLY_DIFFERENTIAL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/differential-cases.json")
        });
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec(&out).unwrap()).unwrap();
}
