//! What a store does: [`Records`], the read side, and [`Store`], the
//! management side.

use std::sync::Arc;

use verifier_core::{
    Grant, Installation, InstallationStatus, Model, SecretHash, TokenId, TokenRecord,
};

use super::StoreError;
use super::rows::{
    AppRow, Attempt, AuditEntry, AuditEvent, AuditFilter, Change, ConnectionRow, DeliveryRow,
    DueDelivery, EnvironmentRow, ExchangeContext, Exchanged, InstallationRow, InvitationRow,
    NewTokens, OAuthCodeRow, Project, Published, Redeem, Redeemed, RefreshTokenRow, RoleGrant,
    SetupCodeRow, SignInRow, StudioSessionRow, TokenRow, Touched, UserRow,
};

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

    /// Opens a studio session, and closes those expired by `now`. Not
    /// audited: it is a sign-in, not a change (a person's first sign-in is
    /// audited by [`Store::sign_in_user`]).
    fn open_studio_session(&self, session: &StudioSessionRow, now: i64) -> Result<(), StoreError>;
    /// The studio session whose cookie hashes to `hash`, if open at `now`.
    fn studio_session(
        &self,
        hash: &SecretHash,
        now: i64,
    ) -> Result<Option<StudioSessionRow>, StoreError>;
    /// Closes the studio session whose cookie hashes to `hash` (nothing
    /// when there is none).
    fn close_studio_session(&self, hash: &SecretHash) -> Result<(), StoreError>;
    /// Keeps a started studio sign-in, and forgets those expired by `now`
    /// and all but the newest `keep` (starting one needs no credentials,
    /// so what a flood of them costs is bounded).
    fn start_sign_in(&self, sign_in: &SignInRow, now: i64, keep: u32) -> Result<(), StoreError>;
    /// Takes out the started sign-in whose state hashes to `state_hash`:
    /// of concurrent calls, one gets it, and no later one does, whatever
    /// becomes of it. It may have expired: the caller checks.
    fn take_sign_in(&self, state_hash: &SecretHash) -> Result<Option<SignInRow>, StoreError>;
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
