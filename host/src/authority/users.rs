//! People: users created at their first sign-in (their provider's issuer
//! and subject are who they are), and the first owner. On a start where no
//! one owns the projects, a one-time claim code is printed (like the admin
//! token); the signed-in user who enters it owns every project. Only its
//! hash is stored; a later start without an owner prints a new one and the
//! old one stops working.

use serde_json::json;
use verifier_core::OpaqueSecret;
use verifier_core::token::hash_secret_text;

use serde::{Deserialize, Serialize};

use super::Authority;
use super::caller::Actor;
use super::error::{AuthorityError, conflict, not_granted};
use super::roles::Role;
use crate::random;
use crate::storage::{RoleGrant, UserRow};

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
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `owner`, `admin`, `developer`, `viewer`, or `null` for none.
    pub role: Option<Role>,
}

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
        self.change(|s| s.sign_in_user(&new, &audit))
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

    /// `GET /v1/users`: every person who signed in, with their roles.
    pub fn users(&self) -> Result<Vec<UserView>, AuthorityError> {
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

    /// `PUT /v1/users/{id}/role { role }`: the user's role on every
    /// project (`null` takes it away). There is always an owner: taking
    /// the last one's away is 409.
    pub fn set_role(
        &self,
        actor: &Actor,
        id: &str,
        body: RoleBody,
    ) -> Result<UserView, AuthorityError> {
        let role = body.role;
        let audit = self.audit(
            actor,
            "user.role",
            id,
            json!({"project": "*", "role": role.map(Role::as_str)}),
        );
        self.change(|s| s.set_role(id, role.map(Role::as_str), &audit))
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
