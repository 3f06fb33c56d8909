//! People: users created at their first sign-in (their provider's issuer
//! and subject are who they are), the first owner, roles and invitations.
//!
//! On a start where no one owns the projects, a one-time claim code is
//! printed (like the admin token); the signed-in user who enters it owns
//! every project. Only its hash is stored; a later start without an owner
//! prints a new one and the old one stops working.
//!
//! An owner invites a colleague by email: the invitation holds a role in a
//! project (or on every project) for [`INVITATION_TTL`]. Whoever signs in
//! with that email, as their provider vouches for it (`email_verified`),
//! gets the role then; an invitation never lowers a role they hold. Tally
//! sends no mail: the owner tells the colleague where to sign in. Since
//! the email is the claim, invite only through a provider whose verified
//! emails you trust.

use serde_json::json;
use verifier_core::OpaqueSecret;
use verifier_core::token::hash_secret_text;

use serde::{Deserialize, Serialize};

use super::Authority;
use super::caller::{Actor, Caller};
use super::error::{AuthorityError, conflict, not_granted};
use super::roles::{Need, On, Role};
use super::validation::check_email;
use crate::random;
use crate::storage::{InvitationRow, RoleGrant, UserRow};

/// A role's project as [`Caller::may_in`] takes it (`*`: none).
fn project_of_role(project: &str) -> Option<&str> {
    (project != "*").then_some(project)
}

/// A user with their roles.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// Who.
    #[serde(flatten)]
    pub user: UserRow,
    /// Their roles.
    pub roles: Vec<RoleGrant>,
}

/// Body of `PUT /v1/users/{id}/role`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleBody {
    /// `owner`, `admin`, `developer`, `viewer`, or `null` for none.
    pub role: Option<Role>,
    /// The project; absent: every project.
    #[serde(default)]
    pub project_id: Option<String>,
}

/// Body of `POST /v1/invitations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewInvitation {
    /// Who: the email their provider vouches for.
    #[schema(schema_with = crate::authority::schema::email)]
    pub email: String,
    /// The role they get.
    pub role: Role,
    /// The project; absent: every project.
    #[serde(default)]
    pub project_id: Option<String>,
}

/// How long an invitation waits to be accepted: seven days.
pub const INVITATION_TTL: i64 = 7 * 24 * 3600;

impl Authority {
    /// The user a provider vouches for, made at their first sign-in (their
    /// email and name kept as the provider last said).
    pub fn sign_in_user(
        &self,
        issuer: &str,
        subject: &str,
        email: Option<String>,
        name: Option<String>,
    ) -> Result<UserRow, AuthorityError> {
        let new = UserRow {
            id: random::id("usr_")?,
            issuer: issuer.into(),
            subject: subject.into(),
            email,
            name,
            created_at: self.now(),
        };
        let audit = self.audit(
            &Actor(format!("user:{}", new.id)),
            "user.create",
            &new.id,
            json!({"issuer": issuer, "email": new.email}),
        );
        let user = self.change(|s| s.sign_in_user(&new, &audit))?;
        self.accept_invitations(&user)?;
        Ok(user)
    }

    /// Gives `user` the roles their outstanding invitations hold (by their
    /// verified email), each never lowering a role they have there.
    fn accept_invitations(&self, user: &UserRow) -> Result<(), AuthorityError> {
        let Some(email) = user.email.as_deref().map(str::to_lowercase) else {
            return Ok(());
        };
        let now = self.now();
        for invitation in self.store()?.outstanding_invitations(&email, now)? {
            let Some(invited) = Role::parse(&invitation.role) else {
                continue;
            };
            let held = self
                .store()?
                .user_roles(&user.id)?
                .into_iter()
                .find(|r| r.project_id == invitation.project_id)
                .and_then(|r| Role::parse(&r.role));
            let role = held.map_or(invited, |h| h.max(invited));
            let audit = self.audit(
                &Actor(format!("user:{}", user.id)),
                "invitation.accept",
                &invitation.id,
                json!({"project": invitation.project_id, "role": role.as_str(),
                       "invitedBy": invitation.invited_by}),
            );
            self.change(|s| {
                s.accept_invitation(&invitation.id, &user.id, role.as_str(), now, &audit)
            })?;
        }
        Ok(())
    }

    /// `POST /v1/invitations`: an owner of the project (or of every
    /// project, for `*`) invites `email` with a role.
    pub fn invite(
        &self,
        caller: &Caller,
        body: NewInvitation,
    ) -> Result<InvitationRow, AuthorityError> {
        let project = self.role_project(caller, body.project_id)?;
        let now = self.now();
        let invitation = InvitationRow {
            id: random::id("inv_")?,
            email: check_email(&body.email)?,
            project_id: project,
            role: body.role.as_str().into(),
            invited_by: caller.actor.as_str().into(),
            created_at: now,
            expires_at: now + INVITATION_TTL,
            accepted_by: None,
            accepted_at: None,
            revoked_at: None,
        };
        let audit = self.audit(
            &caller.actor,
            "invitation.create",
            &invitation.id,
            json!({"email": invitation.email, "project": invitation.project_id,
                   "role": invitation.role}),
        );
        self.change(|s| s.create_invitation(&invitation, &audit))?;
        Ok(invitation)
    }

    /// `GET /v1/invitations`: the invitations of the projects the caller
    /// owns, newest first.
    pub fn invitations(&self, caller: &Caller) -> Result<Vec<InvitationRow>, AuthorityError> {
        self.require(caller, Need::Own, &On::AnyProject)?;
        Ok(self
            .store()?
            .invitations()?
            .into_iter()
            .filter(|i| caller.may_in(Need::Own, project_of_role(&i.project_id)))
            .collect())
    }

    /// `DELETE /v1/invitations/{id}`: ends an outstanding invitation.
    pub fn revoke_invitation(&self, caller: &Caller, id: &str) -> Result<(), AuthorityError> {
        let invitation = self
            .store()?
            .invitation(id)?
            .ok_or(AuthorityError::NotFound("invitation"))?;
        self.role_project(
            caller,
            project_of_role(&invitation.project_id).map(Into::into),
        )?;
        let audit = self.audit(&caller.actor, "invitation.revoke", id, json!({}));
        self.change(|s| s.revoke_invitation(id, self.now(), &audit))
    }

    /// The project a role is given in (`*`: every project), once the
    /// caller is found to own it and it is found to exist.
    fn role_project(
        &self,
        caller: &Caller,
        project: Option<String>,
    ) -> Result<String, AuthorityError> {
        let on = project.clone().map_or(On::Instance, On::Project);
        self.require(caller, Need::Own, &on)?;
        match project {
            None => Ok("*".into()),
            Some(p) if self.store()?.project(&p)?.is_some() => Ok(p),
            Some(_) => Err(AuthorityError::NotFound("project")),
        }
    }

    /// A new owner claim code when no one owns the projects (`None` when
    /// someone does): printed once, stored as a hash.
    pub fn owner_claim_code(&self) -> Result<Option<String>, AuthorityError> {
        if self.store()?.has_owner()? {
            return Ok(None);
        }
        let code = OpaqueSecret::from_random(random::secret_bytes()?);
        self.store()?.set_claim_code(&code.hash(), self.now())?;
        Ok(Some(code.text().to_owned()))
    }

    /// `GET /v1/users`: every person who signed in, with their roles; for
    /// an admin of any project.
    pub fn users(&self, caller: &Caller) -> Result<Vec<UserView>, AuthorityError> {
        self.require(caller, Need::Administer, &On::AnyProject)?;
        let store = self.store()?;
        store
            .users()?
            .into_iter()
            .map(|user| {
                let roles = store.user_roles(&user.id)?;
                Ok(UserView { user, roles })
            })
            .collect()
    }

    /// `PUT /v1/users/{id}/role { role, projectId? }`: the user's role in
    /// a project, or on every project (`null` takes it away); by an owner
    /// of it. There is always an owner of every project: taking the last
    /// one's away is 409.
    pub fn set_role(
        &self,
        caller: &Caller,
        id: &str,
        body: RoleBody,
    ) -> Result<UserView, AuthorityError> {
        let project = self.role_project(caller, body.project_id)?;
        let role = body.role;
        let audit = self.audit(
            &caller.actor,
            "user.role",
            id,
            json!({"project": project, "role": role.map(Role::as_str)}),
        );
        self.change(|s| s.set_role(id, &project, role.map(Role::as_str), &audit))
            .map_err(|e| match e {
                AuthorityError::Conflict { .. } => conflict("a project must keep an owner"),
                e => e,
            })?;
        let store = self.store()?;
        let user = store.user(id)?.ok_or(AuthorityError::NotFound("user"))?;
        let roles = store.user_roles(id)?;
        Ok(UserView { user, roles })
    }

    /// `POST /studio/claim { code }`: the signed-in `user` owns every
    /// project from now on, if `code` is the outstanding claim code and no
    /// one does yet (403 otherwise, the same for every cause).
    pub fn claim_ownership(&self, user: &str, code: &str) -> Result<(), AuthorityError> {
        let refused =
            || not_granted("the claim code is wrong or used, or the projects have an owner");
        let hash = hash_secret_text(code.trim()).ok_or_else(refused)?;
        let audit = self.audit(
            &Actor(format!("user:{user}")),
            "user.claim_owner",
            user,
            json!({}),
        );
        if self.change(|s| s.claim_ownership(&hash, user, self.now(), &audit))? {
            Ok(())
        } else {
            Err(refused())
        }
    }
}
