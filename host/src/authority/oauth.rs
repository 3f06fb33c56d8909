//! The token endpoint, `POST /v1/oauth/token`: its client authentication
//! (an app's client id and secret, HTTP Basic or the form) and its grant
//! types — `authorization_code` and `refresh_token` for connected apps
//! (`connections`), and RFC 8693 token exchange, below.
//!
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
use crate::storage::AppRow;

/// The grant type of token exchange.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of what is presented and what is issued.
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Longest life of an exchanged token, seconds.
pub const EXCHANGED_TTL: i64 = 600;

/// The form of `POST /v1/oauth/token` (and of `POST /v1/oauth/revoke`:
/// `token`, `token_type_hint` and the client's credentials).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token` or
    /// `urn:ietf:params:oauth:grant-type:token-exchange`.
    pub grant_type: Option<String>,
    /// The authorization code (`authorization_code`).
    pub code: Option<String>,
    /// The redirect URI the code was sent to (`authorization_code`).
    pub redirect_uri: Option<String>,
    /// The PKCE verifier (`authorization_code`).
    pub code_verifier: Option<String>,
    /// The refresh token (`refresh_token`).
    pub refresh_token: Option<String>,
    /// The scope (`refresh_token`: the connection's, if given).
    pub scope: Option<String>,
    /// The token to revoke (`/v1/oauth/revoke`).
    pub token: Option<String>,
    /// `access_token` or `refresh_token` (`/v1/oauth/revoke`; a hint only).
    pub token_type_hint: Option<String>,
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

/// A token issued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenAnswer {
    /// The token (`<tokenId>.<secret>`), sent as `Authorization: Bearer …`.
    pub access_token: String,
    /// `urn:ietf:params:oauth:token-type:access_token` (token exchange).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds it lives.
    pub expires_in: i64,
    /// The next refresh token (connected apps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// What it may do, as `api:action` names (connected apps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// An RFC 6749 error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// Something missing or malformed.
    InvalidRequest(String),
    /// The client's credentials are wrong (401).
    InvalidClient,
    /// The code, refresh token or subject token is not one this client may
    /// use.
    InvalidGrant(String),
    /// The scope asked for is not the client's.
    InvalidScope(String),
    /// The token to revoke is another client's.
    UnauthorizedClient,
    /// Not a grant type served here.
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
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::Internal(_) => "server_error",
        }
    }

    /// The `error_description`.
    pub fn description(&self) -> String {
        match self {
            OAuthError::InvalidRequest(m)
            | OAuthError::InvalidGrant(m)
            | OAuthError::InvalidScope(m) => m.clone(),
            OAuthError::InvalidClient => "client authentication failed".into(),
            OAuthError::UnauthorizedClient => "the token was issued to another client".into(),
            OAuthError::UnsupportedGrantType => {
                format!("grant_type must be authorization_code, refresh_token or {TOKEN_EXCHANGE}")
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
    /// `POST /v1/oauth/token`: the client authenticated, then its grant
    /// type served. `basic` is the HTTP Basic client id and secret, if
    /// sent.
    pub fn oauth_token(
        &self,
        form: TokenRequest,
        basic: Option<(String, String)>,
    ) -> Result<TokenAnswer, OAuthError> {
        let grant_type = form
            .grant_type
            .clone()
            .ok_or_else(|| OAuthError::InvalidRequest("grant_type is missing".into()))?;
        if !["authorization_code", "refresh_token", TOKEN_EXCHANGE].contains(&grant_type.as_str()) {
            return Err(OAuthError::UnsupportedGrantType);
        }
        let app = self.oauth_client(&form, basic)?;
        match grant_type.as_str() {
            "authorization_code" => self.code_grant(&form, &app),
            "refresh_token" => self.refresh_grant(&form, &app),
            _ => self.token_exchange(form, &app),
        }
    }

    /// `POST /v1/oauth/revoke` (RFC 7009): the client authenticated, then
    /// `token` revoked if it is the client's (see `connections`).
    pub fn oauth_revoke(
        &self,
        form: TokenRequest,
        basic: Option<(String, String)>,
    ) -> Result<(), OAuthError> {
        let app = self.oauth_client(&form, basic)?;
        let token = form
            .token
            .as_deref()
            .ok_or_else(|| OAuthError::InvalidRequest("token is missing".into()))?;
        self.revoke_oauth_token(&app, token)
    }

    /// The app whose client credentials a token request carries (HTTP
    /// Basic, or `client_id` and `client_secret` in the form; not both).
    fn oauth_client(
        &self,
        form: &TokenRequest,
        basic: Option<(String, String)>,
    ) -> Result<AppRow, OAuthError> {
        let (client_id, secret) = match (basic, &form.client_id, &form.client_secret) {
            (Some(basic), None, None) => basic,
            (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
            (None, _, _) => return Err(OAuthError::InvalidClient),
            (Some(_), _, _) => {
                return Err(OAuthError::InvalidRequest(
                    "send the client's credentials once: HTTP Basic or the form".into(),
                ));
            }
        };
        let app = self.store()?.app_by_client_id(&client_id)?;
        let probe = hash_secret_text(&secret).unwrap_or(SecretHash::from_bytes([0xff; 32]));
        match app {
            Some(app) if client_secret_matches(&app, &probe, self.now()) => Ok(app),
            _ => Err(OAuthError::InvalidClient),
        }
    }

    /// Token exchange for `app` (its credentials checked; see the module
    /// docs).
    fn token_exchange(&self, form: TokenRequest, app: &AppRow) -> Result<TokenAnswer, OAuthError> {
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
        let now = self.now();
        let client_id = &app.client_id;
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
            issued_token_type: Some(ACCESS_TOKEN),
            token_type: "Bearer",
            expires_in: expires_at - now,
            refresh_token: None,
            scope: None,
        })
    }
}
