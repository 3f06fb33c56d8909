//! A read cache of a store's [`Records`], for the hot verify path. It
//! wraps the read side only: changes go to the store itself, and whoever
//! makes them calls [`RecordCache::catch_up`] before answering (the
//! authority does, after every change that may leave the cache something
//! to forget; a change that only adds a token, whose id is new and random,
//! leaves nothing).
//!
//! Token and environment lookups are cached, "not found" too (an attacker can
//! mint well-formed unknown tokenIds at will, and each would otherwise reach
//! storage). What to forget comes from the store's change feed, which names
//! every token and environment a change touched (the tokens a redeem or a
//! disabled installation revoked included): catching up reads the feed from
//! where the cache last stood and forgets each. So a revoked or rotated token
//! is denied on the very next request on this node; on PostgreSQL a thread
//! catches up a few times a second for the changes other nodes make.
//!
//! A lookup that raced with a change never caches what it read: changes bump
//! a generation, and a loaded value is kept only if the generation did not
//! move while it was read.
//!
//! The cache is bounded: past [`MAX_ENTRIES`] it starts over empty, which
//! costs a few lookups and never serves stale data.
//!
//! Where the cache stands in the feed is published ([`RecordCache::watch`]):
//! the node's feed readers (long polls, event streams) wait on it and wake
//! when a catch-up moves it, rather than read the store on a timer.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use tokio::sync::watch;
use verifier_core::TokenId;

use super::{EnvironmentRow, HotMap, Records, Store, StoreError, TokenRow, Touched, hot_map};

/// Most cached tokens (and, separately, environments).
pub const MAX_ENTRIES: usize = 1 << 20;

/// Changes read from the feed at a time while catching up.
const FEED_PAGE: u32 = 1000;

/// A read cache of tokens and environments in front of a store.
pub struct RecordCache {
    inner: Arc<dyn Store>,
    tokens: RwLock<HotMap<TokenId, Option<Arc<TokenRow>>>>,
    environments: RwLock<HotMap<String, Option<Arc<EnvironmentRow>>>>,
    generation: AtomicU64,
    /// The feed's `seq` up to which changes are forgotten.
    cursor: AtomicI64,
    /// `cursor`, published whenever a catch-up moves it.
    moved: watch::Sender<i64>,
    /// The catch-ups' reads of the feed, one at a time ([`Reads`]).
    reads: Mutex<Reads>,
    /// Signalled whenever a read of the feed ends.
    read_done: Condvar,
}

/// Where the catch-ups' reads of the feed stand. A read that starts after
/// a change committed finds it, so callers that arrive while a read is
/// under way wait for the next one, which one of them makes for all:
/// with many writers, one read catches up for the lot (a change per
/// writer, a read per several) instead of one each.
struct Reads {
    /// Whether a read is under way.
    running: bool,
    /// Reads started so far; the one under way is number `started`.
    started: u64,
    /// The number of the last read that ended.
    finished: u64,
    /// What that read answered: whether changes wait for their place, or
    /// why it failed.
    answer: Result<bool, String>,
}

/// Ends a read of the feed when dropped, however the read ended, so that
/// callers waiting for it never wait for good.
struct ReadEnded<'a> {
    cache: &'a RecordCache,
    number: u64,
    answer: Result<bool, String>,
}

impl Drop for ReadEnded<'_> {
    fn drop(&mut self) {
        let mut reads = self.cache.reads.lock().unwrap_or_else(|p| p.into_inner());
        reads.running = false;
        reads.finished = self.number;
        reads.answer = std::mem::replace(&mut self.answer, Ok(false));
        self.cache.read_done.notify_all();
    }
}

impl RecordCache {
    /// An empty cache of `inner`'s records, standing at its latest change.
    pub fn new(inner: Arc<dyn Store>) -> Result<Self, StoreError> {
        let cursor = inner.last_change()?;
        Ok(RecordCache {
            inner,
            tokens: RwLock::new(hot_map()),
            environments: RwLock::new(hot_map()),
            generation: AtomicU64::new(0),
            cursor: AtomicI64::new(cursor),
            moved: watch::Sender::new(cursor),
            reads: Mutex::new(Reads {
                running: false,
                started: 0,
                finished: 0,
                answer: Ok(false),
            }),
            read_done: Condvar::new(),
        })
    }

    /// Where the cache stands in the feed, changing whenever a catch-up
    /// reads a change (this node's or, once it catches up, another's): a
    /// feed reader that subscribes before it reads, and finds nothing,
    /// waits for it to change.
    pub fn watch(&self) -> watch::Receiver<i64> {
        self.moved.subscribe()
    }

    /// The invalidation hook: forgets every token and environment changed
    /// since the last catch-up (by this node or any other sharing the
    /// database), placed in the feed or still waiting for its place
    /// ([`Store::changes_to_forget`]). Should the feed be unreadable,
    /// forgets everything instead (and says so), so no stale record
    /// outlives a change. Returns whether changes wait for their place
    /// (someone should place them, [`Store::place_changes`]); the watch is
    /// poked then too, so waiting feed readers read, which places them.
    ///
    /// One read runs at a time; a caller that arrives while one is under
    /// way waits for the next and shares its answer.
    pub fn catch_up(&self) -> Result<bool, StoreError> {
        let mut reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        // Any read that starts from now on finds what committed before.
        let wanted = reads.started + 1;
        loop {
            if reads.finished >= wanted {
                return reads.answer.clone().map_err(StoreError::Database);
            }
            if !reads.running {
                reads.running = true;
                reads.started += 1;
                let mut ended = ReadEnded {
                    cache: self,
                    number: reads.started,
                    answer: Err("the read of the feed did not end".into()),
                };
                drop(reads);
                let answer = self.read_feed();
                ended.answer = answer.as_ref().map(|w| *w).map_err(|e| e.to_string());
                return answer;
            }
            reads = self
                .read_done
                .wait(reads)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Reads the feed from the cursor and forgets what it names (see
    /// [`RecordCache::catch_up`]).
    fn read_feed(&self) -> Result<bool, StoreError> {
        // No lock across the read: concurrent catch-ups may read the same
        // changes and forget twice, which is harmless. The cursor moves
        // only past changes already forgotten, so a caller that starts
        // after its own change committed finds it at or after the cursor,
        // waiting for its place, or already forgotten.
        let mut from = self.cursor.load(Ordering::SeqCst);
        loop {
            let (changes, waiting) = match self.inner.changes_to_forget(from, FEED_PAGE) {
                Ok(read) => read,
                Err(e) => {
                    self.forget_everything();
                    return Err(e);
                }
            };
            for touched in changes.iter().map(|(_, t)| t).chain(&waiting) {
                match touched {
                    Touched::Token(id) => self.forget_token(id),
                    Touched::Environment(id) => self.forget_environment(id),
                }
            }
            if let Some((last, _)) = changes.last() {
                from = *last;
                let before = self.cursor.fetch_max(from, Ordering::SeqCst);
                if before < from {
                    self.moved.send_if_modified(|at| {
                        let newer = *at < from;
                        *at = (*at).max(from);
                        newer
                    });
                }
            }
            if changes.len() < FEED_PAGE as usize {
                if !waiting.is_empty() {
                    self.moved.send_modify(|_| {});
                }
                return Ok(!waiting.is_empty());
            }
        }
    }

    fn forget_everything(&self) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        let mut environments = self.environments.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        tokens.clear();
        environments.clear();
    }

    fn forget_token(&self, id: &TokenId) {
        let mut map = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.remove(id);
    }

    fn forget_environment(&self, id: &str) {
        let mut map = self.environments.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.remove(id);
    }

    fn cached<K: std::hash::Hash + Eq + Clone, V: Clone>(
        &self,
        map: &RwLock<HotMap<K, Option<V>>>,
        key: &K,
        load: impl FnOnce() -> Result<Option<V>, StoreError>,
    ) -> Result<Option<V>, StoreError> {
        if let Some(hit) = peek(map, key) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let value = load()?;
        let mut map = map.write().unwrap_or_else(|p| p.into_inner());
        // Invalidations of this map bump the generation under this same lock,
        // so an unchanged generation means nothing here changed since before
        // the load.
        if self.generation.load(Ordering::SeqCst) == generation {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key.clone(), value.clone());
        }
        Ok(value)
    }
}

/// What the cache holds for `key` (a cached "not found" too), without
/// loading.
fn peek<K, Q, V>(map: &RwLock<HotMap<K, Option<V>>>, key: &Q) -> Option<Option<V>>
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
    V: Clone,
{
    map.read()
        .unwrap_or_else(|p| p.into_inner())
        .get(key)
        .cloned()
}

impl Records for RecordCache {
    fn is_empty(&self) -> Result<bool, StoreError> {
        self.inner.is_empty()
    }

    fn environment(&self, id: &str) -> Result<Option<Arc<EnvironmentRow>>, StoreError> {
        if let Some(hit) = self.peek_environment(id) {
            return Ok(hit);
        }
        self.cached(&self.environments, &id.to_owned(), || {
            self.inner.environment(id)
        })
    }

    fn peek_environment(&self, id: &str) -> Option<Option<Arc<EnvironmentRow>>> {
        peek(&self.environments, id).or_else(|| self.inner.peek_environment(id))
    }

    fn token(&self, id: &TokenId) -> Result<Option<Arc<TokenRow>>, StoreError> {
        self.cached(&self.tokens, id, || self.inner.token(id))
    }

    fn peek_token(&self, id: &TokenId) -> Option<Option<Arc<TokenRow>>> {
        peek(&self.tokens, id).or_else(|| self.inner.peek_token(id))
    }

    fn last_change(&self) -> Result<i64, StoreError> {
        self.inner.last_change()
    }
}
