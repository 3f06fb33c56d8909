//! SQLite, the embedded default: one file in the data dir (`tally.db`), WAL
//! mode, the schema migrated by `schema.rs`; the statements are `sql/`'s.
//!
//! One writer connection (SQLite allows one writer at a time anyway) and a
//! few reader connections, so reads do not queue behind writes.
//!
//! Durability: `--sqlite-sync normal` (the default) survives a crash or
//! `kill -9` of the process — every acknowledged write is in the WAL — but a
//! power loss may lose the last transactions; `full` fsyncs the WAL on every
//! commit and survives that too, at a cost measured in BENCHMARKS.md.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use std::borrow::Cow;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;
use super::schema::{self, Dialect};
use super::sql::{Conn, Database, Param, Row, SqlStore};

/// SQLite's `synchronous` setting for the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Durable across process crashes (default).
    Normal,
    /// Durable across power loss: fsync on every commit.
    Full,
}

const READERS: usize = 4;

/// Makes `dir` if it is missing; an error naming it if it is not a
/// directory or cannot be made.
fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.exists() && !dir.is_dir() {
        return Err(StoreError::Database(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Database(format!("cannot create {}: {e}", dir.display())))
}

/// The lock that keeps a data dir to one server: an exclusive advisory
/// lock on `tally.lock` in it, held as long as this value lives (the
/// operating system drops it when the process ends, however it ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    /// Takes the lock of `dir` (creating the dir if needed), or says why
    /// not: another process holds it, or the dir cannot be used.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        ensure_dir(dir)?;
        let path = dir.join("tally.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Database(format!(
                "{} is in use by another tally server (it holds {}); \
                 one data dir serves one server: stop the other, or give this one another --data",
                dir.display(),
                path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Database(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }
}

/// The SQLite store.
pub type SqliteStore = SqlStore<SqliteDb>;

/// SQLite's connections: one writer (SQLite allows one writer at a time
/// anyway) and a few readers, so reads do not queue behind writes.
pub struct SqliteDb {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
}

impl SqlStore<SqliteDb> {
    /// Opens (creating if needed) `dir/tally.db` and migrates it. Errors
    /// name the path and the cause (not a directory, not writable, not a
    /// database or a damaged one).
    pub fn open(dir: &Path, sync: Durability) -> Result<Self, StoreError> {
        ensure_dir(dir)?;
        let path = dir.join("tally.db");
        let in_path = |e: StoreError| match e {
            StoreError::Database(message) => {
                StoreError::Database(format!("{}: {message}", path.display()))
            }
            e => e,
        };
        let mut writer = connect(&path, sync).map_err(in_path)?;
        migrate(&mut writer).map_err(in_path)?;
        // A damaged file can open and still fail at its first real read.
        let check: String = writer
            .pragma_query_value(None, "quick_check", |r| r.get(0))
            .map_err(|e| in_path(e.into()))?;
        if check != "ok" {
            return Err(StoreError::Database(format!(
                "{}: the database is damaged ({check})",
                path.display()
            )));
        }
        let readers = (0..READERS)
            .map(|_| connect(&path, sync).map(Mutex::new))
            .collect::<Result<_, _>>()
            .map_err(in_path)?;
        Ok(SqlStore::new(SqliteDb {
            writer: Mutex::new(writer),
            readers,
        }))
    }
}

impl Database for SqliteDb {
    fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Any free reader, else wait for the first.
        for reader in &self.readers {
            if let Ok(conn) = reader.try_lock() {
                return f(&mut SqliteConn(&conn));
            }
        }
        match self.readers.first() {
            Some(reader) => f(&mut SqliteConn(&lock(reader))),
            None => f(&mut SqliteConn(&lock(&self.writer))),
        }
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&mut SqliteConn(&tx))?;
        tx.commit()?;
        Ok(out)
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding a connection leaves no half-done transaction
    // (it rolls back on drop), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn connect(path: &Path, sync: Durability) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match sync {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Brings the schema up to date. A database from before `refinery` counted
/// its migrations in `PRAGMA user_version`: those are recorded as applied
/// first (see `schema.rs`).
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let runner = schema::runner(Dialect::Sqlite)?;
    let history: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'refinery_schema_history'",
        [],
        |r| r.get(0),
    )?;
    let legacy: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if let Some(target) = schema::legacy_target(Dialect::Sqlite, legacy)
        && history == 0
    {
        schema::runner(Dialect::Sqlite)?
            .set_target(target)
            .run(conn)
            .map_err(schema::migration_error)?;
    }
    runner.run(conn).map_err(schema::migration_error)?;
    Ok(())
}

/// A statement in SQLite's words: `?1` for `$1`, and no `FOR UPDATE` (a
/// write transaction holds the database's one write lock already).
fn spell(sql: &'static str) -> Cow<'static, str> {
    let sql = sql.find(" FOR UPDATE").map_or(sql, |at| &sql[..at]);
    if sql.contains('$') {
        Cow::Owned(sql.replace('$', "?"))
    } else {
        Cow::Borrowed(sql)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Int(v) => v.to_sql(),
            Param::OptInt(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
            Param::OptText(v) => v.to_sql(),
            Param::Bytes(v) => v.to_sql(),
            Param::OptBytes(v) => v.to_sql(),
            Param::Bool(v) => v.to_sql(),
        }
    }
}

struct SqliteConn<'a>(&'a Connection);

impl SqliteConn<'_> {
    fn run(&self, sql: &'static str, params: &[Param<'_>]) -> rusqlite::Result<usize> {
        self.0
            .prepare_cached(&spell(sql))?
            .execute(rusqlite::params_from_iter(params))
    }
}

impl Conn for SqliteConn<'_> {
    fn execute(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        Ok(self.run(sql, params)? as u64)
    }

    fn send(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<(), StoreError> {
        self.run(sql, params)?;
        Ok(())
    }

    fn insert(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        what: &'static str,
    ) -> Result<(), StoreError> {
        match self.run(sql, params) {
            Ok(_) => Ok(()),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
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
        let mut stmt = self.0.prepare_cached(&spell(sql))?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            each(row)?;
        }
        Ok(())
    }

    fn appended_to_feed(&mut self) -> Result<(), StoreError> {
        // One writer: `seq` order is commit order.
        self.execute("UPDATE changes SET pos = seq WHERE pos IS NULL", &[])?;
        Ok(())
    }
}

super::sql::row_by!(rusqlite::Row<'_>, get);
