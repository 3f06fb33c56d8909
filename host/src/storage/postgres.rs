//! PostgreSQL storage, for several `tally serve` nodes on one database
//! (`tally serve --database postgres://…`).
//!
//! Same schema and semantics as the SQLite store; what differs is how the
//! guarantees are kept with many writers:
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

use std::sync::Arc;

use postgres::{NoTls, Row, Transaction};
use r2d2::{Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;
use verifier_core::{Grant, Installation, InstallationStatus, SecretHash, TokenId, TokenRecord};

use super::{
    AppRow, AuditEntry, AuditEvent, Change, Changed, EnvironmentRow, Project, Records, Redeem,
    SetupCodeRow, Store, StoreError, TokenRow,
};

/// Key of the advisory lock that orders feed appends.
const FEED_LOCK: i64 = 0x7461_6c6c_7966; // "tallyf"
/// Key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x7461_6c6c_796d; // "tallym"
/// Pooled connections per node.
const POOL_SIZE: u32 = 8;

/// Migrations, applied in order; `tally_schema_version` counts the applied ones.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE environments (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL, default_stage TEXT NOT NULL,
    public_grants TEXT NOT NULL DEFAULT '[]', created_at BIGINT NOT NULL);
CREATE TABLE apps (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE,
    client_secret_hash BYTEA NOT NULL, setup_url TEXT NOT NULL,
    origins TEXT NOT NULL, grants TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE installations (
    id TEXT PRIMARY KEY, app_id TEXT NOT NULL REFERENCES apps(id),
    environment_id TEXT NOT NULL REFERENCES environments(id),
    status TEXT NOT NULL, config TEXT NOT NULL,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE setup_codes (
    code_hash BYTEA PRIMARY KEY, installation_id TEXT NOT NULL REFERENCES installations(id),
    app_id TEXT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT);
CREATE TABLE tokens (
    token_id BYTEA PRIMARY KEY, secret_hash BYTEA NOT NULL, kind TEXT NOT NULL,
    name TEXT NOT NULL, project_id TEXT, environment_id TEXT, installation_id TEXT,
    principal TEXT, grants TEXT NOT NULL, expires_at BIGINT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE, created_at BIGINT NOT NULL);
CREATE INDEX tokens_by_installation ON tokens(installation_id);
CREATE TABLE audit (
    seq BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE changes (
    seq BIGSERIAL PRIMARY KEY, token_id BYTEA, environment_id TEXT);
"#,
    // The successor of a rotated token: a token is rotated once.
    r#"
ALTER TABLE tokens ADD COLUMN replaced_by BYTEA;
"#,
];

const TOKEN_COLUMNS: &str = "token_id, secret_hash, kind, name, project_id, environment_id, \
     installation_id, principal, grants, expires_at, revoked, created_at";
const APP_COLUMNS: &str =
    "id, name, client_id, client_secret_hash, setup_url, origins, grants, created_at";
const ENVIRONMENT_COLUMNS: &str = "id, project_id, name, default_stage, public_grants, created_at";

type Manager = PostgresConnectionManager<NoTls>;

/// The PostgreSQL store.
pub struct PgStore {
    /// Always `Some` until dropped (see `Drop`).
    pool: Option<Pool<Manager>>,
}

impl Drop for PgStore {
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

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`, TLS off:
    /// run it on a private network or a local socket) and migrates.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::connect(url, None)
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
        Self::connect(url, Some(schema))
    }

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
        let store = PgStore { pool: Some(pool) };
        store.migrate()?;
        Ok(store)
    }

    fn conn(&self) -> Result<PooledConnection<Manager>, StoreError> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| StoreError::Database("the store is closed".into()))?;
        Ok(pool.get()?)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let outcome = (|| -> Result<(), StoreError> {
            c.batch_execute(
                "CREATE TABLE IF NOT EXISTS tally_schema_version (version INT NOT NULL)",
            )?;
            let applied: i64 = c
                .query_opt("SELECT version::BIGINT FROM tally_schema_version", &[])?
                .map_or(0, |r| r.get(0));
            for (i, sql) in MIGRATIONS
                .iter()
                .enumerate()
                .skip(usize::try_from(applied).unwrap_or(0))
            {
                let mut tx = c.transaction()?;
                tx.batch_execute(sql)?;
                tx.execute("DELETE FROM tally_schema_version", &[])?;
                let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
                tx.execute(
                    "INSERT INTO tally_schema_version (version) VALUES ($1)",
                    &[&version],
                )?;
                tx.commit()?;
            }
            Ok(())
        })();
        c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
        outcome
    }

    fn write<T>(
        &self,
        audit: &AuditEntry,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        let out = f(&mut tx)?;
        insert_audit(&mut tx, audit)?;
        tx.commit()?;
        Ok(out)
    }
}

fn insert_audit(tx: &mut Transaction<'_>, e: &AuditEntry) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&e.at, &e.actor, &e.action, &e.target, &e.detail.to_string()],
    )?;
    Ok(())
}

/// Takes the feed lock for the rest of the transaction (see the module docs).
fn lock_feed(tx: &mut Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
    Ok(())
}

fn token_changed(tx: &mut Transaction<'_>, id: &TokenId) -> Result<(), StoreError> {
    lock_feed(tx)?;
    tx.execute(
        "INSERT INTO changes (token_id) VALUES ($1)",
        &[&&id.as_bytes()[..]],
    )?;
    Ok(())
}

fn environment_changed(tx: &mut Transaction<'_>, id: &str) -> Result<(), StoreError> {
    lock_feed(tx)?;
    tx.execute("INSERT INTO changes (environment_id) VALUES ($1)", &[&id])?;
    Ok(())
}

/// `Err(Conflict(what))` for a unique violation, the error otherwise.
fn conflict_on_unique(what: &'static str) -> impl Fn(postgres::Error) -> StoreError {
    move |e| match e.code() {
        Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => StoreError::Conflict(what),
        _ => StoreError::from(e),
    }
}

fn hash_from(bytes: Vec<u8>) -> Result<SecretHash, StoreError> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Database("stored hash is not 32 bytes".into()))?;
    Ok(SecretHash::from_bytes(bytes))
}

fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i).map_err(StoreError::from)
}

fn token_from_row(row: &Row, at: usize) -> Result<TokenRow, StoreError> {
    let id: Vec<u8> = get(row, at)?;
    let id: [u8; 8] = id
        .try_into()
        .map_err(|_| StoreError::Database("stored token id is not 8 bytes".into()))?;
    let kind: String = get(row, at + 2)?;
    let grants: String = get(row, at + 8)?;
    Ok(TokenRow {
        record: TokenRecord {
            token_id: TokenId::from_bytes(id),
            secret_hash: hash_from(get(row, at + 1)?)?,
            kind: kind
                .parse()
                .map_err(|_| StoreError::Database(format!("unknown token kind {kind}")))?,
            name: get(row, at + 3)?,
            project_id: get(row, at + 4)?,
            environment_id: get(row, at + 5)?,
            installation_id: get(row, at + 6)?,
            principal: get(row, at + 7)?,
            grants: serde_json::from_str(&grants)?,
            expires_at: get(row, at + 9)?,
            revoked: get(row, at + 10)?,
        },
        created_at: get(row, at + 11)?,
    })
}

fn insert_token(tx: &mut Transaction<'_>, t: &TokenRow) -> Result<(), StoreError> {
    let r = &t.record;
    tx.execute(
        &format!(
            "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
        ),
        &[
            &&r.token_id.as_bytes()[..],
            &&r.secret_hash.as_bytes()[..],
            &r.kind.as_str(),
            &r.name,
            &r.project_id,
            &r.environment_id,
            &r.installation_id,
            &r.principal,
            &serde_json::to_string(&r.grants)?,
            &r.expires_at,
            &r.revoked,
            &t.created_at,
        ],
    )
    .map_err(conflict_on_unique("token"))?;
    token_changed(tx, &r.token_id)
}

fn insert_code(tx: &mut Transaction<'_>, c: &SetupCodeRow) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO setup_codes (code_hash, installation_id, app_id, expires_at) VALUES ($1, $2, $3, $4)",
        &[&&c.code_hash.as_bytes()[..], &c.installation_id, &c.app_id, &c.expires_at],
    )
    .map_err(conflict_on_unique("setup code"))?;
    Ok(())
}

fn installation_from_row(row: &Row) -> Result<Installation, StoreError> {
    let status: String = get(row, 3)?;
    let config: String = get(row, 4)?;
    Ok(Installation {
        id: get(row, 0)?,
        app_id: get(row, 1)?,
        environment_id: get(row, 2)?,
        status: status
            .parse()
            .map_err(|_| StoreError::Database(format!("unknown installation status {status}")))?,
        config: serde_json::from_str(&config)?,
    })
}

fn app_from_row(row: &Row) -> Result<AppRow, StoreError> {
    let origins: String = get(row, 5)?;
    let grants: String = get(row, 6)?;
    Ok(AppRow {
        id: get(row, 0)?,
        name: get(row, 1)?,
        client_id: get(row, 2)?,
        client_secret_hash: hash_from(get(row, 3)?)?,
        setup_url: get(row, 4)?,
        origins: serde_json::from_str(&origins)?,
        grants: serde_json::from_str(&grants)?,
        created_at: get(row, 7)?,
    })
}

fn environment_from_row(r: &Row, at: usize) -> Result<EnvironmentRow, StoreError> {
    let grants: String = get(r, at + 4)?;
    Ok(EnvironmentRow {
        id: get(r, at)?,
        project_id: get(r, at + 1)?,
        name: get(r, at + 2)?,
        default_stage: get(r, at + 3)?,
        public_grants: serde_json::from_str(&grants)?,
        created_at: get(r, at + 5)?,
    })
}

fn project_from_row(r: &Row) -> Result<Project, StoreError> {
    Ok(Project {
        id: get(r, 0)?,
        name: get(r, 1)?,
        created_at: get(r, 2)?,
    })
}

impl Records for PgStore {
    fn is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = get(
            &self.conn()?.query_one("SELECT count(*) FROM tokens", &[])?,
            0,
        )?;
        Ok(n == 0)
    }

    fn environment(&self, id: &str) -> Result<Option<Arc<EnvironmentRow>>, StoreError> {
        self.conn()?
            .query_opt(
                &format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE id = $1"),
                &[&id],
            )?
            .map(|r| environment_from_row(&r, 0).map(Arc::new))
            .transpose()
    }

    fn token(&self, id: &TokenId) -> Result<Option<Arc<TokenRow>>, StoreError> {
        self.conn()?
            .query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_id = $1"),
                &[&&id.as_bytes()[..]],
            )?
            .map(|r| token_from_row(&r, 0).map(Arc::new))
            .transpose()
    }

    fn last_change(&self) -> Result<i64, StoreError> {
        get(
            &self
                .conn()?
                .query_one("SELECT coalesce(max(seq), 0)::BIGINT FROM changes", &[])?,
            0,
        )
    }
}

impl Store for PgStore {
    fn create_project(&self, p: &Project, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            tx.execute(
                "INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)",
                &[&p.id, &p.name, &p.created_at],
            )
            .map_err(conflict_on_unique("project"))?;
            Ok(())
        })
    }

    fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.conn()?
            .query_opt(
                "SELECT id, name, created_at FROM projects WHERE id = $1",
                &[&id],
            )?
            .map(|r| project_from_row(&r))
            .transpose()
    }

    fn create_environment(&self, e: &EnvironmentRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            if tx.query_opt("SELECT 1 FROM projects WHERE id = $1", &[&e.project_id])?.is_none() {
                return Err(StoreError::NotFound("project"));
            }
            tx.execute(
                &format!("INSERT INTO environments ({ENVIRONMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
                &[
                    &e.id,
                    &e.project_id,
                    &e.name,
                    &e.default_stage,
                    &serde_json::to_string(&e.public_grants)?,
                    &e.created_at,
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
                "UPDATE environments SET public_grants = $2 WHERE id = $1",
                &[&id, &serde_json::to_string(grants)?],
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
                &format!(
                    "INSERT INTO apps ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                &[
                    &a.id,
                    &a.name,
                    &a.client_id,
                    &&a.client_secret_hash.as_bytes()[..],
                    &a.setup_url,
                    &serde_json::to_string(&a.origins)?,
                    &serde_json::to_string(&a.grants)?,
                    &a.created_at,
                ],
            )
            .map_err(conflict_on_unique("app"))?;
            Ok(())
        })
    }

    fn app(&self, id: &str) -> Result<Option<AppRow>, StoreError> {
        self.conn()?
            .query_opt(
                &format!("SELECT {APP_COLUMNS} FROM apps WHERE id = $1"),
                &[&id],
            )?
            .map(|r| app_from_row(&r))
            .transpose()
    }

    fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRow>, StoreError> {
        self.conn()?
            .query_opt(
                &format!("SELECT {APP_COLUMNS} FROM apps WHERE client_id = $1"),
                &[&client_id],
            )?
            .map(|r| app_from_row(&r))
            .transpose()
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
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
                &[&i.id, &i.app_id, &i.environment_id, &i.status.as_str(), &i.config.to_string(), &audit.at],
            )
            .map_err(conflict_on_unique("installation"))?;
            insert_code(tx, code)
        })
    }

    fn installation(&self, id: &str) -> Result<Option<Installation>, StoreError> {
        self.conn()?
            .query_opt(
                "SELECT id, app_id, environment_id, status, config FROM installations WHERE id = $1",
                &[&id],
            )?
            .map(|r| installation_from_row(&r))
            .transpose()
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
                "UPDATE installations SET status = $2, config = $3, updated_at = $4 WHERE id = $1",
                &[&i.id, &i.status.as_str(), &i.config.to_string(), &audit.at],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("installation"));
            }
            if revoke_tokens {
                tx.execute("UPDATE tokens SET revoked = TRUE WHERE installation_id = $1", &[&i.id])?;
                lock_feed(tx)?;
                tx.execute(
                    "INSERT INTO changes (token_id) SELECT token_id FROM tokens \
                     WHERE installation_id = $1 ORDER BY created_at",
                    &[&i.id],
                )?;
            }
            if revoke_tokens || i.status != InstallationStatus::Pending {
                // Codes live only while their installation is PENDING.
                tx.execute(
                    "UPDATE setup_codes SET used_at = $2 WHERE installation_id = $1 AND used_at IS NULL",
                    &[&i.id, &audit.at],
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
        self.conn()?
            .query_opt(
                "SELECT installation_id FROM setup_codes WHERE code_hash = $1",
                &[&&code_hash.as_bytes()[..]],
            )?
            .map(|r| get(&r, 0))
            .transpose()
    }

    fn redeem_setup_code(
        &self,
        code_hash: &SecretHash,
        app_id: &str,
        now: i64,
        token: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<Redeem, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction()?;
        // FOR UPDATE: a concurrent redeem of this code, on any node, waits
        // here and then sees it used.
        // The installation's row is locked too, so a status change waits
        // for this redeem (or this redeem for it).
        let found = tx.query_opt(
            "SELECT c.app_id, c.expires_at, c.used_at, i.status FROM setup_codes c \
             JOIN installations i ON i.id = c.installation_id WHERE c.code_hash = $1 FOR UPDATE",
            &[&&code_hash.as_bytes()[..]],
        )?;
        let found: Option<(String, i64, Option<i64>, String)> = found
            .map(|r| Ok::<_, StoreError>((get(&r, 0)?, get(&r, 1)?, get(&r, 2)?, get(&r, 3)?)))
            .transpose()?;
        let outcome = match found {
            None => Redeem::Unknown,
            Some((owner, ..)) if owner != app_id => Redeem::Unknown,
            Some((.., status)) if status != InstallationStatus::Pending.as_str() => {
                Redeem::NotPending
            }
            Some((_, _, Some(_), _)) => Redeem::Used,
            Some((_, expires_at, None, _)) if now >= expires_at => Redeem::Expired,
            Some(_) => {
                tx.execute(
                    "UPDATE setup_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL",
                    &[&&code_hash.as_bytes()[..], &now],
                )?;
                let replaced: Vec<Vec<u8>> = tx
                    .query(
                        "UPDATE tokens SET revoked = TRUE WHERE installation_id = $1 \
                         AND kind = 'APP' AND NOT revoked RETURNING token_id",
                        &[&token.record.installation_id],
                    )?
                    .iter()
                    .map(|r| get(r, 0))
                    .collect::<Result<_, _>>()?;
                for id in &replaced {
                    let token_id = super::stored_token_id(id)?;
                    token_changed(&mut tx, &token_id)?;
                    insert_audit(&mut tx, &super::replaced_audit(audit, id, token))?;
                }
                insert_token(&mut tx, token)?;
                insert_audit(&mut tx, audit)?;
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
        self.conn()?
            .query(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at DESC, token_id"),
                &[],
            )?
            .iter()
            .map(|r| token_from_row(r, 0))
            .collect()
    }

    fn revoke_token(&self, id: &TokenId, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |tx| {
            let n = tx.execute(
                "UPDATE tokens SET revoked = TRUE WHERE token_id = $1",
                &[&&id.as_bytes()[..]],
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
                    "UPDATE tokens SET revoked = TRUE, replaced_by = $2 \
                     WHERE token_id = $1 AND NOT revoked AND replaced_by IS NULL",
                    &[&old_id, &new_id],
                )?,
                Some(at) => tx.execute(
                    "UPDATE tokens SET expires_at = least(coalesce(expires_at, $2), $2), \
                     replaced_by = $3 WHERE token_id = $1 AND NOT revoked AND replaced_by IS NULL",
                    &[&old_id, &at, &new_id],
                )?,
            };
            if n == 0 {
                let rotated = tx.query_opt(
                    "SELECT 1 FROM tokens WHERE token_id = $1 AND replaced_by IS NOT NULL",
                    &[&old_id],
                )?;
                return Err(match rotated {
                    Some(_) => StoreError::Conflict("a successor of this token"),
                    None => StoreError::NotFound("token"),
                });
            }
            token_changed(tx, old)?;
            insert_token(tx, new)
        })
    }

    fn audit_after(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        self.conn()?
            .query(
                "SELECT seq, at, actor, action, target, detail FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after, &i64::from(limit)],
            )?
            .iter()
            .map(|r| {
                let detail: String = get(r, 5)?;
                Ok(AuditEvent {
                    seq: get(r, 0)?,
                    entry: AuditEntry {
                        at: get(r, 1)?,
                        actor: get(r, 2)?,
                        action: get(r, 3)?,
                        target: get(r, 4)?,
                        detail: serde_json::from_str(&detail)?,
                    },
                })
            })
            .collect()
    }

    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.conn()?
            .query(
                "SELECT id, name, created_at FROM projects ORDER BY created_at, id",
                &[],
            )?
            .iter()
            .map(project_from_row)
            .collect()
    }

    fn environments(&self) -> Result<Vec<EnvironmentRow>, StoreError> {
        self.conn()?
            .query(
                &format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments ORDER BY created_at, id"),
                &[],
            )?
            .iter()
            .map(|r| environment_from_row(r, 0))
            .collect()
    }

    fn apps(&self) -> Result<Vec<AppRow>, StoreError> {
        self.conn()?
            .query(
                &format!("SELECT {APP_COLUMNS} FROM apps ORDER BY created_at, id"),
                &[],
            )?
            .iter()
            .map(app_from_row)
            .collect()
    }

    fn installations(&self) -> Result<Vec<Installation>, StoreError> {
        self.conn()?
            .query(
                "SELECT id, app_id, environment_id, status, config FROM installations ORDER BY created_at, id",
                &[],
            )?
            .iter()
            .map(installation_from_row)
            .collect()
    }

    fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        let token_columns = TOKEN_COLUMNS
            .split(", ")
            .map(|col| format!("t.{col}"))
            .collect::<Vec<_>>()
            .join(", ");
        let env_columns = ENVIRONMENT_COLUMNS
            .split(", ")
            .map(|col| format!("e.{col}"))
            .collect::<Vec<_>>()
            .join(", ");
        self.conn()?
            .query(
                &format!(
                    "SELECT c.seq, c.token_id IS NOT NULL, {token_columns}, {env_columns} \
                     FROM changes c \
                     LEFT JOIN tokens t ON t.token_id = c.token_id \
                     LEFT JOIN environments e ON e.id = c.environment_id \
                     WHERE c.seq > $1 ORDER BY c.seq LIMIT $2"
                ),
                &[&after, &i64::from(limit)],
            )?
            .iter()
            .map(|row| {
                let is_token: bool = get(row, 1)?;
                let changed = if is_token {
                    Changed::Token(token_from_row(row, 2)?.record)
                } else {
                    Changed::Environment(environment_from_row(row, 14)?)
                };
                Ok(Change {
                    seq: get(row, 0)?,
                    changed,
                })
            })
            .collect()
    }
}
