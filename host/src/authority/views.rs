//! What the API answers: JSON shapes of the authority's objects.

use serde::Serialize;
use verifier_core::{Grant, Installation, TokenKind};

use crate::storage::{AppRow, EnvironmentRow, InstallationRow, Project, TokenRow};

/// A project, with its management API URL.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Project)]
pub struct ProjectView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `<public url>/v1/management`: the SDK derives `managementApiBaseUrl`
    /// (`<public url>/v1`) from it.
    pub mgmt_api: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl ProjectView {
    pub(crate) fn new(p: Project, public_url: &str) -> Self {
        ProjectView {
            mgmt_api: format!("{}/v1/management", public_url.trim_end_matches('/')),
            id: p.id,
            name: p.name,
            created_at: p.created_at,
        }
    }
}

/// An environment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Environment)]
pub struct EnvironmentView {
    /// Id.
    pub id: String,
    /// Its project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// Default stage.
    pub default_stage: String,
    /// Public grants (none = public access off).
    #[schema(schema_with = crate::authority::schema::grant_list)]
    pub public_grants: Vec<Grant>,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<EnvironmentRow> for EnvironmentView {
    fn from(e: EnvironmentRow) -> Self {
        EnvironmentView {
            id: e.id,
            project_id: e.project_id,
            name: e.name,
            default_stage: e.default_stage,
            public_grants: e.public_grants,
            created_at: e.created_at,
        }
    }
}

/// A project with its environments (`GET /v1/projects`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectListing {
    /// The project.
    #[serde(flatten)]
    pub project: ProjectView,
    /// Its environments, oldest first.
    pub environments: Vec<EnvironmentView>,
}

/// A registered app, without its secret (`GET /v1/apps`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = App)]
pub struct AppView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Public client id.
    pub client_id: String,
    /// Where the platform opens the app's setup page.
    pub setup_url: String,
    /// The app's main page, opened once it is installed (`null`: the
    /// setup page).
    pub url: Option<String>,
    /// Origins the app's frames are served from.
    pub origins: Vec<String>,
    /// What its app tokens may do.
    #[schema(schema_with = crate::authority::schema::grant_list)]
    pub grants: Vec<Grant>,
    /// Unix seconds.
    pub created_at: i64,
    /// Until when (unix seconds) the client secret a rotation replaced is
    /// still accepted; `null` when only the current one is.
    pub previous_secret_expires_at: Option<i64>,
    /// Where its webhooks go; `null` when none.
    pub webhook_url: Option<String>,
    /// The project it belongs to; `null`: the whole instance's.
    pub project_id: Option<String>,
    /// Its redirect URIs as a connected app (`[]`: it is not one).
    pub redirect_uris: Vec<String>,
    /// Its pages, sidebar panels and field editors.
    #[schema(schema_with = crate::authority::schema::elements)]
    pub elements: Vec<crate::storage::Element>,
}

impl AppView {
    /// `a` as the API shows it at `now`.
    pub fn new(a: AppRow, now: i64) -> Self {
        AppView {
            id: a.id,
            name: a.name,
            client_id: a.client_id,
            setup_url: a.setup_url,
            url: a.url,
            origins: a.origins,
            grants: a.grants,
            created_at: a.created_at,
            previous_secret_expires_at: a
                .previous_secret
                .map(|p| p.expires_at)
                .filter(|&at| now < at),
            webhook_url: a.webhook_url,
            project_id: a.project_id,
            redirect_uris: a.redirect_uris,
            elements: a.elements,
        }
    }
}

/// What publishing an app's grants did.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishedView {
    /// The new version.
    pub version: i64,
    /// The grants published.
    #[schema(schema_with = crate::authority::schema::grant_list)]
    pub grants: Vec<Grant>,
    /// Installations moved to them at once (no wider than they approved).
    pub applied: Vec<String>,
    /// Installations asked for their consent ("update requested").
    pub requested: Vec<String>,
}

/// A rotated client secret: the new one appears here only.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretView {
    /// The app's client id (unchanged).
    pub client_id: String,
    /// The new client secret, shown once.
    pub client_secret: String,
    /// Until when (unix seconds) the replaced secret is still accepted;
    /// `null`: it stopped working now.
    pub previous_secret_expires_at: Option<i64>,
}

/// A new app: the client secret appears here only.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppCreated {
    /// App id.
    pub id: String,
    /// Client id.
    pub client_id: String,
    /// Client secret, shown once.
    pub client_secret: String,
    /// The webhook signing secret (`whsec_…`), shown once; `null` when
    /// webhooks are off on this server.
    pub webhook_secret: Option<String>,
}

/// A rotated webhook signing secret, shown once.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSecretView {
    /// The new secret (`whsec_…`).
    pub webhook_secret: String,
}

/// A new installation and its setup code (shown once).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Installed {
    /// The installation, PENDING.
    #[schema(schema_with = crate::authority::schema::installation)]
    pub installation: InstallationView,
    /// The one-time setup code.
    pub setup_code: String,
    /// The app's setup URL with `?code=`.
    pub setup_url: String,
    /// When the code expires, unix seconds.
    pub expires_at: i64,
}

/// An installation as the API shows it: what the app sees of it, the
/// grants its environment approved, and a grant update waiting for consent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallationView {
    /// Id, app, environment, status, config.
    #[serde(flatten)]
    pub installation: Installation,
    /// The grants approved: what its tokens get.
    pub grants: Vec<Grant>,
    /// The version of the app's grants they are.
    pub grants_version: i64,
    /// The app's newer grants, waiting for approval ("update requested");
    /// `null` when none (or the newest were declined).
    pub requested_grants: Option<Vec<Grant>>,
    /// Their version; `null` when none.
    pub requested_version: Option<i64>,
    /// The app's elements turned off here (apiIds).
    pub disabled_elements: Vec<String>,
}

impl From<InstallationRow> for InstallationView {
    fn from(row: InstallationRow) -> Self {
        let (requested_grants, requested_version) = match row.requested {
            Some(v) => (Some(v.grants), Some(v.version)),
            None => (None, None),
        };
        InstallationView {
            installation: row.installation,
            grants: row.grants,
            grants_version: row.grants_version,
            requested_grants,
            requested_version,
            disabled_elements: row.disabled_elements,
        }
    }
}

/// A fresh setup code.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SetupCode)]
pub struct SetupCodeView {
    /// The one-time setup code.
    pub setup_code: String,
    /// The app's setup URL with `?code=`.
    pub setup_url: String,
    /// When the code expires, unix seconds.
    pub expires_at: i64,
}

/// A new token: the token string appears here only.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = IssuedToken)]
pub struct IssuedTokenView {
    /// Its public id.
    pub token_id: String,
    /// `<tokenId>.<secret>`, shown once.
    pub token: String,
    /// Expiry, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Seconds from now to expiry (as OAuth's `expires_in`), so a client can
    /// schedule a refresh without trusting its own clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

impl IssuedTokenView {
    /// The view of a token just issued as `token_id`.`token`, at `now`.
    pub(crate) fn new(token_id: String, token: String, expires_at: Option<i64>, now: i64) -> Self {
        IssuedTokenView {
            token_id,
            token,
            expires_at,
            expires_in: expires_at.map(|at| at.saturating_sub(now).max(0)),
        }
    }
}

/// Token metadata: no secret, no hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TokenMeta)]
pub struct TokenView {
    /// Public id.
    pub token_id: String,
    /// Kind.
    #[schema(schema_with = crate::authority::schema::token_kind)]
    pub kind: TokenKind,
    /// Name.
    pub name: String,
    /// Project.
    pub project_id: Option<String>,
    /// Bound environment.
    pub environment_id: Option<String>,
    /// Installation.
    pub installation_id: Option<String>,
    /// Grants.
    #[schema(schema_with = crate::authority::schema::grant_list)]
    pub grants: Vec<Grant>,
    /// Expiry, unix seconds.
    pub expires_at: Option<i64>,
    /// Revoked.
    pub revoked: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<TokenRow> for TokenView {
    fn from(t: TokenRow) -> Self {
        let r = t.record;
        TokenView {
            token_id: r.token_id.to_string(),
            kind: r.kind,
            name: r.name,
            project_id: r.project_id,
            environment_id: r.environment_id,
            installation_id: r.installation_id,
            grants: r.grants.to_vec(),
            expires_at: r.expires_at,
            revoked: r.revoked,
            created_at: t.created_at,
        }
    }
}
