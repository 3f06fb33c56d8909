//! Tokens: the admin token of a first start, PAT and SYSTEM tokens, listing,
//! revoking and rotating. A token's secret appears once, in the answer that
//! creates it; the store keeps its hash.

use serde::Deserialize;
use serde_json::json;
use verifier_core::{
    Api, Grant, Grants, IssuedToken, TokenId, TokenKind, TokenRecord, validate_grants,
};

use super::Authority;
use super::caller::{Actor, Caller};
use super::error::AuthorityError;
use super::roles::{Need, On};
use super::validation::{check_management_scope, check_text};
use super::views::{IssuedTokenView, TokenView};
use crate::random;
use crate::reason::Reason;
use crate::storage::{StoreError, TokenRow};

/// Body of `POST /v1/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewToken {
    /// `PAT` or `SYSTEM`.
    #[schema(schema_with = crate::authority::schema::new_token_kind)]
    pub kind: TokenKind,
    /// Name.
    #[schema(schema_with = crate::authority::schema::text)]
    pub name: String,
    /// The environment it is bound to; `null` = none (SYSTEM tokens).
    #[serde(default)]
    pub environment_id: Option<String>,
    /// Grants.
    #[schema(schema_with = crate::authority::schema::grants)]
    pub grants: Vec<Grant>,
    /// Expiry, unix seconds; must be in the future.
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::expires_at)]
    pub expires_at: Option<i64>,
}

/// A new token: everything but its secret.
pub(super) struct TokenSpec {
    pub(super) kind: TokenKind,
    pub(super) name: String,
    pub(super) project_id: Option<String>,
    pub(super) environment_id: Option<String>,
    pub(super) installation_id: Option<String>,
    pub(super) grants: Vec<Grant>,
    pub(super) expires_at: Option<i64>,
    /// Who it acts as (`None`: its installation, or itself).
    pub(super) principal: Option<String>,
    /// The person it acts for, if any.
    pub(super) user_id: Option<String>,
}

impl TokenSpec {
    /// Bound to nothing, never expiring.
    pub(super) fn new(kind: TokenKind, name: &str, grants: Vec<Grant>) -> Self {
        TokenSpec {
            kind,
            name: name.into(),
            project_id: None,
            environment_id: None,
            installation_id: None,
            grants,
            expires_at: None,
            principal: None,
            user_id: None,
        }
    }

    /// The record of this token with `issued`'s id and hash.
    pub(super) fn record(&self, issued: &IssuedToken) -> TokenRecord {
        TokenRecord {
            token_id: issued.token_id(),
            secret_hash: issued.secret_hash(),
            kind: self.kind,
            name: self.name.clone(),
            project_id: self.project_id.clone(),
            environment_id: self.environment_id.clone(),
            installation_id: self.installation_id.clone(),
            principal: self.principal.clone(),
            grants: Grants::shared(self.grants.clone()),
            expires_at: self.expires_at,
            revoked: false,
        }
    }
}

impl Authority {
    /// Mints a SYSTEM token with the management admin grant.
    pub fn mint_admin_token(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<IssuedToken, AuthorityError> {
        let spec = TokenSpec::new(TokenKind::System, name, vec![Grant::admin()]);
        self.store_new_token(actor, spec, json!({"kind": "SYSTEM", "admin": true}))
    }

    /// Issues a secret for `spec`, stores the token with its audit entry, and
    /// returns the secret (shown once).
    pub(super) fn store_new_token(
        &self,
        actor: &Actor,
        spec: TokenSpec,
        detail: serde_json::Value,
    ) -> Result<IssuedToken, AuthorityError> {
        let issued = IssuedToken::from_random(random::secret_bytes()?);
        let audit = self.audit(
            actor,
            "token.create",
            &issued.token_id().to_string(),
            detail,
        );
        let row = TokenRow {
            record: spec.record(&issued),
            created_at: self.now(),
            user_id: spec.user_id,
        };
        self.add_token(|s| s.insert_token(&row, &audit))?;
        Ok(issued)
    }

    /// `POST /v1/tokens`: PAT and SYSTEM tokens.
    pub fn create_token(
        &self,
        caller: &Caller,
        body: NewToken,
    ) -> Result<IssuedTokenView, AuthorityError> {
        let on = body
            .environment_id
            .clone()
            .map_or(On::Instance, On::Environment);
        self.require(caller, Need::Administer, &on)?;
        let actor = &caller.actor;
        if !matches!(body.kind, TokenKind::Pat | TokenKind::System) {
            return Err(AuthorityError::BadRequest(
                "kind must be PAT or SYSTEM (APP tokens come from the exchange, SESSION tokens from an installation)".into(),
            ));
        }
        check_text("name", &body.name)?;
        validate_grants(&body.grants).map_err(|e| AuthorityError::BadRequest(e.to_string()))?;
        check_management_scope(&body.grants)?;
        if body.environment_id.is_some()
            && body
                .grants
                .iter()
                .any(|g| g.api == Api::Management && g.action.is_admin())
        {
            return Err(AuthorityError::BadRequest(
                "the management admin grant needs a token bound to no environment".into(),
            ));
        }
        let now = self.now();
        if body.expires_at.is_some_and(|at| at <= now) {
            return Err(AuthorityError::BadRequest(
                "expiresAt must be in the future".into(),
            ));
        }
        let project_id = match &body.environment_id {
            Some(env_id) => Some(self.environment_project(env_id)?),
            None if body.kind == TokenKind::Pat => {
                return Err(AuthorityError::BadRequest(
                    "missing required fields: environmentId".into(),
                ));
            }
            None => None,
        };
        let detail = json!({"kind": body.kind.as_str(), "name": body.name});
        let spec = TokenSpec {
            project_id,
            environment_id: body.environment_id,
            expires_at: body.expires_at,
            ..TokenSpec::new(body.kind, &body.name, body.grants)
        };
        let issued = self.store_new_token(actor, spec, detail)?;
        Ok(IssuedTokenView::new(
            issued.token_id().to_string(),
            issued.token(),
            body.expires_at,
            self.now(),
        ))
    }

    /// `GET /v1/tokens`: metadata, never secrets or hashes.
    pub fn tokens(&self, caller: &Caller) -> Result<Vec<TokenView>, AuthorityError> {
        let environments = self.environment_projects()?;
        Ok(self
            .store()?
            .tokens()?
            .into_iter()
            .filter(|t| {
                let record = &t.record;
                let project = record.project_id.as_deref().or_else(|| {
                    let e = record.environment_id.as_deref()?;
                    environments.get(e).map(String::as_str)
                });
                caller.sees(project)
            })
            .map(TokenView::from)
            .collect())
    }

    /// `DELETE /v1/tokens/{tokenId}`.
    pub fn revoke_token(&self, actor: &Actor, id: &str) -> Result<TokenView, AuthorityError> {
        let token_id = TokenId::parse(id).map_err(|_| AuthorityError::NotFound("token"))?;
        let audit = self.audit(actor, "token.revoke", id, json!({}));
        self.change(|s| s.revoke_token(&token_id, &audit))?;
        let row = self
            .store()?
            .token(&token_id)?
            .ok_or(AuthorityError::NotFound("token"))?;
        Ok(TokenView::from(TokenRow::clone(&row)))
    }

    /// `POST /v1/tokens/{tokenId}/rotate`: a new secret with the same
    /// grants, binding and principal; the old one works for the configured
    /// grace period (default: revoked at once).
    pub fn rotate_token(&self, actor: &Actor, id: &str) -> Result<IssuedTokenView, AuthorityError> {
        let token_id = TokenId::parse(id).map_err(|_| AuthorityError::NotFound("token"))?;
        let old = self
            .store()?
            .token(&token_id)?
            .ok_or(AuthorityError::NotFound("token"))?;
        let now = self.now();
        if old.record.revoked {
            return Err(AuthorityError::Conflict {
                reason: Reason::TokenRevoked,
                message: "a revoked token cannot be rotated".into(),
            });
        }
        if old.record.expires_at.is_some_and(|at| now >= at) {
            return Err(AuthorityError::Conflict {
                reason: Reason::TokenExpired,
                message: "an expired token cannot be rotated".into(),
            });
        }
        let issued = IssuedToken::from_random(random::secret_bytes()?);
        let record = TokenRecord {
            token_id: issued.token_id(),
            secret_hash: issued.secret_hash(),
            principal: Some(old.record.principal()),
            revoked: false,
            ..old.record.clone()
        };
        let grace = (self.config.rotation_grace > 0).then(|| now + self.config.rotation_grace);
        let audit = self.audit(
            actor,
            "token.rotate",
            id,
            json!({"newTokenId": issued.token_id().to_string(), "graceUntil": grace}),
        );
        // The successor keeps the original's expiry. A token is rotated
        // once: rotating it again (while its grace period runs) would copy
        // the grace period's end as the successor's expiry.
        self.change(|s| {
            s.rotate_token(
                &token_id,
                grace,
                &TokenRow {
                    record,
                    created_at: now,
                    user_id: None,
                },
                &audit,
            )
            .map_err(|e| match e {
                StoreError::Conflict(_) => AuthorityError::Conflict {
                    reason: Reason::TokenRotated,
                    message: "this token was rotated already; rotate its successor".into(),
                },
                e => e.into(),
            })
        })?;
        Ok(IssuedTokenView::new(
            issued.token_id().to_string(),
            issued.token(),
            old.record.expires_at,
            self.now(),
        ))
    }
}
