//! Storage, split by who needs it (`store.rs`): [`Records`], the read side
//! a verifier needs (token and environment records, the feed's cursor), and
//! [`Store`], the management side the authority changes and lists through.
//! What they hold and hand out is in `rows.rs` (projects, apps,
//! installations, tokens, the feed's [`Change`]s, …); how they fail, in
//! `error.rs` ([`StoreError`]).
//!
//! One implementation holds the data: [`SqlStore`] (`sql/`), its
//! statements and rules written once over a database that supplies
//! connections: [`SqliteStore`] (`sqlite.rs`, the embedded default) or
//! [`PgStore`] (`postgres.rs`, several authority nodes on one database;
//! `postgres/group.rs` commits concurrent exchanges and new tokens in one
//! transaction). One schema for both (`schema.rs`: the files of
//! `host/migrations/`, run by `refinery`). In front of it, [`RecordCache`]
//! (`cached.rs`) keeps the verify path's records in memory (told of changes
//! by the feed), in maps seeded against chosen keys (`hot.rs`); beside it,
//! [`ReplicaStore`] (`replica.rs`) is a replica's records in memory, fed by
//! the authority's feed ([`Records`] only, so a replica cannot be asked to
//! change anything).
//!
//! The traits are synchronous: SQLite is an in-process library, PostgreSQL
//! is reached with `tokio-postgres` clients that each block on a runtime of
//! their own (as the synchronous `postgres` client does, which cannot
//! pipeline), and the HTTP layer calls the store from `spawn_blocking`.
//! Every mutating call takes the [`AuditEntry`] that describes it and
//! writes both in one transaction, so the audit log never misses a change
//! and never records one that did not happen.
//!
//! Secrets never reach storage: tokens, client secrets and setup codes are
//! stored as SHA-256 hashes only.

mod cached;
mod error;
mod hot;
mod postgres;
mod replica;
mod rows;
mod schema;
mod sql;
mod sqlite;
mod store;

pub(crate) use cached::MAX_ENTRIES;
pub use cached::RecordCache;
pub use error::StoreError;
pub(crate) use hot::{HotMap, hot_map};
pub use postgres::{FEED_CHANNEL, PgDb, PgStore, on_feed_notifications};
pub use replica::ReplicaStore;
pub use rows::*;
pub(crate) use rows::{replaced_audit, stored_token_id};
pub use sql::SqlStore;
pub use sqlite::{DataDirLock, Durability, SqliteDb, SqliteStore};
pub use store::{Records, Store};
