//! A read-only, in-memory replica of what verifiers read: token records and
//! environments, kept current from an authority's record feed
//! (`GET /v1/records`, see [`crate::follow`]).
//!
//! `tally serve --replica-of URL` runs its gateway and `/v1/verify` on one,
//! so every verification is local. It implements [`Records`] alone: the
//! authority over it refuses every change (`AuthorityError::ReadOnly`).
//! Records are kept whole, revoked ones included
//! (a revocation must replace what a verifier would otherwise still find).
//!
//! Grant lists are interned: the tokens of one app carry the same grants,
//! and a replica of millions of them keeps one list, so a ten-grant record
//! costs about what a one-grant record does (figures in BENCHMARKS.md,
//! "Verification on a replica"). Lists no record holds any more are dropped
//! whenever the table has doubled since it was last swept.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use verifier_core::{Environment, Grant, Grants, TokenId, TokenRecord};

use super::{Change, Changed, EnvironmentRow, Records, StoreError, TokenRow};

/// The replica.
#[derive(Debug, Default)]
pub struct ReplicaStore {
    tokens: RwLock<HashMap<TokenId, Arc<TokenRow>>>,
    environments: RwLock<HashMap<String, Arc<EnvironmentRow>>>,
    grant_lists: Mutex<GrantLists>,
    cursor: AtomicI64,
}

/// The distinct grant lists the records share.
#[derive(Debug, Default)]
struct GrantLists {
    lists: HashSet<Arc<Grants>>,
    /// How many lists there were after the last sweep.
    swept_at: usize,
}

impl GrantLists {
    /// Lists below this many are never swept.
    const SWEEP_FLOOR: usize = 1024;

    /// The shared list equal to `grants`.
    fn intern(&mut self, grants: Arc<Grants>) -> Arc<Grants> {
        if let Some(shared) = self.lists.get(&grants) {
            return Arc::clone(shared);
        }
        if self.lists.len() >= Self::SWEEP_FLOOR.max(self.swept_at * 2) {
            // Held by the table alone: no record uses it any more.
            self.lists.retain(|list| Arc::strong_count(list) > 1);
            self.swept_at = self.lists.len();
        }
        self.lists.insert(Arc::clone(&grants));
        grants
    }
}

impl ReplicaStore {
    /// An empty replica (cursor 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one change of the feed (an upsert) and advances the cursor.
    pub fn apply(&self, change: Change) {
        match change.changed {
            Changed::Token(mut record) => {
                let id = record.token_id;
                record.grants = self
                    .grant_lists
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .intern(record.grants);
                let row = Arc::new(TokenRow::replicated(record));
                self.tokens
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, row);
            }
            Changed::Environment(env) => self.load_environment(env),
        }
        self.cursor.fetch_max(change.seq, Ordering::SeqCst);
    }

    /// Stores records read from a snapshot, leaving the cursor where it is
    /// (the snapshot's cursor is set by [`ReplicaStore::advance`] once
    /// every page is in). Records that share a list share it here too.
    pub fn load(&self, records: Vec<TokenRecord>) {
        // A page's records share the page's lists: intern each list once,
        // by address.
        let mut seen: HashMap<*const Grant, Arc<Grants>> = HashMap::new();
        let mut lists = self.grant_lists.lock().unwrap_or_else(|p| p.into_inner());
        let rows: Vec<(TokenId, Arc<TokenRow>)> = records
            .into_iter()
            .map(|mut record| {
                record.grants = Arc::clone(
                    seen.entry(record.grants.as_ptr())
                        .or_insert_with(|| lists.intern(Arc::clone(&record.grants))),
                );
                (record.token_id, Arc::new(TokenRow::replicated(record)))
            })
            .collect();
        drop(lists);
        self.tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(rows);
    }

    /// Stores an environment read from a snapshot, leaving the cursor.
    pub fn load_environment(&self, env: EnvironmentRow) {
        self.environments
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(env.id.clone(), Arc::new(env));
    }

    /// Moves the cursor to `seq` if it is past it (a snapshot's cursor).
    pub fn advance(&self, seq: i64) {
        self.cursor.fetch_max(seq, Ordering::SeqCst);
    }

    /// The `seq` of the last change applied.
    pub fn cursor(&self) -> i64 {
        self.cursor.load(Ordering::SeqCst)
    }

    /// How many token records it holds.
    pub fn token_count(&self) -> usize {
        self.tokens.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// How many distinct grant lists its records share.
    pub fn grant_list_count(&self) -> usize {
        self.grant_lists
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .lists
            .len()
    }
}

impl TokenRow {
    /// A row of a replicated record. The feed does not carry creation
    /// times or users; verifiers do not need them.
    fn replicated(record: TokenRecord) -> Self {
        TokenRow {
            record,
            created_at: 0,
            user_id: None,
        }
    }
}

impl EnvironmentRow {
    /// A row of a replicated environment: what verifiers need of it (the
    /// feed and the snapshot carry no project, name or creation time).
    pub fn replicated(env: Environment) -> Self {
        EnvironmentRow {
            id: env.id,
            project_id: String::new(),
            name: String::new(),
            default_stage: env.default_stage,
            public_grants: env.public_grants,
            created_at: 0,
            models: env.models,
        }
    }
}

impl Records for ReplicaStore {
    /// Never empty: a replica mints no admin token.
    fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    fn token(&self, id: &TokenId) -> Result<Option<Arc<TokenRow>>, StoreError> {
        Ok(self
            .tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned())
    }

    fn environment(&self, id: &str) -> Result<Option<Arc<EnvironmentRow>>, StoreError> {
        Ok(self
            .environments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned())
    }

    /// Everything is in memory: a peek is a lookup.
    fn peek_token(&self, id: &TokenId) -> Option<Option<Arc<TokenRow>>> {
        self.token(id).ok()
    }

    fn peek_environment(&self, id: &str) -> Option<Option<Arc<EnvironmentRow>>> {
        self.environment(id).ok()
    }

    fn last_change(&self) -> Result<i64, StoreError> {
        Ok(self.cursor())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use verifier_core::{Action, Api, IssuedToken, TokenKind, TokenRecord};

    use super::*;

    fn record(i: u8, grants: Vec<Grant>) -> Change {
        let token = IssuedToken::from_random([i; 32]);
        Change {
            seq: i64::from(i),
            changed: Changed::Token(TokenRecord {
                token_id: token.token_id(),
                secret_hash: token.secret_hash(),
                kind: TokenKind::App,
                name: format!("token {i}"),
                project_id: None,
                environment_id: None,
                installation_id: None,
                principal: None,
                grants: Grants::shared(grants),
                expires_at: None,
                revoked: false,
            }),
        }
    }

    fn grants_of(store: &ReplicaStore, i: u8) -> Arc<Grants> {
        let id = IssuedToken::from_random([i; 32]).token_id();
        Arc::clone(&store.token(&id).unwrap().unwrap().record.grants)
    }

    #[test]
    fn equal_grant_lists_are_one_list() {
        let store = ReplicaStore::new();
        let read = || vec![Grant::new(Api::Content, Action::READ)];
        store.apply(record(1, read()));
        store.apply(record(2, read()));
        store.apply(record(3, vec![Grant::new(Api::Content, Action::UPDATE)]));
        assert!(Arc::ptr_eq(&grants_of(&store, 1), &grants_of(&store, 2)));
        assert!(!Arc::ptr_eq(&grants_of(&store, 1), &grants_of(&store, 3)));
        assert_eq!(store.grant_list_count(), 2);
        assert_eq!(store.cursor(), 3);
    }

    #[test]
    fn lists_no_record_holds_are_swept() {
        let store = ReplicaStore::new();
        // One token whose grants change again and again: each change leaves
        // the last list unused.
        for n in 0..3 * GrantLists::SWEEP_FLOOR {
            let mut grant = Grant::new(Api::Content, Action::READ);
            grant.models = verifier_core::Scope::Only(vec![format!("Model{n}")]);
            store.apply(record(1, vec![grant]));
        }
        assert!(
            store.grant_list_count() <= GrantLists::SWEEP_FLOOR,
            "{} lists kept for one record",
            store.grant_list_count()
        );
    }
}
