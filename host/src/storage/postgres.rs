//! PostgreSQL storage, for several `tally serve` nodes on one database
//! (`tally serve --database postgres://…`).
//!
//! Same schema and statements as the SQLite store (`schema.rs`, `sql/`);
//! what differs is how the guarantees are kept with many writers:
//! - **Setup codes:** redeeming selects the code `FOR UPDATE`, so of
//!   concurrent redeems — on any nodes — exactly one sees it unused.
//! - **The change feed:** a change's `seq` comes from a sequence, and
//!   sequences are not commit-ordered: a transaction that took seq 10 can
//!   commit after one that took 11, and a reader at cursor 11 would skip 10
//!   forever. So writers append without a place (`pos` NULL) and hold no
//!   lock, and commit concurrently; whoever reads the feed first places the
//!   committed changes after the last placed one
//!   ([`PgDb::place_changes`]), one placer at a time ([`FEED_LOCK`], held
//!   for that short transaction only). A change is placed only once
//!   committed, and places are handed out in the order placers commit, so
//!   a place never becomes visible after a larger one. Every placing
//!   transaction notifies [`FEED_CHANNEL`], so the nodes' feed readers wake
//!   on a change rather than poll.
//! - **Migrations** run under a session advisory lock, so nodes starting
//!   together do not race.
//!
//! Connections come from an `r2d2` pool. `search_path` may be set per store
//! ([`PgStore::open_in_schema`]) so tests, or tenants, get a schema each.

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::types::ToSql;
use postgres::{GenericClient, NoTls};
use r2d2::{Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;

use super::StoreError;
use super::schema::{self, Dialect};
use super::sql::{Conn, Database, Param, Row, SqlStore};

/// Key of the advisory lock that orders the placing of changes in the feed.
const FEED_LOCK: i64 = 0x7461_6c6c_7966; // "tallyf"
/// The channel every placing of changes notifies (`LISTEN tally_feed`).
pub const FEED_CHANNEL: &str = "tally_feed";
/// Whether a committed change waits for its place: a look without the lock.
const ANY_UNPLACED: &str = "SELECT EXISTS (SELECT 1 FROM changes WHERE pos IS NULL)";
/// Places every committed change that has none after the last placed one,
/// in `seq` order (under [`FEED_LOCK`]: no other placer runs).
const PLACE_CHANGES: &str = "UPDATE changes c SET pos = top.pos + n.rank \
     FROM (SELECT coalesce(max(pos), 0) AS pos FROM changes) top, \
          (SELECT seq, row_number() OVER (ORDER BY seq) AS rank \
           FROM changes WHERE pos IS NULL) n \
     WHERE c.seq = n.seq";
/// Key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x7461_6c6c_796d; // "tallym"
/// Pooled connections per node.
const POOL_SIZE: u32 = 8;

type Manager = PostgresConnectionManager<NoTls>;

/// The PostgreSQL store.
pub type PgStore = SqlStore<PgDb>;

/// PostgreSQL's connections: a pool.
pub struct PgDb {
    /// Always `Some` until dropped (see `Drop`).
    pool: Option<Pool<Manager>>,
}

impl Drop for PgDb {
    /// The synchronous client closes a connection by blocking on its own
    /// runtime, which panics on a thread that drives async tasks — where the
    /// server's last reference may well be dropped. Close them on a thread
    /// of their own then.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::Builder::new()
                    .name("tally-pg-close".into())
                    .spawn(move || drop(pool));
            } else {
                drop(pool);
            }
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        match e.code() {
            Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
                StoreError::Database(format!("unique violation: {e}"))
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Database(format!("no database connection: {e}"))
    }
}

impl SqlStore<PgDb> {
    /// Connects to `url` (`postgres://user:password@host:port/db`, TLS off:
    /// run it on a private network or a local socket) and migrates.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        PgDb::connect(url, None).map(SqlStore::new)
    }

    /// Like [`PgStore::open`], with every table in `schema` (created if
    /// missing): one database can hold several independent stores.
    pub fn open_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(StoreError::Database(format!(
                "schema name {schema:?} must be 1-63 of [a-z0-9_]"
            )));
        }
        PgDb::connect(url, Some(schema)).map(SqlStore::new)
    }
}

impl PgDb {
    fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("bad PostgreSQL URL: {e}")))?;
        if let Some(schema) = schema {
            let mut admin = config.connect(NoTls)?;
            admin.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
            config.options(&format!("-c search_path={schema}"));
        }
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(Manager::new(config, NoTls))?;
        let db = PgDb { pool: Some(pool) };
        db.migrate()?;
        Ok(db)
    }

    fn conn(&self) -> Result<PooledConnection<Manager>, StoreError> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| StoreError::Database("the store is closed".into()))?;
        Ok(pool.get()?)
    }

    /// Brings the schema up to date, one node at a time. A database from
    /// before `refinery` counted its migrations in `tally_schema_version`:
    /// those are recorded as applied first (see `schema.rs`).
    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let outcome = (|| -> Result<(), StoreError> {
            let tables = |c: &mut postgres::Client, name: &str| -> Result<bool, StoreError> {
                Ok(c.query_opt("SELECT to_regclass($1)::TEXT", &[&name])?
                    .and_then(|r| r.get::<_, Option<String>>(0))
                    .is_some())
            };
            if !tables(&mut c, "refinery_schema_history")?
                && tables(&mut c, "tally_schema_version")?
            {
                let legacy: i64 = c
                    .query_opt("SELECT version::BIGINT FROM tally_schema_version", &[])?
                    .map_or(0, |r| r.get(0));
                if let Some(target) = schema::legacy_target(Dialect::Postgres, legacy) {
                    schema::runner(Dialect::Postgres)?
                        .set_target(target)
                        .run(&mut *c)
                        .map_err(schema::migration_error)?;
                }
            }
            schema::runner(Dialect::Postgres)?
                .run(&mut *c)
                .map_err(schema::migration_error)?;
            Ok(())
        })();
        c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
        outcome
    }
}

impl Database for PgDb {
    fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self.conn()?;
        f(&mut PgConn(&mut *c))
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let out = f(&mut PgConn(&mut tx))?;
        tx.commit()?;
        Ok(out)
    }

    /// Writers append their changes unplaced.
    fn places_later(&self) -> bool {
        true
    }

    /// Places the committed changes that wait for a place (see the module
    /// docs). The placing transaction takes [`FEED_LOCK`] in a statement of
    /// its own, so its `UPDATE` reads after the previous placer committed,
    /// and a reader that calls this after its own change committed finds
    /// that change placed when it returns.
    fn place_changes(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        if !c.query_one(ANY_UNPLACED, &[])?.try_get::<_, bool>(0)? {
            return Ok(());
        }
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
        if tx.execute(PLACE_CHANGES, &[])? > 0 {
            tx.execute("SELECT pg_notify($1, '')", &[&FEED_CHANNEL])?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Calls `each` whenever a node places changes in the feed of the database
/// at `url` (a notification on [`FEED_CHANNEL`]; several that arrive
/// together make one call), and after `idle` without one: the bound should a
/// notification be lost, or the listening connection drop (it reconnects,
/// and says so). Returns when `each` returns `false`. Blocks: run it on a
/// thread of its own. The channel is per database, not per schema: nodes of
/// other stores in the same database wake it too, which costs a feed read.
pub fn on_feed_notifications(url: &str, idle: std::time::Duration, mut each: impl FnMut() -> bool) {
    loop {
        let listening = postgres::Client::connect(url, NoTls).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {FEED_CHANNEL}"))?;
            Ok(c)
        });
        let mut client = match listening {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for feed notifications; retrying");
                std::thread::sleep(idle);
                if !each() {
                    return;
                }
                continue;
            }
        };
        loop {
            let mut notifications = client.notifications();
            if let Err(e) = notifications.timeout_iter(idle).next() {
                tracing::warn!(error = %e, "feed notifications stopped; listening again");
                break;
            }
            // Those already here are answered by the same call.
            while let Ok(Some(_)) = notifications.iter().next() {}
            if !each() {
                return;
            }
        }
    }
}

/// Each parameter as the client binds it.
fn bind<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn ToSql + Sync) {
            match p {
                Param::Int(v) => v,
                Param::OptInt(v) => v,
                Param::Text(v) => v,
                Param::OptText(v) => v,
                Param::Bytes(v) => v,
                Param::OptBytes(v) => v,
                Param::Bool(v) => v,
            }
        })
        .collect()
}

struct PgConn<'a, C: GenericClient>(&'a mut C);

impl<C: GenericClient> Conn for PgConn<'_, C> {
    fn execute(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        Ok(self.0.execute(sql, &bind(params))?)
    }

    fn insert(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        what: &'static str,
    ) -> Result<(), StoreError> {
        match self.0.execute(sql, &bind(params)) {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
                Err(StoreError::Conflict(what))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for row in self.0.query(sql, &bind(params))? {
            each(&row)?;
        }
        Ok(())
    }

    fn appended_to_feed(&mut self) -> Result<(), StoreError> {
        // Placed once committed, by `PgDb::place_changes`.
        Ok(())
    }
}

super::sql::row_by!(postgres::Row, try_get);
