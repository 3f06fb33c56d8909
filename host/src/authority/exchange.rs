//! How an app gets its tokens: the setup-code exchange
//! (`POST /v1/app-exchange-token`, Hygraph's wire shape), which redeems the
//! code once and returns the installation's APP token, and the SESSION
//! token a frame asks for through the parent bridge.

use serde_json::json;
use verifier_core::exchange::{ExchangeRequest, ExchangeResponse};
use verifier_core::token::hash_secret_text;
use verifier_core::{InstallationStatus, IssuedToken, SecretHash, TokenKind};

use super::Authority;
use super::apps::client_secret_matches;
use super::caller::Actor;
use super::error::{AuthorityError, conflict, uninstalled};
use super::tokens::TokenSpec;
use super::views::IssuedTokenView;
use crate::random;
use crate::reason::Reason;
use crate::storage::{AuditEntry, ExchangeContext, Exchanged, Redeem, TokenRow};

impl Authority {
    /// `POST /v1/installations/{i}/session-token`: a SESSION token for the
    /// app's frame, with the app's grants, for at most an hour.
    pub fn session_token(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<IssuedTokenView, AuthorityError> {
        let row = self.stored(id)?;
        let installation = &row.installation;
        match installation.status {
            InstallationStatus::Disabled => return Err(conflict("the installation is disabled")),
            InstallationStatus::Uninstalled => return Err(uninstalled()),
            InstallationStatus::Pending | InstallationStatus::Completed => {}
        }
        let app = self
            .store()?
            .app(&installation.app_id)?
            .ok_or(AuthorityError::NotFound("app"))?;
        let env = self
            .store()?
            .environment(&installation.environment_id)?
            .ok_or(AuthorityError::NotFound("environment"))?;
        let expires_at = self.now() + self.config.session_ttl.clamp(1, 3600);
        let spec = TokenSpec {
            project_id: Some(env.project_id.clone()),
            environment_id: Some(env.id.clone()),
            installation_id: Some(installation.id.clone()),
            expires_at: Some(expires_at),
            // A frame opened by a person: its token remembers who, for the
            // app's backend to act for them (`oauth`).
            user_id: actor.as_str().strip_prefix("user:").map(str::to_owned),
            ..TokenSpec::new(
                TokenKind::Session,
                &format!("{} (session)", app.name),
                row.grants.clone(),
            )
        };
        let issued =
            self.store_new_token(actor, spec, json!({"kind": "SESSION", "installation": id}))?;
        Ok(IssuedTokenView::new(
            issued.token_id().to_string(),
            issued.token(),
            Some(expires_at),
            self.now(),
        ))
    }

    /// `POST /v1/app-exchange-token`, on Hygraph's wire: 400 bad body, 401
    /// bad client credentials, 404 unknown code, 410 used or expired code.
    pub fn exchange(&self, body: &[u8]) -> Result<ExchangeResponse, AuthorityError> {
        let request = ExchangeRequest::from_json(body)
            .map_err(|e| AuthorityError::BadRequest(capitalize(&e.to_string())))?;
        let code_hash = hash_secret_text(&request.exchange_code);
        // An unparsable code is looked up as one no code has, so that the
        // client's credentials are still read and compared.
        let probe_code = code_hash.unwrap_or(SecretHash::from_bytes([0xff; 32]));
        let now = self.now();
        let issued = IssuedToken::from_random(random::secret_bytes()?);
        let mut declined = None;
        let exchanged = self.store()?.exchange_setup_code(
            &request.client_id,
            &probe_code,
            now,
            &mut |context| match exchange_token(
                &request,
                code_hash.is_some(),
                context,
                &issued,
                now,
            ) {
                Ok(token) => Some(token),
                Err(e) => {
                    declined = Some(e);
                    None
                }
            },
        );
        let outcome = match exchanged {
            Ok(Exchanged::Ended { outcome, replaced }) => {
                // The read cache forgets the tokens this one replaced.
                self.changed(replaced)?;
                outcome
            }
            Ok(Exchanged::Declined) => {
                return Err(declined.unwrap_or(AuthorityError::Unauthorized {
                    reason: Reason::BadClientCredentials,
                    message: "Invalid client credentials".into(),
                }));
            }
            Err(e) => {
                self.catch_up()?;
                return Err(e.into());
            }
        };
        match outcome {
            Redeem::Redeemed => Ok(ExchangeResponse {
                app_token: issued.token(),
            }),
            Redeem::Unknown => Err(AuthorityError::NotFound("exchange code")),
            Redeem::Used => Err(AuthorityError::Gone {
                reason: Reason::CodeUsed,
                message: "Exchange code was already used".into(),
            }),
            Redeem::Expired => Err(AuthorityError::Gone {
                reason: Reason::CodeExpired,
                message: "Exchange code has expired".into(),
            }),
            Redeem::NotPending => Err(AuthorityError::Gone {
                reason: Reason::InstallationNotPending,
                message: "Exchange code belongs to an installation that is no longer pending"
                    .into(),
            }),
        }
    }
}

/// What an exchange stores, decided on what the store read
/// ([`ExchangeContext`]): the client's credentials are checked (compared
/// even for an unknown client or a malformed secret, so timing does not
/// tell those apart from a wrong secret), then the code's installation
/// and environment make the APP token's record and its audit entry.
fn exchange_token(
    request: &ExchangeRequest,
    code_parsed: bool,
    context: &ExchangeContext,
    issued: &IssuedToken,
    now: i64,
) -> Result<(TokenRow, AuditEntry), AuthorityError> {
    let presented = hash_secret_text(&request.client_secret);
    let probe = presented.unwrap_or(SecretHash::from_bytes([0xff; 32]));
    let matches = match &context.app {
        Some(app) => client_secret_matches(app, &probe, now),
        None => SecretHash::from_bytes([0; 32]).ct_eq(&probe),
    };
    let app = match &context.app {
        Some(app) if matches && presented.is_some() => app,
        _ => {
            return Err(AuthorityError::Unauthorized {
                reason: Reason::BadClientCredentials,
                message: "Invalid client credentials".into(),
            });
        }
    };
    if !code_parsed {
        return Err(AuthorityError::NotFound("exchange code"));
    }
    let (installation, env) = match &context.code {
        Some((installation, Some(env))) => (installation, env),
        Some((_, None)) => return Err(AuthorityError::NotFound("environment")),
        None => return Err(AuthorityError::NotFound("exchange code")),
    };
    let installation_id = installation.installation.id.clone();
    // The grants its environment approved (the store gives the token those
    // of the row it locked).
    let record = TokenSpec {
        project_id: Some(env.project_id.clone()),
        environment_id: Some(env.id.clone()),
        installation_id: Some(installation_id.clone()),
        ..TokenSpec::new(TokenKind::App, &app.name, installation.grants.clone())
    }
    .record(issued);
    let audit = AuditEntry {
        at: now,
        actor: format!("client:{}", app.client_id),
        action: "installation.exchange".into(),
        target: installation_id,
        detail: json!({"tokenId": issued.token_id().to_string()}),
    };
    Ok((
        TokenRow {
            record,
            created_at: now,
            user_id: None,
        },
        audit,
    ))
}

/// `s` with its first letter upper-case (serde's messages start lower-case).
fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
