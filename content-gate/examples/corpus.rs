//! Writes the gate's differential corpus: generated GraphQL requests (root
//! fields of every form, aliases, fragments, variables, stages and locales
//! by argument, variable and header, writes of masked fields), tokens with
//! generated grants (conditions, stages, unmasks), the verifier's real
//! decisions, generated preflight and upstream answers — each run through
//! the gate natively as a sequence of [`content_gate::session`] calls, one
//! JSON line per request: `{ "ops": [[op, input, output], …] }`.
//!
//! `tests/gate/corpus.test.mjs` replays every line through the gate module
//! in Node (the edge's path) and requires the same outputs byte for byte:
//! the same checks, rewritten documents, denials and held answers.
//!
//!   cargo run -p content-gate --example corpus -- [count] [seed]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use content_gate::session::Sessions;
use serde_json::{Value, json};
use verifier_core::{Decision, Environment, IssuedToken, Request, TokenRecord, verify};

/// splitmix64: a small deterministic generator, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const OWNERS: [&str; 3] = ["user:1", "user:2", "user:3"];
const STAGES: [&str; 3] = ["DRAFT", "PUBLISHED", "QA"];
const ACTIONS: [&str; 6] = [
    "read",
    "create",
    "update",
    "delete",
    "publish",
    "introspect",
];

fn environment(rng: &mut Rng) -> Value {
    let mut sensitive = vec!["internalNotes"];
    if rng.chance(30) {
        sensitive.push("email");
    }
    json!({
        "id": "master",
        "defaultStage": if rng.chance(20) { "DRAFT" } else { "PUBLISHED" },
        "models": [
            {"apiId": "Post", "apiIdPlural": "Posts", "ownerField": "ownerId", "sensitiveFields": sensitive},
            {"apiId": "Author", "apiIdPlural": "Authors", "sensitiveFields": ["email"]}
        ]
    })
}

fn grants(rng: &mut Rng) -> Value {
    // Most tokens may do most things (so that requests get through to the
    // rewriting and the answers), with conditions, stages and unmasks.
    if rng.chance(65) {
        let condition = match rng.below(3) {
            0 => json!({"ownerId": "$principal"}),
            1 => json!({"ownerId": rng.pick(&OWNERS)}),
            _ => Value::Null,
        };
        let mut grants = Vec::new();
        for action in ACTIONS {
            if !rng.chance(85) {
                continue;
            }
            let mut g = json!({"api": "content", "action": action});
            if !condition.is_null() && rng.chance(80) {
                g["condition"] = condition.clone();
            }
            if rng.chance(15) {
                g["stages"] = json!(["PUBLISHED"]);
            }
            if rng.chance(30) {
                g["unmask"] = json!(["internalNotes"]);
            }
            grants.push(g);
        }
        return Value::Array(grants);
    }
    let n = 1 + rng.below(4);
    let grants: Vec<Value> = (0..n)
        .map(|_| {
            let mut g = json!({"api": "content", "action": rng.pick(&ACTIONS)});
            if rng.chance(70) {
                g["models"] = json!([rng.pick(&["Post", "Author"])]);
            }
            if rng.chance(40) {
                g["stages"] = json!([rng.pick(&STAGES)]);
            }
            if rng.chance(20) {
                g["locales"] = json!([rng.pick(&["en", "de"])]);
            }
            if rng.chance(50) {
                let owner = if rng.chance(60) {
                    "$principal"
                } else {
                    rng.pick(&OWNERS)
                };
                g["condition"] = json!({"ownerId": owner});
            }
            if rng.chance(5) {
                g["condition"] = json!({"owner id": "x"});
            }
            if rng.chance(30) {
                g["unmask"] = json!([rng.pick(&["internalNotes", "email"])]);
            }
            g
        })
        .collect();
    Value::Array(grants)
}

/// A root field, its text and the variables it uses.
fn field(rng: &mut Rng, mutation: bool, vars: &mut Vec<(String, String, Value)>) -> String {
    let alias = if rng.chance(25) {
        format!("a{}: ", rng.below(100))
    } else {
        String::new()
    };
    let selection = |rng: &mut Rng| {
        let mut s = vec!["id"];
        if rng.chance(50) {
            s.push("title");
        }
        if rng.chance(40) {
            s.push(if rng.chance(50) {
                "internalNotes"
            } else {
                "secret: internalNotes"
            });
        }
        if rng.chance(20) {
            s.push("...P");
        }
        format!("{{ {} }}", s.join(" "))
    };
    let stage = |rng: &mut Rng, vars: &mut Vec<(String, String, Value)>| match rng.below(4) {
        0 => format!(", stage: {}", rng.pick(&["DRAFT", "PUBLISHED"])),
        1 => {
            let name = format!("s{}", vars.len());
            vars.push((
                name.clone(),
                "Stage".into(),
                json!(rng.pick(&["DRAFT", "PUBLISHED"])),
            ));
            format!(", stage: ${name}")
        }
        _ => String::new(),
    };
    let locales = |rng: &mut Rng| match rng.below(5) {
        0 => ", locales: [en]".to_string(),
        1 => ", locales: [en, de]".to_string(),
        _ => String::new(),
    };
    let id = rng.pick(&["p1", "p2", "p3"]).to_string();
    if !mutation {
        return match rng.below(7) {
            0 | 1 => {
                let w = if rng.chance(50) {
                    let name = format!("w{}", vars.len());
                    vars.push((
                        name.clone(),
                        "PostWhereInput".into(),
                        json!({"title_contains": "a"}),
                    ));
                    format!("where: ${name}")
                } else {
                    "where: {title_contains: \"x\"}".to_string()
                };
                format!(
                    "{alias}posts({w}{}{}) {}",
                    stage(rng, vars),
                    locales(rng),
                    selection(rng)
                )
            }
            2 => format!(
                "{alias}post(where: {{id: \"{id}\"}}{}) {}",
                stage(rng, vars),
                selection(rng)
            ),
            3 => format!(
                "{alias}postsConnection(first: 5{}) {{ edges {{ node {} }} aggregate {{ count }} }}",
                stage(rng, vars),
                selection(rng)
            ),
            4 => format!("{alias}authors {{ id name email }}"),
            5 => format!("{alias}__schema {{ types {{ name }} }}"),
            _ => format!("{alias}comments {{ id }}"),
        };
    }
    let data = |rng: &mut Rng| {
        let mut d = json!({"title": "t"});
        if rng.chance(70) {
            d["ownerId"] = json!(rng.pick(&OWNERS));
        }
        if rng.chance(20) {
            d["internalNotes"] = json!("n");
        }
        d
    };
    match rng.below(6) {
        0 | 1 => {
            let name = format!("d{}", vars.len());
            vars.push((name.clone(), "PostCreateInput!".into(), data(rng)));
            format!("{alias}createPost(data: ${name}) {}", selection(rng))
        }
        2 => format!(
            "{alias}updatePost(where: {{id: \"{id}\"}}, data: {{title: \"u\"}}) {}",
            selection(rng)
        ),
        3 => format!("{alias}deletePost(where: {{id: \"{id}\"}}) {{ id }}"),
        4 => format!("{alias}publishPost(where: {{id: \"{id}\"}}, to: [PUBLISHED]) {{ id }}"),
        _ => format!(
            "{alias}updateManyPosts(where: {{title: \"a\"}}, data: {{title: \"b\"}}) {{ count }}"
        ),
    }
}

fn request(rng: &mut Rng) -> (Value, Value) {
    let mutation = rng.chance(35);
    let mut vars = Vec::new();
    let n = 1 + rng.below(3);
    let mut fields: Vec<String> = (0..n).map(|_| field(rng, mutation, &mut vars)).collect();
    let mut fragments = String::from(" fragment P on Post { more: title }");
    if rng.chance(15) {
        let moved = fields.pop().unwrap_or_default();
        fields.push("...R".to_string());
        let root = if mutation { "Mutation" } else { "Query" };
        fragments.push_str(&format!(" fragment R on {root} {{ {moved} }}"));
    }
    if rng.chance(10) {
        fields.push("__typename".into());
    }
    let defs: Vec<String> = vars.iter().map(|(n, t, _)| format!("${n}: {t}")).collect();
    let head = match (mutation, defs.is_empty()) {
        (true, true) => "mutation".to_string(),
        (true, false) => format!("mutation({})", defs.join(", ")),
        (false, true) => "query".to_string(),
        (false, false) => format!("query({})", defs.join(", ")),
    };
    let used_p = fields.iter().any(|f| f.contains("...P")) || fragments.contains("...P");
    let query = format!(
        "{head} {{ {} }}{}",
        fields.join(" "),
        if used_p || fragments.contains("fragment R") {
            if used_p {
                fragments.clone()
            } else {
                fragments.replace(" fragment P on Post { more: title }", "")
            }
        } else {
            String::new()
        }
    );
    let query = match rng.below(40) {
        0 => format!("{query} {{"),
        1 => query.replacen("{ ", "{ _tally9: posts { id } ", 1),
        2 => "subscription { posts { id } }".to_string(),
        _ => query,
    };
    let variables: serde_json::Map<String, Value> =
        vars.into_iter().map(|(n, _, v)| (n, v)).collect();
    let mut options = json!({"now": 1_800_000_000});
    if rng.chance(20) {
        options["stage"] = json!(rng.pick(&["DRAFT", "PUBLISHED"]));
    }
    if rng.chance(15) {
        options["locales"] = json!(["de"]);
    }
    if rng.chance(10) {
        options["introspection"] = json!(true);
    }
    (json!({"query": query, "variables": variables}), options)
}

/// An upstream answer for what `forward` asks, rows of any owner.
fn answer(rng: &mut Rng, authorized: &Value, sessions_fields: &[content_gate::Enforced]) -> Value {
    let _ = authorized;
    let mut data = serde_json::Map::new();
    for e in sessions_fields {
        let row = |rng: &mut Rng| {
            let mut r = serde_json::Map::new();
            for s in &e.root.below {
                r.insert(s.key.clone(), json!(format!("{}-{}", s.name, rng.below(9))));
            }
            for (alias, _) in &e.hidden {
                r.insert(alias.clone(), json!(rng.pick(&OWNERS)));
            }
            Value::Object(r)
        };
        let value = match e.shape {
            Some(content_gate::naming::Shape::Many) => {
                Value::Array((0..rng.below(4)).map(|_| row(rng)).collect())
            }
            Some(content_gate::naming::Shape::Connection) => {
                let n = rng.below(4);
                let nodes: Vec<Value> = (0..n).map(|_| row(rng)).collect();
                let edges: Vec<Value> = nodes.iter().map(|n| json!({"node": n})).collect();
                let twins: Vec<Value> = nodes
                    .iter()
                    .map(|n| {
                        let hidden: serde_json::Map<String, Value> = e
                            .hidden
                            .iter()
                            .map(|(a, _)| (a.clone(), n.get(a).cloned().unwrap_or(Value::Null)))
                            .collect();
                        json!({"_tallynode": hidden})
                    })
                    .collect();
                json!({"edges": edges, "_tallyedges": twins, "aggregate": {"count": n}})
            }
            Some(_) if rng.chance(15) => Value::Null,
            Some(_) => row(rng),
            None => json!({"types": [{"name": "Query"}]}),
        };
        data.insert(e.key.clone(), value);
    }
    json!({"data": data})
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2500);
    let mut rng = Rng(args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_261_206));
    let mut sessions = Sessions::default();
    for _ in 0..count {
        let env_json = environment(&mut rng);
        let env: Environment = serde_json::from_value(env_json.clone()).unwrap();
        let (req, options) = request(&mut rng);
        let issued = IssuedToken::from_random([rng.below(250) as u8; 32]);
        let record = TokenRecord {
            token_id: issued.token_id(),
            secret_hash: issued.secret_hash(),
            kind: verifier_core::TokenKind::Pat,
            name: "corpus".into(),
            project_id: None,
            environment_id: Some("master".into()),
            installation_id: None,
            principal: Some((*rng.pick(&OWNERS)).into()),
            grants: serde_json::from_value(grants(&mut rng)).unwrap(),
            expires_at: None,
            revoked: false,
        };
        let header = if rng.chance(5) {
            String::new()
        } else {
            issued.header()
        };
        let mut ops: Vec<Value> = Vec::new();
        let mut run = |op: u32, input: Value, ops: &mut Vec<Value>| {
            let output = sessions.call(op, input.to_string().as_bytes());
            ops.push(json!([op, input, output]));
            output
        };
        let planned = run(
            1,
            json!({"request": req, "environment": env_json, "options": options}),
            &mut ops,
        );
        if let Some(handle) = planned.get("handle").cloned() {
            let checks: Vec<Request> = serde_json::from_value(planned["checks"].clone()).unwrap();
            let decisions: Vec<Decision> = checks
                .iter()
                .map(|c| verify(&header, Some(&record), Some(&env), c))
                .collect();
            // The enforced fields, from the same plan natively, to make an
            // upstream answer that fits what is forwarded.
            let plan = content_gate::Plan::new(
                &serde_json::from_value(req.clone()).unwrap(),
                &env,
                &content_gate::Options {
                    stage: options
                        .get("stage")
                        .and_then(Value::as_str)
                        .map(String::from),
                    locales: options
                        .get("locales")
                        .map(|l| serde_json::from_value(l.clone()).unwrap())
                        .unwrap_or_default(),
                    introspection: options.get("introspection").is_some(),
                    now: 1_800_000_000,
                },
            )
            .unwrap();
            let authorized = run(
                2,
                json!({"handle": handle, "decisions": decisions}),
                &mut ops,
            );
            if authorized.get("forward").is_some() {
                let enforced = plan.authorize(&decisions).unwrap().fields.clone();
                let mut go_on = true;
                if authorized["preflight"].is_string() {
                    let row = match rng.below(3) {
                        0 => Value::Null,
                        _ => json!({"_tally0": rng.pick(&OWNERS)}),
                    };
                    let pre = run(
                        3,
                        json!({"handle": handle, "answer": {"data": {"_tallyp0": row}}}),
                        &mut ops,
                    );
                    go_on = pre.get("ok").is_some();
                }
                if go_on {
                    let upstream = answer(&mut rng, &authorized, &enforced);
                    run(4, json!({"handle": handle, "answer": upstream}), &mut ops);
                }
            }
        }
        println!("{}", json!({"ops": ops}));
    }
}
