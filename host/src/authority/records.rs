//! What verifiers read: a token's record, an environment's record, the
//! change feed replicas and edge workers follow, and the snapshot a replica
//! starts from.
//!
//! A snapshot is every record read page by page in token-id order
//! ([`SnapshotPage`]), not the feed from its start: a store of ten million
//! tokens holds far more feed entries than records, and a page names each
//! grant list once however many of its records carry it. Its first page
//! gives the feed's cursor before any record was read; a replica that has
//! read every page follows the feed from there. That misses nothing: a
//! change made while the pages are read is placed after that cursor, and
//! the feed gives every record as it is now, so replaying one the pages
//! already held changes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use verifier_core::{Environment, Grant, Grants, SecretHash, TokenId, TokenKind, TokenRecord};

use super::Authority;
use super::error::AuthorityError;
use crate::storage::Change;

/// Most records a snapshot page holds.
pub const SNAPSHOT_PAGE_MAX: u32 = 10_000;

/// One page of a snapshot (`GET /v1/records/snapshot`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotPage {
    /// The feed's cursor when the page was read. A replica follows the
    /// feed from the first page's.
    pub cursor: i64,
    /// Every environment, on the first page (none on the others).
    #[serde(default)]
    pub environments: Vec<Environment>,
    /// The distinct grant lists of the page's records.
    pub grant_lists: Vec<Arc<Grants>>,
    /// The records, in token-id order.
    pub records: Vec<SnapshotRecord>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<TokenId>,
}

/// A [`TokenRecord`] whose grants are an index into the page's
/// [`SnapshotPage::grant_lists`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)] // The fields are `TokenRecord`'s.
pub struct SnapshotRecord {
    pub token_id: TokenId,
    pub secret_hash: SecretHash,
    pub kind: TokenKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Index of its grants in [`SnapshotPage::grant_lists`].
    pub grant_list: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub revoked: bool,
}

/// A snapshot page names a grant list it does not hold.
#[derive(Debug, thiserror::Error)]
#[error("record {token_id} names grant list {index} of {lists}")]
pub struct NoSuchGrantList {
    /// The record.
    pub token_id: TokenId,
    /// The index it names.
    pub index: usize,
    /// How many lists the page holds.
    pub lists: usize,
}

impl SnapshotPage {
    /// A page of `records` (read with a `limit`; a full page has a next).
    fn new(
        cursor: i64,
        environments: Vec<Environment>,
        records: Vec<TokenRecord>,
        limit: u32,
    ) -> Self {
        let full = records.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        let next = full.then(|| records.last().map(|r| r.token_id)).flatten();
        // Lists the store read once are one allocation: index by address.
        let mut index: HashMap<*const Grant, usize> = HashMap::new();
        let mut grant_lists = Vec::new();
        let records = records
            .into_iter()
            .map(|record| {
                // Whole, without `..`: a field `TokenRecord` gains must be
                // carried here too, or this does not compile.
                let TokenRecord {
                    token_id,
                    secret_hash,
                    kind,
                    name,
                    project_id,
                    environment_id,
                    installation_id,
                    principal,
                    grants,
                    expires_at,
                    revoked,
                } = record;
                let grant_list = *index.entry(grants.as_ptr()).or_insert_with(|| {
                    grant_lists.push(grants);
                    grant_lists.len() - 1
                });
                SnapshotRecord {
                    token_id,
                    secret_hash,
                    kind,
                    name,
                    project_id,
                    environment_id,
                    installation_id,
                    principal,
                    grant_list,
                    expires_at,
                    revoked,
                }
            })
            .collect();
        SnapshotPage {
            cursor,
            environments,
            grant_lists,
            records,
            next,
        }
    }

    /// The page's records whole, records that share a list sharing it.
    pub fn token_records(&mut self) -> Result<Vec<TokenRecord>, NoSuchGrantList> {
        let lists = &self.grant_lists;
        std::mem::take(&mut self.records)
            .into_iter()
            .map(|record| {
                let SnapshotRecord {
                    token_id,
                    secret_hash,
                    kind,
                    name,
                    project_id,
                    environment_id,
                    installation_id,
                    principal,
                    grant_list,
                    expires_at,
                    revoked,
                } = record;
                let grants = lists.get(grant_list).ok_or(NoSuchGrantList {
                    token_id,
                    index: grant_list,
                    lists: lists.len(),
                })?;
                Ok(TokenRecord {
                    token_id,
                    secret_hash,
                    kind,
                    name,
                    project_id,
                    environment_id,
                    installation_id,
                    principal,
                    grants: Arc::clone(grants),
                    expires_at,
                    revoked,
                })
            })
            .collect()
    }
}

impl Authority {
    /// `GET /v1/records?after=&limit=`: one page of the change feed.
    pub fn feed(&self, after: i64, limit: u32) -> Result<Vec<Change>, AuthorityError> {
        Ok(self
            .store()?
            .changes_after(after.max(0), limit.clamp(1, 10_000))?)
    }

    /// `GET /v1/records/snapshot?after=&limit=`: the records after the
    /// token id `after` (from the first without), at most `limit` (read as
    /// 1 to [`SNAPSHOT_PAGE_MAX`]); the first page also holds every
    /// environment. See the module docs for why it misses nothing.
    pub fn snapshot(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<SnapshotPage, AuthorityError> {
        let after = after
            .map(|id| {
                TokenId::parse(id).map_err(|_| {
                    AuthorityError::BadRequest(
                        "after must be a token id (16 hex characters)".into(),
                    )
                })
            })
            .transpose()?;
        let limit = limit.clamp(1, SNAPSHOT_PAGE_MAX);
        let store = self.store()?;
        // The cursor first: a change committed after it is in the feed past it.
        let cursor = store.last_change()?;
        let environments = match after {
            None => store.environments()?.iter().map(|e| e.policy()).collect(),
            Some(_) => Vec::new(),
        };
        let records = store.token_records_after(after.as_ref(), limit)?;
        Ok(SnapshotPage::new(cursor, environments, records, limit))
    }

    /// `GET /v1/records/{tokenId}`: what a verifier needs of a token (the
    /// secret only as its hash). Revoked tokens are served, marked.
    pub fn record(&self, id: &str) -> Result<TokenRecord, AuthorityError> {
        let token_id = TokenId::parse(id).map_err(|_| AuthorityError::NotFound("token"))?;
        let row = self
            .records
            .token(&token_id)?
            .ok_or(AuthorityError::NotFound("token"))?;
        Ok(row.record.clone())
    }

    /// `GET /v1/environments/{e}/record`: what a verifier needs of an environment.
    pub fn environment_record(&self, id: &str) -> Result<Environment, AuthorityError> {
        let row = self
            .records
            .environment(id)?
            .ok_or(AuthorityError::NotFound("environment"))?;
        Ok(row.policy())
    }
}
