//! A read cache in front of a store, for the hot verify path.
//!
//! Token and environment lookups are cached, "not found" too (an attacker can
//! mint well-formed unknown tokenIds at will, and each would otherwise reach
//! storage). Every change made through this store invalidates what it touches
//! before it returns, so a revoked or rotated token is denied on the very next
//! request on this node. (Other nodes learn of changes from the record feed.)
//!
//! A lookup that raced with a change never caches what it read: changes bump
//! a generation, and a loaded value is kept only if the generation did not
//! move while it was read.
//!
//! The cache is bounded: past [`MAX_ENTRIES`] it starts over empty, which
//! costs a few lookups and never serves stale data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use verifier_core::{Grant, Installation, SecretHash, TokenId};

use super::{
    AppRow, AuditEntry, AuditEvent, Change, Changed, EnvironmentRow, HotMap, Project, Records,
    Redeem, SetupCodeRow, Store, StoreError, TokenRow, hot_map,
};

/// Most cached tokens (and, separately, environments).
pub const MAX_ENTRIES: usize = 1 << 20;

/// A store with a read cache of tokens and environments.
pub struct CachedStore<S> {
    inner: S,
    tokens: RwLock<HotMap<TokenId, Option<Arc<TokenRow>>>>,
    environments: RwLock<HotMap<String, Option<Arc<EnvironmentRow>>>>,
    generation: AtomicU64,
}

impl<S: Store> CachedStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        CachedStore {
            inner,
            tokens: RwLock::new(hot_map()),
            environments: RwLock::new(hot_map()),
            generation: AtomicU64::new(0),
        }
    }

    fn forget_token(&self, id: &TokenId) {
        let mut map = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.remove(id);
    }

    fn forget_all_tokens(&self) {
        let mut map = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }

    fn forget_environment(&self, id: &str) {
        let mut map = self.environments.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.remove(id);
    }

    /// Applies the store's change feed after `cursor`: forgets every token
    /// and environment changed since (by any node sharing the database) and
    /// returns the new cursor. `tally serve` runs this a few times a second,
    /// which bounds how long another node's revocation takes to reach this
    /// node's cache.
    pub fn sync_changes(&self, mut cursor: i64) -> Result<i64, StoreError> {
        loop {
            let changes = self.inner.changes_after(cursor, 1000)?;
            for change in &changes {
                match &change.changed {
                    Changed::Token(record) => self.forget_token(&record.token_id),
                    Changed::Environment(env) => self.forget_environment(&env.id),
                }
                cursor = change.seq;
            }
            if changes.len() < 1000 {
                return Ok(cursor);
            }
        }
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

impl<S: Store> Records for CachedStore<S> {
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

impl<S: Store> Store for CachedStore<S> {
    fn create_project(&self, project: &Project, audit: &AuditEntry) -> Result<(), StoreError> {
        self.inner.create_project(project, audit)
    }

    fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.inner.project(id)
    }

    fn create_environment(
        &self,
        env: &EnvironmentRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let out = self.inner.create_environment(env, audit);
        self.forget_environment(&env.id);
        out
    }

    fn set_public_grants(
        &self,
        id: &str,
        grants: &[Grant],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let out = self.inner.set_public_grants(id, grants, audit);
        self.forget_environment(id);
        out
    }

    fn create_app(&self, app: &AppRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.inner.create_app(app, audit)
    }

    fn app(&self, id: &str) -> Result<Option<AppRow>, StoreError> {
        self.inner.app(id)
    }

    fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRow>, StoreError> {
        self.inner.app_by_client_id(client_id)
    }

    fn create_installation(
        &self,
        installation: &Installation,
        code: &SetupCodeRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.inner.create_installation(installation, code, audit)
    }

    fn installation(&self, id: &str) -> Result<Option<Installation>, StoreError> {
        self.inner.installation(id)
    }

    fn update_installation(
        &self,
        installation: &Installation,
        revoke_tokens: bool,
        new_code: Option<&SetupCodeRow>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let out = self
            .inner
            .update_installation(installation, revoke_tokens, new_code, audit);
        if revoke_tokens {
            // Which tokens belong to the installation is storage's knowledge;
            // forgetting all is simple and always right.
            self.forget_all_tokens();
        }
        out
    }

    fn setup_code_installation(
        &self,
        code_hash: &SecretHash,
    ) -> Result<Option<String>, StoreError> {
        self.inner.setup_code_installation(code_hash)
    }

    fn redeem_setup_code(
        &self,
        code_hash: &SecretHash,
        app_id: &str,
        now: i64,
        token: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<Redeem, StoreError> {
        let out = self
            .inner
            .redeem_setup_code(code_hash, app_id, now, token, audit);
        // A redeem revokes the installation's earlier APP tokens, which
        // only storage knows: forget them all (exchanges are rare).
        self.forget_all_tokens();
        out
    }

    fn insert_token(&self, token: &TokenRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let out = self.inner.insert_token(token, audit);
        self.forget_token(&token.record.token_id);
        out
    }

    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.inner.tokens()
    }

    fn revoke_token(&self, id: &TokenId, audit: &AuditEntry) -> Result<(), StoreError> {
        let out = self.inner.revoke_token(id, audit);
        self.forget_token(id);
        out
    }

    fn rotate_token(
        &self,
        old: &TokenId,
        old_expires_at: Option<i64>,
        new: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let out = self.inner.rotate_token(old, old_expires_at, new, audit);
        self.forget_token(old);
        self.forget_token(&new.record.token_id);
        out
    }

    fn audit_after(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        self.inner.audit_after(after, limit)
    }

    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.inner.projects()
    }

    fn environments(&self) -> Result<Vec<EnvironmentRow>, StoreError> {
        self.inner.environments()
    }

    fn apps(&self) -> Result<Vec<AppRow>, StoreError> {
        self.inner.apps()
    }

    fn installations(&self) -> Result<Vec<Installation>, StoreError> {
        self.inner.installations()
    }

    fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        self.inner.changes_after(after, limit)
    }
}
