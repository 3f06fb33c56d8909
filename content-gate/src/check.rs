//! A plan's checks decided natively, by `verifier_core`, for a gate that
//! holds its token records itself (a gateway written in Rust). The host's
//! gateway and the edges decide with their verifier module instead (a
//! policy plugin may add rules of its own) and call [`Plan::authorize`].
//!
//! Every call authenticates the header against the record it is given
//! (the secret's hash, compared in constant time; revocation; expiry), as
//! [`verifier_core::verify`] does. What follows authentication is a
//! function of the record's grants, principal and bindings, the
//! environment and the requests, and the last three are the plan's. So a
//! plan keeps the last token that its checks allowed: when the same grants
//! (the same `Arc`, held, so never a reused address) and bindings come
//! again, the decisions would be the same, and so is what they authorized.
//! Anything else (no header, a header that does not parse, an unknown,
//! revoked or expired token, other grants) is decided check by check.

use std::sync::Arc;

use verifier_core::{Credentials, Grants, TokenId, TokenKind, TokenRecord, verify_all};

use crate::authorize::Authorized;
use crate::error::Denied;
use crate::plan::Plan;

/// What a token's decisions depend on beyond authentication.
#[derive(Debug)]
struct Bindings {
    token_id: TokenId,
    kind: TokenKind,
    project_id: Option<String>,
    environment_id: Option<String>,
    installation_id: Option<String>,
    principal: Option<String>,
    grants: Arc<Grants>,
}

impl Bindings {
    fn of(record: &TokenRecord) -> Self {
        Bindings {
            token_id: record.token_id,
            kind: record.kind,
            project_id: record.project_id.clone(),
            environment_id: record.environment_id.clone(),
            installation_id: record.installation_id.clone(),
            principal: record.principal.clone(),
            grants: Arc::clone(&record.grants),
        }
    }

    fn same(&self, record: &TokenRecord) -> bool {
        Arc::ptr_eq(&self.grants, &record.grants)
            && self.token_id == record.token_id
            && self.kind == record.kind
            && self.project_id == record.project_id
            && self.environment_id == record.environment_id
            && self.installation_id == record.installation_id
            && self.principal == record.principal
    }
}

/// A plan's last allowed token and what its checks authorized.
#[derive(Debug)]
pub(crate) struct Memo {
    bindings: Bindings,
    authorized: Arc<Authorized>,
}

impl Plan {
    /// Decides every check for `header` with `record` (what the lookup by
    /// the header's token id found) against the plan's environment, and
    /// authorizes: the same answer as [`verifier_core::verify_all`] over
    /// [`Plan::requests`] and then [`Plan::authorize`] (see the module
    /// docs for what it keeps).
    pub fn check(
        &self,
        header: &str,
        record: Option<&TokenRecord>,
    ) -> Result<Arc<Authorized>, Denied> {
        let now = self.options.now;
        let authenticated = record.filter(|record| {
            Credentials::from_header(header)
                .is_ok_and(|credentials| credentials.authenticate(record, now).is_ok())
        });
        let mut memo = self.checked.lock().ok();
        if let (Some(record), Some(Some(kept))) = (authenticated, memo.as_deref())
            && kept.bindings.same(record)
        {
            return Ok(Arc::clone(&kept.authorized));
        }
        let decisions = verify_all(header, record, Some(&self.environment), self.requests());
        let authorized = self.authorize(&decisions)?;
        if let (Some(record), Some(memo)) = (authenticated, memo.as_deref_mut()) {
            *memo = Some(Memo {
                bindings: Bindings::of(record),
                authorized: Arc::clone(&authorized),
            });
        }
        Ok(authorized)
    }
}
