//! Allowed decisions remembered by each worker thread for the second they
//! were made in: a check repeated within that second (the same
//! `Authorization` value, the same request, the same rows, the same plugin)
//! is answered without calling the plugin again.
//!
//! Why that is the plugin's own answer: ABI.md has the module keep no state
//! between calls apart from its allocator, its prepared values and its
//! result block, so its decision is a function of its inputs — the header,
//! the record and environment it prepared, and the request, which carries
//! the caller's clock in whole seconds (`now`). The key here is all of them:
//!
//! - the plugin, by its process-unique id (a reload starts afresh);
//! - the header's SHA-256: the value itself, which holds a secret, is never
//!   kept, and equal digests mean equal headers;
//! - the request exactly as the plugin reads it (its ABI encoding, `now`
//!   included, so nothing outlives its second and an expiry is seen at
//!   once);
//! - the rows: the store's own `Arc`s of the token row that `parse` named and
//!   of the environment row, compared by address. A change in the store
//!   (revocation, rotation, disabling, new public grants) is a new row, so a
//!   remembered decision is used only while the store still hands out the
//!   very rows it was made with, as for the prepared rows (`prepared.rs`):
//!   a revoked token is denied on the next request.
//!
//! Only allowed decisions are kept. A denial goes the whole way each time,
//! feeding the throttle, and an attacker gains nothing here: a hit needs
//! the whole header.
//!
//! Per thread, with no lock and no shared cache line on the hot path; each
//! worker fills its own. Direct-mapped: a slot is chosen by the header's
//! digest mixed with a hash of the request (the digest of a header nobody
//! else knows cannot be aimed at), and a newer decision displaces an older
//! one in its slot. A check that misses pays only the digest and the
//! encoding of the request (BENCHMARKS.md).
//!
//! A GraphQL operation (`content.rs`) is remembered whole the same way
//! ([`recall_operation`]): all its checks allowed, keyed by the plugin, the
//! header's digest and the plan (`content_gate::PlanCache`'s, which holds
//! every check's request with its `now`), with the rows they were decided
//! with, and answered with what the plan authorized.
//!
//! `tally serve --no-decision-memo` turns both off (for a plugin that breaks
//! the ABI's rule and keeps state, and for measuring without it).

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;

use content_gate::{Authorized, Plan};
use rustc_hash::FxBuildHasher;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use verifier_core::abi::{self, wire::ReqRef};
use verifier_core::{Reason, TokenId};

use super::check::Outcome;
use crate::storage::{EnvironmentRow, Records, TokenRow};

/// Slots per thread.
const SLOTS: usize = 256;

/// The largest encoded request remembered (a request's names are short; a
/// longer one is simply checked every time).
const REQUEST_BYTES: usize = 256;

/// What a check's decision is a function of, besides its rows.
pub(crate) struct Key {
    plugin: u64,
    header: [u8; 32],
    request: [u8; REQUEST_BYTES],
    len: usize,
    /// The slot, computed once for the lookup and the insert of a miss.
    slot: usize,
}

impl Key {
    /// The key of a check by `plugin` of `header` for `request`; `None` for
    /// a request too long to remember.
    pub(crate) fn new(plugin: u64, header: &[u8], request: ReqRef<'_>) -> Option<Self> {
        let mut bytes = [0; REQUEST_BYTES];
        let len = abi::encode_request_into(request, &mut bytes)?;
        let header: [u8; 32] = Sha256::digest(header).into();
        let mut start = [0; 8];
        start.copy_from_slice(&header[..8]);
        let mixed = u64::from_le_bytes(start) ^ FxBuildHasher.hash_one(bytes.get(..len)?);
        Some(Key {
            plugin,
            header,
            request: bytes,
            len,
            slot: (mixed % SLOTS as u64) as usize,
        })
    }

    fn request(&self) -> &[u8] {
        self.request.get(..self.len).unwrap_or_default()
    }
}

/// The rows a decision was made with, as the store handed them out: the
/// token row `parse` named (`None`: parse refused the header) and the
/// environment row (`None`: the request names no environment); an inner
/// `None` is a row the store knew not to exist.
#[derive(Default)]
pub(crate) struct Rows {
    pub(crate) token: Option<(TokenId, Option<Arc<TokenRow>>)>,
    pub(crate) environment: Option<Option<Arc<EnvironmentRow>>>,
}

impl Rows {
    /// Whether the store, from memory, still hands out these very rows for
    /// a request naming `environment_id`. A row not in memory reads as
    /// changed: the check then goes the whole way.
    pub(crate) fn current(&self, store: &dyn Records, environment_id: Option<&str>) -> bool {
        let environment = match (&self.environment, environment_id) {
            (None, None) => true,
            (Some(was), Some(id)) => same(was, store.peek_environment(id)),
            _ => false,
        };
        environment
            && match &self.token {
                None => true,
                Some((id, was)) => same(was, store.peek_token(id)),
            }
    }
}

impl Rows {
    /// Whether `other` holds these very rows.
    pub(crate) fn same_as(&self, other: &Rows) -> bool {
        let token = match (&self.token, &other.token) {
            (None, None) => true,
            (Some((a, ra)), Some((b, rb))) => a == b && same_row(ra, rb),
            _ => false,
        };
        let environment = match (&self.environment, &other.environment) {
            (None, None) => true,
            (Some(a), Some(b)) => same_row(a, b),
            _ => false,
        };
        token && environment
    }
}

fn same_row<R>(a: &Option<Arc<R>>, b: &Option<Arc<R>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn same<R>(was: &Option<Arc<R>>, now: Option<Option<Arc<R>>>) -> bool {
    match (was, now) {
        (Some(was), Some(Some(now))) => Arc::ptr_eq(was, &now),
        (None, Some(None)) => true,
        _ => false,
    }
}

struct Entry {
    plugin: u64,
    header: [u8; 32],
    request: Box<[u8]>,
    rows: Rows,
    outcome: Outcome,
}

thread_local! {
    /// This thread's slots (allocated on first use).
    static MEMO: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
}

/// The decision remembered under `key`, if there is one and `current`
/// holds for the rows it was made with.
pub(crate) fn recall(key: &Key, current: impl FnOnce(&Rows) -> bool) -> Option<Outcome> {
    MEMO.try_with(|memo| {
        let memo = memo.try_borrow().ok()?;
        let entry = memo.get(key.slot)?.as_ref()?;
        let same_key = entry.plugin == key.plugin
            && bool::from(entry.header.ct_eq(&key.header))
            && *entry.request == *key.request();
        (same_key && current(&entry.rows)).then(|| entry.outcome.clone())
    })
    .ok()
    .flatten()
}

/// Remembers an allowed decision (a denial is not kept).
pub(crate) fn remember(key: Key, rows: Rows, outcome: &Outcome) {
    if outcome.allowed.is_none() {
        return;
    }
    let entry = Entry {
        plugin: key.plugin,
        header: key.header,
        request: key.request().into(),
        rows,
        outcome: outcome.clone(),
    };
    put(&MEMO, SLOTS, key.slot, entry);
}

/// Puts `entry` in `slot` of this thread's `memo` (of `slots` slots,
/// allocated on first use), displacing what was there.
fn put<E>(
    memo: &'static std::thread::LocalKey<RefCell<Vec<Option<E>>>>,
    slots: usize,
    slot: usize,
    entry: E,
) {
    let _ = memo.try_with(|memo| {
        let Ok(mut memo) = memo.try_borrow_mut() else {
            return;
        };
        if memo.is_empty() {
            memo.resize_with(slots, || None);
        }
        if let Some(at) = memo.get_mut(slot) {
            *at = Some(entry);
        }
    });
}

/// Slots per thread for whole GraphQL operations.
const PLAN_SLOTS: usize = 64;

/// What an operation's decisions are a function of, besides its rows: the
/// plugin, the header's digest and the plan, which holds every check's
/// request (`now` included) and is held by the entry, so its address is
/// never another plan's.
pub(crate) struct PlanKey {
    plugin: u64,
    header: [u8; 32],
    plan: Arc<Plan>,
    slot: usize,
}

impl PlanKey {
    /// The key of `plan`'s checks by `plugin` for `header`.
    pub(crate) fn new(plugin: u64, header: &[u8], plan: &Arc<Plan>) -> Self {
        let header: [u8; 32] = Sha256::digest(header).into();
        let mut start = [0; 8];
        start.copy_from_slice(&header[..8]);
        let mixed = u64::from_le_bytes(start) ^ FxBuildHasher.hash_one(Arc::as_ptr(plan) as usize);
        PlanKey {
            plugin,
            header,
            plan: Arc::clone(plan),
            slot: (mixed % PLAN_SLOTS as u64) as usize,
        }
    }
}

/// An operation whose checks all allowed: their reasons (for the metrics)
/// and what the plan authorized.
#[derive(Clone)]
pub(crate) struct Operation {
    pub(crate) reasons: Vec<Reason>,
    pub(crate) authorized: Arc<Authorized>,
}

struct PlanEntry {
    plugin: u64,
    header: [u8; 32],
    plan: Arc<Plan>,
    rows: Rows,
    operation: Operation,
}

thread_local! {
    /// This thread's operation slots (allocated on first use).
    static OPERATIONS: RefCell<Vec<Option<PlanEntry>>> = const { RefCell::new(Vec::new()) };
}

/// The operation remembered under `key`, if there is one and `current`
/// holds for the rows it was decided with: the same rule as [`recall`],
/// for all of a GraphQL operation's checks at once.
pub(crate) fn recall_operation(
    key: &PlanKey,
    current: impl FnOnce(&Rows) -> bool,
) -> Option<Operation> {
    OPERATIONS
        .try_with(|memo| {
            let memo = memo.try_borrow().ok()?;
            let entry = memo.get(key.slot)?.as_ref()?;
            let same_key = entry.plugin == key.plugin
                && bool::from(entry.header.ct_eq(&key.header))
                && Arc::ptr_eq(&entry.plan, &key.plan);
            (same_key && current(&entry.rows)).then(|| entry.operation.clone())
        })
        .ok()
        .flatten()
}

/// Remembers an operation whose checks all allowed.
pub(crate) fn remember_operation(key: PlanKey, rows: Rows, operation: Operation) {
    let slot = key.slot;
    let entry = PlanEntry {
        plugin: key.plugin,
        header: key.header,
        plan: key.plan,
        rows,
        operation,
    };
    put(&OPERATIONS, PLAN_SLOTS, slot, entry);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::gateway::check::DecisionHeaders;
    use axum::http::HeaderValue;
    use verifier_core::{Action, Api, Reason, Request};

    fn request(now: i64, model: &str) -> Request {
        let mut r = Request::new(Api::Content, Action::READ, now);
        r.environment_id = Some("master".into());
        r.model = Some(model.into());
        r
    }

    fn allowed(principal: &str) -> Outcome {
        Outcome {
            reason: Reason::Allowed,
            allowed: Some(DecisionHeaders {
                principal: HeaderValue::from_str(principal).ok(),
                filter: None,
                masked: Some(HeaderValue::from_static("")),
                reason: Reason::Allowed,
                limits: None,
            }),
        }
    }

    fn key(plugin: u64, header: &str, request: &Request) -> Key {
        Key::new(plugin, header.as_bytes(), request.into()).unwrap()
    }

    fn principal(outcome: Option<Outcome>) -> Option<String> {
        let headers = outcome?.allowed?;
        Some(headers.principal?.to_str().ok()?.to_owned())
    }

    // Each test runs on a thread of its own, so with a memo of its own.

    #[test]
    fn a_decision_is_recalled_for_the_same_key_only() {
        let post = request(100, "Post");
        remember(
            key(1, "AppToken a.b", &post),
            Rows::default(),
            &allowed("p"),
        );
        let hit = recall(&key(1, "AppToken a.b", &post), |_| true);
        assert_eq!(principal(hit).as_deref(), Some("p"));
        // Another header, plugin, second or model: no answer.
        assert!(recall(&key(1, "AppToken a.c", &post), |_| true).is_none());
        assert!(recall(&key(2, "AppToken a.b", &post), |_| true).is_none());
        assert!(recall(&key(1, "AppToken a.b", &request(101, "Post")), |_| true).is_none());
        assert!(recall(&key(1, "AppToken a.b", &request(100, "Page")), |_| true).is_none());
    }

    #[test]
    fn a_decision_whose_rows_changed_is_not_recalled() {
        let post = request(100, "Post");
        remember(key(1, "h", &post), Rows::default(), &allowed("p"));
        assert!(recall(&key(1, "h", &post), |_| false).is_none());
        assert!(recall(&key(1, "h", &post), |_| true).is_some());
    }

    #[test]
    fn a_denial_is_not_remembered() {
        let post = request(100, "Post");
        let denied = Outcome {
            reason: Reason::NotGranted,
            allowed: None,
        };
        remember(key(1, "h", &post), Rows::default(), &denied);
        assert!(recall(&key(1, "h", &post), |_| true).is_none());
    }

    #[test]
    fn a_newer_decision_displaces_an_older_one_in_its_slot() {
        let post = request(100, "Post");
        remember(key(1, "h", &post), Rows::default(), &allowed("old"));
        remember(key(1, "h", &post), Rows::default(), &allowed("new"));
        let hit = recall(&key(1, "h", &post), |_| true);
        assert_eq!(principal(hit).as_deref(), Some("new"));
    }

    fn plan() -> Arc<Plan> {
        let request = serde_json::from_value(serde_json::json!({"query": "{ posts { id } }"}));
        let mut environment = verifier_core::Environment::new("master");
        environment.models =
            serde_json::from_value(serde_json::json!([{"apiId": "Post", "apiIdPlural": "Posts"}]))
                .unwrap();
        let options = content_gate::Options::default();
        Arc::new(content_gate::Plan::new(&request.unwrap(), &environment, &options).unwrap())
    }

    #[test]
    fn an_operation_is_recalled_for_the_same_header_and_plan_only() {
        let (a, b) = (plan(), plan());
        let decisions = vec![verifier_core::Decision {
            allow: true,
            reason: Reason::Allowed,
            principal: Some("p".into()),
            filter: None,
            masked: Vec::new(),
        }];
        let operation = Operation {
            reasons: vec![Reason::Allowed],
            authorized: a.authorize(&decisions).unwrap(),
        };
        remember_operation(PlanKey::new(1, b"h", &a), Rows::default(), operation);
        let hit = recall_operation(&PlanKey::new(1, b"h", &a), |_| true);
        assert_eq!(hit.unwrap().reasons, vec![Reason::Allowed]);
        // An equal plan that is another (another second, other inputs),
        // another header or plugin, rows no longer current: no answer.
        assert!(recall_operation(&PlanKey::new(1, b"h", &b), |_| true).is_none());
        assert!(recall_operation(&PlanKey::new(1, b"i", &a), |_| true).is_none());
        assert!(recall_operation(&PlanKey::new(2, b"h", &a), |_| true).is_none());
        assert!(recall_operation(&PlanKey::new(1, b"h", &a), |_| false).is_none());
    }

    #[test]
    fn a_request_too_long_to_remember_is_not_keyed() {
        let long = request(100, &"M".repeat(REQUEST_BYTES));
        assert!(Key::new(1, b"h", (&long).into()).is_none());
    }
}
