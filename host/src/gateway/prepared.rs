//! The verifier's form of the rows the store hands out: each token record and
//! environment encoded once as a [`Prepared`] value, which every plugin
//! instance then decodes once and keeps (see `runtime`).
//!
//! Freshness comes from the store: a cached row is shared (`Arc`), and a
//! change (revocation, rotation, new public grants) makes the store hand out
//! a new row. An entry here is used only while the store still returns the
//! very row it was made from (`Arc::ptr_eq`; the entry holds that row, so its
//! address cannot be reused meanwhile); otherwise it is made anew. So a
//! revoked token is denied on the next request, exactly as without this
//! cache.

use std::hash::Hash;
use std::sync::{Arc, RwLock};

use verifier_core::TokenId;

use crate::runtime::Prepared;
use crate::storage::{EnvironmentRow, HotMap, MAX_ENTRIES, TokenRow, hot_map};

/// Prepared records and environments, by id.
pub(crate) struct PreparedRows {
    tokens: Entries<TokenId, TokenRow>,
    environments: Entries<String, EnvironmentRow>,
}

impl Default for PreparedRows {
    fn default() -> Self {
        PreparedRows {
            tokens: RwLock::new(hot_map()),
            environments: RwLock::new(hot_map()),
        }
    }
}

type Entries<K, R> = RwLock<HotMap<K, (Arc<R>, Arc<Prepared>)>>;

impl PreparedRows {
    /// The prepared form of a token row the store returned.
    pub(crate) fn record(&self, row: &Arc<TokenRow>) -> Arc<Prepared> {
        prepared(&self.tokens, &row.record.token_id, row, || {
            Prepared::record(&row.record)
        })
    }

    /// The prepared form of an environment row the store returned.
    pub(crate) fn environment(&self, row: &Arc<EnvironmentRow>) -> Arc<Prepared> {
        prepared(&self.environments, &row.id, row, || {
            Prepared::environment(&row.policy())
        })
    }
}

fn prepared<K, Q, R>(
    entries: &Entries<K, R>,
    key: &Q,
    row: &Arc<R>,
    make: impl FnOnce() -> Prepared,
) -> Arc<Prepared>
where
    K: Hash + Eq + std::borrow::Borrow<Q>,
    Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
{
    if let Some((seen, prepared)) = entries.read().unwrap_or_else(|p| p.into_inner()).get(key)
        && Arc::ptr_eq(seen, row)
    {
        return Arc::clone(prepared);
    }
    let prepared = Arc::new(make());
    let mut map = entries.write().unwrap_or_else(|p| p.into_inner());
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key.to_owned(), (Arc::clone(row), Arc::clone(&prepared)));
    prepared
}

#[cfg(test)]
mod tests {
    use super::*;
    use verifier_core::{IssuedToken, TokenKind, TokenRecord};

    fn row(revoked: bool) -> Arc<TokenRow> {
        let issued = IssuedToken::from_random([3; 32]);
        Arc::new(TokenRow {
            record: TokenRecord {
                token_id: issued.token_id(),
                secret_hash: issued.secret_hash(),
                kind: TokenKind::Pat,
                name: "t".into(),
                project_id: None,
                environment_id: None,
                installation_id: None,
                principal: None,
                grants: Default::default(),
                expires_at: None,
                revoked,
            },
            created_at: 0,
            user_id: None,
        })
    }

    #[test]
    fn the_same_row_is_prepared_once_and_a_new_row_anew() {
        let rows = PreparedRows::default();
        let live = row(false);
        let first = rows.record(&live);
        assert!(Arc::ptr_eq(&first, &rows.record(&live)));
        // Equal content but another row (what the store returns after a
        // change): prepared anew, and that one is kept from then on.
        let revoked = row(true);
        let second = rows.record(&revoked);
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(Arc::ptr_eq(&second, &rows.record(&revoked)));
    }
}
