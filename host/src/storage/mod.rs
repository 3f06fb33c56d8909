//! Storage, split by who needs it: [`Records`], the read side a verifier
//! needs (token and environment records, the feed's cursor), and [`Store`],
//! the management side the authority changes and lists through.
//!
//! One implementation holds the data: [`SqlStore`] (`sql/`), its
//! statements and rules written once over a database that supplies
//! connections: [`SqliteStore`] (`sqlite.rs`, the embedded default) or
//! [`PgStore`] (`postgres.rs`, several authority nodes on one database;
//! `postgres/group.rs` commits concurrent exchanges and new tokens in one
//! transaction). One schema for both (`schema.rs`: the files of
//! `host/migrations/`, run by `refinery`). In front of it, [`RecordCache`]
//! keeps the verify path's records in memory (told of changes by the
//! feed); beside it, [`ReplicaStore`] is a replica's records in memory,
//! fed by the authority's feed ([`Records`] only, so a replica cannot be
//! asked to change anything).
//!
//! The trait is synchronous: SQLite is an in-process library, PostgreSQL is
//! reached with `tokio-postgres` clients that each block on a runtime of
//! their own (as the synchronous `postgres` client does, which cannot
//! pipeline), and the HTTP layer calls the store from `spawn_blocking`. Every mutating call takes the
//! [`AuditEntry`] that describes it and writes both in one transaction, so the
//! audit log never misses a change and never records one that did not happen.
//!
//! Secrets never reach storage: tokens, client secrets and setup codes are
//! stored as SHA-256 hashes only.

mod cached;
mod postgres;
mod replica;
mod schema;
mod sql;
mod sqlite;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use verifier_core::{
    Grant, Installation, InstallationStatus, Model, SecretHash, TokenId, TokenRecord,
};

pub use cached::RecordCache;

/// The maps of the check's hot path (the store's caches, the prepared
/// rows): foldhash instead of std's SipHash, which was a visible share of
/// an in-process check (`cargo bench -p tally --bench route`). Made by [`hot_map`], each with a seed of its own from the
/// operating system, so the keys an attacker picks (a miss is cached too,
/// under the presented tokenId) cannot be aimed at one bucket; foldhash
/// claims no more resistance than that, which is what a cache bounded by
/// `MAX_ENTRIES` needs.
pub(crate) type HotMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::SeedableRandomState>;

/// An empty [`HotMap`] with a seed from the operating system (foldhash's
/// own, from the address space's layout and the clock, should the
/// operating system have none to give).
pub(crate) fn hot_map<K, V>() -> HotMap<K, V> {
    use foldhash::{SharedSeed, fast::SeedableRandomState};
    let hasher = match crate::random::seed() {
        Ok(seed) => SeedableRandomState::with_seed(seed, SharedSeed::global_random()),
        Err(_) => SeedableRandomState::random(),
    };
    HotMap::with_hasher(hasher)
}
pub(crate) use cached::MAX_ENTRIES;
pub use postgres::{FEED_CHANNEL, PgDb, PgStore, on_feed_notifications};
pub use replica::ReplicaStore;
pub use sql::SqlStore;
pub use sqlite::{DataDirLock, Durability, SqliteDb, SqliteStore};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A row with that key exists already.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A row the operation needs does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A change's own rule refused what it would store (a change closure's
    /// answer, e.g. [`Store::change_app`]'s): nothing was stored.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Database(format!("stored JSON does not decode: {e}"))
    }
}

/// A project.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Id, chosen by the caller.
    pub id: String,
    /// Name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// An environment of a project, with its public access policy.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentRow {
    /// Id, unique across projects.
    pub id: String,
    /// Its project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// Stage of requests that name none.
    pub default_stage: String,
    /// Grants for requests without credentials.
    pub public_grants: Vec<Grant>,
    /// Unix seconds.
    pub created_at: i64,
    /// The content models it registers.
    pub models: Vec<Model>,
}

impl EnvironmentRow {
    /// What the verifier needs of it.
    pub fn policy(&self) -> verifier_core::Environment {
        verifier_core::Environment {
            id: self.id.clone(),
            default_stage: self.default_stage.clone(),
            public_grants: self.public_grants.clone(),
            models: self.models.clone(),
        }
    }
}

/// A registered app.
#[derive(Debug, Clone)]
pub struct AppRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Public client id.
    pub client_id: String,
    /// SHA-256 of the client secret.
    pub client_secret_hash: SecretHash,
    /// Where the platform opens the app's setup page.
    pub setup_url: String,
    /// The app's main page, opened once it is installed (`None`: the
    /// setup page serves as both).
    pub url: Option<String>,
    /// Origins the app's frames are served from.
    pub origins: Vec<String>,
    /// What its app tokens may do.
    pub grants: Vec<Grant>,
    /// Unix seconds.
    pub created_at: i64,
    /// The client secret a rotation replaced, while its grace period lasts.
    pub previous_secret: Option<PreviousSecret>,
    /// Where its webhooks go (`None`: it gets none).
    pub webhook_url: Option<String>,
    /// The version of its webhook signing secret (one more at each rotation).
    pub webhook_secret_version: i64,
    /// The project it was registered in (`None`: the whole instance).
    pub project_id: Option<String>,
    /// Where it may have people sent back with an authorization code as a
    /// connected app (empty: it is not one).
    pub redirect_uris: Vec<String>,
    /// The pages, sidebar panels and field editors it puts in the platform.
    pub elements: Vec<Element>,
}

/// Where an app's element lives in the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ElementKind {
    /// A page of its own, in the platform's navigation.
    Page,
    /// A panel beside an entry in the editor.
    Sidebar,
    /// The editor of one field, in place of its default input.
    Field,
}

/// The field types a field element may edit; their names are
/// [`verifier_core::FIELD_TYPES`] (a test holds the two together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum FieldType {
    /// One line of text.
    String,
    /// Longer text.
    Text,
    /// A number.
    Number,
    /// True or false.
    Boolean,
    /// Any JSON value.
    Json,
    /// A date (`YYYY-MM-DD`).
    Date,
    /// A date and time (RFC 3339).
    DateTime,
    /// A colour (`#rrggbb`).
    Color,
}

/// One of an app's elements: a frame on one of its origins, placed by the
/// platform where its kind says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Element {
    /// `page`, `sidebar` or `field`.
    #[serde(rename = "type")]
    pub kind: ElementKind,
    /// Its id within the app.
    pub api_id: String,
    /// What the platform calls it.
    pub name: String,
    /// The page the frame loads, on one of the app's origins.
    pub url: String,
    /// The field type a field element edits (field elements only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_type: Option<FieldType>,
    /// The app's own settings for it, passed to the frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

/// A client secret replaced by a rotation, still accepted until `expires_at`.
#[derive(Debug, Clone, Copy)]
pub struct PreviousSecret {
    /// SHA-256 of the replaced secret.
    pub hash: SecretHash,
    /// Unix seconds; accepted while `now < expires_at`.
    pub expires_at: i64,
}

/// What exchanging a setup code reads before it redeems it
/// ([`Store::exchange_setup_code`]).
#[derive(Debug, Clone, Default)]
pub struct ExchangeContext {
    /// The app of the client id presented (`None` if unknown or deleted,
    /// as [`Store::app_by_client_id`] answers).
    pub app: Option<AppRow>,
    /// The installation the code belongs to and its environment (`None`
    /// if the environment is gone), whatever their state; `None` for an
    /// unknown code.
    pub code: Option<(InstallationRow, Option<EnvironmentRow>)>,
}

/// An installation as stored: what the app sees of it, and the grants its
/// environment approved, which its tokens get.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallationRow {
    /// The app's elements turned off in this installation (apiIds).
    pub disabled_elements: Vec<String>,
    /// Status, config and what it joins.
    pub installation: Installation,
    /// The app's grants as approved for this installation.
    pub grants: Vec<Grant>,
    /// The version of the app's grants they are.
    pub grants_version: i64,
    /// The app's newer grants, waiting for this environment's consent
    /// (`None` when there are none, or the newest were declined).
    pub requested: Option<GrantsVersion>,
}

/// One version of an app's grants.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantsVersion {
    /// Its number: 1 at registration, one more at each publication.
    pub version: i64,
    /// The grants.
    pub grants: Vec<Grant>,
}

/// What publishing an app's grants did ([`Store::publish_grants`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The new version.
    pub version: i64,
    /// Installations moved to it at once: for them it was no wider than
    /// what they had approved.
    pub applied: Vec<String>,
    /// Installations asked for their consent: it is wider.
    pub requested: Vec<String>,
}

/// One webhook event in the outbox, and how its delivery stands.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRow {
    /// Its id: also its `webhook-id`, the same on every attempt.
    pub id: String,
    /// The app it is for.
    pub app_id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The body delivered, JSON text.
    pub payload: String,
    /// When the change happened, unix seconds.
    pub created_at: i64,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due, unix milliseconds (pending only).
    pub next_attempt_ms: i64,
    /// When attempts stop, unix milliseconds (set at the first attempt).
    pub give_up_ms: Option<i64>,
    /// The last attempt's answer status, if it got one.
    pub last_status: Option<i64>,
    /// The last failure, if the last attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered, unix milliseconds.
    pub delivered_ms: Option<i64>,
}

/// A delivery due, with where it goes as its app says now.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: DeliveryRow,
    /// The app's webhook URL (`None`: it has none any more).
    pub url: Option<String>,
    /// The version of the app's signing secret.
    pub secret_version: i64,
}

/// How a delivery attempt ended ([`Store::record_attempt`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// A 2xx answer.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// No 2xx: tried again at `retry_at_ms`, or never if `None` (given up).
    Failed {
        /// The answer's status, if there was one.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// The next attempt, unix milliseconds; `None` gives up.
        retry_at_ms: Option<i64>,
    },
}

/// A person, known by their OpenID provider's issuer and subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    /// Id (`usr_…`).
    pub id: String,
    /// The provider that vouches for them.
    pub issuer: String,
    /// Their id at the provider (`sub`).
    pub subject: String,
    /// Email, as the provider last said.
    pub email: Option<String>,
    /// Name, as the provider last said.
    pub name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A user's role in a project (`*`: every project).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleGrant {
    /// The project, or `*`.
    pub project_id: String,
    /// `owner`, `admin`, `developer` or `viewer`.
    pub role: String,
}

/// An invitation: the role a person gets when they sign in with `email`
/// (verified by their provider).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRow {
    /// Id (`inv_…`).
    pub id: String,
    /// Lowercased.
    pub email: String,
    /// The project, or `*` for every project.
    pub project_id: String,
    /// `owner`, `admin`, `developer` or `viewer`.
    pub role: String,
    /// Who invited (an audit actor).
    pub invited_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; not accepted from then on.
    pub expires_at: i64,
    /// The user who accepted it.
    pub accepted_by: Option<String>,
    /// Unix seconds.
    pub accepted_at: Option<i64>,
    /// Unix seconds.
    pub revoked_at: Option<i64>,
}

/// A person's consent to a connected app in one environment: one
/// authorization, and the tokens that come from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRow {
    /// Id (`cn_…`).
    pub id: String,
    /// The app.
    pub app_id: String,
    /// The person.
    pub user_id: String,
    /// Where its tokens are bound.
    pub environment_id: String,
    /// What its tokens may do.
    pub grants: Vec<Grant>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; it and its tokens ended then.
    pub revoked_at: Option<i64>,
    /// Its live access token.
    pub token_id: Option<TokenId>,
}

/// An authorization code, by hash.
#[derive(Debug, Clone)]
pub struct OAuthCodeRow {
    /// SHA-256 of the code.
    pub code_hash: SecretHash,
    /// The connection it starts.
    pub connection_id: String,
    /// The redirect URI it was sent to (the token request must repeat it).
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// Unix seconds; refused from then on.
    pub expires_at: i64,
    /// Unix seconds, once redeemed.
    pub used_at: Option<i64>,
}

/// A refresh token, by hash.
#[derive(Debug, Clone)]
pub struct RefreshTokenRow {
    /// SHA-256 of the token.
    pub token_hash: SecretHash,
    /// Its connection.
    pub connection_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; refused from then on.
    pub expires_at: i64,
    /// Unix seconds, once used.
    pub used_at: Option<i64>,
}

/// What redeeming a connection's authorization code or refresh token
/// writes: its next access and refresh tokens, and the audit entries for
/// issuing them and for a replay.
#[derive(Debug, Clone, Copy)]
pub struct NewTokens<'a> {
    /// The new access token.
    pub token: &'a TokenRow,
    /// The new refresh token.
    pub refresh: &'a RefreshTokenRow,
    /// Audited when the new tokens are stored.
    pub issued: &'a AuditEntry,
    /// Audited when the credential was presented before.
    pub replayed: &'a AuditEntry,
}

/// What presenting an authorization code or a refresh token did.
#[derive(Debug, Clone, PartialEq)]
pub enum Redeemed {
    /// The new tokens are stored; the connection, as it is now.
    Issued(ConnectionRow),
    /// Unknown, expired, or of an ended connection: nothing changed.
    Invalid,
    /// Used before: the connection and its tokens are ended now.
    Replayed(ConnectionRow),
}

/// A one-time setup code, by hash.
#[derive(Debug, Clone)]
pub struct SetupCodeRow {
    /// SHA-256 of the code.
    pub code_hash: SecretHash,
    /// The installation it completes.
    pub installation_id: String,
    /// The app that may redeem it.
    pub app_id: String,
    /// Unix seconds; redeemable while `now < expires_at`.
    pub expires_at: i64,
}

/// A stored token: its verifier record and when it was made.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// What the verifier needs.
    pub record: TokenRecord,
    /// Unix seconds.
    pub created_at: i64,
    /// The person it acts for (a SESSION token opened by someone signed in
    /// to the studio, or what an app exchanged one for), if any.
    pub user_id: Option<String>,
}

/// One audit log entry to write with a change.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// Who: `token:<tokenId>`, `client:<clientId>` or `cli`.
    pub actor: String,
    /// What, e.g. `project.create`.
    pub action: String,
    /// On what: an id.
    pub target: String,
    /// Details (never a secret).
    #[schema(schema_with = crate::authority::schema::object)]
    pub detail: serde_json::Value,
}

/// Which audit events a page keeps: each given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The action starts with this (`app.` keeps every app action).
    pub action: Option<String>,
    /// The actor is this (`token:<id>`, `client:<id>`, `cli`).
    pub actor: Option<String>,
    /// The target is this id.
    pub target: Option<String>,
    /// The actor is this person (`usr_…`), themselves or acting through
    /// an app (`user:<id> via installation:<id>`).
    pub user: Option<String>,
}

/// An audit log entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Position in the log, increasing; page with `after`.
    pub seq: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// What changed for verifiers.
#[derive(Debug, Clone)]
pub enum Changed {
    /// A token was created or changed (revoked, rotated, expiry cut); its
    /// record as it is now.
    Token(TokenRecord),
    /// An environment was created or its public grants changed; as it is now.
    Environment(EnvironmentRow),
}

/// What a change touched, by id: all a read cache needs to forget it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touched {
    /// A token.
    Token(TokenId),
    /// An environment.
    Environment(String),
}

impl Changed {
    /// What it touched.
    pub fn touched(&self) -> Touched {
        match self {
            Changed::Token(record) => Touched::Token(record.token_id),
            Changed::Environment(env) => Touched::Environment(env.id.clone()),
        }
    }
}

/// One entry of the change feed ([`Store::changes_after`]).
#[derive(Debug, Clone)]
pub struct Change {
    /// Position in the feed: increasing, in commit order.
    pub seq: i64,
    /// What changed.
    pub changed: Changed,
}

/// How an exchange of a setup code ended ([`Store::exchange_setup_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchanged {
    /// The exchange was declined: nothing was written.
    Declined,
    /// The code was redeemed, or could not be ([`Redeem`]).
    Ended {
        /// How redeeming the code ended.
        outcome: Redeem,
        /// Whether the installation's earlier live APP tokens were revoked
        /// (the read caches have them to forget).
        replaced: bool,
    },
}

/// How redeeming a setup code ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeem {
    /// Redeemed now; the token was stored.
    Redeemed,
    /// No such code (or bound to another app).
    Unknown,
    /// Redeemed before.
    Used,
    /// Past its expiry.
    Expired,
    /// Its installation is no longer PENDING (completed or disabled): every
    /// code it had is spent.
    NotPending,
}

/// A stored 8-byte token id.
pub(crate) fn stored_token_id(bytes: &[u8]) -> Result<TokenId, StoreError> {
    let id: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Database("stored token id is not 8 bytes".into()))?;
    Ok(TokenId::from_bytes(id))
}

/// The audit entry of an APP token that a redeem revokes because `token`
/// replaces it (see [`Store::redeem_setup_code`]): by the redeem's actor,
/// at its time.
pub(crate) fn replaced_audit(redeem: &AuditEntry, replaced: &[u8], token: &TokenRow) -> AuditEntry {
    AuditEntry {
        action: "token.revoke".into(),
        target: hex::encode(replaced),
        detail: serde_json::json!({
            "reason": "replaced by a new exchange",
            "replacedBy": token.record.token_id.to_string(),
        }),
        ..redeem.clone()
    }
}

/// The read side of storage: what a verifier needs (token and environment
/// records, where the feed stands). A replica implements this alone.
pub trait Records: Send + Sync + 'static {
    /// Whether the store holds no token yet (first start).
    fn is_empty(&self) -> Result<bool, StoreError>;

    /// A token by id, shared: the verify path reads it on every request,
    /// and a cache hands out the same row without copying it.
    fn token(&self, id: &TokenId) -> Result<Option<Arc<TokenRow>>, StoreError>;
    /// A token from memory only: `None` when answering would need I/O (the
    /// default), else what [`Records::token`] would return.
    fn peek_token(&self, id: &TokenId) -> Option<Option<Arc<TokenRow>>> {
        let _ = id;
        None
    }
    /// An environment by id, shared like [`Records::token`].
    fn environment(&self, id: &str) -> Result<Option<Arc<EnvironmentRow>>, StoreError>;
    /// An environment from memory only: `None` when answering would need
    /// I/O (the default), else what [`Records::environment`] would return. The
    /// verify path uses it to decide on the async worker without blocking.
    fn peek_environment(&self, id: &str) -> Option<Option<Arc<EnvironmentRow>>> {
        let _ = id;
        None
    }

    /// The `seq` of the last change (0 when there is none).
    fn last_change(&self) -> Result<i64, StoreError>;
}

/// The management side: everything the authority changes or lists. Must
/// make [`Store::redeem_setup_code`] atomic: of concurrent calls for one
/// code, exactly one returns [`Redeem::Redeemed`].
pub trait Store: Records {
    /// Creates a project.
    fn create_project(&self, project: &Project, audit: &AuditEntry) -> Result<(), StoreError>;
    /// A project by id.
    fn project(&self, id: &str) -> Result<Option<Project>, StoreError>;

    /// Creates an environment (its project must exist).
    fn create_environment(
        &self,
        env: &EnvironmentRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Replaces an environment's public grants.
    fn set_public_grants(
        &self,
        id: &str,
        grants: &[Grant],
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Changes an environment's models: `change` gets the registry as stored
    /// and returns the one to store, or an error that stores nothing. Read,
    /// changed and written in one transaction with the environment's row
    /// locked, so two changes of one registry never lose each other; a
    /// change is an environment change in the feed. Returns what was stored.
    fn change_models(
        &self,
        id: &str,
        change: &mut dyn FnMut(Vec<Model>) -> Result<Vec<Model>, StoreError>,
        audit: &AuditEntry,
    ) -> Result<Vec<Model>, StoreError>;

    /// Registers an app.
    fn create_app(&self, app: &AppRow, audit: &AuditEntry) -> Result<(), StoreError>;
    /// An app by id (`None` once deleted).
    fn app(&self, id: &str) -> Result<Option<AppRow>, StoreError>;
    /// An app by client id (`None` once deleted).
    fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRow>, StoreError>;
    /// Changes an app: `change` gets the app as stored and returns the one
    /// to store (its id, client id and creation time are kept whatever it
    /// says) with the audit entry that describes the change, or an error
    /// that stores nothing. Read, changed and written in one transaction
    /// with the app's row locked, so concurrent changes never lose each
    /// other. Returns what was stored.
    fn change_app(
        &self,
        id: &str,
        change: &mut dyn FnMut(AppRow) -> Result<(AppRow, AuditEntry), StoreError>,
    ) -> Result<AppRow, StoreError>;
    /// Deletes an app at `at` unless an installation of it is not
    /// UNINSTALLED: then nothing changes and those installations' ids are
    /// returned (empty: deleted). The app's row is locked first, so an
    /// installation made concurrently either comes before (and blocks the
    /// delete) or finds the app gone.
    fn delete_app(&self, id: &str, at: i64, audit: &AuditEntry) -> Result<Vec<String>, StoreError>;

    /// Creates an installation with its first setup code, approving the
    /// app's grants as they are in the same transaction; `NotFound("app")`
    /// if its app is deleted.
    fn create_installation(
        &self,
        installation: &Installation,
        code: &SetupCodeRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// An installation by id.
    fn installation(&self, id: &str) -> Result<Option<InstallationRow>, StoreError>;
    /// Stores an installation's new status and config, if its status is
    /// still `from` (what the caller read): `Conflict` if a concurrent
    /// change moved it, so a change decided on a stale read (completing an
    /// installation being disabled or uninstalled) never lands. With
    /// `revoke_tokens`, revokes every token of the installation in the same
    /// transaction; with `new_code`, stores a fresh setup code.
    fn update_installation(
        &self,
        installation: &Installation,
        from: InstallationStatus,
        revoke_tokens: bool,
        new_code: Option<&SetupCodeRow>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Exchanges a setup code, in one transaction. Reads the app of
    /// `client_id` and the code's context, the code's and its
    /// installation's rows locked ([`ExchangeContext`]; in one round trip
    /// where the database can), and hands them to `decide`, which answers
    /// the token to store and its audit entry, or `None` to write nothing
    /// ([`Exchanged::Declined`]; an unknown client is declined whatever
    /// `decide` answers). The code is then redeemed for that app as
    /// [`Store::redeem_setup_code`] redeems it. Concurrent exchanges may
    /// share a transaction (PostgreSQL), each deciding on its caller's
    /// thread while the others wait: `decide` must not call the store, and
    /// may be called again should the exchange have to run alone.
    fn exchange_setup_code(
        &self,
        client_id: &str,
        code_hash: &SecretHash,
        now: i64,
        decide: &mut dyn FnMut(&ExchangeContext) -> Option<(TokenRow, AuditEntry)>,
    ) -> Result<Exchanged, StoreError>;
    /// Redeems a setup code for `app_id` at `now` and, if it is redeemable,
    /// stores `token` in the same transaction. A code is redeemable only
    /// while its installation is PENDING ([`Redeem::NotPending`] else).
    /// The token gets the installation's approved grants, as
    /// [`Store::insert_token`] gives them.
    /// One live APP token an installation: the same transaction revokes
    /// the installation's earlier live APP tokens, each with a
    /// `token.revoke` audit entry (by the redeem's actor), and puts them in
    /// the change feed.
    fn redeem_setup_code(
        &self,
        code_hash: &SecretHash,
        app_id: &str,
        now: i64,
        token: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<Redeem, StoreError>;

    /// Stores a new token. A token of an installation gets the grants the
    /// installation approved, read in the same transaction (whatever
    /// `token` says), so no token outlives an approval or a narrowing with
    /// the grants from before it.
    fn insert_token(&self, token: &TokenRow, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Every token, newest first.
    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError>;
    /// The token records whose id is greater than `after` (every one with
    /// `None`), in id order, at most `limit`: a replica's snapshot, read
    /// page by page on the primary key. Records on a page that carry equal
    /// grants share one list, read once.
    fn token_records_after(
        &self,
        after: Option<&TokenId>,
        limit: u32,
    ) -> Result<Vec<TokenRecord>, StoreError>;
    /// Revokes a token; `NotFound` if there is none.
    fn revoke_token(&self, id: &TokenId, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Stores `new` and ends `old`: revoked now when `old_expires_at` is
    /// `None`, else valid until then (the rotation grace period).
    fn rotate_token(
        &self,
        old: &TokenId,
        old_expires_at: Option<i64>,
        new: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Audit events with `seq > after`, oldest first, at most `limit`.
    fn audit_after(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        self.audit_matching(after, limit, &AuditFilter::default())
    }
    /// [`Store::audit_after`], only the events `filter` keeps.
    fn audit_matching(
        &self,
        after: i64,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// Every project, oldest first.
    fn projects(&self) -> Result<Vec<Project>, StoreError>;

    /// Every environment, oldest first.
    fn environments(&self) -> Result<Vec<EnvironmentRow>, StoreError>;

    /// Every app, oldest first.
    fn apps(&self) -> Result<Vec<AppRow>, StoreError>;

    /// Every installation, oldest first.
    fn installations(&self) -> Result<Vec<InstallationRow>, StoreError>;

    /// Publishes `grants` as an app's next version. In one transaction,
    /// with the app's and its installations' rows locked: every
    /// installation not UNINSTALLED for which they are no wider than what
    /// it approved ([`verifier_core::grants_within`]) moves to them at
    /// once, with its live tokens (each in the feed, each move audited as
    /// `installation.grants_update` by `audit`'s actor); the others keep
    /// theirs and see the version requested.
    fn publish_grants(
        &self,
        app_id: &str,
        grants: &[Grant],
        audit: &AuditEntry,
    ) -> Result<Published, StoreError>;
    /// Moves an installation to its app's grants `version`, with its live
    /// tokens (APP and SESSION: each in the feed), in one transaction.
    /// `Conflict` unless `version` is the app's newest and newer than the
    /// installation's.
    fn approve_grants(&self, id: &str, version: i64, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Records that an installation declined its app's grants `version`
    /// (its grants and tokens stay as they are; a later version asks
    /// again). `Conflict` like [`Store::approve_grants`].
    fn decline_grants(&self, id: &str, version: i64, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Webhook deliveries due at `now_ms` and not claimed by a node,
    /// oldest due first, at most `limit`.
    fn due_deliveries(&self, now_ms: i64, limit: u32) -> Result<Vec<DueDelivery>, StoreError>;
    /// Claims a due delivery until `until_ms`: `true` for exactly one of
    /// any number of concurrent claims (on any node) while the claim lasts.
    fn claim_delivery(&self, id: &str, now_ms: i64, until_ms: i64) -> Result<bool, StoreError>;
    /// Records an attempt at `now_ms` and releases the claim. The first
    /// attempt sets when attempts stop: `give_up_ms`.
    fn record_attempt(
        &self,
        id: &str,
        attempt: &Attempt,
        now_ms: i64,
        give_up_ms: i64,
    ) -> Result<(), StoreError>;
    /// An app's deliveries, newest first, at most `limit`.
    fn deliveries(&self, app_id: &str, limit: u32) -> Result<Vec<DeliveryRow>, StoreError>;
    /// Makes an app's delivery due now again, with a new give-up time from
    /// its next attempt; `NotFound` if it is not the app's.
    fn retry_delivery(
        &self,
        app_id: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<DeliveryRow, StoreError>;

    /// The user a provider knows as `subject`, stored (or their email and
    /// name brought up to date) at sign-in. `new` is the row to store when
    /// there is none yet.
    fn sign_in_user(&self, new: &UserRow, audit: &AuditEntry) -> Result<UserRow, StoreError>;
    /// A user by id.
    fn user(&self, id: &str) -> Result<Option<UserRow>, StoreError>;
    /// A user's roles.
    fn user_roles(&self, id: &str) -> Result<Vec<RoleGrant>, StoreError>;
    /// Whether any user owns every project.
    fn has_owner(&self) -> Result<bool, StoreError>;
    /// Every user, oldest first.
    fn users(&self) -> Result<Vec<UserRow>, StoreError>;
    /// Sets (or, with `None`, takes away) a user's role in `project` (`*`:
    /// every project). `Conflict` when it would leave no owner of every
    /// project; `NotFound` for no such user.
    fn set_role(
        &self,
        user: &str,
        project: &str,
        role: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Stores a new invitation.
    fn create_invitation(
        &self,
        invitation: &InvitationRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Changes the elements an installation has turned off: `change`
    /// gets them as stored (the row locked) and returns the new list and
    /// the audit entry, written in the same transaction; `NotFound` for no
    /// such installation.
    fn change_disabled_elements(
        &self,
        id: &str,
        change: &mut dyn FnMut(Vec<String>) -> Result<(Vec<String>, AuditEntry), StoreError>,
    ) -> Result<(), StoreError>;
    /// Stores a connection and the authorization code that starts it.
    fn create_connection(
        &self,
        connection: &ConnectionRow,
        code: &OAuthCodeRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// A connection by id.
    fn connection(&self, id: &str) -> Result<Option<ConnectionRow>, StoreError>;
    /// Every connection, newest first.
    fn connections(&self) -> Result<Vec<ConnectionRow>, StoreError>;
    /// An authorization code by hash.
    fn oauth_code(&self, hash: &SecretHash) -> Result<Option<OAuthCodeRow>, StoreError>;
    /// A refresh token by hash.
    fn refresh_token(&self, hash: &SecretHash) -> Result<Option<RefreshTokenRow>, StoreError>;
    /// Redeems an authorization code at `now`, in one transaction: an
    /// unused, unexpired code of a live connection is spent and the new
    /// `token` and `refresh` stored as the connection's (`issued`
    /// audited); a code used before ends its connection and every token of
    /// it (`replayed` audited); anything else changes nothing.
    fn redeem_oauth_code(
        &self,
        hash: &SecretHash,
        now: i64,
        new: &NewTokens<'_>,
    ) -> Result<Redeemed, StoreError>;
    /// Uses a refresh token at `now`, as [`Store::redeem_oauth_code`]
    /// does a code: the connection's access token is replaced by the new
    /// `token` and the refresh token by `refresh`; a second use ends the
    /// connection (reuse detection).
    fn use_refresh_token(
        &self,
        hash: &SecretHash,
        now: i64,
        new: &NewTokens<'_>,
    ) -> Result<Redeemed, StoreError>;
    /// Ends a live connection and its access token; `NotFound` otherwise.
    fn revoke_connection(&self, id: &str, now: i64, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Every invitation, newest first.
    fn invitations(&self) -> Result<Vec<InvitationRow>, StoreError>;
    /// An invitation by id.
    fn invitation(&self, id: &str) -> Result<Option<InvitationRow>, StoreError>;
    /// Ends an outstanding invitation; `NotFound` when there is none (or
    /// it was accepted, revoked, or has expired by `now`).
    fn revoke_invitation(&self, id: &str, now: i64, audit: &AuditEntry) -> Result<(), StoreError>;
    /// The invitations of `email` outstanding at `now`.
    fn outstanding_invitations(
        &self,
        email: &str,
        now: i64,
    ) -> Result<Vec<InvitationRow>, StoreError>;
    /// Accepts an invitation for `user`: gives them `role` in its project
    /// in the same transaction, if it is still outstanding at `now`
    /// (`false`, nothing changed, otherwise). Atomic: accepted once.
    fn accept_invitation(
        &self,
        id: &str,
        user: &str,
        role: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Replaces the outstanding owner claim code with `code_hash` (the
    /// code printed at a start without an owner).
    fn set_claim_code(&self, code_hash: &SecretHash, now: i64) -> Result<(), StoreError>;
    /// Makes `user` the owner of every project if `code_hash` is the
    /// outstanding claim code and no one owns them yet; `false` (nothing
    /// changed) otherwise. Atomic: of concurrent claims one wins.
    fn claim_ownership(
        &self,
        code_hash: &SecretHash,
        user: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;

    /// The change feed: changes with `seq > after`, in commit order, at most
    /// `limit`. Every token ever stored appears (its creation is a change),
    /// so reading from 0 builds a full replica; every later change to a token
    /// or an environment appears again with the value as it is now.
    /// Implementations must never let a change with a smaller `seq` become
    /// visible after one with a larger `seq` (a reader's cursor would skip it).
    fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>, StoreError>;

    /// What a read cache must forget since `after`, by id: the changes
    /// [`Store::changes_after`] would give (with their `seq`), without
    /// placing any, and the committed changes still waiting for their place
    /// in the feed (on a store where writers do not place their own; see
    /// `postgres.rs`), in no order. A cache needs no order, and a writer's
    /// own change is in one list or the other as soon as it committed.
    /// Ids only: this runs after every change a node makes, and reading the
    /// rows themselves would cost a join and a decode each.
    #[allow(clippy::type_complexity)]
    fn changes_to_forget(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<(i64, Touched)>, Vec<Touched>), StoreError> {
        let placed = self.changes_after(after, limit)?;
        Ok((
            placed
                .iter()
                .map(|c| (c.seq, c.changed.touched()))
                .collect(),
            Vec::new(),
        ))
    }

    /// Places the committed changes that wait for their place in the feed
    /// ([`Store::changes_after`] does it first too); nothing to do where
    /// writers place their own.
    fn place_changes(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::hot_map;

    #[test]
    fn each_hot_map_has_a_seed_of_its_own() {
        // Same key, two maps: with a constant seed (or foldhash's fixed
        // state) the hashes would agree; with 64 random bits they agree
        // once in 2^64.
        let (a, b) = (hot_map::<u64, ()>(), hot_map::<u64, ()>());
        assert_ne!(a.hasher().hash_one(7u64), b.hasher().hash_one(7u64));
    }

    #[test]
    fn field_types_are_spelled_as_verifier_core_lists_them() {
        use super::FieldType as F;
        let all = [
            F::String,
            F::Text,
            F::Number,
            F::Boolean,
            F::Json,
            F::Date,
            F::DateTime,
            F::Color,
        ];
        let spelled: Vec<serde_json::Value> = all
            .iter()
            .map(|t| serde_json::to_value(t).unwrap())
            .collect();
        let listed: Vec<serde_json::Value> = verifier_core::FIELD_TYPES
            .iter()
            .map(|n| (*n).into())
            .collect();
        assert_eq!(spelled, listed);
    }
}
