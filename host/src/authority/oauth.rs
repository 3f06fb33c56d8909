//! User-attributed app actions: RFC 8693 token exchange at
//! `POST /v1/oauth/token`. An app's backend, authenticated with its client
//! id and secret (HTTP Basic, or `client_id` and `client_secret` in the
//! form), presents the SESSION token of a frame a person opened in the
//! studio (`subject_token`) and gets a short-lived token that acts for that
//! person through the installation: its principal is `user:<id>` (so row
//! conditions on `$principal` are the person's), it stays bound to the
//! installation, and its grants are what both allow ([`grants_for`]: the
//! installation's approved grants, narrowed to the person's role). Calls
//! made with it are audited as `user:<id> via installation:<id>`; the
//! gateway and `/v1/verify` pass `X-Tally-User`.
//!
//! It lives ten minutes at most, and never past its subject token. Errors
//! are RFC 6749's (`invalid_request`, `invalid_client`, `invalid_grant`,
//! `unsupported_grant_type`).

use serde::{Deserialize, Serialize};
use serde_json::json;
use verifier_core::token::hash_secret_text;
use verifier_core::{Credentials, SecretHash, TokenKind};

use super::Authority;
use super::apps::client_secret_matches;
use super::caller::Actor;
use super::roles::{On, grants_for, role_in};
use super::tokens::TokenSpec;

/// The grant type of token exchange.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of what is presented and what is issued.
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Longest life of an exchanged token, seconds.
pub const EXCHANGED_TTL: i64 = 600;

/// The form of `POST /v1/oauth/token`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// `urn:ietf:params:oauth:grant-type:token-exchange`.
    pub grant_type: Option<String>,
    /// The frame's SESSION token (`<tokenId>.<secret>`).
    pub subject_token: Option<String>,
    /// `urn:ietf:params:oauth:token-type:access_token`.
    pub subject_token_type: Option<String>,
    /// `urn:ietf:params:oauth:token-type:access_token` if given.
    pub requested_token_type: Option<String>,
    /// The app's client id (when not in HTTP Basic).
    pub client_id: Option<String>,
    /// The app's client secret (when not in HTTP Basic).
    pub client_secret: Option<String>,
}

/// A successful exchange.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenAnswer {
    /// The token (`<tokenId>.<secret>`), sent as `Authorization: Bearer …`.
    pub access_token: String,
    /// `urn:ietf:params:oauth:token-type:access_token`.
    pub issued_token_type: &'static str,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds it lives.
    pub expires_in: i64,
}

/// An RFC 6749 error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// Something missing or malformed.
    InvalidRequest(String),
    /// The client's credentials are wrong (401).
    InvalidClient,
    /// The subject token does not stand for a person this client may act for.
    InvalidGrant(String),
    /// Not token exchange.
    UnsupportedGrantType,
    /// Storage failed (500; logged).
    Internal(String),
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::Internal(_) => "server_error",
        }
    }

    /// The `error_description`.
    pub fn description(&self) -> String {
        match self {
            OAuthError::InvalidRequest(m) | OAuthError::InvalidGrant(m) => m.clone(),
            OAuthError::InvalidClient => "client authentication failed".into(),
            OAuthError::UnsupportedGrantType => {
                format!("only {TOKEN_EXCHANGE} is supported here")
            }
            OAuthError::Internal(_) => "internal error".into(),
        }
    }
}

impl<E: Into<super::AuthorityError>> From<E> for OAuthError {
    fn from(e: E) -> Self {
        OAuthError::Internal(e.into().to_string())
    }
}

impl Authority {
    /// `POST /v1/oauth/token`: token exchange (see the module docs).
    /// `basic` is the HTTP Basic client id and secret, if sent.
    pub fn token_exchange(
        &self,
        form: TokenRequest,
        basic: Option<(String, String)>,
    ) -> Result<TokenAnswer, OAuthError> {
        if form.grant_type.as_deref() != Some(TOKEN_EXCHANGE) {
            return Err(match form.grant_type {
                None => OAuthError::InvalidRequest("grant_type is missing".into()),
                Some(_) => OAuthError::UnsupportedGrantType,
            });
        }
        if form.subject_token_type.as_deref() != Some(ACCESS_TOKEN) {
            return Err(OAuthError::InvalidRequest(format!(
                "subject_token_type must be {ACCESS_TOKEN}"
            )));
        }
        if form
            .requested_token_type
            .as_deref()
            .is_some_and(|t| t != ACCESS_TOKEN)
        {
            return Err(OAuthError::InvalidRequest(format!(
                "requested_token_type can only be {ACCESS_TOKEN}"
            )));
        }
        let (client_id, secret) = match (basic, form.client_id, form.client_secret) {
            (Some(basic), None, None) => basic,
            (None, Some(id), Some(secret)) => (id, secret),
            (None, _, _) => return Err(OAuthError::InvalidClient),
            (Some(_), _, _) => {
                return Err(OAuthError::InvalidRequest(
                    "send the client's credentials once: HTTP Basic or the form".into(),
                ));
            }
        };
        let now = self.now();
        let app = self.store()?.app_by_client_id(&client_id)?;
        let probe = hash_secret_text(&secret).unwrap_or(SecretHash::from_bytes([0xff; 32]));
        let app = match app {
            Some(app) if client_secret_matches(&app, &probe, now) => app,
            _ => return Err(OAuthError::InvalidClient),
        };
        let invalid = |m: &str| OAuthError::InvalidGrant(m.into());
        let subject = form
            .subject_token
            .ok_or_else(|| OAuthError::InvalidRequest("subject_token is missing".into()))?;
        let credentials = Credentials::from_header(&format!("Bearer {}", subject.trim()))
            .map_err(|_| invalid("subject_token is not a token"))?;
        let row = self
            .records()
            .token(&credentials.token_id())?
            .ok_or_else(|| invalid("subject_token is not valid"))?;
        credentials
            .authenticate(&row.record, now)
            .map_err(|_| invalid("subject_token is not valid"))?;
        let record = &row.record;
        let (Some(installation_id), Some(user)) = (&record.installation_id, &row.user_id) else {
            return Err(invalid(
                "subject_token is not a frame's session token opened by a person",
            ));
        };
        if record.kind != TokenKind::Session {
            return Err(invalid("subject_token is not a session token"));
        }
        let installation = self
            .store()?
            .installation(installation_id)?
            .ok_or_else(|| invalid("the installation is gone"))?;
        if installation.installation.app_id != app.id {
            return Err(invalid("subject_token belongs to another app"));
        }
        let roles = self.store()?.user_roles(user)?;
        let project = self.project_of(&On::Installation(installation_id.clone()))?;
        let role = role_in(&roles, project.as_deref())
            .ok_or_else(|| invalid("the person has no role in the installation's project"))?;
        let expires_at = record
            .expires_at
            .map_or(now + EXCHANGED_TTL, |at| at.min(now + EXCHANGED_TTL));
        let spec = TokenSpec {
            project_id: record.project_id.clone(),
            environment_id: record.environment_id.clone(),
            installation_id: Some(installation_id.clone()),
            expires_at: Some(expires_at),
            principal: Some(format!("user:{user}")),
            user_id: Some(user.clone()),
            ..TokenSpec::new(
                TokenKind::Session,
                &format!("{} for user:{user}", app.name),
                grants_for(role, &installation.grants),
            )
        };
        let issued = self.store_new_token(
            &Actor(format!("client:{client_id}")),
            spec,
            json!({"kind": "SESSION", "exchange": "token-exchange", "user": user,
                   "installation": installation_id, "subjectTokenId": record.token_id.to_string(),
                   "role": role.as_str()}),
        )?;
        Ok(TokenAnswer {
            access_token: issued.token(),
            issued_token_type: ACCESS_TOKEN,
            token_type: "Bearer",
            expires_in: expires_at - now,
        })
    }
}
