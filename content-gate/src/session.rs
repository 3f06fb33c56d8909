//! The gate as a sequence of JSON calls on handles: what the wasm module
//! exports (`module.rs`) and what a driver in another language (the edge
//! worker) calls, one request at a time. Safe code only; the module adds
//! the raw-memory layer.
//!
//! | op | input | output |
//! |---|---|---|
//! | 1 plan | `{ request, environment, options }` | `{ handle, kind, checks }` (`kind`: `query` or `mutation`), or `{ refused: { reason, message } }`, or `{ denied: { status, reason, body } }` |
//! | 2 authorize | `{ handle, decisions }` | `{ forward, preflight, principal, reason, masked }`, or `{ denied }` |
//! | 3 preflight | `{ handle, answer }` | `{ ok: true }`, or `{ denied }` |
//! | 4 finish | `{ handle, answer }` | `{ answer, masked }` |
//! | 5 release | `{ handle }` | `{ ok: true }` |
//! | 6 REST write | `{ decision, body, create }` | `{ ok: true }`, or `{ refused: { reason, message } }` |
//! | 7 REST answer | `{ decision, single, answer }` | `{ answer }`, or `{ absent: true }` (one row not the caller's: 404) |
//!
//! `options` is `{ stage?, locales?, introspection?, now }`; `checks` are
//! verifier requests (`verifier_core::Request` JSON), `decisions` the
//! verifier's decisions in the same order. A denial, `finish` and `release`
//! drop the handle; at most [`MAX_SESSIONS`] live at once (the oldest is
//! dropped past that). Any other failure is `{ error: { message } }`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use verifier_core::{Decision, Environment};

use crate::authorize::Authorized;
use crate::cache::PlanCache;
use crate::error::{Denied, Stop};
use crate::plan::{GraphqlRequest, Options, Plan};
use crate::rest::Limits;

/// Most requests in flight at once.
pub const MAX_SESSIONS: usize = 4096;

/// One request's state between calls.
enum Stage {
    Planned(Arc<Plan>),
    Authorized(Arc<Authorized>),
}

/// The handles of requests in flight.
#[derive(Default)]
pub struct Sessions {
    live: Vec<(u32, Stage)>,
    next: u32,
    plans: PlanCache,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PlanInput {
    request: GraphqlRequest,
    environment: Environment,
    options: OptionsInput,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OptionsInput {
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    locales: Vec<String>,
    #[serde(default)]
    introspection: bool,
    now: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeInput {
    handle: u32,
    decisions: Vec<Decision>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerInput {
    handle: u32,
    answer: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestWriteInput {
    decision: Decision,
    body: Value,
    create: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestAnswerInput {
    decision: Decision,
    single: bool,
    answer: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandleInput {
    handle: u32,
}

fn error(message: impl Into<String>) -> Value {
    json!({ "error": { "message": message.into() } })
}

fn denied(d: &Denied) -> Value {
    json!({ "denied": { "status": d.status, "reason": d.reason(), "body": d.body() } })
}

impl Sessions {
    /// Runs operation `op` on `input` (JSON) and answers JSON.
    pub fn call(&mut self, op: u32, input: &[u8]) -> Value {
        match op {
            1 => self.plan(input),
            2 => self.authorize(input),
            3 => self.preflight(input),
            4 => self.finish(input),
            6 => self.rest_write(input),
            7 => self.rest_answer(input),
            5 => match serde_json::from_slice::<HandleInput>(input) {
                Ok(h) => {
                    self.take(h.handle);
                    json!({ "ok": true })
                }
                Err(e) => error(e.to_string()),
            },
            _ => error(format!("no operation {op}")),
        }
    }

    fn keep(&mut self, stage: Stage) -> u32 {
        if self.live.len() >= MAX_SESSIONS {
            self.live.remove(0);
        }
        self.next = self.next.wrapping_add(1).max(1);
        self.live.push((self.next, stage));
        self.next
    }

    fn take(&mut self, handle: u32) -> Option<Stage> {
        let at = self.live.iter().position(|(h, _)| *h == handle)?;
        Some(self.live.remove(at).1)
    }

    fn plan(&mut self, input: &[u8]) -> Value {
        let input: PlanInput = match serde_json::from_slice(input) {
            Ok(i) => i,
            Err(e) => return error(e.to_string()),
        };
        let options = Options {
            stage: input.options.stage,
            locales: input.options.locales,
            introspection: input.options.introspection,
            now: input.options.now,
        };
        match self
            .plans
            .plan(&input.request, &input.environment, &options)
        {
            Ok(plan) => {
                let checks: Vec<Value> = plan
                    .checks
                    .iter()
                    .map(|c| serde_json::to_value(&c.request).unwrap_or(Value::Null))
                    .collect();
                let kind = plan.document.kind;
                let handle = self.keep(Stage::Planned(plan));
                json!({ "handle": handle, "kind": kind, "checks": checks })
            }
            Err(Stop::Refused(r)) => {
                json!({ "refused": { "reason": r.reason(), "message": r.to_string() } })
            }
            Err(Stop::Denied(d)) => denied(&d),
        }
    }

    fn authorize(&mut self, input: &[u8]) -> Value {
        let input: AuthorizeInput = match serde_json::from_slice(input) {
            Ok(i) => i,
            Err(e) => return error(e.to_string()),
        };
        let Some(Stage::Planned(plan)) = self.take(input.handle) else {
            return error("no planned request has that handle");
        };
        match plan.authorize(&input.decisions) {
            Ok(authorized) => {
                let masked: Vec<String> = authorized
                    .fields
                    .iter()
                    .flat_map(|f| f.masked.clone())
                    .collect();
                let answer = json!({
                    "forward": authorized.body(),
                    "preflight": authorized.preflight,
                    "principal": authorized.principal,
                    "reason": authorized.reason,
                    "masked": masked,
                    "handle": input.handle,
                });
                self.live
                    .push((input.handle, Stage::Authorized(authorized)));
                answer
            }
            Err(d) => denied(&d),
        }
    }

    fn preflight(&mut self, input: &[u8]) -> Value {
        let input: AnswerInput = match serde_json::from_slice(input) {
            Ok(i) => i,
            Err(e) => return error(e.to_string()),
        };
        let checked = match self.live.iter().find(|(h, _)| *h == input.handle) {
            Some((_, Stage::Authorized(a))) => a.check_preflight(&input.answer),
            _ => return error("no authorized request has that handle"),
        };
        match checked {
            Ok(()) => json!({ "ok": true }),
            Err(d) => {
                self.take(input.handle);
                denied(&d)
            }
        }
    }

    fn rest_write(&mut self, input: &[u8]) -> Value {
        let input: RestWriteInput = match serde_json::from_slice(input) {
            Ok(i) => i,
            Err(e) => return error(e.to_string()),
        };
        match Limits::of(&input.decision).map(|l| l.write(&input.body, input.create)) {
            Some(Err(refused)) => {
                json!({ "refused": { "reason": refused.reason, "message": refused.message } })
            }
            _ => json!({ "ok": true }),
        }
    }

    fn rest_answer(&mut self, input: &[u8]) -> Value {
        let input: RestAnswerInput = match serde_json::from_slice(input) {
            Ok(i) => i,
            Err(e) => return error(e.to_string()),
        };
        let held = match Limits::of(&input.decision) {
            Some(limits) => limits.answer(input.single, input.answer),
            None => Some(input.answer),
        };
        match held {
            Some(answer) => json!({ "answer": answer }),
            None => json!({ "absent": true }),
        }
    }

    fn finish(&mut self, input: &[u8]) -> Value {
        let input: AnswerInput = match serde_json::from_slice(input) {
            Ok(i) => i,
            Err(e) => return error(e.to_string()),
        };
        let Some(Stage::Authorized(authorized)) = self.take(input.handle) else {
            return error("no authorized request has that handle");
        };
        let (answer, masked) = authorized.finish(input.answer);
        json!({ "answer": answer, "masked": masked })
    }
}
