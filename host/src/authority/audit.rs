//! The audit log: the entry every change writes in the same transaction as
//! the change, and the paged reading of it.

use super::Authority;
use super::caller::Actor;
use super::error::AuthorityError;
use crate::storage::{AuditEntry, AuditEvent, AuditFilter};

impl Authority {
    pub(super) fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            at: self.now(),
            actor: actor.0.clone(),
            action: action.into(),
            target: target.into(),
            detail,
        }
    }

    /// `GET /v1/audit?after=&limit=&action=&actor=&target=`: at most 1000
    /// events a page (default 100), those `filter` keeps.
    pub fn audit_log(
        &self,
        after: i64,
        limit: Option<u32>,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, AuthorityError> {
        Ok(self
            .store()?
            .audit_matching(after, limit.unwrap_or(100).clamp(1, 1000), filter)?)
    }
}
