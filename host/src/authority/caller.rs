//! Who is calling: a token's `Authorization` value, or a person signed in
//! to the studio, authenticated into a [`Caller`] (management admin,
//! replica, an installation's own tokens, or a user with their roles), and
//! the [`Actor`] written in the audit log.

use verifier_core::{
    Action, Api, Credentials, Reason as Decision, Request, TokenId, TokenKind, TokenRecord,
};

use super::Authority;
use super::error::{AuthorityError, not_granted, unauthorized};
use super::roles::{Need, On};
use super::sessions::Opened;
use crate::storage::{RoleGrant, UserRow};

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

/// A caller authenticated by token or as a signed-in user: its actor and
/// what it may do.
#[derive(Debug, Clone)]
pub struct Caller {
    /// For the audit log.
    pub actor: Actor,
    /// The token, for a token's call.
    pub record: Option<TokenRecord>,
    /// The user, for a signed-in person's call.
    pub user: Option<SignedIn>,
    /// Whether its grants (or roles) cover management `admin`.
    pub is_admin: bool,
    /// Whether it may read the record feed: management `admin` or `replica`.
    pub is_replica: bool,
}

/// A signed-in person, with their roles as they are now.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who.
    pub user: UserRow,
    /// Their roles.
    pub roles: Vec<RoleGrant>,
}

/// Credentials as a request presents them: an `Authorization` value, or a
/// studio session's cookie. `Debug` shows neither.
#[derive(Clone)]
pub enum Presented {
    /// An `Authorization` header value (`""`: none).
    Header(String),
    /// A studio session's cookie value: what the session was opened with
    /// ([`Authority::studio_session`]) is authenticated in its stead.
    Session(String),
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Presented::Header(h) if h.is_empty() => f.write_str("Header(none)"),
            Presented::Header(_) => f.write_str("Header(<redacted>)"),
            Presented::Session(_) => f.write_str("Session(<redacted>)"),
        }
    }
}

impl Caller {
    /// The command line (offline operations): may do everything.
    pub fn cli() -> Self {
        Caller {
            actor: Actor::cli(),
            record: None,
            user: None,
            is_admin: true,
            is_replica: true,
        }
    }
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
        // A token acting for a person through an installation is audited
        // as both.
        let actor = match (&row.record.principal, &row.record.installation_id) {
            (Some(p), Some(installation)) if p.starts_with("user:") => {
                format!("{p} via installation:{installation}")
            }
            _ => format!("token:{}", row.record.token_id),
        };
        Ok(Caller {
            actor: Actor(actor),
            record: Some(row.record.clone()),
            user: None,
            is_admin,
            is_replica,
        })
    }

    /// Authenticates what a request presents ([`Presented`]).
    pub fn caller(&self, presented: &Presented) -> Result<Caller, AuthorityError> {
        match presented {
            Presented::Header(header) => self.authenticate(header),
            Presented::Session(cookie) => match self.studio_session(cookie)? {
                Some(Opened::Token(header)) => self.authenticate(&header),
                Some(Opened::User(id)) => self.authenticate_user(&id),
                None => Err(AuthorityError::Unauthorized {
                    reason: crate::reason::Reason::Decision(Decision::MissingCredentials),
                    message: "the studio session has ended: sign in again".into(),
                }),
            },
        }
    }

    /// A signed-in person as a caller, with their roles read now (a role
    /// taken away applies to their next call). An owner or admin of every
    /// project is a management admin; anyone else has no management grant
    /// until given a role.
    pub fn authenticate_user(&self, id: &str) -> Result<Caller, AuthorityError> {
        let store = self.store()?;
        let Some(user) = store.user(id)? else {
            return Err(unauthorized(Decision::UnknownToken));
        };
        let roles = store.user_roles(id)?;
        let mut caller = Caller {
            actor: Actor(format!("user:{id}")),
            record: None,
            user: Some(SignedIn { user, roles }),
            is_admin: false,
            is_replica: false,
        };
        caller.is_admin = caller.may(Need::Administer);
        caller.is_replica = caller.may(Need::View);
        Ok(caller)
    }

    /// Authenticates and requires the management `admin` grant, or a
    /// person's `admin` role on every project (else 403).
    pub fn authenticate_admin(&self, presented: &Presented) -> Result<Actor, AuthorityError> {
        self.authenticate_for(presented, Need::Administer, &On::Instance)
            .map(|c| c.actor)
    }

    /// Authenticates and requires what `need` says about what the call is
    /// `on`: a token's management `admin` grant, or a person's role there
    /// (else 403 naming the role).
    pub fn authenticate_for(
        &self,
        presented: &Presented,
        need: Need,
        on: &On,
    ) -> Result<Caller, AuthorityError> {
        let caller = self.caller(presented)?;
        self.require(&caller, need, on)?;
        Ok(caller)
    }

    /// Requires what `need` says of `caller` about what a call is `on`
    /// (see [`On`]); 403 naming the role otherwise.
    pub fn require(&self, caller: &Caller, need: Need, on: &On) -> Result<(), AuthorityError> {
        let allowed = match (&caller.user, on) {
            (None, _) => caller.is_admin,
            (Some(_), On::AnyProject) => caller.may_somewhere(need),
            (Some(_), on) => caller.may_in(need, self.project_of(on)?.as_deref()),
        };
        if allowed {
            return Ok(());
        }
        Err(not_granted(&match (&caller.user, on) {
            (Some(_), On::Instance) => format!(
                "this call needs the {} role on every project",
                need.role().as_str()
            ),
            (Some(_), _) => format!(
                "this call needs the {} role in its project",
                need.role().as_str()
            ),
            (None, _) => "this call needs a token with the management admin grant".into(),
        }))
    }

    /// The project a call `on` something is in (`None`: the whole
    /// instance, or something that does not exist, for which only a role
    /// on every project counts).
    pub fn project_of(&self, on: &On) -> Result<Option<String>, AuthorityError> {
        let environment = |id: &str| -> Result<Option<String>, AuthorityError> {
            Ok(self.records.environment(id)?.map(|e| e.project_id.clone()))
        };
        Ok(match on {
            On::Instance | On::AnyProject => None,
            On::Project(p) => Some(p.clone()),
            On::Environment(e) => environment(e)?,
            On::Installation(i) => match self.store()?.installation(i)? {
                Some(row) => environment(&row.installation.environment_id)?,
                None => None,
            },
            On::App(id) => self.store()?.app(id)?.and_then(|a| a.project_id),
            On::Token(t) => {
                let Ok(id) = TokenId::parse(t) else {
                    return Ok(None);
                };
                match self.records.token(&id)? {
                    Some(row) => match (&row.record.project_id, &row.record.environment_id) {
                        (Some(p), _) => Some(p.clone()),
                        (None, Some(e)) => environment(e)?,
                        (None, None) => None,
                    },
                    None => None,
                }
            }
        })
    }

    /// Authenticates and requires the management `admin` or `replica` grant:
    /// who may read token records (`GET /v1/records…`). A person needs to
    /// be a viewer of what the call is `on`.
    pub fn authenticate_replica(
        &self,
        presented: &Presented,
        on: &On,
    ) -> Result<Actor, AuthorityError> {
        let caller = self.caller(presented)?;
        if caller.user.is_some() {
            self.require(&caller, Need::View, on)?;
        } else if !caller.is_replica {
            return Err(not_granted(
                "reading records needs the management admin or replica grant",
            ));
        }
        Ok(caller.actor)
    }

    /// An installation's own APP and SESSION tokens may read and update
    /// it; anyone else needs what `need` says.
    pub(super) fn require_installation_access(
        &self,
        caller: &Caller,
        installation_id: &str,
        need: Need,
    ) -> Result<(), AuthorityError> {
        let own = caller.record.as_ref().is_some_and(|record| {
            matches!(record.kind, TokenKind::App | TokenKind::Session)
                && record.installation_id.as_deref() == Some(installation_id)
        });
        if own {
            return Ok(());
        }
        if caller.record.is_some() && !caller.is_admin {
            return Err(not_granted(
                "only an admin or the installation's own tokens may do this",
            ));
        }
        self.require(caller, need, &On::Installation(installation_id.into()))
    }
}
