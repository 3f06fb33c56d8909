//! # `tally`, the authority
//!
//! The platform side of Tally: registers apps (client id and secret),
//! installs them into environments, hands out one-time setup codes, exchanges
//! them on `POST /v1/app-exchange-token` (Hygraph's wire shape), issues,
//! rotates and revokes tokens, and keeps an audit log. Every token operation
//! goes through `verifier-core`.
//!
//! Layout, one job a folder; where a new thing goes:
//! - `storage/`: two traits by who needs them, [`storage::Records`] (the
//!   read side: token and environment records, the feed's cursor; all a
//!   replica has) and [`storage::Store`] (the management side); one
//!   implementation of both, [`storage::SqlStore`], whose statements and
//!   rules are written once for SQLite (embedded: WAL, one server a data
//!   dir by [`storage::DataDirLock`]) and PostgreSQL, each of which only
//!   supplies connections; one schema, versioned files in `host/migrations/`
//!   applied by `refinery` on both; the read cache in front and the
//!   replica's in-memory store. Secrets are stored as hashes only.
//!   *A new column*: a migration file (once, for both databases), the
//!   row type in `storage/rows.rs`, its name in `storage/sql/statements.rs`
//!   and its read and write in `storage/sql/rows.rs`, a case in the
//!   storage contract test.
//! - `authority/`: the operations, independent of HTTP, one file a resource
//!   (`projects`, `models`, `apps` — with their grants versions, secrets
//!   and deliveries —, `installations` — with their uninstall and grant
//!   consent —, `exchange`, `tokens`, `records`, `audit`), with their
//!   audit entries; `validation` says what
//!   input is accepted and `schema` how the OpenAPI document states it,
//!   `error` what fails ([`authority::Authority`]).
//!   *A new endpoint*: its operation in the resource's file, its handler
//!   (with its `#[utoipa::path]`) and route in `http/mod.rs`, the handler
//!   named in `http/openapi.rs` (which generates the OpenAPI document;
//!   `TALLY_BLESS=1 cargo test -p tally --lib openapi` rewrites
//!   `host/openapi.json`), its prose in `API.md`. Its body types derive
//!   `utoipa::ToSchema`; what a derive cannot see goes in
//!   `authority/schema.rs`.
//! - [`reason`]: every stable reason an answer carries. *A new reason*: a
//!   variant there, with its wire name; `error_response` in `http/` is the
//!   one place an error becomes JSON.
//! - `gateway/`: `/v1/verify`, the content proxy, the GraphQL content
//!   endpoint `/v2/{project}/{environment}` and `/v1/management`, all
//!   deciding with the plugin: `descriptor` (what is asked), `check`
//!   (deciding; the cache layers are drawn in its module doc), `proxy`,
//!   `content` (GraphQL content, enforced by the `content-gate` crate),
//!   `target` (how a target is read), `forward` (what reaches the
//!   upstream), `management` and `graphql` (management GraphQL, each root
//!   field an action), `throttle`.
//! - `runtime/`: the verifier module (or an operator's plugin) under
//!   wasmtime: pooled instances, deadlines, memory limits, hot reload.
//! - `http/`: the axum router and handlers; the server loop with its
//!   timeouts and connection cap ([`http::ServerLimits`]); the client's
//!   address behind trusted proxies ([`http::TrustedProxies`]); errors to
//!   statuses and JSON (`http/error.rs`); the OpenAPI document
//!   (`http/openapi.rs`).
//! - `studio/`: the studio page at `/studio`, its sign-in (admin token or
//!   OpenID Connect) and the connected apps' consent page; its sessions
//!   are the authority's (`authority/sessions.rs`), kept in the store.
//! - [`webhooks`]: what an app's backend is told and how: `events` (each
//!   the projection of an audit entry, queued in its change's transaction
//!   by `storage`), `sign` (Standard Webhooks; secrets derived from the
//!   deployment's key), `client` (outbound requests, internal addresses
//!   refused), `worker` (every node claims, sends and retries deliveries).
//! - [`follow`]: a replica (`--replica-of`) loading an authority's
//!   snapshot, then following its record feed, into its
//!   `storage::ReplicaStore`.
//! - [`clock`], [`random`], [`metrics`]: time, randomness and counters,
//!   passed in so tests control them; `keyed.rs`: HMAC-SHA256, the one
//!   keyed hash every derived secret and signature uses.
//!
//! What it never does: log or store a secret (token secrets, client secrets,
//! setup codes and webhook signing secrets appear once, in the response
//! that creates them), compare one in variable time, or answer an error
//! without a stable `reason`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod authority;
pub mod clock;
pub mod follow;
pub mod gateway;
pub mod http;
mod keyed;
pub mod metrics;
pub mod random;
pub mod reason;
pub mod runtime;
pub mod storage;
pub mod studio;
pub mod webhooks;

use std::path::Path;
use std::sync::Arc;

use verifier_core::IssuedToken;

use crate::authority::{Actor, Authority, AuthorityConfig, AuthorityError};
use crate::clock::Clock;
use crate::storage::{Durability, PgStore, SqliteStore, Store, StoreError};

/// Why the authority could not start; its text names what is wrong (a
/// path and the cause, the database's own error), never just "internal".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The first admin token could not be minted.
    #[error("cannot mint the admin token: {0}")]
    Admin(String),
}

impl From<AuthorityError> for OpenError {
    fn from(e: AuthorityError) -> Self {
        match e {
            AuthorityError::Internal(detail) => OpenError::Admin(detail),
            e => OpenError::Admin(e.to_string()),
        }
    }
}

/// Opens the SQLite store in `data` and the authority over it. On the first
/// start of an empty data dir it mints the admin token and returns it (the
/// caller prints it, once).
pub fn open(
    data: &Path,
    sync: Durability,
    clock: Arc<dyn Clock>,
    config: AuthorityConfig,
) -> Result<(Arc<Authority>, Option<IssuedToken>), OpenError> {
    start(Arc::new(SqliteStore::open(data, sync)?), clock, config)
}

/// How long a node on PostgreSQL goes without reading the change feed when
/// no node notifies it of a change: the bound on how long a revocation made
/// on one node can still be honoured by another should the notification be
/// lost (plus one feed read). With notifications it is one round trip.
pub const CACHE_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// Opens the PostgreSQL store at `url` (migrating it) and the authority over
/// it, for one of several nodes sharing the database. Mints the admin token
/// like [`open`] when the database holds no token yet.
pub fn open_postgres(
    url: &str,
    clock: Arc<dyn Clock>,
    config: AuthorityConfig,
) -> Result<(Arc<Authority>, Option<IssuedToken>), OpenError> {
    let (authority, admin) = start(Arc::new(PgStore::open(url)?), clock, config)?;
    follow_changes(&authority, url)?;
    place_changes(&authority)?;
    Ok((authority, admin))
}

/// Places the changes this node's writers commit (they hold no lock and
/// place nothing themselves; see `storage/postgres.rs`): a thread that
/// places whenever the node's cache finds changes waiting, and after
/// [`CACHE_SYNC_INTERVAL`] without, until the authority is dropped. One
/// placing covers every change committed before it, so a burst of
/// exchanges costs a few placings, not one each; the placing notifies the
/// other nodes.
fn place_changes(authority: &Arc<Authority>) -> Result<(), OpenError> {
    let (nudge, nudged) = std::sync::mpsc::sync_channel(1);
    authority.set_placer(nudge);
    let weak = Arc::downgrade(authority);
    std::thread::Builder::new()
        .name("tally-feed-placer".into())
        .spawn(move || {
            use std::sync::mpsc::RecvTimeoutError;
            while !matches!(
                nudged.recv_timeout(CACHE_SYNC_INTERVAL),
                Err(RecvTimeoutError::Disconnected)
            ) {
                let Some(authority) = weak.upgrade() else {
                    return;
                };
                let placed = authority
                    .store()
                    .map_err(|e| e.to_string())
                    .and_then(|s| s.place_changes().map_err(|e| e.to_string()));
                if let Err(e) = placed {
                    tracing::warn!(error = %e, "cannot place changes in the feed; retrying");
                }
            }
        })
        .map_err(|e| StoreError::Database(format!("cannot start the feed placer: {e}")))?;
    Ok(())
}

/// Keeps a node's read cache, and so its feed readers, in step with the
/// other nodes: a thread that catches up with the change feed whenever a
/// node notifies a change, and after [`CACHE_SYNC_INTERVAL`] without one,
/// until the authority is dropped.
fn follow_changes(authority: &Arc<Authority>, url: &str) -> Result<(), OpenError> {
    let weak = Arc::downgrade(authority);
    let url = url.to_owned();
    std::thread::Builder::new()
        .name("tally-cache-sync".into())
        .spawn(move || {
            storage::on_feed_notifications(&url, CACHE_SYNC_INTERVAL, || {
                let Some(authority) = weak.upgrade() else {
                    return false;
                };
                if let Err(e) = authority.catch_up() {
                    tracing::warn!(error = %e, "cannot read the change feed; retrying");
                }
                true
            });
        })
        .map_err(|e| StoreError::Database(format!("cannot start the cache sync: {e}")))?;
    Ok(())
}

fn start(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: AuthorityConfig,
) -> Result<(Arc<Authority>, Option<IssuedToken>), OpenError> {
    let first_start = store.is_empty()?;
    let authority = Arc::new(Authority::new(store, clock, config)?);
    let admin = if first_start {
        Some(authority.mint_admin_token(&Actor::cli(), "admin")?)
    } else {
        None
    };
    Ok((authority, admin))
}
