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
//!
//! One file a resource, each an `impl Authority` block with its request
//! types: `projects`, `apps`, `installations`, `exchange` (setup codes and
//! session tokens), `tokens`, `records` (what verifiers read), `audit`.
//! Beside them: `caller` (who is calling), `error` ([`AuthorityError`] and
//! its reasons), `validation` (what input is accepted) and `views` (the
//! JSON answers). A new endpoint's operation goes in its resource's file.

mod apps;
mod audit;
mod caller;
mod error;
mod exchange;
mod installations;
mod projects;
mod records;
mod tokens;
mod validation;
mod views;

use std::sync::Arc;

use crate::clock::Clock;
use crate::storage::{Records, Store};

pub use apps::NewApp;
pub use caller::{Actor, Caller};
pub use error::AuthorityError;
pub use installations::NewInstallation;
pub use projects::{NewEnvironment, NewProject};
pub use tokens::NewToken;
pub use validation::{canonical_origin, valid_origin};
pub use views::{
    AppCreated, AppView, EnvironmentView, Installed, IssuedTokenView, ProjectListing, ProjectView,
    SetupCodeView, TokenView,
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

/// The authority.
pub struct Authority {
    /// What verifiers read; on an authority, `store` itself.
    records: Arc<dyn Records>,
    /// The management side; `None` on a read-only replica.
    store: Option<Arc<dyn Store>>,
    clock: Arc<dyn Clock>,
    config: AuthorityConfig,
}

impl Authority {
    /// An authority over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: AuthorityConfig) -> Self {
        Authority {
            records: Arc::clone(&store) as Arc<dyn Records>,
            store: Some(store),
            clock,
            config,
        }
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
            clock,
            config,
        }
    }

    /// The read side, for the verify path.
    pub fn records(&self) -> &Arc<dyn Records> {
        &self.records
    }

    /// The management side: the one place a replica refuses a change
    /// ([`AuthorityError::ReadOnly`]).
    pub fn store(&self) -> Result<&dyn Store, AuthorityError> {
        self.store.as_deref().ok_or(AuthorityError::ReadOnly)
    }

    /// Now, from the authority's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The public base URL (`--public-url`, or `http://<listen address>`).
    pub fn public_url(&self) -> &str {
        &self.config.public_url
    }
}
