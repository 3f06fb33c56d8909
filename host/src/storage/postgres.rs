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
//! A write transaction pipelines ([`PgConn`]): its `BEGIN` goes with its
//! first statement, and a statement whose outcome the store does not read
//! (an `INSERT`, a feed entry, an audit entry) goes with the next one, or
//! with the `COMMIT`, so a transaction that only writes is one round
//! trip. The synchronous `postgres` client
//! cannot pipeline, so the pool holds `tokio-postgres` clients, each
//! driven by a single-threaded runtime of its own while a call waits, as
//! that client does; migrations and `LISTEN` keep the synchronous client.
//!
//! Exchanges of setup codes and new tokens commit in groups
//! (`postgres/group.rs`): those that arrive while others are under way
//! share one transaction, their reads in one round trip and their writes
//! with one `COMMIT`, so a burst of them costs a few round trips and WAL
//! flushes, not one or two round trips and a flush each. One that cannot
//! share (its write needs a read of its own, or another in the group
//! replaces the same installation's token) or whose group fails runs
//! again alone.
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
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use futures_util::future::{MaybeDone, maybe_done};
use postgres::fallible_iterator::FallibleIterator as _;
use r2d2::{Pool, PooledConnection};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use super::StoreError;
use super::schema::{self, Dialect};
use super::sql::{Conn, Database, Param, Row, SqlStore, TwoSteps};

mod group;

/// Key of the advisory lock that orders the placing of changes in the feed.
const FEED_LOCK: i64 = 0x7461_6c6c_7966; // "tallyf"
/// The channel every placing of changes notifies (`LISTEN tally_feed`).
pub const FEED_CHANNEL: &str = "tally_feed";
/// A committed change that waits for its place, if any: a look without the
/// lock. The newest first: the index of unplaced changes keeps an entry
/// for each change placed since the last vacuum (placing updates the
/// row), and those are older than a change that waits.
const ANY_UNPLACED: &str = "SELECT seq FROM changes WHERE pos IS NULL ORDER BY seq DESC LIMIT 1";
/// Takes [`FEED_LOCK`] until the transaction ends.
const TAKE_FEED_LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
/// Places every committed change that has none after the last placed one,
/// in `seq` order (under [`FEED_LOCK`]: no other placer runs), and
/// notifies `$1` if it placed any. Both sides of the join say
/// `pos IS NULL`, so both read the index of unplaced changes: with the
/// condition on one side only, PostgreSQL planned a scan of the whole
/// feed for every placing.
const PLACE_CHANGES: &str = "WITH placed AS (\
       UPDATE changes c SET pos = top.pos + n.rank \
       FROM (SELECT coalesce(max(pos), 0) AS pos FROM changes) top, \
            (SELECT seq, row_number() OVER (ORDER BY seq) AS rank \
             FROM changes WHERE pos IS NULL) n \
       WHERE c.seq = n.seq AND c.pos IS NULL RETURNING 1) \
     SELECT pg_notify($1, '') WHERE EXISTS (SELECT 1 FROM placed)";
/// Key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x7461_6c6c_796d; // "tallym"
/// Pooled connections per node.
const POOL_SIZE: u32 = 8;

/// A pooled connection: its client, the single-threaded runtime that
/// drives the connection while a call waits for it (as the synchronous
/// `postgres` client does, which cannot pipeline), and the statements
/// prepared on it.
struct Session {
    runtime: tokio::runtime::Runtime,
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

/// Opens the pool's [`Session`]s.
struct Manager(tokio_postgres::Config);

impl r2d2::ManageConnection for Manager {
    type Connection = Session;
    type Error = StoreError;

    fn connect(&self) -> Result<Session, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("no runtime for a connection: {e}")))?;
        let (client, connection) = runtime.block_on(self.0.connect(NoTls))?;
        // Runs whenever the runtime waits for a call. Once the server has
        // closed the connection it ends, and the client says it is closed.
        runtime.spawn(connection);
        Ok(Session {
            runtime,
            client,
            prepared: HashMap::new(),
        })
    }

    /// Checked as a connection leaves the pool, without a round trip: the
    /// connection's task reads what the server sent while it sat in the
    /// pool (a server that closed it, or was restarted, has said so by
    /// then), and a closed one is replaced by a new one. Yielding twice
    /// lets the runtime poll the socket and then run the task.
    fn is_valid(&self, session: &mut Session) -> Result<(), StoreError> {
        session.runtime.block_on(async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        });
        if session.client.is_closed() {
            return Err(StoreError::Database("the connection was closed".into()));
        }
        Ok(())
    }

    fn has_broken(&self, session: &mut Session) -> bool {
        session.client.is_closed()
    }
}

/// `sql` prepared on the session's connection, once per connection.
fn prepared(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    cache: &mut HashMap<&'static str, Statement>,
    sql: &'static str,
) -> Result<Statement, tokio_postgres::Error> {
    if let Some(statement) = cache.get(sql) {
        return Ok(statement.clone());
    }
    let statement = runtime.block_on(client.prepare(sql))?;
    cache.insert(sql, statement.clone());
    Ok(statement)
}

/// The PostgreSQL store.
pub type PgStore = SqlStore<PgDb>;

/// PostgreSQL's connections: a pool, and the writers that share
/// transactions (group commit).
pub struct PgDb {
    /// Always `Some` until dropped (see `Drop`).
    pool: Option<Pool<Manager>>,
    groups: group::Groups,
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
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("bad PostgreSQL URL: {e}")))?;
        if let Some(schema) = schema {
            let mut admin = postgres::Config::from(config.clone()).connect(NoTls)?;
            admin.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
            config.options(format!("-c search_path={schema}"));
        }
        migrate(&config)?;
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(Manager(config))?;
        Ok(PgDb {
            pool: Some(pool),
            groups: group::Groups::default(),
        })
    }

    fn conn(&self) -> Result<PooledConnection<Manager>, StoreError> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| StoreError::Database("the store is closed".into()))?;
        Ok(pool.get()?)
    }
}

/// Brings the schema up to date, one node at a time, on a connection of
/// its own. A database from before `refinery` counted its migrations in
/// `tally_schema_version`: those are recorded as applied first (see
/// `schema.rs`).
fn migrate(config: &tokio_postgres::Config) -> Result<(), StoreError> {
    let mut c = postgres::Config::from(config.clone()).connect(NoTls)?;
    let c = &mut c;
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

impl Database for PgDb {
    fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut session = self.conn()?;
        f(&mut PgConn::reading(&mut session))
    }

    /// The transaction's `BEGIN` goes with its first statement, and the
    /// statements sent ([`Conn::send`], [`Conn::insert`]) with the next
    /// one, or with the `COMMIT`: a transaction that only writes is one
    /// round trip.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut session = self.conn()?;
        let mut conn = PgConn::writing(&mut session);
        let out = f(&mut conn).and_then(|out| conn.commit().map(|()| out));
        if out.is_err() {
            conn.roll_back();
        }
        out
    }

    /// In a group with other callers' ([`group`]).
    fn write_in_two<S: TwoSteps>(
        &self,
        order: &[u8],
        reads: &[(&'static str, &[Param<'_>])],
        steps: &mut S,
    ) -> Result<S::Out, StoreError> {
        self.groups.write(self, order, reads, steps)
    }

    /// Writers append their changes unplaced.
    fn places_later(&self) -> bool {
        true
    }

    /// Places the committed changes that wait for a place (see the module
    /// docs). The placing transaction takes [`FEED_LOCK`] in a statement of
    /// its own, so its `UPDATE` reads after the previous placer committed,
    /// and a reader that calls this after its own change committed finds
    /// that change placed when it returns. The lock, the placing and the
    /// commit go in one round trip.
    fn place_changes(&self) -> Result<(), StoreError> {
        let mut session = self.conn()?;
        let mut waiting = false;
        PgConn::reading(&mut session).query(ANY_UNPLACED, &[], &mut |_| {
            waiting = true;
            Ok(())
        })?;
        if !waiting {
            return Ok(());
        }
        let mut conn = PgConn::writing(&mut session);
        let placed = conn
            .send(TAKE_FEED_LOCK, &[Param::Int(FEED_LOCK)])
            .and_then(|()| conn.send(PLACE_CHANGES, &[Param::Text(FEED_CHANNEL)]))
            .and_then(|()| conn.commit());
        if placed.is_err() {
            conn.roll_back();
        }
        placed
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

/// A statement's parameters, owned: for a statement sent later, or by
/// another thread.
type Owned = Vec<Box<dyn ToSql + Sync + Send>>;

/// Each parameter, owned, for a statement sent later.
fn owned(params: &[Param<'_>]) -> Owned {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match *p {
                Param::Int(v) => Box::new(v),
                Param::OptInt(v) => Box::new(v),
                Param::Text(v) => Box::new(v.to_owned()),
                Param::OptText(v) => Box::new(v.map(str::to_owned)),
                Param::Bytes(v) => Box::new(v.to_vec()),
                Param::OptBytes(v) => Box::new(v.map(<[u8]>::to_vec)),
                Param::Bool(v) => Box::new(v),
            }
        })
        .collect()
}

/// Owned parameters as the client binds them.
fn borrowed(params: &Owned) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn ToSql + Sync) { p.as_ref() })
        .collect()
}

/// A statement waiting to be sent with the next one.
struct Queued {
    statement: Statement,
    params: Owned,
    /// For an `INSERT`: what a unique violation is a conflict over.
    what: Option<&'static str>,
}

/// `e`, or `Conflict(what)` if it is a unique violation of an `INSERT`
/// over `what`.
fn conflict_or(e: tokio_postgres::Error, what: Option<&'static str>) -> StoreError {
    match what {
        Some(what) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
            StoreError::Conflict(what)
        }
        _ => e.into(),
    }
}

/// Where a [`PgConn`] stands in a transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transaction {
    /// Reading: each statement runs at once, on its own.
    None,
    /// A write transaction whose `BEGIN` goes with the next statement.
    Pending,
    /// A write transaction begun on the server.
    Begun,
}

/// A pooled connection, reading or in a write transaction. In a write
/// transaction, statements whose outcome is not read wait in `queue` and
/// go, in order, with the next statement whose outcome is: PostgreSQL
/// receives them in one write and answers them in one (pipelining), each
/// in its own extended-protocol message with its own `Sync`, so an error
/// is reported against the statement that raised it and every statement
/// after it in the transaction fails.
struct PgConn<'a> {
    runtime: &'a tokio::runtime::Runtime,
    client: &'a Client,
    prepared: &'a mut HashMap<&'static str, Statement>,
    transaction: Transaction,
    queue: Vec<Queued>,
}

/// What a statement answered.
enum Answer {
    /// How many rows it changed.
    Count(u64),
    /// The rows it returned.
    Rows(Vec<tokio_postgres::Row>),
}

impl Answer {
    fn count(self) -> Result<u64, StoreError> {
        match self {
            Answer::Count(n) => Ok(n),
            Answer::Rows(_) => Err(StoreError::Database("a statement answered rows".into())),
        }
    }

    fn rows(self) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        match self {
            Answer::Rows(rows) => Ok(rows),
            Answer::Count(_) => Err(StoreError::Database("a query answered no rows".into())),
        }
    }
}

/// A statement on its way: its request is sent when first polled.
type Sent<'f> = Pin<Box<dyn Future<Output = Result<Answer, tokio_postgres::Error>> + 'f>>;

impl<'a> PgConn<'a> {
    fn reading(session: &'a mut Session) -> Self {
        PgConn {
            runtime: &session.runtime,
            client: &session.client,
            prepared: &mut session.prepared,
            transaction: Transaction::None,
            queue: Vec::new(),
        }
    }

    fn writing(session: &'a mut Session) -> Self {
        let mut conn = PgConn::reading(session);
        conn.transaction = Transaction::Pending;
        conn
    }

    fn prepared(&mut self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        prepared(self.runtime, self.client, self.prepared, sql)
    }

    /// Sends the pending `BEGIN` and the queued statements, then `read`,
    /// in one flight, and waits for every answer; returns `read`'s. The
    /// first error wins: the statements after it failed because it did.
    fn flight<'f>(&mut self, read: Vec<Sent<'f>>) -> Result<Vec<Answer>, StoreError>
    where
        'a: 'f,
    {
        let begin = self.transaction == Transaction::Pending;
        if begin {
            self.transaction = Transaction::Begun;
        }
        let queue = std::mem::take(&mut self.queue);
        let client = self.client;
        let mut sent: Vec<MaybeDone<Sent<'_>>> =
            Vec::with_capacity(usize::from(begin) + queue.len() + read.len());
        if begin {
            sent.push(maybe_done(Box::pin(async {
                client
                    .batch_execute("BEGIN")
                    .await
                    .map(|()| Answer::Count(0))
            })));
        }
        for q in &queue {
            let params = borrowed(&q.params);
            sent.push(maybe_done(Box::pin(async move {
                client
                    .execute(&q.statement, &params)
                    .await
                    .map(Answer::Count)
            })));
        }
        sent.extend(read.into_iter().map(maybe_done));
        let mut answers = self.runtime.block_on(in_order(sent)).into_iter();
        if begin && let Some(Err(e)) = answers.next() {
            return Err(e.into());
        }
        for (q, answer) in queue.iter().zip(answers.by_ref()) {
            answer.map_err(|e| conflict_or(e, q.what))?;
        }
        Ok(answers.collect::<Result<_, _>>()?)
    }

    /// `sql` with `params`, to go in a flight.
    fn sent<'f>(
        &mut self,
        sql: &'static str,
        params: &'f [&'f (dyn ToSql + Sync)],
        rows: bool,
    ) -> Result<Sent<'f>, StoreError>
    where
        'a: 'f,
    {
        let client = self.client;
        let statement = self.prepared(sql)?;
        Ok(if rows {
            Box::pin(async move { client.query(&statement, params).await.map(Answer::Rows) })
        } else {
            Box::pin(async move { client.execute(&statement, params).await.map(Answer::Count) })
        })
    }

    /// Sends what is queued with the `COMMIT`.
    fn commit(&mut self) -> Result<(), StoreError> {
        if self.transaction == Transaction::Pending && self.queue.is_empty() {
            // Nothing was written.
            self.transaction = Transaction::None;
            return Ok(());
        }
        let client = self.client;
        self.flight(vec![Box::pin(async {
            client
                .batch_execute("COMMIT")
                .await
                .map(|()| Answer::Count(0))
        })])?;
        self.transaction = Transaction::None;
        Ok(())
    }

    /// Ends a write transaction that failed: what is queued is dropped,
    /// and a begun transaction rolled back (after a failed flight it may
    /// have ended already; PostgreSQL then only warns). Should that fail,
    /// the connection is broken and the pool replaces it.
    fn roll_back(&mut self) {
        self.queue.clear();
        if self.transaction == Transaction::Begun {
            let _ = self.runtime.block_on(self.client.batch_execute("ROLLBACK"));
        }
        self.transaction = Transaction::None;
    }

    /// Queues a statement whose outcome is not read; outside a write
    /// transaction, sends it at once.
    fn queue(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        what: Option<&'static str>,
    ) -> Result<(), StoreError> {
        self.queue_owned(sql, owned(params), what)?;
        if self.transaction == Transaction::None {
            self.flight(Vec::new())?;
        }
        Ok(())
    }

    /// Queues a statement with owned parameters, to go with the next.
    fn queue_owned(
        &mut self,
        sql: &'static str,
        params: Owned,
        what: Option<&'static str>,
    ) -> Result<(), StoreError> {
        let statement = self.prepared(sql)?;
        self.queue.push(Queued {
            statement,
            params,
            what,
        });
        Ok(())
    }
}

/// A connection left in a transaction (by a panic on the way) goes back to
/// the pool rolled back, not holding its locks for the next caller.
impl Drop for PgConn<'_> {
    fn drop(&mut self) {
        self.roll_back();
    }
}

/// The one answer of a flight that sent one statement to read.
fn one_answer(answers: Vec<Answer>) -> Result<Answer, StoreError> {
    answers
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Database("a statement went unanswered".into()))
}

/// Polls each of `sent` in order until all are done: each of the client's
/// calls sends its request when first polled, so the server receives them
/// in this order. (`join_all` promises no order.)
async fn in_order(
    mut sent: Vec<MaybeDone<Sent<'_>>>,
) -> Vec<Result<Answer, tokio_postgres::Error>> {
    std::future::poll_fn(|cx| {
        let mut done = true;
        for f in &mut sent {
            done &= Pin::new(f).poll(cx).is_ready();
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    sent.iter_mut()
        .map(|f| Pin::new(f).take_output().unwrap_or(Ok(Answer::Count(0))))
        .collect()
}

impl Conn for PgConn<'_> {
    fn execute(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let params = bind(params);
        let sent = self.sent(sql, &params, false)?;
        one_answer(self.flight(vec![sent])?)?.count()
    }

    fn send(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<(), StoreError> {
        self.queue(sql, params, None)
    }

    fn insert(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        what: &'static str,
    ) -> Result<(), StoreError> {
        self.queue(sql, params, Some(what))
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let params = bind(params);
        let sent = self.sent(sql, &params, true)?;
        for row in one_answer(self.flight(vec![sent])?)?.rows()? {
            each(&row)?;
        }
        Ok(())
    }

    /// The queries in one flight.
    fn query_each(
        &mut self,
        queries: &[(&'static str, &[Param<'_>])],
        each: &mut dyn FnMut(usize, &dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let params: Vec<_> = queries.iter().map(|(_, p)| bind(p)).collect();
        let mut sent = Vec::with_capacity(queries.len());
        for ((sql, _), params) in queries.iter().zip(&params) {
            sent.push(self.sent(sql, params, true)?);
        }
        for (i, answer) in self.flight(sent)?.into_iter().enumerate() {
            for row in answer.rows()? {
                each(i, &row)?;
            }
        }
        Ok(())
    }

    fn appended_to_feed(&mut self) -> Result<(), StoreError> {
        // Placed once committed, by `PgDb::place_changes`.
        Ok(())
    }
}

super::sql::row_by!(tokio_postgres::Row, try_get);
