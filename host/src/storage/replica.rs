//! A read-only, in-memory replica of what verifiers read: token records and
//! environments, kept current from an authority's record feed
//! (`GET /v1/records`, see [`crate::follow`]).
//!
//! `tally serve --replica-of URL` runs its gateway and `/v1/verify` on one,
//! so every verification is local. It implements [`Records`] alone: the
//! authority over it refuses every change (`AuthorityError::ReadOnly`).
//! Records are kept whole, revoked ones included
//! (a revocation must replace what a verifier would otherwise still find).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use verifier_core::TokenId;

use super::{Change, Changed, EnvironmentRow, Records, StoreError, TokenRow};

/// The replica.
#[derive(Debug, Default)]
pub struct ReplicaStore {
    tokens: RwLock<HashMap<TokenId, Arc<TokenRow>>>,
    environments: RwLock<HashMap<String, Arc<EnvironmentRow>>>,
    cursor: AtomicI64,
}

impl ReplicaStore {
    /// An empty replica (cursor 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one change of the feed (an upsert) and advances the cursor.
    pub fn apply(&self, change: Change) {
        match change.changed {
            Changed::Token(record) => {
                let id = record.token_id;
                // The feed does not carry creation times; verifiers do not need them.
                let row = Arc::new(TokenRow {
                    record,
                    created_at: 0,
                    user_id: None,
                });
                self.tokens
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, row);
            }
            Changed::Environment(env) => {
                self.environments
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(env.id.clone(), Arc::new(env));
            }
        }
        self.cursor.fetch_max(change.seq, Ordering::SeqCst);
    }

    /// The `seq` of the last change applied.
    pub fn cursor(&self) -> i64 {
        self.cursor.load(Ordering::SeqCst)
    }

    /// How many token records it holds.
    pub fn token_count(&self) -> usize {
        self.tokens.read().unwrap_or_else(|p| p.into_inner()).len()
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
