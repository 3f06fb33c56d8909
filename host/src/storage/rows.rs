//! What the store holds and hands out: its rows, the feed's changes, and
//! how an exchange or a redeem ended.

use serde::{Deserialize, Serialize};
use verifier_core::{Grant, Installation, Model, SecretHash, TokenId, TokenRecord};

#[cfg(doc)]
use super::Store;
use super::StoreError;

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

/// A studio session, known by the SHA-256 of its cookie value.
///
/// It was opened by a person ([`StudioSessionRow::user_id`]) or with an
/// admin token, kept sealed ([`StudioSessionRow::sealed_token`]: only the
/// cookie value gives the key, so the token is never stored in the clear).
#[derive(Clone)]
pub struct StudioSessionRow {
    /// SHA-256 of the cookie value.
    pub hash: SecretHash,
    /// The person it was opened for.
    pub user_id: Option<String>,
    /// The admin token it was opened with, sealed.
    pub sealed_token: Option<Vec<u8>>,
    /// Unix seconds; closed from then on.
    pub expires_at: i64,
}

impl std::fmt::Debug for StudioSessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StudioSessionRow")
            .field("user_id", &self.user_id)
            .field(
                "sealed_token",
                &self.sealed_token.as_ref().map(|_| "<sealed>"),
            )
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A studio sign-in under way at the OpenID provider: known by the SHA-256
/// of its `state`, bound to the browser that started it by the SHA-256 of
/// that browser's cookie.
#[derive(Debug, Clone)]
pub struct SignInRow {
    /// SHA-256 of the flow's `state`.
    pub state_hash: SecretHash,
    /// SHA-256 of the binding cookie's value.
    pub binding_hash: SecretHash,
    /// The studio path to go back to once signed in (`None`: the studio).
    pub return_to: Option<String>,
    /// Unix seconds; unknown from then on.
    pub expires_at: i64,
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

#[cfg(test)]
mod tests {
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
