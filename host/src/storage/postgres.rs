//! PostgreSQL storage, for several `tally serve` nodes on one database
//! (`tally serve --database postgres://…`).
//!
//! Same schema and statements as the SQLite store (`schema.rs`, `sql/`);
//! what differs is how the guarantees are kept with many writers:
//! - **Setup codes:** redeeming selects the code `FOR UPDATE`, so of
//!   concurrent redeems — on any nodes — exactly one sees it unused.
//! - **The change feed:** `seq` comes from a sequence, and sequences are not
//!   commit-ordered: a transaction that took seq 10 can commit after one that
//!   took 11, and a reader at cursor 11 would skip 10 forever. Every
//!   transaction that appends to the feed first takes one transaction-scoped
//!   advisory lock ([`FEED_LOCK`]), so appends commit in `seq` order. Feed
//!   writes are token and environment changes — rare next to reads.
//! - **Migrations** run under a session advisory lock, so nodes starting
//!   together do not race.
//!
//! Connections come from an `r2d2` pool. `search_path` may be set per store
//! ([`PgStore::open_in_schema`]) so tests, or tenants, get a schema each.

use postgres::types::ToSql;
use postgres::{GenericClient, NoTls};
use r2d2::{Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;

use super::StoreError;
use super::schema::{self, Dialect};
use super::sql::{Conn, Database, Param, Row, SqlStore};

/// Key of the advisory lock that orders feed appends.
const FEED_LOCK: i64 = 0x7461_6c6c_7966; // "tallyf"
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

    fn lock_feed(&mut self) -> Result<(), StoreError> {
        self.0
            .execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
        Ok(())
    }
}

super::sql::row_by!(postgres::Row, try_get);
