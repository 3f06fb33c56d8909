//! What verifiers read: a token's record, an environment's record and the
//! change feed replicas and edge workers follow.

use verifier_core::{Environment, TokenId, TokenRecord};

use super::Authority;
use super::error::AuthorityError;
use crate::storage::Change;

impl Authority {
    /// `GET /v1/records?after=&limit=`: one page of the change feed.
    pub fn feed(&self, after: i64, limit: u32) -> Result<Vec<Change>, AuthorityError> {
        Ok(self
            .store()?
            .changes_after(after.max(0), limit.clamp(1, 10_000))?)
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
