//! The authority: every operation of the management API and the setup-code
//! exchange, independent of HTTP. Handlers in `http` parse, call one method
//! here, and map [`AuthorityError`] to a status once.
//!
//! Choices the design leaves open, made here:
//! - management calls need a token whose grants cover `{api: management,
//!   action: admin}`, or a person whose role in the project the call is
//!   about meets it (`roles`); reading or updating an installation is also
//!   open to that installation's own APP and SESSION tokens (what
//!   `updateInstallation` needs);
//! - a rotated token keeps its principal, so row conditions on `$principal`
//!   keep matching after rotation;
//! - a setup code presented by another app than its own is "unknown" (404),
//!   never "used": it tells the wrong app nothing;
//! - a PENDING installation whose code expired gets a new one from
//!   `POST /v1/installations/{i}/setup-code`;
//! - a change decided on a read (an installation's status, an app's
//!   fields) is written only over what was read: concurrent changes
//!   conflict or are serialized, never lost.
//!
//! One file a resource, each an `impl Authority` block with its request
//! types: `projects`, `models` (each environment's registry), `apps`
//! (registration, edits, grants versions, client and webhook secrets,
//! deliveries, deletion), `installations` (status, uninstall, consent to
//! grant updates), `exchange` (setup codes and session tokens), `tokens`,
//! `records` (what verifiers read), `audit`, `users` (people signed in to
//! the studio, the first owner's claim, roles given and invitations),
//! `oauth` (the token endpoint's client authentication, token exchange for
//! a person), `connections` (connected apps: consent, codes, refresh,
//! revocation), `elements` (an app's pages, sidebars and field editors, and
//! installations turning them on and off), `sessions` (studio sessions,
//! shared by every node through the store).
//! Beside them: `caller` (who is calling), `roles` (what a person's role
//! allows, and in which project), `error` ([`AuthorityError`] and
//! its reasons), `validation` (what input is accepted) and `views` (the
//! JSON answers). A new endpoint's operation goes in its resource's file.

mod apps;
mod audit;
mod caller;
mod connections;
mod elements;
mod error;
mod exchange;
mod installations;
mod models;
mod oauth;
mod projects;
mod records;
mod roles;
pub mod schema;
mod sessions;
mod tokens;
mod users;
mod validation;
mod views;

use std::sync::Arc;

use crate::clock::Clock;
use crate::storage::{RecordCache, Records, Store, StoreError};

pub use apps::{AppUpdate, MAX_GRACE_SECONDS, NewApp, SecretRotation};
pub use caller::{Actor, Caller, Presented, SignedIn};
pub use connections::{
    ACCESS_TTL, AuthorizeError, AuthorizeQuery, CODE_TTL, ConnectionView, ConsentView, REFRESH_TTL,
};
pub use elements::{MAX_CONFIG_BYTES, MAX_ELEMENT_ID, MAX_ELEMENTS};
pub use error::AuthorityError;
pub use installations::{GrantsDecision, NewInstallation};
pub use models::ModelBody;
pub use oauth::{OAuthError, TokenAnswer, TokenRequest};
pub use projects::{NewEnvironment, NewProject};
pub use records::{NoSuchGrantList, SNAPSHOT_PAGE_MAX, SnapshotPage, SnapshotRecord};
pub use roles::{Need, On, Role, grants_for, role_in};
pub use sessions::{Opened, SESSION_SECONDS};
pub use tokens::NewToken;
pub use users::{INVITATION_TTL, NewInvitation, RoleBody, UserView};
pub use validation::{canonical_origin, valid_origin};
pub use views::{
    AppCreated, AppView, ClientSecretView, EnvironmentView, InstallationView, Installed,
    IssuedTokenView, ProjectListing, ProjectView, PublishedView, SetupCodeView, TokenView,
    WebhookSecretView,
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
    /// The deployment's webhook key, from which apps' signing secrets are
    /// derived; `None`: webhooks are off (no URL may be set).
    pub webhook_key: Option<Arc<crate::webhooks::WebhookKey>>,
}

impl AuthorityConfig {
    /// Defaults for a server reachable at `public_url`.
    pub fn new(public_url: impl Into<String>) -> Self {
        AuthorityConfig {
            public_url: public_url.into(),
            setup_code_ttl: 600,
            session_ttl: 3600,
            rotation_grace: 0,
            webhook_key: None,
        }
    }
}

/// The authority.
pub struct Authority {
    /// What verifiers read: on an authority, `cache` in front of `store`.
    records: Arc<dyn Records>,
    /// The management side; `None` on a read-only replica.
    store: Option<Arc<dyn Store>>,
    /// The read cache of `store`'s records, told of every change.
    cache: Option<Arc<RecordCache>>,
    /// Nudged when this node's changes wait for their place in the feed.
    placer: std::sync::OnceLock<std::sync::mpsc::SyncSender<()>>,
    clock: Arc<dyn Clock>,
    config: AuthorityConfig,
}

impl Authority {
    /// An authority over `store`, with a read cache of its records in
    /// front of the verify path.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: AuthorityConfig,
    ) -> Result<Self, StoreError> {
        let cache = Arc::new(RecordCache::new(Arc::clone(&store))?);
        Ok(Authority {
            records: Arc::clone(&cache) as Arc<dyn Records>,
            store: Some(store),
            cache: Some(cache),
            placer: std::sync::OnceLock::new(),
            clock,
            config,
        })
    }

    /// A read-only node over `records` (`--replica-of`): it authenticates
    /// and verifies; every change and listing is refused with
    /// [`AuthorityError::ReadOnly`], by [`Authority::store`].
    pub fn replica(
        records: Arc<dyn Records>,
        clock: Arc<dyn Clock>,
        config: AuthorityConfig,
    ) -> Self {
        Authority {
            records,
            store: None,
            cache: None,
            placer: std::sync::OnceLock::new(),
            clock,
            config,
        }
    }

    /// Whether this is a read-only node fed by another's record feed
    /// ([`Authority::replica`]): what it does not know yet may exist.
    pub fn is_replica(&self) -> bool {
        self.store.is_none()
    }

    /// The read side, for the verify path.
    pub fn records(&self) -> &Arc<dyn Records> {
        &self.records
    }

    /// The management side, to read: the one place a replica refuses
    /// ([`AuthorityError::ReadOnly`]). Changes go through
    /// [`Authority::change`].
    pub fn store(&self) -> Result<&dyn Store, AuthorityError> {
        self.store.as_deref().ok_or(AuthorityError::ReadOnly)
    }

    /// Makes a change: runs `f` on the store, then brings the read cache up
    /// to date ([`RecordCache::catch_up`]) before returning, so the very next
    /// verification on this node sees it. Every operation that changes the
    /// store goes through here, but two that need no catch-up when they
    /// revoked nothing and say so to `Authority::changed`: adding a token
    /// (`Authority::add_token`) and exchanging a setup code.
    pub fn change<T, E: Into<AuthorityError>>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, E>,
    ) -> Result<T, AuthorityError> {
        let out = f(self.store()?);
        self.catch_up()?;
        out.map_err(Into::into)
    }

    /// Makes a change that only adds a token: runs `f` on the store, then
    /// [`Authority::changed`] with nothing to forget: a new token's id
    /// comes from its random secret, so no lookup can have cached it as
    /// unknown, and a lookup finds it in the store.
    pub(crate) fn add_token<T, E: Into<AuthorityError>>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, E>,
    ) -> Result<T, AuthorityError> {
        let out = f(self.store()?).map_err(Into::into)?;
        self.changed(false)?;
        Ok(out)
    }

    /// After a change made outside [`Authority::change`]: where the change
    /// may have left the read cache something to `forget`, or where the
    /// writer places its own changes (SQLite, whose feed readers move only
    /// by a catch-up), catches up; otherwise (PostgreSQL) nudges the
    /// placer and returns without reading the feed back. The placing
    /// notifies every node, whose catch-up then moves its feed readers.
    pub(crate) fn changed(&self, forget: bool) -> Result<(), StoreError> {
        match self.placer.get() {
            Some(placer) if !forget => {
                // Full: a nudge is pending already, which is as good.
                let _ = placer.try_send(());
                Ok(())
            }
            _ => self.catch_up(),
        }
    }

    /// Forgets from the read cache what changed in the store since it last
    /// looked (on PostgreSQL, changes by other nodes too; `tally serve`
    /// calls this a few times a second there).
    pub fn catch_up(&self) -> Result<(), StoreError> {
        let waiting = match &self.cache {
            Some(cache) => cache.catch_up()?,
            None => false,
        };
        if waiting && let Some(placer) = self.placer.get() {
            // Full: a nudge is pending already, which is as good.
            let _ = placer.try_send(());
        }
        Ok(())
    }

    /// Where to nudge whoever places this node's changes in the feed (on
    /// PostgreSQL, a thread of `open_postgres`): set once.
    pub(crate) fn set_placer(&self, placer: std::sync::mpsc::SyncSender<()>) {
        let _ = self.placer.set(placer);
    }

    /// Where this node stands in the change feed, changing as it catches
    /// up ([`RecordCache::watch`]); `None` on a replica, which serves no
    /// feed.
    pub fn feed_watch(&self) -> Option<tokio::sync::watch::Receiver<i64>> {
        self.cache.as_ref().map(|cache| cache.watch())
    }

    /// Now, from the authority's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The deployment's webhook key, if webhooks are on.
    pub fn webhook_key(&self) -> Option<Arc<crate::webhooks::WebhookKey>> {
        self.config.webhook_key.clone()
    }

    /// The public base URL (`--public-url`, or `http://<listen address>`).
    pub fn public_url(&self) -> &str {
        &self.config.public_url
    }
}
