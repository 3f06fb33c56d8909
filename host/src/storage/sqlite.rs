//! SQLite storage: one file in the data dir, WAL mode, schema migrations by
//! `PRAGMA user_version`.
//!
//! One writer connection (SQLite allows one writer at a time anyway) and a
//! few reader connections, so reads do not queue behind writes.
//!
//! Durability: `--sqlite-sync normal` (the default) survives a crash or
//! `kill -9` of the process — every acknowledged write is in the WAL — but a
//! power loss may lose the last transactions; `full` fsyncs the WAL on every
//! commit and survives that too, at a cost measured in BENCHMARKS.md.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use verifier_core::{Grant, Installation, InstallationStatus, SecretHash, TokenId, TokenRecord};

use super::{
    AppRow, AuditEntry, AuditEvent, Change, Changed, EnvironmentRow, Project, Records, Redeem,
    SetupCodeRow, Store, StoreError, TokenRow,
};

/// SQLite's `synchronous` setting for the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Durable across process crashes (default).
    Normal,
    /// Durable across power loss: fsync on every commit.
    Full,
}

const READERS: usize = 4;

/// Migrations, applied in order; `PRAGMA user_version` counts the applied ones.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE environments (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL, default_stage TEXT NOT NULL,
    public_grants TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL);
CREATE TABLE apps (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE,
    client_secret_hash BLOB NOT NULL, setup_url TEXT NOT NULL,
    origins TEXT NOT NULL, grants TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE installations (
    id TEXT PRIMARY KEY, app_id TEXT NOT NULL REFERENCES apps(id),
    environment_id TEXT NOT NULL REFERENCES environments(id),
    status TEXT NOT NULL, config TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE setup_codes (
    code_hash BLOB PRIMARY KEY, installation_id TEXT NOT NULL REFERENCES installations(id),
    app_id TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);
CREATE TABLE tokens (
    token_id BLOB PRIMARY KEY, secret_hash BLOB NOT NULL, kind TEXT NOT NULL,
    name TEXT NOT NULL, project_id TEXT, environment_id TEXT, installation_id TEXT,
    principal TEXT, grants TEXT NOT NULL, expires_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
CREATE INDEX tokens_by_installation ON tokens(installation_id);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);
"#,
    r#"
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, token_id BLOB, environment_id TEXT);
INSERT INTO changes (token_id) SELECT token_id FROM tokens ORDER BY created_at;
INSERT INTO changes (environment_id) SELECT id FROM environments ORDER BY created_at;
"#,
    // The successor of a rotated token: a token is rotated once.
    r#"
ALTER TABLE tokens ADD COLUMN replaced_by BLOB;
"#,
];

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
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
}

impl SqliteStore {
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
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers,
        })
    }

    fn write<T>(
        &self,
        audit: &AuditEntry,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        insert_audit(&tx, audit)?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Any free reader, else wait for the first.
        for reader in &self.readers {
            if let Ok(conn) = reader.try_lock() {
                return f(&conn);
            }
        }
        match self.readers.first() {
            Some(reader) => f(&lock(reader)),
            None => f(&lock(&self.writer)),
        }
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

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(applied).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

fn insert_audit(tx: &Transaction<'_>, e: &AuditEntry) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![e.at, e.actor, e.action, e.target, e.detail.to_string()],
    )?;
    Ok(())
}

fn conflict_on_unique(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(what),
        _ => StoreError::from(e),
    }
}

fn hash_from(bytes: Vec<u8>) -> Result<SecretHash, StoreError> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Database("stored hash is not 32 bytes".into()))?;
    Ok(SecretHash::from_bytes(bytes))
}

const TOKEN_COLUMNS: &str = "token_id, secret_hash, kind, name, project_id, environment_id, \
     installation_id, principal, grants, expires_at, revoked, created_at";

/// Appends a token change to the feed (SQLite has one writer, so `seq`
/// order is commit order).
fn token_changed(tx: &Transaction<'_>, id: &TokenId) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO changes (token_id) VALUES (?1)",
        [&id.as_bytes()[..]],
    )?;
    Ok(())
}

fn environment_changed(tx: &Transaction<'_>, id: &str) -> Result<(), StoreError> {
    tx.execute("INSERT INTO changes (environment_id) VALUES (?1)", [id])?;
    Ok(())
}

fn token_from_row(row: &Row<'_>) -> Result<TokenRow, StoreError> {
    token_from_row_at(row, 0)
}

/// A token from the 12 columns of [`TOKEN_COLUMNS`] starting at column `at`.
fn token_from_row_at(row: &Row<'_>, at: usize) -> Result<TokenRow, StoreError> {
    let id: Vec<u8> = row.get(at)?;
    let id: [u8; 8] = id
        .try_into()
        .map_err(|_| StoreError::Database("stored token id is not 8 bytes".into()))?;
    let kind: String = row.get(at + 2)?;
    let grants: String = row.get(at + 8)?;
    Ok(TokenRow {
        record: TokenRecord {
            token_id: TokenId::from_bytes(id),
            secret_hash: hash_from(row.get(at + 1)?)?,
            kind: kind
                .parse()
                .map_err(|_| StoreError::Database(format!("unknown token kind {kind}")))?,
            name: row.get(at + 3)?,
            project_id: row.get(at + 4)?,
            environment_id: row.get(at + 5)?,
            installation_id: row.get(at + 6)?,
            principal: row.get(at + 7)?,
            grants: serde_json::from_str(&grants)?,
            expires_at: row.get(at + 9)?,
            revoked: row.get(at + 10)?,
        },
        created_at: row.get(at + 11)?,
    })
}

fn insert_token(tx: &Transaction<'_>, t: &TokenRow) -> Result<(), StoreError> {
    let r = &t.record;
    tx.execute(
        &format!(
            "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
        ),
        params![
            &r.token_id.as_bytes()[..],
            &r.secret_hash.as_bytes()[..],
            r.kind.as_str(),
            r.name,
            r.project_id,
            r.environment_id,
            r.installation_id,
            r.principal,
            serde_json::to_string(&r.grants)?,
            r.expires_at,
            r.revoked,
            t.created_at,
        ],
    )
    .map_err(conflict_on_unique("token"))?;
    token_changed(tx, &r.token_id)
}

fn installation_from_row(row: &Row<'_>) -> Result<Installation, StoreError> {
    let status: String = row.get(3)?;
    let config: String = row.get(4)?;
    Ok(Installation {
        id: row.get(0)?,
        app_id: row.get(1)?,
        environment_id: row.get(2)?,
        status: status
            .parse()
            .map_err(|_| StoreError::Database(format!("unknown installation status {status}")))?,
        config: serde_json::from_str(&config)?,
    })
}

fn app_from_row(row: &Row<'_>) -> Result<AppRow, StoreError> {
    let origins: String = row.get(5)?;
    let grants: String = row.get(6)?;
    Ok(AppRow {
        id: row.get(0)?,
        name: row.get(1)?,
        client_id: row.get(2)?,
        client_secret_hash: hash_from(row.get(3)?)?,
        setup_url: row.get(4)?,
        origins: serde_json::from_str(&origins)?,
        grants: serde_json::from_str(&grants)?,
        created_at: row.get(7)?,
    })
}

/// Runs a query for at most one row, mapping it with a fallible mapper.
fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    match rows.next()? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

/// Every row of `sql`, mapped.
fn all<T>(
    conn: &Connection,
    sql: &str,
    map: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

fn environment_from_row(r: &Row<'_>) -> Result<EnvironmentRow, StoreError> {
    environment_from_row_at(r, 0)
}

/// An environment from its 6 columns starting at column `at`.
fn environment_from_row_at(r: &Row<'_>, at: usize) -> Result<EnvironmentRow, StoreError> {
    let grants: String = r.get(at + 4)?;
    Ok(EnvironmentRow {
        id: r.get(at)?,
        project_id: r.get(at + 1)?,
        name: r.get(at + 2)?,
        default_stage: r.get(at + 3)?,
        public_grants: serde_json::from_str(&grants)?,
        created_at: r.get(at + 5)?,
    })
}

impl Records for SqliteStore {
    fn is_empty(&self) -> Result<bool, StoreError> {
        self.read(|c| {
            let n: i64 = c.query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))?;
            Ok(n == 0)
        })
    }

    fn environment(&self, id: &str) -> Result<Option<Arc<EnvironmentRow>>, StoreError> {
        self.read(|c| {
            one(
                c,
                "SELECT id, project_id, name, default_stage, public_grants, created_at \
                 FROM environments WHERE id = ?1",
                [id],
                environment_from_row,
            )
            .map(|row| row.map(Arc::new))
        })
    }

    fn token(&self, id: &TokenId) -> Result<Option<Arc<TokenRow>>, StoreError> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_id = ?1"),
                [&id.as_bytes()[..]],
                |row| token_from_row(row).map(Arc::new),
            )
        })
    }

    fn last_change(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }
}

impl Store for SqliteStore {
    fn create_project(&self, p: &Project, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            tx.execute(
                "INSERT INTO projects (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![p.id, p.name, p.created_at],
            )
            .map_err(conflict_on_unique("project"))?;
            Ok(())
        })
    }

    fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.read(|c| {
            one(
                c,
                "SELECT id, name, created_at FROM projects WHERE id = ?1",
                [id],
                |r| {
                    Ok(Project {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                },
            )
        })
    }

    fn create_environment(&self, e: &EnvironmentRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM projects WHERE id = ?1", [&e.project_id], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::NotFound("project"));
            }
            tx.execute(
                "INSERT INTO environments (id, project_id, name, default_stage, public_grants, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    e.id,
                    e.project_id,
                    e.name,
                    e.default_stage,
                    serde_json::to_string(&e.public_grants)?,
                    e.created_at
                ],
            )
                        .map_err(conflict_on_unique("environment"))?;
            environment_changed(tx, &e.id)
        })
    }

    fn set_public_grants(
        &self,
        id: &str,
        grants: &[Grant],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            let n = tx.execute(
                "UPDATE environments SET public_grants = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(grants)?],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("environment"));
            }
            environment_changed(tx, id)
        })
    }

    fn create_app(&self, a: &AppRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            tx.execute(
                "INSERT INTO apps (id, name, client_id, client_secret_hash, setup_url, origins, grants, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    a.id,
                    a.name,
                    a.client_id,
                    &a.client_secret_hash.as_bytes()[..],
                    a.setup_url,
                    serde_json::to_string(&a.origins)?,
                    serde_json::to_string(&a.grants)?,
                    a.created_at
                ],
            )
            .map_err(conflict_on_unique("app"))?;
            Ok(())
        })
    }

    fn app(&self, id: &str) -> Result<Option<AppRow>, StoreError> {
        self.read(|c| {
            one(
                c,
                "SELECT id, name, client_id, client_secret_hash, setup_url, origins, grants, created_at \
                 FROM apps WHERE id = ?1",
                [id],
                app_from_row,
            )
        })
    }

    fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRow>, StoreError> {
        self.read(|c| {
            one(
                c,
                "SELECT id, name, client_id, client_secret_hash, setup_url, origins, grants, created_at \
                 FROM apps WHERE client_id = ?1",
                [client_id],
                app_from_row,
            )
        })
    }

    fn create_installation(
        &self,
        i: &Installation,
        code: &SetupCodeRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            tx.execute(
                "INSERT INTO installations (id, app_id, environment_id, status, config, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![i.id, i.app_id, i.environment_id, i.status.as_str(), i.config.to_string(), audit.at],
            )
            .map_err(conflict_on_unique("installation"))?;
            insert_code(tx, code)
        })
    }

    fn installation(&self, id: &str) -> Result<Option<Installation>, StoreError> {
        self.read(|c| {
            one(
                c,
                "SELECT id, app_id, environment_id, status, config FROM installations WHERE id = ?1",
                [id],
                installation_from_row,
            )
        })
    }

    fn update_installation(
        &self,
        i: &Installation,
        revoke_tokens: bool,
        new_code: Option<&SetupCodeRow>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            let n = tx.execute(
                "UPDATE installations SET status = ?2, config = ?3, updated_at = ?4 WHERE id = ?1",
                params![i.id, i.status.as_str(), i.config.to_string(), audit.at],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("installation"));
            }
            if revoke_tokens {
                                tx.execute("UPDATE tokens SET revoked = 1 WHERE installation_id = ?1", [&i.id])?;
                tx.execute(
                    "INSERT INTO changes (token_id) SELECT token_id FROM tokens \
                     WHERE installation_id = ?1 ORDER BY created_at",
                    [&i.id],
                )?;
            }
            if revoke_tokens || i.status != InstallationStatus::Pending {
                // Codes live only while their installation is PENDING.
                tx.execute(
                    "UPDATE setup_codes SET used_at = ?2 WHERE installation_id = ?1 AND used_at IS NULL",
                    params![i.id, audit.at],
                )?;
            }
            if let Some(code) = new_code {
                insert_code(tx, code)?;
            }
            Ok(())
        })
    }

    fn setup_code_installation(
        &self,
        code_hash: &SecretHash,
    ) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            one(
                c,
                "SELECT installation_id FROM setup_codes WHERE code_hash = ?1",
                [&code_hash.as_bytes()[..]],
                |r| Ok(r.get(0)?),
            )
        })
    }

    fn redeem_setup_code(
        &self,
        code_hash: &SecretHash,
        app_id: &str,
        now: i64,
        token: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<Redeem, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<(String, i64, Option<i64>, String)> = tx
            .query_row(
                "SELECT c.app_id, c.expires_at, c.used_at, i.status FROM setup_codes c \
                 JOIN installations i ON i.id = c.installation_id WHERE c.code_hash = ?1",
                [&code_hash.as_bytes()[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let outcome = match found {
            None => Redeem::Unknown,
            // A code presented by another app is as good as unknown to it.
            Some((owner, ..)) if owner != app_id => Redeem::Unknown,
            Some((.., status)) if status != InstallationStatus::Pending.as_str() => {
                Redeem::NotPending
            }
            Some((_, _, Some(_), _)) => Redeem::Used,
            Some((_, expires_at, None, _)) if now >= expires_at => Redeem::Expired,
            Some(_) => {
                tx.execute(
                    "UPDATE setup_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL",
                    params![&code_hash.as_bytes()[..], now],
                )?;
                let replaced: Vec<Vec<u8>> = {
                    let mut stmt = tx.prepare(
                        "SELECT token_id FROM tokens WHERE installation_id = ?1 \
                         AND kind = 'APP' AND revoked = 0 ORDER BY created_at",
                    )?;
                    let rows = stmt.query_map([&token.record.installation_id], |r| r.get(0))?;
                    rows.collect::<Result<_, _>>()?
                };
                for id in &replaced {
                    tx.execute("UPDATE tokens SET revoked = 1 WHERE token_id = ?1", [id])?;
                    tx.execute("INSERT INTO changes (token_id) VALUES (?1)", [id])?;
                    insert_audit(&tx, &super::replaced_audit(audit, id, token))?;
                }
                insert_token(&tx, token)?;
                insert_audit(&tx, audit)?;
                Redeem::Redeemed
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    fn insert_token(&self, token: &TokenRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |tx| insert_token(tx, token))
    }

    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at DESC, token_id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(token_from_row(row)?);
            }
            Ok(out)
        })
    }

    fn revoke_token(&self, id: &TokenId, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            let n = tx.execute(
                "UPDATE tokens SET revoked = 1 WHERE token_id = ?1",
                [&id.as_bytes()[..]],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("token"));
            }
            token_changed(tx, id)
        })
    }

    fn rotate_token(
        &self,
        old: &TokenId,
        old_expires_at: Option<i64>,
        new: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            let (old_id, new_id) = (&old.as_bytes()[..], &new.record.token_id.as_bytes()[..]);
            let n = match old_expires_at {
                None => tx.execute(
                    "UPDATE tokens SET revoked = 1, replaced_by = ?2 \
                     WHERE token_id = ?1 AND revoked = 0 AND replaced_by IS NULL",
                    params![old_id, new_id],
                )?,
                Some(at) => tx.execute(
                    "UPDATE tokens SET expires_at = min(coalesce(expires_at, ?2), ?2), \
                     replaced_by = ?3 WHERE token_id = ?1 AND revoked = 0 AND replaced_by IS NULL",
                    params![old_id, at, new_id],
                )?,
            };
            if n == 0 {
                let rotated: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM tokens WHERE token_id = ?1 AND replaced_by IS NOT NULL",
                        [old_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                return Err(match rotated {
                    Some(_) => StoreError::Conflict("a successor of this token"),
                    None => StoreError::NotFound("token"),
                });
            }
            token_changed(tx, old)?;
            insert_token(tx, new)
        })
    }

    fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT c.seq, c.token_id IS NOT NULL, {}, \
                 e.id, e.project_id, e.name, e.default_stage, e.public_grants, e.created_at \
                 FROM changes c \
                 LEFT JOIN tokens t ON t.token_id = c.token_id \
                 LEFT JOIN environments e ON e.id = c.environment_id \
                 WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
                TOKEN_COLUMNS
                    .split(", ")
                    .map(|col| format!("t.{col}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))?;
            let mut rows = stmt.query(params![after, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let is_token: bool = row.get(1)?;
                let changed = if is_token {
                    Changed::Token(token_from_row_at(row, 2)?.record)
                } else {
                    Changed::Environment(environment_from_row_at(row, 14)?)
                };
                out.push(Change {
                    seq: row.get(0)?,
                    changed,
                });
            }
            Ok(out)
        })
    }

    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.read(|c| {
            all(
                c,
                "SELECT id, name, created_at FROM projects ORDER BY created_at, id",
                |r| {
                    Ok(Project {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                },
            )
        })
    }

    fn environments(&self) -> Result<Vec<EnvironmentRow>, StoreError> {
        self.read(|c| {
            all(
                c,
                "SELECT id, project_id, name, default_stage, public_grants, created_at \
                 FROM environments ORDER BY created_at, id",
                environment_from_row,
            )
        })
    }

    fn apps(&self) -> Result<Vec<AppRow>, StoreError> {
        self.read(|c| {
            all(
                c,
                "SELECT id, name, client_id, client_secret_hash, setup_url, origins, grants, created_at \
                 FROM apps ORDER BY created_at, id",
                app_from_row,
            )
        })
    }

    fn installations(&self) -> Result<Vec<Installation>, StoreError> {
        self.read(|c| {
            all(
                c,
                "SELECT id, app_id, environment_id, status, config FROM installations \
                 ORDER BY created_at, id",
                installation_from_row,
            )
        })
    }

    fn audit_after(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, at, actor, action, target, detail FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![after, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let detail: String = r.get(5)?;
                out.push(AuditEvent {
                    seq: r.get(0)?,
                    entry: AuditEntry {
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        target: r.get(4)?,
                        detail: serde_json::from_str(&detail)?,
                    },
                });
            }
            Ok(out)
        })
    }
}

fn insert_code(tx: &Transaction<'_>, code: &SetupCodeRow) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO setup_codes (code_hash, installation_id, app_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![&code.code_hash.as_bytes()[..], code.installation_id, code.app_id, code.expires_at],
    )
    .map_err(conflict_on_unique("setup code"))?;
    Ok(())
}
