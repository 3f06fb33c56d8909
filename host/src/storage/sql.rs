//! The store, once for both databases: [`SqlStore`] implements [`Records`]
//! and [`Store`] over a [`Database`] (SQLite in `sqlite.rs`, PostgreSQL in
//! `postgres.rs`), which supplies connections and transactions and runs the
//! statements written here.
//!
//! Every statement is written once, in the SQL both databases speak, with
//! PostgreSQL's numbered parameters (`$1`); SQLite's adapter reads them as
//! its own `?1`. One clause differs: a `SELECT … FOR UPDATE` takes row
//! locks on PostgreSQL, where several nodes write; on SQLite, whose write
//! transaction already holds the database's one write lock, the adapter
//! drops it.
//!
//! The rules of the data (what redeeming a code ends in, when codes are
//! spent, that a token is rotated once) are decided here, above the SQL, in
//! one place for both databases.

use std::sync::Arc;

use verifier_core::{Grant, Installation, InstallationStatus, SecretHash, TokenId, TokenRecord};

use super::{
    AppRow, AuditEntry, AuditEvent, Change, Changed, EnvironmentRow, Project, Records, Redeem,
    SetupCodeRow, Store, StoreError, TokenRow,
};

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
    /// A `BOOLEAN` column (or a boolean expression).
    fn bool(&self, i: usize) -> Result<bool, StoreError>;
}

/// A connection, or a transaction on one, that runs this module's statements.
pub trait Conn {
    /// Runs a statement; how many rows it changed.
    fn execute(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64, StoreError>;
    /// Runs an `INSERT`; a key that exists already is `Conflict(what)`.
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
    /// Orders appends to the change feed among concurrent writers, for the
    /// rest of the transaction: a `seq` must never become visible after a
    /// larger one (a follower's cursor would skip it). A no-op where there
    /// is one writer.
    fn lock_feed(&mut self) -> Result<(), StoreError>;
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
            insert_audit(c, audit)?;
            Ok(out)
        })
    }
}

// ---- Statements ----------------------------------------------------------

/// The columns of a token row, in [`token_from`]'s order.
macro_rules! token_columns {
    ($t:literal) => {
        concat!(
            $t,
            "token_id, ",
            $t,
            "secret_hash, ",
            $t,
            "kind, ",
            $t,
            "name, ",
            $t,
            "project_id, ",
            $t,
            "environment_id, ",
            $t,
            "installation_id, ",
            $t,
            "principal, ",
            $t,
            "grants, ",
            $t,
            "expires_at, ",
            $t,
            "revoked, ",
            $t,
            "created_at"
        )
    };
}
/// How many columns [`token_columns`] names.
const TOKEN_WIDTH: usize = 12;

/// The columns of an environment row, in [`environment_from`]'s order.
macro_rules! environment_columns {
    ($t:literal) => {
        concat!(
            $t,
            "id, ",
            $t,
            "project_id, ",
            $t,
            "name, ",
            $t,
            "default_stage, ",
            $t,
            "public_grants, ",
            $t,
            "created_at"
        )
    };
}

/// The columns of an app row, in [`app_from`]'s order.
macro_rules! app_columns {
    () => {
        "id, name, client_id, client_secret_hash, setup_url, origins, grants, created_at"
    };
}

/// The columns of an installation row, in [`installation_from`]'s order.
macro_rules! installation_columns {
    () => {
        "id, app_id, environment_id, status, config"
    };
}

const COUNT_TOKENS: &str = "SELECT count(*) FROM tokens";
const TOKEN_BY_ID: &str = concat!(
    "SELECT ",
    token_columns!(""),
    " FROM tokens WHERE token_id = $1"
);
const TOKENS_NEWEST_FIRST: &str = concat!(
    "SELECT ",
    token_columns!(""),
    " FROM tokens ORDER BY created_at DESC, token_id"
);
const INSERT_TOKEN: &str = concat!(
    "INSERT INTO tokens (",
    token_columns!(""),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
);
const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked = TRUE WHERE token_id = $1";
const LIVE_APP_TOKENS: &str = "SELECT token_id FROM tokens WHERE installation_id = $1 \
     AND kind = 'APP' AND NOT revoked ORDER BY created_at";
const REVOKE_INSTALLATION_TOKENS: &str =
    "UPDATE tokens SET revoked = TRUE WHERE installation_id = $1";
const ROTATE_NOW: &str = "UPDATE tokens SET revoked = TRUE, replaced_by = $2 \
     WHERE token_id = $1 AND NOT revoked AND replaced_by IS NULL";
const ROTATE_WITH_GRACE: &str = "UPDATE tokens SET expires_at = \
     CASE WHEN expires_at IS NOT NULL AND expires_at < $2 THEN expires_at ELSE $2 END, \
     replaced_by = $3 WHERE token_id = $1 AND NOT revoked AND replaced_by IS NULL";
const ROTATED_BEFORE: &str =
    "SELECT count(*) FROM tokens WHERE token_id = $1 AND replaced_by IS NOT NULL";

const ENVIRONMENT_BY_ID: &str = concat!(
    "SELECT ",
    environment_columns!(""),
    " FROM environments WHERE id = $1"
);
const ENVIRONMENTS_OLDEST_FIRST: &str = concat!(
    "SELECT ",
    environment_columns!(""),
    " FROM environments ORDER BY created_at, id"
);
const INSERT_ENVIRONMENT: &str = concat!(
    "INSERT INTO environments (",
    environment_columns!(""),
    ") VALUES ($1, $2, $3, $4, $5, $6)"
);
const SET_PUBLIC_GRANTS: &str = "UPDATE environments SET public_grants = $2 WHERE id = $1";

const PROJECT_BY_ID: &str = "SELECT id, name, created_at FROM projects WHERE id = $1";
const PROJECTS_OLDEST_FIRST: &str =
    "SELECT id, name, created_at FROM projects ORDER BY created_at, id";
const INSERT_PROJECT: &str = "INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)";

const APP_BY_ID: &str = concat!("SELECT ", app_columns!(), " FROM apps WHERE id = $1");
const APP_BY_CLIENT_ID: &str =
    concat!("SELECT ", app_columns!(), " FROM apps WHERE client_id = $1");
const APPS_OLDEST_FIRST: &str = concat!(
    "SELECT ",
    app_columns!(),
    " FROM apps ORDER BY created_at, id"
);
const INSERT_APP: &str = concat!(
    "INSERT INTO apps (",
    app_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
);

const INSTALLATION_BY_ID: &str = concat!(
    "SELECT ",
    installation_columns!(),
    " FROM installations WHERE id = $1"
);
const INSTALLATIONS_OLDEST_FIRST: &str = concat!(
    "SELECT ",
    installation_columns!(),
    " FROM installations ORDER BY created_at, id"
);
const INSERT_INSTALLATION: &str = "INSERT INTO installations \
     (id, app_id, environment_id, status, config, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $6)";
const UPDATE_INSTALLATION: &str =
    "UPDATE installations SET status = $2, config = $3, updated_at = $4 WHERE id = $1";

const INSERT_CODE: &str = "INSERT INTO setup_codes (code_hash, installation_id, app_id, expires_at) \
     VALUES ($1, $2, $3, $4)";
const CODE_INSTALLATION: &str = "SELECT installation_id FROM setup_codes WHERE code_hash = $1";
/// The code and its installation's status. `FOR UPDATE`: a concurrent
/// redeem of this code, on any node, waits here and then sees it used; the
/// installation's row is locked too, so a status change waits for this
/// redeem (or this redeem for it).
const CODE_FOR_REDEEM: &str = "SELECT c.app_id, c.expires_at, c.used_at, i.status \
     FROM setup_codes c JOIN installations i ON i.id = c.installation_id \
     WHERE c.code_hash = $1 FOR UPDATE";
const SPEND_CODE: &str =
    "UPDATE setup_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL";
const SPEND_INSTALLATION_CODES: &str =
    "UPDATE setup_codes SET used_at = $2 WHERE installation_id = $1 AND used_at IS NULL";

const INSERT_AUDIT: &str =
    "INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)";
const AUDIT_AFTER: &str = "SELECT seq, at, actor, action, target, detail FROM audit \
     WHERE seq > $1 ORDER BY seq LIMIT $2";

const TOKEN_CHANGED: &str = "INSERT INTO changes (token_id) VALUES ($1)";
const INSTALLATION_TOKENS_CHANGED: &str = "INSERT INTO changes (token_id) \
     SELECT token_id FROM tokens WHERE installation_id = $1 ORDER BY created_at";
const ENVIRONMENT_CHANGED: &str = "INSERT INTO changes (environment_id) VALUES ($1)";
const LAST_CHANGE: &str = "SELECT coalesce(max(seq), 0) FROM changes";
/// A change with the row as it is now: the token's columns from 2, the
/// environment's from `2 + TOKEN_WIDTH`.
const CHANGES_AFTER: &str = concat!(
    "SELECT c.seq, c.token_id IS NOT NULL, ",
    token_columns!("t."),
    ", ",
    environment_columns!("e."),
    " FROM changes c \
     LEFT JOIN tokens t ON t.token_id = c.token_id \
     LEFT JOIN environments e ON e.id = c.environment_id \
     WHERE c.seq > $1 ORDER BY c.seq LIMIT $2"
);

// ---- Rows ----------------------------------------------------------------

fn hash_from(bytes: Vec<u8>) -> Result<SecretHash, StoreError> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Database("stored hash is not 32 bytes".into()))?;
    Ok(SecretHash::from_bytes(bytes))
}

/// A token from the columns of [`token_columns`] starting at column `at`.
fn token_from(row: &dyn Row, at: usize) -> Result<TokenRow, StoreError> {
    let kind = row.text(at + 2)?;
    Ok(TokenRow {
        record: TokenRecord {
            token_id: super::stored_token_id(&row.bytes(at)?)?,
            secret_hash: hash_from(row.bytes(at + 1)?)?,
            kind: kind
                .parse()
                .map_err(|_| StoreError::Database(format!("unknown token kind {kind}")))?,
            name: row.text(at + 3)?,
            project_id: row.opt_text(at + 4)?,
            environment_id: row.opt_text(at + 5)?,
            installation_id: row.opt_text(at + 6)?,
            principal: row.opt_text(at + 7)?,
            grants: serde_json::from_str(&row.text(at + 8)?)?,
            expires_at: row.opt_int(at + 9)?,
            revoked: row.bool(at + 10)?,
        },
        created_at: row.int(at + 11)?,
    })
}

fn insert_token(c: &mut dyn Conn, t: &TokenRow) -> Result<(), StoreError> {
    let r = &t.record;
    c.insert(
        INSERT_TOKEN,
        params![
            &r.token_id.as_bytes()[..],
            &r.secret_hash.as_bytes()[..],
            r.kind.as_str(),
            &r.name,
            &r.project_id,
            &r.environment_id,
            &r.installation_id,
            &r.principal,
            serde_json::to_string(&r.grants)?.as_str(),
            r.expires_at,
            r.revoked,
            t.created_at,
        ],
        "token",
    )?;
    token_changed(c, &r.token_id)
}

/// An environment from the columns of [`environment_columns`] starting at
/// column `at`.
fn environment_from(row: &dyn Row, at: usize) -> Result<EnvironmentRow, StoreError> {
    Ok(EnvironmentRow {
        id: row.text(at)?,
        project_id: row.text(at + 1)?,
        name: row.text(at + 2)?,
        default_stage: row.text(at + 3)?,
        public_grants: serde_json::from_str(&row.text(at + 4)?)?,
        created_at: row.int(at + 5)?,
    })
}

fn project_from(row: &dyn Row) -> Result<Project, StoreError> {
    Ok(Project {
        id: row.text(0)?,
        name: row.text(1)?,
        created_at: row.int(2)?,
    })
}

fn app_from(row: &dyn Row) -> Result<AppRow, StoreError> {
    Ok(AppRow {
        id: row.text(0)?,
        name: row.text(1)?,
        client_id: row.text(2)?,
        client_secret_hash: hash_from(row.bytes(3)?)?,
        setup_url: row.text(4)?,
        origins: serde_json::from_str(&row.text(5)?)?,
        grants: serde_json::from_str(&row.text(6)?)?,
        created_at: row.int(7)?,
    })
}

fn installation_from(row: &dyn Row) -> Result<Installation, StoreError> {
    let status = row.text(3)?;
    Ok(Installation {
        id: row.text(0)?,
        app_id: row.text(1)?,
        environment_id: row.text(2)?,
        status: status
            .parse()
            .map_err(|_| StoreError::Database(format!("unknown installation status {status}")))?,
        config: serde_json::from_str(&row.text(4)?)?,
    })
}

fn insert_code(c: &mut dyn Conn, code: &SetupCodeRow) -> Result<(), StoreError> {
    c.insert(
        INSERT_CODE,
        params![
            &code.code_hash.as_bytes()[..],
            &code.installation_id,
            &code.app_id,
            code.expires_at
        ],
        "setup code",
    )
}

fn insert_audit(c: &mut dyn Conn, e: &AuditEntry) -> Result<(), StoreError> {
    c.execute(
        INSERT_AUDIT,
        params![
            e.at,
            &e.actor,
            &e.action,
            &e.target,
            e.detail.to_string().as_str()
        ],
    )?;
    Ok(())
}

fn token_changed(c: &mut dyn Conn, id: &TokenId) -> Result<(), StoreError> {
    c.lock_feed()?;
    c.execute(TOKEN_CHANGED, params![&id.as_bytes()[..]])?;
    Ok(())
}

fn environment_changed(c: &mut dyn Conn, id: &str) -> Result<(), StoreError> {
    c.lock_feed()?;
    c.execute(ENVIRONMENT_CHANGED, params![id])?;
    Ok(())
}

/// The first row of `sql`, decoded.
fn one<T>(
    c: &mut dyn Conn,
    sql: &'static str,
    params: &[Param<'_>],
    decode: impl Fn(&dyn Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut found = None;
    c.query(sql, params, &mut |row| {
        if found.is_none() {
            found = Some(decode(row)?);
        }
        Ok(())
    })?;
    Ok(found)
}

/// Every row of `sql`, decoded.
fn all<T>(
    c: &mut dyn Conn,
    sql: &'static str,
    params: &[Param<'_>],
    decode: impl Fn(&dyn Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    c.query(sql, params, &mut |row| {
        out.push(decode(row)?);
        Ok(())
    })?;
    Ok(out)
}

// ---- Rules ---------------------------------------------------------------

/// A setup code as a redeem finds it.
struct FoundCode {
    app_id: String,
    expires_at: i64,
    used: bool,
    installation_status: String,
}

/// How redeeming `found` for `app_id` at `now` ends.
fn redeem_outcome(found: Option<&FoundCode>, app_id: &str, now: i64) -> Redeem {
    match found {
        None => Redeem::Unknown,
        // A code presented by another app is as good as unknown to it.
        Some(code) if code.app_id != app_id => Redeem::Unknown,
        Some(code) if code.installation_status != InstallationStatus::Pending.as_str() => {
            Redeem::NotPending
        }
        Some(code) if code.used => Redeem::Used,
        Some(code) if now >= code.expires_at => Redeem::Expired,
        Some(_) => Redeem::Redeemed,
    }
}

/// Whether an installation change spends the installation's unused codes:
/// codes live only while their installation is PENDING.
fn spends_codes(status: InstallationStatus, revoke_tokens: bool) -> bool {
    revoke_tokens || status != InstallationStatus::Pending
}

// ---- The store -----------------------------------------------------------

impl<D: Database> Records for SqlStore<D> {
    fn is_empty(&self) -> Result<bool, StoreError> {
        let n = self
            .db
            .read(|c| one(c, COUNT_TOKENS, params![], |r| r.int(0)))?;
        Ok(n.unwrap_or(0) == 0)
    }

    fn token(&self, id: &TokenId) -> Result<Option<Arc<TokenRow>>, StoreError> {
        self.db.read(|c| {
            one(c, TOKEN_BY_ID, params![&id.as_bytes()[..]], |r| {
                token_from(r, 0).map(Arc::new)
            })
        })
    }

    fn environment(&self, id: &str) -> Result<Option<Arc<EnvironmentRow>>, StoreError> {
        self.db.read(|c| {
            one(c, ENVIRONMENT_BY_ID, params![id], |r| {
                environment_from(r, 0).map(Arc::new)
            })
        })
    }

    fn last_change(&self) -> Result<i64, StoreError> {
        let seq = self
            .db
            .read(|c| one(c, LAST_CHANGE, params![], |r| r.int(0)))?;
        Ok(seq.unwrap_or(0))
    }
}

impl<D: Database> Store for SqlStore<D> {
    fn create_project(&self, p: &Project, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            c.insert(
                INSERT_PROJECT,
                params![&p.id, &p.name, p.created_at],
                "project",
            )
        })
    }

    fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.db
            .read(|c| one(c, PROJECT_BY_ID, params![id], project_from))
    }

    fn create_environment(&self, e: &EnvironmentRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            if one(c, PROJECT_BY_ID, params![&e.project_id], project_from)?.is_none() {
                return Err(StoreError::NotFound("project"));
            }
            c.insert(
                INSERT_ENVIRONMENT,
                params![
                    &e.id,
                    &e.project_id,
                    &e.name,
                    &e.default_stage,
                    serde_json::to_string(&e.public_grants)?.as_str(),
                    e.created_at
                ],
                "environment",
            )?;
            environment_changed(c, &e.id)
        })
    }

    fn set_public_grants(
        &self,
        id: &str,
        grants: &[Grant],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            let grants = serde_json::to_string(grants)?;
            if c.execute(SET_PUBLIC_GRANTS, params![id, grants.as_str()])? == 0 {
                return Err(StoreError::NotFound("environment"));
            }
            environment_changed(c, id)
        })
    }

    fn create_app(&self, a: &AppRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            c.insert(
                INSERT_APP,
                params![
                    &a.id,
                    &a.name,
                    &a.client_id,
                    &a.client_secret_hash.as_bytes()[..],
                    &a.setup_url,
                    serde_json::to_string(&a.origins)?.as_str(),
                    serde_json::to_string(&a.grants)?.as_str(),
                    a.created_at
                ],
                "app",
            )
        })
    }

    fn app(&self, id: &str) -> Result<Option<AppRow>, StoreError> {
        self.db.read(|c| one(c, APP_BY_ID, params![id], app_from))
    }

    fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRow>, StoreError> {
        self.db
            .read(|c| one(c, APP_BY_CLIENT_ID, params![client_id], app_from))
    }

    fn create_installation(
        &self,
        i: &Installation,
        code: &SetupCodeRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            c.insert(
                INSERT_INSTALLATION,
                params![
                    &i.id,
                    &i.app_id,
                    &i.environment_id,
                    i.status.as_str(),
                    i.config.to_string().as_str(),
                    audit.at
                ],
                "installation",
            )?;
            insert_code(c, code)
        })
    }

    fn installation(&self, id: &str) -> Result<Option<Installation>, StoreError> {
        self.db
            .read(|c| one(c, INSTALLATION_BY_ID, params![id], installation_from))
    }

    fn update_installation(
        &self,
        i: &Installation,
        revoke_tokens: bool,
        new_code: Option<&SetupCodeRow>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            let config = i.config.to_string();
            let changed = c.execute(
                UPDATE_INSTALLATION,
                params![&i.id, i.status.as_str(), config.as_str(), audit.at],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound("installation"));
            }
            if revoke_tokens {
                c.execute(REVOKE_INSTALLATION_TOKENS, params![&i.id])?;
                c.lock_feed()?;
                c.execute(INSTALLATION_TOKENS_CHANGED, params![&i.id])?;
            }
            if spends_codes(i.status, revoke_tokens) {
                c.execute(SPEND_INSTALLATION_CODES, params![&i.id, audit.at])?;
            }
            if let Some(code) = new_code {
                insert_code(c, code)?;
            }
            Ok(())
        })
    }

    fn setup_code_installation(
        &self,
        code_hash: &SecretHash,
    ) -> Result<Option<String>, StoreError> {
        self.db.read(|c| {
            one(
                c,
                CODE_INSTALLATION,
                params![&code_hash.as_bytes()[..]],
                |r| r.text(0),
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
        let hash = &code_hash.as_bytes()[..];
        self.db.write(|c| {
            let found = one(c, CODE_FOR_REDEEM, params![hash], |r| {
                Ok(FoundCode {
                    app_id: r.text(0)?,
                    expires_at: r.int(1)?,
                    used: r.opt_int(2)?.is_some(),
                    installation_status: r.text(3)?,
                })
            })?;
            let outcome = redeem_outcome(found.as_ref(), app_id, now);
            if outcome != Redeem::Redeemed {
                return Ok(outcome);
            }
            c.execute(SPEND_CODE, params![hash, now])?;
            // One live APP token an installation: this one replaces the rest.
            let replaced = all(
                c,
                LIVE_APP_TOKENS,
                params![&token.record.installation_id],
                |r| r.bytes(0),
            )?;
            for id in &replaced {
                c.execute(REVOKE_TOKEN, params![id.as_slice()])?;
                token_changed(c, &super::stored_token_id(id)?)?;
                insert_audit(c, &super::replaced_audit(audit, id, token))?;
            }
            insert_token(c, token)?;
            insert_audit(c, audit)?;
            Ok(Redeem::Redeemed)
        })
    }

    fn insert_token(&self, token: &TokenRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| insert_token(c, token))
    }

    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.db
            .read(|c| all(c, TOKENS_NEWEST_FIRST, params![], |r| token_from(r, 0)))
    }

    fn revoke_token(&self, id: &TokenId, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            if c.execute(REVOKE_TOKEN, params![&id.as_bytes()[..]])? == 0 {
                return Err(StoreError::NotFound("token"));
            }
            token_changed(c, id)
        })
    }

    fn rotate_token(
        &self,
        old: &TokenId,
        old_expires_at: Option<i64>,
        new: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            let (old_id, new_id) = (&old.as_bytes()[..], &new.record.token_id.as_bytes()[..]);
            let changed = match old_expires_at {
                None => c.execute(ROTATE_NOW, params![old_id, new_id])?,
                Some(at) => c.execute(ROTATE_WITH_GRACE, params![old_id, at, new_id])?,
            };
            if changed == 0 {
                // A token is rotated once: a second rotation is a conflict,
                // not a missing token.
                let rotated = one(c, ROTATED_BEFORE, params![old_id], |r| r.int(0))?;
                return Err(match rotated {
                    Some(n) if n > 0 => StoreError::Conflict("a successor of this token"),
                    _ => StoreError::NotFound("token"),
                });
            }
            token_changed(c, old)?;
            insert_token(c, new)
        })
    }

    fn audit_after(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        self.db.read(|c| {
            all(c, AUDIT_AFTER, params![after, i64::from(limit)], |r| {
                Ok(AuditEvent {
                    seq: r.int(0)?,
                    entry: AuditEntry {
                        at: r.int(1)?,
                        actor: r.text(2)?,
                        action: r.text(3)?,
                        target: r.text(4)?,
                        detail: serde_json::from_str(&r.text(5)?)?,
                    },
                })
            })
        })
    }

    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.db
            .read(|c| all(c, PROJECTS_OLDEST_FIRST, params![], project_from))
    }

    fn environments(&self) -> Result<Vec<EnvironmentRow>, StoreError> {
        self.db.read(|c| {
            all(c, ENVIRONMENTS_OLDEST_FIRST, params![], |r| {
                environment_from(r, 0)
            })
        })
    }

    fn apps(&self) -> Result<Vec<AppRow>, StoreError> {
        self.db
            .read(|c| all(c, APPS_OLDEST_FIRST, params![], app_from))
    }

    fn installations(&self) -> Result<Vec<Installation>, StoreError> {
        self.db
            .read(|c| all(c, INSTALLATIONS_OLDEST_FIRST, params![], installation_from))
    }

    fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        self.db.read(|c| {
            all(c, CHANGES_AFTER, params![after, i64::from(limit)], |r| {
                let changed = if r.bool(1)? {
                    Changed::Token(token_from(r, 2)?.record)
                } else {
                    Changed::Environment(environment_from(r, 2 + TOKEN_WIDTH)?)
                };
                Ok(Change {
                    seq: r.int(0)?,
                    changed,
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use verifier_core::InstallationStatus;

    use super::{FoundCode, Redeem, redeem_outcome, spends_codes};

    fn code(used: bool, status: &str) -> FoundCode {
        FoundCode {
            app_id: "app".into(),
            expires_at: 100,
            used,
            installation_status: status.into(),
        }
    }

    #[test]
    fn redeem_outcomes_in_order_of_precedence() {
        let pending = code(false, "PENDING");
        assert_eq!(redeem_outcome(None, "app", 0), Redeem::Unknown);
        assert_eq!(redeem_outcome(Some(&pending), "other", 0), Redeem::Unknown);
        assert_eq!(redeem_outcome(Some(&pending), "app", 99), Redeem::Redeemed);
        assert_eq!(redeem_outcome(Some(&pending), "app", 100), Redeem::Expired);
        // A spent code reads as used even past its expiry; a code whose
        // installation moved on reads as that, used or not.
        assert_eq!(
            redeem_outcome(Some(&code(true, "PENDING")), "app", 500),
            Redeem::Used
        );
        assert_eq!(
            redeem_outcome(Some(&code(true, "COMPLETED")), "app", 0),
            Redeem::NotPending
        );
    }

    #[test]
    fn codes_live_only_while_pending() {
        assert!(!spends_codes(InstallationStatus::Pending, false));
        assert!(spends_codes(InstallationStatus::Pending, true));
        assert!(spends_codes(InstallationStatus::Completed, false));
        assert!(spends_codes(InstallationStatus::Disabled, false));
    }
}
