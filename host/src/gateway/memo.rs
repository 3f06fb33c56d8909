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
//! `tally serve --no-decision-memo` turns it off (for a plugin that breaks
//! the ABI's rule and keeps state, and for measuring without it).

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;

use rustc_hash::FxBuildHasher;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use verifier_core::TokenId;
use verifier_core::abi::{self, wire::ReqRef};

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
    let _ = MEMO.try_with(|memo| {
        let Ok(mut memo) = memo.try_borrow_mut() else {
            return;
        };
        if memo.is_empty() {
            memo.resize_with(SLOTS, || None);
        }
        if let Some(slot) = memo.get_mut(key.slot) {
            *slot = Some(Entry {
                plugin: key.plugin,
                header: key.header,
                request: key.request().into(),
                rows,
                outcome: outcome.clone(),
            });
        }
    });
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

    #[test]
    fn a_request_too_long_to_remember_is_not_keyed() {
        let long = request(100, &"M".repeat(REQUEST_BYTES));
        assert!(Key::new(1, b"h", (&long).into()).is_none());
    }
}
