//! The authority: every operation of the management API and the setup-code
//! exchange, independent of HTTP. Handlers in `http` parse, call one method
//! here, and map [`AuthorityError`] to a status once.
//!
//! Choices the design leaves open, made here:
//! - management calls need a token whose grants cover `{api: management,
//!   action: admin}`; reading or updating an installation is also open to that
//!   installation's own APP and SESSION tokens (what `updateInstallation`
//!   needs);
//! - a rotated token keeps its principal, so row conditions on `$principal`
//!   keep matching after rotation;
//! - a setup code presented by another app than its own is "unknown" (404),
//!   never "used": it tells the wrong app nothing;
//! - a PENDING installation whose code expired gets a new one from
//!   `POST /v1/installations/{i}/setup-code`.

mod views;

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use verifier_core::exchange::{ExchangeRequest, ExchangeResponse};
use verifier_core::token::hash_secret_text;
use verifier_core::{
    Action, Api, Credentials, Environment, Grant, Installation, InstallationStatus,
    InstallationUpdate, IssuedToken, OpaqueSecret, Reason, Request, Scope, SecretHash, TokenId,
    TokenKind, TokenRecord, validate_grants,
};

pub use views::{
    AppCreated, AppView, EnvironmentView, Installed, IssuedTokenView, ProjectListing, ProjectView,
    SetupCodeView, TokenView,
};

use crate::clock::Clock;
use crate::random::{self, RandomError};
use crate::storage::{
    AppRow, AuditEntry, AuditEvent, Change, EnvironmentRow, Project, Redeem, SetupCodeRow, Store,
    StoreError, TokenRow,
};

/// Settings of the authority.
#[derive(Debug, Clone)]
pub struct AuthorityConfig {
    /// The base URL clients reach this server at, e.g. `http://127.0.0.1:8787`.
    pub public_url: String,
    /// How long a setup code stays redeemable, seconds (default 600).
    pub setup_code_ttl: i64,
    /// Lifetime of a frame's SESSION token, seconds (at most 3600).
    pub session_ttl: i64,
    /// How long a rotated token's old secret keeps working, seconds (default 0).
    pub rotation_grace: i64,
}

impl AuthorityConfig {
    /// Defaults for a server reachable at `public_url`.
    pub fn new(public_url: impl Into<String>) -> Self {
        AuthorityConfig {
            public_url: public_url.into(),
            setup_code_ttl: 600,
            session_ttl: 3600,
            rotation_grace: 0,
        }
    }
}

/// Why an operation failed. [`AuthorityError::reason`] is the stable
/// machine-readable code; the HTTP layer maps each variant to one status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorityError {
    /// Bad input (400).
    #[error("{0}")]
    BadRequest(String),
    /// No or bad credentials (401); `reason` is a decision reason or
    /// `bad_client_credentials`.
    #[error("{message}")]
    Unauthorized {
        /// Stable reason.
        reason: &'static str,
        /// Human message.
        message: String,
    },
    /// Authenticated, not allowed (403).
    #[error("{message}")]
    Forbidden {
        /// Stable reason.
        reason: &'static str,
        /// Human message.
        message: String,
    },
    /// No such thing (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Conflicts with the current state (409); `reason` is `conflict` or
    /// a more precise one (`token_revoked`, `token_expired`,
    /// `token_rotated`).
    #[error("{message}")]
    Conflict {
        /// Stable reason.
        reason: &'static str,
        /// Human message.
        message: String,
    },
    /// A setup code that was used or has expired (410).
    #[error("{message}")]
    Gone {
        /// `code_used` or `code_expired`.
        reason: &'static str,
        /// Human message.
        message: String,
    },
    /// The request body is over the limit (413).
    #[error("the request body is too large")]
    TooLarge,
    /// The request body stalled past the server's body timeout (408).
    #[error("the request body was not received in time")]
    Timeout,
    /// Too many failed credential checks from the caller's address (429).
    #[error("too many failed credential checks from this address; try again later")]
    Throttled,
    /// Storage or the random source failed (500). Details are logged, not
    /// returned.
    #[error("internal error")]
    Internal(String),
    /// This node is a read-only replica (`--replica-of`): it verifies, and
    /// changes are made on the authority (503).
    #[error("this node is a read-only replica; make changes on the authority")]
    ReadOnly,
}

impl AuthorityError {
    /// The stable machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthorityError::BadRequest(_) => "bad_request",
            AuthorityError::Unauthorized { reason, .. }
            | AuthorityError::Forbidden { reason, .. }
            | AuthorityError::Conflict { reason, .. }
            | AuthorityError::Gone { reason, .. } => reason,
            AuthorityError::NotFound(_) => "not_found",
            AuthorityError::TooLarge => "too_large",
            AuthorityError::Throttled => "throttled",
            AuthorityError::Timeout => "timeout",
            AuthorityError::Internal(_) => "internal",
            AuthorityError::ReadOnly => "read_only_replica",
        }
    }
}

impl From<StoreError> for AuthorityError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => conflict(format!("{what} already exists")),
            StoreError::NotFound(what) => AuthorityError::NotFound(what),
            StoreError::Database(message) => AuthorityError::Internal(message),
            StoreError::ReadOnly => AuthorityError::ReadOnly,
        }
    }
}

impl From<RandomError> for AuthorityError {
    fn from(e: RandomError) -> Self {
        AuthorityError::Internal(e.to_string())
    }
}

/// Who made a call, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

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

/// Body of `POST /v1/projects`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// Body of `POST /v1/projects/{p}/environments`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEnvironment {
    /// Id, unique across projects.
    pub id: String,
    /// Name.
    pub name: String,
    /// Default stage (`PUBLISHED` if absent).
    #[serde(default)]
    pub default_stage: Option<String>,
}

/// Body of `POST /v1/apps`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApp {
    /// Name.
    pub name: String,
    /// The app's setup page.
    pub setup_url: String,
    /// Origins its frames come from.
    pub origins: Vec<String>,
    /// What its app tokens may do.
    pub grants: Vec<Grant>,
}

/// Body of `POST /v1/environments/{e}/installations`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewInstallation {
    /// The app to install.
    pub app_id: String,
}

/// Body of `POST /v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewToken {
    /// `PAT` or `SYSTEM`.
    pub kind: TokenKind,
    /// Name.
    pub name: String,
    /// The environment it is bound to; `null` = none (SYSTEM tokens).
    #[serde(default)]
    pub environment_id: Option<String>,
    /// Grants.
    pub grants: Vec<Grant>,
    /// Expiry, unix seconds; must be in the future.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A new token: everything but its secret.
struct TokenSpec {
    kind: TokenKind,
    name: String,
    project_id: Option<String>,
    environment_id: Option<String>,
    installation_id: Option<String>,
    grants: Vec<Grant>,
    expires_at: Option<i64>,
}

impl TokenSpec {
    /// Bound to nothing, never expiring.
    fn new(kind: TokenKind, name: &str, grants: Vec<Grant>) -> Self {
        TokenSpec {
            kind,
            name: name.into(),
            project_id: None,
            environment_id: None,
            installation_id: None,
            grants,
            expires_at: None,
        }
    }

    /// The record of this token with `issued`'s id and hash.
    fn record(self, issued: &IssuedToken) -> TokenRecord {
        TokenRecord {
            token_id: issued.token_id(),
            secret_hash: issued.secret_hash(),
            kind: self.kind,
            name: self.name,
            project_id: self.project_id,
            environment_id: self.environment_id,
            installation_id: self.installation_id,
            principal: None,
            grants: self.grants,
            expires_at: self.expires_at,
            revoked: false,
        }
    }
}

const MAX_ID: usize = 64;
const MAX_TEXT: usize = 256;

/// The authority.
pub struct Authority {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: AuthorityConfig,
}

impl Authority {
    /// An authority over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: AuthorityConfig) -> Self {
        Authority {
            store,
            clock,
            config,
        }
    }

    /// The store (for the HTTP layer's health check).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, from the authority's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    fn audit(
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

    // Authentication -------------------------------------------------------

    /// Authenticates an `Authorization` value and tells whether it is an
    /// admin. Bad credentials are 401 with the verifier's reason.
    pub fn authenticate(&self, header: &str) -> Result<Caller, AuthorityError> {
        let now = self.now();
        let credentials = Credentials::from_header(header).map_err(|e| unauthorized(e.reason()))?;
        let row = self.store.token(&credentials.token_id())?;
        let Some(row) = row else {
            return Err(unauthorized(Reason::UnknownToken));
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
        let caller = self.authenticate(header)?;
        if !caller.is_admin {
            return Err(AuthorityError::Forbidden {
                reason: Reason::NotGranted.as_str(),
                message: "this call needs a token with the management admin grant".into(),
            });
        }
        Ok(caller.actor)
    }

    /// Authenticates and requires the management `admin` or `replica` grant:
    /// who may read token records (`GET /v1/records…`).
    pub fn authenticate_replica(&self, header: &str) -> Result<Actor, AuthorityError> {
        let caller = self.authenticate(header)?;
        if !caller.is_replica {
            return Err(AuthorityError::Forbidden {
                reason: Reason::NotGranted.as_str(),
                message: "reading records needs the management admin or replica grant".into(),
            });
        }
        Ok(caller.actor)
    }

    /// `GET /v1/records?after=&limit=`: one page of the change feed.
    pub fn feed(&self, after: i64, limit: u32) -> Result<Vec<Change>, AuthorityError> {
        Ok(self
            .store
            .changes_after(after.max(0), limit.clamp(1, 10_000))?)
    }

    fn require_installation_access(
        &self,
        caller: &Caller,
        installation_id: &str,
    ) -> Result<(), AuthorityError> {
        let own = matches!(caller.record.kind, TokenKind::App | TokenKind::Session)
            && caller.record.installation_id.as_deref() == Some(installation_id);
        if caller.is_admin || own {
            Ok(())
        } else {
            Err(AuthorityError::Forbidden {
                reason: Reason::NotGranted.as_str(),
                message: "only an admin or the installation's own tokens may do this".into(),
            })
        }
    }

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
    fn store_new_token(
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
        };
        self.store.insert_token(&row, &audit)?;
        Ok(issued)
    }

    // Projects and environments --------------------------------------------

    /// `POST /v1/projects`.
    pub fn create_project(
        &self,
        actor: &Actor,
        body: NewProject,
    ) -> Result<ProjectView, AuthorityError> {
        check_id("id", &body.id)?;
        check_text("name", &body.name)?;
        let project = Project {
            id: body.id,
            name: body.name,
            created_at: self.now(),
        };
        let audit = self.audit(
            actor,
            "project.create",
            &project.id,
            json!({"name": project.name}),
        );
        self.store.create_project(&project, &audit)?;
        Ok(ProjectView::new(project, &self.config.public_url))
    }

    /// `POST /v1/projects/{p}/environments`.
    pub fn create_environment(
        &self,
        actor: &Actor,
        project_id: &str,
        body: NewEnvironment,
    ) -> Result<EnvironmentView, AuthorityError> {
        check_id("id", &body.id)?;
        check_text("name", &body.name)?;
        let default_stage = body
            .default_stage
            .unwrap_or_else(|| verifier_core::DEFAULT_STAGE.into());
        check_id("defaultStage", &default_stage)?;
        let env = EnvironmentRow {
            id: body.id,
            project_id: project_id.into(),
            name: body.name,
            default_stage,
            public_grants: Vec::new(),
            created_at: self.now(),
        };
        let audit = self.audit(
            actor,
            "environment.create",
            &env.id,
            json!({"project": project_id}),
        );
        self.store.create_environment(&env, &audit)?;
        Ok(env.into())
    }

    /// `PUT /v1/environments/{e}/public-grants`.
    pub fn set_public_grants(
        &self,
        actor: &Actor,
        env_id: &str,
        grants: Vec<Grant>,
    ) -> Result<Vec<Grant>, AuthorityError> {
        validate_grants(&grants).map_err(|e| AuthorityError::BadRequest(e.to_string()))?;
        if grants.iter().any(|g| g.api == Api::Management) {
            return Err(AuthorityError::BadRequest(
                "public grants cannot include management grants".into(),
            ));
        }
        let audit = self.audit(
            actor,
            "environment.public_grants",
            env_id,
            json!({"grants": grants.len()}),
        );
        self.store.set_public_grants(env_id, &grants, &audit)?;
        Ok(grants)
    }

    // Apps and installations -----------------------------------------------

    /// `POST /v1/apps`: the client secret is in the answer, this once.
    pub fn create_app(&self, actor: &Actor, body: NewApp) -> Result<AppCreated, AuthorityError> {
        check_text("name", &body.name)?;
        check_url("setupUrl", &body.setup_url)?;
        if body.origins.is_empty() || body.origins.len() > 16 {
            return Err(AuthorityError::BadRequest(
                "origins must list 1 to 16 origins".into(),
            ));
        }
        let mut origins = check_origins(&body.origins)?;
        origins.dedup();
        validate_grants(&body.grants).map_err(|e| AuthorityError::BadRequest(e.to_string()))?;
        if body.grants.iter().any(is_whole_service) {
            return Err(AuthorityError::BadRequest(
                "an app's grants cannot include the management admin or replica grant".into(),
            ));
        }
        let secret = OpaqueSecret::from_random(random::secret_bytes()?);
        let app = AppRow {
            id: random::id("app_")?,
            name: body.name,
            client_id: random::id("cl_")?,
            client_secret_hash: secret.hash(),
            setup_url: body.setup_url,
            origins,
            grants: body.grants,
            created_at: self.now(),
        };
        let audit = self.audit(
            actor,
            "app.create",
            &app.id,
            json!({"name": app.name, "clientId": app.client_id}),
        );
        self.store.create_app(&app, &audit)?;
        Ok(AppCreated {
            id: app.id,
            client_id: app.client_id,
            client_secret: secret.text().into(),
        })
    }

    /// `POST /v1/environments/{e}/installations`: PENDING, with a setup code.
    pub fn install(
        &self,
        actor: &Actor,
        env_id: &str,
        body: NewInstallation,
    ) -> Result<Installed, AuthorityError> {
        self.store
            .environment(env_id)?
            .ok_or(AuthorityError::NotFound("environment"))?;
        let app = self
            .store
            .app(&body.app_id)?
            .ok_or(AuthorityError::NotFound("app"))?;
        let installation = Installation {
            id: random::id("in_")?,
            app_id: app.id.clone(),
            environment_id: env_id.into(),
            status: InstallationStatus::Pending,
            config: json!({}),
        };
        let (code, row) = self.new_setup_code(&installation)?;
        let audit = self.audit(
            actor,
            "installation.create",
            &installation.id,
            json!({"app": app.id, "environment": env_id}),
        );
        self.store
            .create_installation(&installation, &row, &audit)?;
        Ok(Installed {
            setup_url: setup_url(&app.setup_url, code.text()),
            setup_code: code.text().into(),
            expires_at: row.expires_at,
            installation,
        })
    }

    fn new_setup_code(
        &self,
        installation: &Installation,
    ) -> Result<(OpaqueSecret, SetupCodeRow), AuthorityError> {
        let code = OpaqueSecret::from_random(random::secret_bytes()?);
        let row = SetupCodeRow {
            code_hash: code.hash(),
            installation_id: installation.id.clone(),
            app_id: installation.app_id.clone(),
            expires_at: self.now() + self.config.setup_code_ttl,
        };
        Ok((code, row))
    }

    /// `POST /v1/installations/{i}/setup-code`: a fresh code for a PENDING
    /// installation (the old one stays valid until it expires).
    pub fn new_code(&self, actor: &Actor, id: &str) -> Result<SetupCodeView, AuthorityError> {
        let installation = self
            .store
            .installation(id)?
            .ok_or(AuthorityError::NotFound("installation"))?;
        if installation.status != InstallationStatus::Pending {
            return Err(conflict("only a PENDING installation takes a setup code"));
        }
        let app = self
            .store
            .app(&installation.app_id)?
            .ok_or(AuthorityError::NotFound("app"))?;
        let (code, row) = self.new_setup_code(&installation)?;
        let audit = self.audit(actor, "installation.setup_code", id, json!({}));
        self.store
            .update_installation(&installation, false, Some(&row), &audit)?;
        Ok(SetupCodeView {
            setup_url: setup_url(&app.setup_url, code.text()),
            setup_code: code.text().into(),
            expires_at: row.expires_at,
        })
    }

    /// `GET /v1/installations/{i}`.
    pub fn installation(&self, caller: &Caller, id: &str) -> Result<Installation, AuthorityError> {
        self.require_installation_access(caller, id)?;
        self.store
            .installation(id)?
            .ok_or(AuthorityError::NotFound("installation"))
    }

    /// `PATCH /v1/installations/{i}`. DISABLED revokes the installation's
    /// tokens and unredeemed codes in the same transaction.
    pub fn update_installation(
        &self,
        caller: &Caller,
        id: &str,
        update: InstallationUpdate,
    ) -> Result<Installation, AuthorityError> {
        self.require_installation_access(caller, id)?;
        let mut installation = self
            .store
            .installation(id)?
            .ok_or(AuthorityError::NotFound("installation"))?;
        let before = installation.status;
        if let Some(status) = update.status {
            installation.status = before
                .transition(status)
                .map_err(|e| conflict(e.to_string()))?;
        }
        if let Some(config) = update.config {
            if !config.is_object() {
                return Err(AuthorityError::BadRequest(
                    "config must be a JSON object".into(),
                ));
            }
            if config.to_string().len() > 64 * 1024 {
                return Err(AuthorityError::BadRequest(
                    "config is larger than 64 KiB".into(),
                ));
            }
            installation.config = config;
        }
        let disabling = before != InstallationStatus::Disabled
            && installation.status == InstallationStatus::Disabled;
        let audit = self.audit(
            &caller.actor,
            "installation.update",
            id,
            json!({"from": before.as_str(), "to": installation.status.as_str()}),
        );
        self.store
            .update_installation(&installation, disabling, None, &audit)?;
        Ok(installation)
    }

    /// `POST /v1/installations/{i}/session-token`: a SESSION token for the
    /// app's frame, with the app's grants, for at most an hour.
    pub fn session_token(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<IssuedTokenView, AuthorityError> {
        let installation = self
            .store
            .installation(id)?
            .ok_or(AuthorityError::NotFound("installation"))?;
        if installation.status == InstallationStatus::Disabled {
            return Err(conflict("the installation is disabled"));
        }
        let app = self
            .store
            .app(&installation.app_id)?
            .ok_or(AuthorityError::NotFound("app"))?;
        let env = self
            .store
            .environment(&installation.environment_id)?
            .ok_or(AuthorityError::NotFound("environment"))?;
        let expires_at = self.now() + self.config.session_ttl.clamp(1, 3600);
        let spec = TokenSpec {
            project_id: Some(env.project_id.clone()),
            environment_id: Some(env.id.clone()),
            installation_id: Some(installation.id.clone()),
            expires_at: Some(expires_at),
            ..TokenSpec::new(
                TokenKind::Session,
                &format!("{} (session)", app.name),
                app.grants,
            )
        };
        let issued =
            self.store_new_token(actor, spec, json!({"kind": "SESSION", "installation": id}))?;
        Ok(IssuedTokenView {
            token_id: issued.token_id().to_string(),
            token: issued.token(),
            expires_at: Some(expires_at),
        })
    }

    // The exchange -----------------------------------------------------------

    /// `POST /v1/app-exchange-token`, on Hygraph's wire: 400 bad body, 401
    /// bad client credentials, 404 unknown code, 410 used or expired code.
    pub fn exchange(&self, body: &[u8]) -> Result<ExchangeResponse, AuthorityError> {
        let request = ExchangeRequest::from_json(body)
            .map_err(|e| AuthorityError::BadRequest(capitalize(&e.to_string())))?;
        let app = self.store.app_by_client_id(&request.client_id)?;
        // Compare even for an unknown client or a malformed secret, so timing
        // does not tell those apart from a wrong secret.
        let presented = hash_secret_text(&request.client_secret);
        let stored = app
            .as_ref()
            .map_or(SecretHash::from_bytes([0; 32]), |a| a.client_secret_hash);
        let matches = stored.ct_eq(&presented.unwrap_or(SecretHash::from_bytes([0xff; 32])));
        let app = match app {
            Some(app) if matches && presented.is_some() => app,
            _ => {
                return Err(AuthorityError::Unauthorized {
                    reason: "bad_client_credentials",
                    message: "Invalid client credentials".into(),
                });
            }
        };
        let Some(code_hash) = hash_secret_text(&request.exchange_code) else {
            return Err(AuthorityError::NotFound("exchange code"));
        };
        let now = self.now();
        let issued = IssuedToken::from_random(random::secret_bytes()?);
        let installation = self.store.setup_code_installation(&code_hash)?;
        let (env, installation_id) = match installation {
            Some(id) => {
                let installation = self
                    .store
                    .installation(&id)?
                    .ok_or(AuthorityError::NotFound("installation"))?;
                let env = self
                    .store
                    .environment(&installation.environment_id)?
                    .ok_or(AuthorityError::NotFound("environment"))?;
                (env, id)
            }
            None => return Err(AuthorityError::NotFound("exchange code")),
        };
        let record = TokenSpec {
            project_id: Some(env.project_id.clone()),
            environment_id: Some(env.id.clone()),
            installation_id: Some(installation_id.clone()),
            ..TokenSpec::new(TokenKind::App, &app.name, app.grants.clone())
        }
        .record(&issued);
        let audit = AuditEntry {
            at: now,
            actor: format!("client:{}", app.client_id),
            action: "installation.exchange".into(),
            target: installation_id,
            detail: json!({"tokenId": issued.token_id().to_string()}),
        };
        match self.store.redeem_setup_code(
            &code_hash,
            &app.id,
            now,
            &TokenRow {
                record,
                created_at: now,
            },
            &audit,
        )? {
            Redeem::Redeemed => Ok(ExchangeResponse {
                app_token: issued.token(),
            }),
            Redeem::Unknown => Err(AuthorityError::NotFound("exchange code")),
            Redeem::Used => Err(AuthorityError::Gone {
                reason: "code_used",
                message: "Exchange code was already used".into(),
            }),
            Redeem::Expired => Err(AuthorityError::Gone {
                reason: "code_expired",
                message: "Exchange code has expired".into(),
            }),
            Redeem::NotPending => Err(AuthorityError::Gone {
                reason: "installation_not_pending",
                message: "Exchange code belongs to an installation that is no longer pending"
                    .into(),
            }),
        }
    }

    // Tokens -----------------------------------------------------------------

    /// `POST /v1/tokens`: PAT and SYSTEM tokens.
    pub fn create_token(
        &self,
        actor: &Actor,
        body: NewToken,
    ) -> Result<IssuedTokenView, AuthorityError> {
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
            Some(env_id) => Some(
                self.store
                    .environment(env_id)?
                    .ok_or(AuthorityError::NotFound("environment"))?
                    .project_id
                    .clone(),
            ),
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
        Ok(IssuedTokenView {
            token_id: issued.token_id().to_string(),
            token: issued.token(),
            expires_at: body.expires_at,
        })
    }

    /// `GET /v1/projects`: every project with its environments.
    pub fn projects(&self) -> Result<Vec<ProjectListing>, AuthorityError> {
        let mut environments = self.store.environments()?;
        Ok(self
            .store
            .projects()?
            .into_iter()
            .map(|p| {
                let (mine, rest) = environments.drain(..).partition(|e| e.project_id == p.id);
                environments = rest;
                ProjectListing {
                    project: ProjectView::new(p, &self.config.public_url),
                    environments: mine
                        .into_iter()
                        .map(EnvironmentView::from)
                        .collect::<Vec<_>>(),
                }
            })
            .collect())
    }

    /// `GET /v1/apps`: every app, without secrets.
    pub fn apps(&self) -> Result<Vec<AppView>, AuthorityError> {
        Ok(self.store.apps()?.into_iter().map(AppView::from).collect())
    }

    /// `GET /v1/installations`: every installation.
    pub fn installations(&self) -> Result<Vec<Installation>, AuthorityError> {
        Ok(self.store.installations()?)
    }

    /// `GET /v1/records/{tokenId}`: what a verifier needs of a token (the
    /// secret only as its hash). Revoked tokens are served, marked.
    pub fn record(&self, id: &str) -> Result<TokenRecord, AuthorityError> {
        let token_id = TokenId::parse(id).map_err(|_| AuthorityError::NotFound("token"))?;
        let row = self
            .store
            .token(&token_id)?
            .ok_or(AuthorityError::NotFound("token"))?;
        Ok(row.record.clone())
    }

    /// `GET /v1/environments/{e}/record`: what a verifier needs of an environment.
    pub fn environment_record(&self, id: &str) -> Result<Environment, AuthorityError> {
        let row = self
            .store
            .environment(id)?
            .ok_or(AuthorityError::NotFound("environment"))?;
        Ok(row.policy())
    }

    /// The public base URL (`--public-url`, or `http://<listen address>`).
    pub fn public_url(&self) -> &str {
        &self.config.public_url
    }

    /// `GET /v1/tokens`: metadata, never secrets or hashes.
    pub fn tokens(&self) -> Result<Vec<TokenView>, AuthorityError> {
        Ok(self
            .store
            .tokens()?
            .into_iter()
            .map(TokenView::from)
            .collect())
    }

    /// `DELETE /v1/tokens/{tokenId}`.
    pub fn revoke_token(&self, actor: &Actor, id: &str) -> Result<TokenView, AuthorityError> {
        let token_id = TokenId::parse(id).map_err(|_| AuthorityError::NotFound("token"))?;
        let audit = self.audit(actor, "token.revoke", id, json!({}));
        self.store.revoke_token(&token_id, &audit)?;
        let row = self
            .store
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
            .store
            .token(&token_id)?
            .ok_or(AuthorityError::NotFound("token"))?;
        let now = self.now();
        if old.record.revoked {
            return Err(AuthorityError::Conflict {
                reason: "token_revoked",
                message: "a revoked token cannot be rotated".into(),
            });
        }
        if old.record.expires_at.is_some_and(|at| now >= at) {
            return Err(AuthorityError::Conflict {
                reason: "token_expired",
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
        self.store
            .rotate_token(
                &token_id,
                grace,
                &TokenRow {
                    record,
                    created_at: now,
                },
                &audit,
            )
            .map_err(|e| match e {
                StoreError::Conflict(_) => AuthorityError::Conflict {
                    reason: "token_rotated",
                    message: "this token was rotated already; rotate its successor".into(),
                },
                e => e.into(),
            })?;
        Ok(IssuedTokenView {
            token_id: issued.token_id().to_string(),
            token: issued.token(),
            expires_at: old.record.expires_at,
        })
    }

    /// `GET /v1/audit?after=&limit=`: at most 1000 events a page (default 100).
    pub fn audit_log(
        &self,
        after: i64,
        limit: Option<u32>,
    ) -> Result<Vec<AuditEvent>, AuthorityError> {
        Ok(self
            .store
            .audit_after(after, limit.unwrap_or(100).clamp(1, 1000))?)
    }
}

fn unauthorized(reason: Reason) -> AuthorityError {
    AuthorityError::Unauthorized {
        reason: reason.as_str(),
        message: match reason {
            Reason::MissingCredentials => "missing Authorization header".into(),
            Reason::Malformed => "Authorization is not an AppToken or Bearer token".into(),
            Reason::Expired => "the token has expired".into(),
            Reason::Revoked => "the token was revoked".into(),
            _ => "invalid token".into(),
        },
    }
}

/// A 409 with the reason `conflict`.
fn conflict(message: impl Into<String>) -> AuthorityError {
    AuthorityError::Conflict {
        reason: "conflict",
        message: message.into(),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn setup_url(base: &str, code: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}code={code}")
}

fn check_id(field: &str, id: &str) -> Result<(), AuthorityError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AuthorityError::BadRequest(format!(
            "{field} must be 1 to {MAX_ID} characters of [A-Za-z0-9_-]"
        )))
    }
}

fn check_text(field: &str, text: &str) -> Result<(), AuthorityError> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
        return Err(AuthorityError::BadRequest(format!(
            "{field} must be 1 to {MAX_TEXT} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(AuthorityError::BadRequest(format!(
            "{field} must not hold control characters"
        )));
    }
    Ok(())
}

fn check_url(field: &str, url: &str) -> Result<(), AuthorityError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().count() <= 2048
        && !url.contains('#')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(AuthorityError::BadRequest(format!(
            "{field} must be an http(s) URL without a fragment"
        )))
    }
}

/// Whether `origin` is an origin as browsers write it (see
/// [`canonical_origin`]) and in its canonical form: what may stand in a
/// `Content-Security-Policy` or be compared with a message's origin.
pub fn valid_origin(origin: &str) -> bool {
    canonical_origin(origin).is_ok_and(|c| c == origin)
}

/// An app origin in the form browsers serialise it (`scheme://host[:port]`,
/// host lowercased and IDNA-encoded, default port dropped), or why it is
/// not one. Accepted: `http` or `https`, a host, an optional port, at most
/// a trailing `/`; nothing else — no user info, path, query or fragment,
/// no control characters, whitespace, `;`, `,`, quotes or backslashes
/// (which a CSP or a header would read as a separator or something else).
pub fn canonical_origin(origin: &str) -> Result<String, String> {
    if origin.len() > 2048 {
        return Err("is longer than 2048 characters".into());
    }
    if let Some(c) = origin
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, ';' | ',' | '\'' | '"' | '\\'))
    {
        return Err(format!("holds {c:?}, which cannot stand in an origin"));
    }
    let url = url::Url::parse(origin).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must use http or https".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold user info".into());
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err("must be scheme://host[:port] with no path, query or fragment".into());
    }
    // `Url` keeps the path "/" for "https://a.example" and "https://a.example/"
    // alike; more than one trailing character means a path it folded away.
    let rest = origin.split_once("://").map_or("", |(_, rest)| rest);
    if rest.ends_with("//") || rest.contains("/.") {
        return Err("must be scheme://host[:port] with no path, query or fragment".into());
    }
    // A domain as a CSP source list reads it: letters, digits, `-`, `.`
    // (IDNA has made any other script ASCII); `*`, `_` and the like, which
    // URL parsers let through, are refused.
    if let Some(url::Host::Domain(domain)) = url.host()
        && !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err("has a host with characters other than letters, digits, '-' and '.'".into());
    }
    Ok(url.origin().ascii_serialization())
}

/// The origins of `NewApp`, canonical, or a 400 naming the bad one.
fn check_origins(origins: &[String]) -> Result<Vec<String>, AuthorityError> {
    origins
        .iter()
        .map(|origin| {
            canonical_origin(origin).map_err(|why| {
                AuthorityError::BadRequest(format!(
                    "origin {:?} {why}",
                    origin.escape_debug().to_string()
                ))
            })
        })
        .collect()
}

/// Whether `grant` is the management `admin` or `replica` grant: a grant
/// over the whole service, not one environment's content.
fn is_whole_service(grant: &Grant) -> bool {
    grant.api == Api::Management && (grant.action.is_admin() || grant.action.as_str() == "replica")
}

/// Refuses a management `admin` (or `replica`) grant that carries a
/// condition or a scope: those grants are all or nothing, and a scoped one
/// would read as a global one wherever the scope is not asked about.
fn check_management_scope(grants: &[Grant]) -> Result<(), AuthorityError> {
    for (i, grant) in grants.iter().enumerate() {
        if !is_whole_service(grant) {
            continue;
        }
        let scoped = grant.condition.is_some()
            || grant.models != Scope::Any
            || grant.stages != Scope::Any
            || grant.locales != Scope::Any
            || grant.environments != Scope::Any;
        if scoped {
            return Err(AuthorityError::BadRequest(format!(
                "grants[{i}]: the management {} grant takes no condition and no scope \
                 (models, stages, locales, environments)",
                grant.action.as_str()
            )));
        }
    }
    Ok(())
}
