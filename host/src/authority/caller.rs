//! Who is calling: a token's `Authorization` value authenticated into a
//! [`Caller`] (management admin, replica, or an installation's own tokens),
//! and the [`Actor`] written in the audit log.

use verifier_core::{
    Action, Api, Credentials, Reason as Decision, Request, TokenKind, TokenRecord,
};

use super::Authority;
use super::error::{AuthorityError, not_granted, unauthorized};

/// Who made a call, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub(super) String);

impl Actor {
    /// The command line (offline operations).
    pub fn cli() -> Self {
        Actor("cli".into())
    }

    /// As written in the audit log.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A caller authenticated by token: its actor and its record.
#[derive(Debug, Clone)]
pub struct Caller {
    /// For the audit log.
    pub actor: Actor,
    /// The token.
    pub record: TokenRecord,
    /// Whether its grants cover management `admin`.
    pub is_admin: bool,
    /// Whether it may read the record feed: management `admin` or `replica`.
    pub is_replica: bool,
}

impl Authority {
    /// Authenticates an `Authorization` value and tells whether it is an
    /// admin. Bad credentials are 401 with the verifier's reason.
    pub fn authenticate(&self, header: &str) -> Result<Caller, AuthorityError> {
        let now = self.now();
        let credentials = Credentials::from_header(header).map_err(|e| unauthorized(e.reason()))?;
        let row = self.records.token(&credentials.token_id())?;
        let Some(row) = row else {
            return Err(unauthorized(Decision::UnknownToken));
        };
        let token = credentials
            .authenticate(&row.record, now)
            .map_err(unauthorized)?;
        // Whole-service grants: allowed with no row condition, for a request
        // naming no environment (so a token bound to one never passes).
        let whole = |action: Action| {
            let decision = token.authorize(None, &Request::new(Api::Management, action, now));
            decision.allow && decision.filter.is_none()
        };
        let is_admin = whole(Action::ADMIN);
        let is_replica = is_admin || Action::new("replica").is_ok_and(whole);
        Ok(Caller {
            actor: Actor(format!("token:{}", row.record.token_id)),
            record: row.record.clone(),
            is_admin,
            is_replica,
        })
    }

    /// Authenticates and requires the management `admin` grant (else 403).
    pub fn authenticate_admin(&self, header: &str) -> Result<Actor, AuthorityError> {
        self.authenticate_where(
            header,
            |c| c.is_admin,
            "this call needs a token with the management admin grant",
        )
    }

    /// Authenticates and requires the management `admin` or `replica` grant:
    /// who may read token records (`GET /v1/records…`).
    pub fn authenticate_replica(&self, header: &str) -> Result<Actor, AuthorityError> {
        self.authenticate_where(
            header,
            |c| c.is_replica,
            "reading records needs the management admin or replica grant",
        )
    }

    /// Authenticates, then answers 403 `not_granted` with `message` unless
    /// `allowed` holds for the caller.
    fn authenticate_where(
        &self,
        header: &str,
        allowed: fn(&Caller) -> bool,
        message: &str,
    ) -> Result<Actor, AuthorityError> {
        let caller = self.authenticate(header)?;
        if !allowed(&caller) {
            return Err(not_granted(message));
        }
        Ok(caller.actor)
    }

    pub(super) fn require_installation_access(
        &self,
        caller: &Caller,
        installation_id: &str,
    ) -> Result<(), AuthorityError> {
        let own = matches!(caller.record.kind, TokenKind::App | TokenKind::Session)
            && caller.record.installation_id.as_deref() == Some(installation_id);
        if caller.is_admin || own {
            Ok(())
        } else {
            Err(not_granted(
                "only an admin or the installation's own tokens may do this",
            ))
        }
    }
}
