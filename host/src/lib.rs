//! # `tally`, the authority
//!
//! The platform side of Tally: registers apps (client id and secret),
//! installs them into environments, hands out one-time setup codes, exchanges
//! them on `POST /v1/app-exchange-token` (Hygraph's wire shape), issues,
//! rotates and revokes tokens, and keeps an audit log. Every token operation
//! goes through `verifier-core`.
//!
//! Layout, one job a folder:
//! - `storage/`: the [`storage::Store`] trait and its SQLite implementation
//!   (embedded, WAL, migrations). Secrets are stored as hashes only.
//! - `runtime/`: the verifier module (or an operator's plugin) under
//!   wasmtime: pooled instances, deadlines, memory limits, hot reload.
//! - `authority/`: the operations, independent of HTTP, with their audit
//!   entries and validation ([`authority::Authority`]).
//! - `gateway/`: `/v1/verify` and the proxy, both deciding with the plugin,
//!   and the throttle for failed verifications.
//! - `http/`: the axum router; errors map to statuses in one place.
//! - `studio/`: the studio page at `/studio` and its sessions.
//! - [`clock`], [`random`], [`metrics`]: time, randomness and counters,
//!   passed in so tests control them.
//!
//! What it never does: log or store a secret (token secrets, client secrets,
//! setup codes appear once, in the response that creates them), compare one
//! in variable time, or answer an error without a stable `reason`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod authority;
pub mod clock;
pub mod gateway;
pub mod http;
pub mod metrics;
pub mod random;
pub mod runtime;
pub mod storage;
pub mod studio;

use std::path::Path;
use std::sync::Arc;

use verifier_core::IssuedToken;

use crate::authority::{Actor, Authority, AuthorityConfig, AuthorityError};
use crate::clock::Clock;
use crate::storage::{CachedStore, Durability, SqliteStore, Store};

/// Opens the SQLite store in `data` and the authority over it. On the first
/// start of an empty data dir it mints the admin token and returns it (the
/// caller prints it, once).
pub fn open(
    data: &Path,
    sync: Durability,
    clock: Arc<dyn Clock>,
    config: AuthorityConfig,
) -> Result<(Arc<Authority>, Option<IssuedToken>), AuthorityError> {
    let store: Arc<dyn Store> = Arc::new(CachedStore::new(SqliteStore::open(data, sync)?));
    let first_start = store.is_empty()?;
    let authority = Arc::new(Authority::new(store, clock, config));
    let admin = if first_start {
        Some(authority.mint_admin_token(&Actor::cli(), "admin")?)
    } else {
        None
    };
    Ok((authority, admin))
}
