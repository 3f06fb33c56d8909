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
//!
//! Each connection keeps the statements it has run prepared ([`Session`]):
//! a statement is parsed and analysed once per connection, and each later
//! run is one round trip (bind and execute) instead of two (an unnamed
//! prepare, then bind and execute). Profiles of the exchange bench had
//! PostgreSQL spending about a third of its time parsing and planning the
//! same few dozen statements again. The statements are the store's own
//! (`&'static str`), so the cache is bounded by their number. PostgreSQL
//! plans a prepared statement again by itself when a table it reads
//! changes; a migration that changed a statement's result columns under a
//! running node would fail that statement until the node reconnects.

use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::types::ToSql;
use postgres::{GenericClient, NoTls, Statement};
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

/// A pooled connection and the statements prepared on it.
struct Session {
    client: postgres::Client,
    prepared: HashMap<&'static str, Statement>,
}

/// `r2d2_postgres`'s manager, handing out [`Session`]s.
struct Manager(PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = Session;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Session, postgres::Error> {
        Ok(Session {
            client: self.0.connect()?,
            prepared: HashMap::new(),
        })
    }

    fn is_valid(&self, session: &mut Session) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut session.client)
    }

    fn has_broken(&self, session: &mut Session) -> bool {
        self.0.has_broken(&mut session.client)
    }
}

/// `sql` prepared on `client` (which may be a transaction of the
/// connection the cache belongs to), once per connection.
fn prepared(
    client: &mut impl GenericClient,
    cache: &mut HashMap<&'static str, Statement>,
    sql: &'static str,
) -> Result<Statement, postgres::Error> {
    if let Some(statement) = cache.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql)?;
    cache.insert(sql, statement.clone());
    Ok(statement)
}

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
            .build(Manager(PostgresConnectionManager::new(config, NoTls)))?;
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
        let mut session = self.conn()?;
        let c = &mut session.client;
        c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let outcome = (|| -> Result<(), StoreError> {
            let tables = |c: &mut postgres::Client, name: &str| -> Result<bool, StoreError> {
                Ok(c.query_opt("SELECT to_regclass($1)::TEXT", &[&name])?
                    .and_then(|r| r.get::<_, Option<String>>(0))
                    .is_some())
            };
            if !tables(c, "refinery_schema_history")? && tables(c, "tally_schema_version")? {
                let legacy: i64 = c
                    .query_opt("SELECT version::BIGINT FROM tally_schema_version", &[])?
                    .map_or(0, |r| r.get(0));
                if let Some(target) = schema::legacy_target(Dialect::Postgres, legacy) {
                    schema::runner(Dialect::Postgres)?
                        .set_target(target)
                        .run(c)
                        .map_err(schema::migration_error)?;
                }
            }
            schema::runner(Dialect::Postgres)?
                .run(c)
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
        let mut session = self.conn()?;
        let Session { client, prepared } = &mut *session;
        f(&mut PgConn { client, prepared })
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut session = self.conn()?;
        let Session { client, prepared } = &mut *session;
        let mut tx = client.transaction()?;
        let out = f(&mut PgConn {
            client: &mut tx,
            prepared,
        })?;
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
        let mut session = self.conn()?;
        let Session {
            client,
            prepared: cache,
        } = &mut *session;
        let any = prepared(client, cache, ANY_UNPLACED)?;
        if !client.query_one(&any, &[])?.try_get::<_, bool>(0)? {
            return Ok(());
        }
        let mut tx = client.transaction()?;
        let lock = prepared(&mut tx, cache, "SELECT pg_advisory_xact_lock($1)")?;
        tx.execute(&lock, &[&FEED_LOCK])?;
        let place = prepared(&mut tx, cache, PLACE_CHANGES)?;
        if tx.execute(&place, &[])? > 0 {
            let notify = prepared(&mut tx, cache, "SELECT pg_notify($1, '')")?;
            tx.execute(&notify, &[&FEED_CHANNEL])?;
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

/// A connection (or its transaction) and its prepared statements.
struct PgConn<'a, C: GenericClient> {
    client: &'a mut C,
    prepared: &'a mut HashMap<&'static str, Statement>,
}

impl<C: GenericClient> PgConn<'_, C> {
    fn prepared(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        prepared(self.client, self.prepared, sql)
    }
}

impl<C: GenericClient> Conn for PgConn<'_, C> {
    fn execute(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let statement = self.prepared(sql)?;
        Ok(self.client.execute(&statement, &bind(params))?)
    }

    fn insert(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        what: &'static str,
    ) -> Result<(), StoreError> {
        let statement = self.prepared(sql)?;
        match self.client.execute(&statement, &bind(params)) {
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
        let statement = self.prepared(sql)?;
        for row in self.client.query(&statement, &bind(params))? {
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
