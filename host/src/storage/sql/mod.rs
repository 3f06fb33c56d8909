//! The store, once for both databases: [`SqlStore`] implements [`Records`]
//! and [`Store`] over a [`Database`] (SQLite in `sqlite.rs`, PostgreSQL in
//! `postgres.rs`), which supplies connections and transactions and runs the
//! statements written here.
//!
//! Every statement is written once, in the SQL both databases speak, with
//! PostgreSQL's numbered parameters (`$1`); SQLite's adapter reads them as
//! its own `?1`. One clause differs: a `SELECT … FOR UPDATE [OF …]` takes row
//! locks on PostgreSQL, where several nodes write; on SQLite, whose write
//! transaction already holds the database's one write lock, the adapter
//! drops it.
//!
//! The rules of the data (what redeeming a code ends in, when codes are
//! spent, that a token is rotated once) are decided here, above the SQL, in
//! one place for both databases.
//!
//! The rooms: this file is the contract with a database ([`Param`],
//! [`Row`], [`Conn`], [`Database`]) and [`SqlStore`]; `statements` every
//! statement; `rows` reading and writing rows; `rules` the rules above;
//! `store` the [`Records`] and [`Store`] operations; `exchange` the two
//! that run in two steps ([`TwoSteps`]: a setup code's exchange and a new
//! token); `one_time` a connection's authorization codes and refresh
//! tokens, each redeemed once. A new column: its name in `statements`'
//! column list, its read and write in `rows`.

use super::{AuditEntry, StoreError};
#[cfg(doc)]
use super::{Records, Store};

/// A statement's parameter.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    /// `BIGINT`.
    Int(i64),
    /// `BIGINT`, or NULL.
    OptInt(Option<i64>),
    /// `TEXT`.
    Text(&'a str),
    /// `TEXT`, or NULL.
    OptText(Option<&'a str>),
    /// `{bytes}`.
    Bytes(&'a [u8]),
    /// `{bytes}`, or NULL.
    OptBytes(Option<&'a [u8]>),
    /// `BOOLEAN`.
    Bool(bool),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        Param::OptInt(v)
    }
}
impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Param::OptText(v.as_deref())
    }
}
impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Bytes(v)
    }
}
impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Param::OptText(v)
    }
}
impl<'a> From<Option<&'a [u8]>> for Param<'a> {
    fn from(v: Option<&'a [u8]>) -> Self {
        Param::OptBytes(v)
    }
}
impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

/// The parameters of a statement, each converted with [`Param::from`].
macro_rules! params {
    ($($p:expr),* $(,)?) => { &[$(Param::from($p)),*] as &[Param<'_>] };
}

/// A row of a result, read by column index.
pub trait Row {
    /// A `BIGINT` column.
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    /// A `BIGINT` column that may be NULL.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    /// A `TEXT` column.
    fn text(&self, i: usize) -> Result<String, StoreError>;
    /// A `TEXT` column that may be NULL.
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    /// A `{bytes}` column.
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError>;
    /// A `{bytes}` column that may be NULL.
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError>;
    /// A `BOOLEAN` column (or a boolean expression).
    fn bool(&self, i: usize) -> Result<bool, StoreError>;
}

/// Implements [`Row`] for a database's row type whose `$get(i)` reads any
/// column type the driver converts (both drivers convert every type
/// [`Row`] names).
macro_rules! row_by {
    ($row:ty, $get:ident) => {
        impl $crate::storage::sql::Row for $row {
            fn int(&self, i: usize) -> Result<i64, StoreError> {
                Ok(self.$get(i)?)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
                Ok(self.$get(i)?)
            }
            fn text(&self, i: usize) -> Result<String, StoreError> {
                Ok(self.$get(i)?)
            }
            fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
                Ok(self.$get(i)?)
            }
            fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
                Ok(self.$get(i)?)
            }
            fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
                Ok(self.$get(i)?)
            }
            fn bool(&self, i: usize) -> Result<bool, StoreError> {
                Ok(self.$get(i)?)
            }
        }
    };
}
pub(super) use row_by;

/// A connection, or a transaction on one, that runs this module's statements.
pub trait Conn {
    /// Runs a statement; how many rows it changed.
    fn execute(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, StoreError>;
    /// Runs a statement whose outcome the caller does not read. In a write
    /// transaction a database may send it with the next statement or the
    /// commit, in order (PostgreSQL pipelines them: one round trip for
    /// several statements); an error it raises is then returned by that
    /// next call, and the transaction rolls back all the same.
    fn send(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<(), StoreError>;
    /// Runs an `INSERT`; a key that exists already is `Conflict(what)`.
    /// Sent as [`Conn::send`] is: in a write transaction the conflict may
    /// be returned by the next call or the commit.
    fn insert(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        what: &'static str,
    ) -> Result<(), StoreError>;
    /// Runs a query, handing each row to `each` in order.
    fn query(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Runs `queries` in order, handing each row to `each` with the index
    /// of its query: in one round trip where the database can (PostgreSQL
    /// pipelines them), one after the other elsewhere.
    fn query_each(
        &mut self,
        queries: &[(&'static str, &[Param<'_>])],
        each: &mut dyn FnMut(usize, &dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for (i, (sql, params)) in queries.iter().enumerate() {
            self.query(sql, params, &mut |row| each(i, row))?;
        }
        Ok(())
    }
    /// Called in a write transaction after it appended to the change feed
    /// (rows of `changes` with no `pos` yet). Where one writer commits at a
    /// time (SQLite) it places them at their `seq`, which is commit order
    /// there; where writers commit concurrently (PostgreSQL) it does
    /// nothing, and [`Database::place_changes`] places them once committed.
    fn appended_to_feed(&mut self) -> Result<(), StoreError>;
}

/// A database: connections to read on and transactions to write in.
pub trait Database: Send + Sync + 'static {
    /// Runs `f` on a connection for reading.
    fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;
    /// Runs `f` in a write transaction, committed when it returns `Ok`,
    /// rolled back otherwise.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;
    /// Runs `steps` in a write transaction: `reads`, each row handed to
    /// [`TwoSteps::row`], then [`TwoSteps::write`]; committed when that
    /// returns `Ok`, rolled back otherwise. Where the database can, several
    /// callers' steps share one transaction (group commit: PostgreSQL,
    /// `postgres/group.rs`), their reads in one round trip in the order of
    /// their `order`, their writes with one commit; of two whose writes
    /// claim the same thing ([`Written::claim`]) the later runs again on
    /// its own. By default, a transaction of its own ([`write_alone`]).
    fn write_in_two<S: TwoSteps>(
        &self,
        order: &[u8],
        reads: &[(&'static str, &[Param<'_>])],
        steps: &mut S,
    ) -> Result<S::Out, StoreError> {
        let _ = order;
        write_alone(self, reads, steps)
    }
    /// Gives every committed change that has no place in the feed yet the
    /// next places, before the feed is read. A change's place must never
    /// become visible after a larger one (a follower's cursor would skip
    /// it). Nothing to do where writers place their own changes
    /// ([`Conn::appended_to_feed`]).
    fn place_changes(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Whether committed changes may wait for their place (writers do not
    /// place their own): only then is there anything to read of them.
    fn places_later(&self) -> bool {
        false
    }
}

/// A write transaction in two steps, so that a database may run several
/// callers' in one ([`Database::write_in_two`]): reads known before it
/// starts, then writes decided on what they read.
pub trait TwoSteps {
    /// What the write ends in.
    type Out;
    /// Forgets what was read: the steps run again from the start.
    fn restart(&mut self);
    /// Takes one row of the `query`th read.
    fn row(&mut self, query: usize, row: &dyn Row) -> Result<(), StoreError>;
    /// Decides on what was read and writes on `c`. Where steps share a
    /// transaction, `c` takes only statements whose outcome is not read
    /// ([`Conn::send`], [`Conn::insert`]): a read there fails, and the
    /// steps run again in a transaction of their own. The others in the
    /// group wait for this: it must not call the store.
    fn write(&mut self, c: &mut dyn Conn) -> Result<Written<Self::Out>, StoreError>;
}

/// What [`TwoSteps::write`] wrote.
pub struct Written<T> {
    /// What the write ends in.
    pub out: T,
    /// What the writes rest on, if anything (a row they change that was
    /// read under lock): two writes with the same claim never share a
    /// transaction, since neither read what the other wrote.
    pub claim: Option<String>,
}

/// Runs `steps` in a write transaction of their own on `db`.
pub fn write_alone<D: Database + ?Sized, S: TwoSteps>(
    db: &D,
    reads: &[(&'static str, &[Param<'_>])],
    steps: &mut S,
) -> Result<S::Out, StoreError> {
    db.write(|c| {
        steps.restart();
        c.query_each(reads, &mut |i, row| steps.row(i, row))?;
        Ok(steps.write(c)?.out)
    })
}

/// The store, over the connections of SQLite ([`super::SqliteStore`]) or
/// PostgreSQL ([`super::PgStore`]).
pub struct SqlStore<D> {
    db: D,
}

impl<D: Database> SqlStore<D> {
    pub(super) fn new(db: D) -> Self {
        SqlStore { db }
    }

    /// Runs `f` and writes `audit` in one transaction.
    fn write<T>(
        &self,
        audit: &AuditEntry,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.db.write(|c| {
            let out = f(c)?;
            rows::insert_audit(c, audit)?;
            Ok(out)
        })
    }
}

mod exchange;
mod one_time;
mod rows;
mod rules;
mod statements;
mod store;
