//! The schema, once for both databases: versioned migration files in
//! `host/migrations/`, applied in order by `refinery`, which records what it
//! applied in its own table (`refinery_schema_history`) with a checksum of
//! each file, and refuses to start on a database whose applied migrations
//! differ from these (an applied file was edited, or the database is newer
//! than this build).
//!
//! A file is written once in the SQL both databases speak, with two words
//! standing for what they spell differently: `{bytes}` (SQLite `BLOB`,
//! PostgreSQL `BYTEA`) and `{serial}` (an increasing 64-bit primary key:
//! SQLite's `INTEGER PRIMARY KEY AUTOINCREMENT`, PostgreSQL's `BIGSERIAL
//! PRIMARY KEY`). Nothing else is rewritten.
//!
//! Adding a column: a new file `V<n>__<what>.sql` here (never edit an
//! applied one), its line in [`MIGRATIONS`], then the column in the row's
//! column list in `storage/sql/statements.rs`, its read and write in
//! `storage/sql/rows.rs`.
//!
//! Databases made before migrations ran through `refinery` counted them in
//! `PRAGMA user_version` (SQLite) or the `tally_schema_version` table
//! (PostgreSQL); each store's `open` reads that count once and records the
//! migrations it stands for as applied ([`legacy_target`]), then migrates on
//! as any other database.

use refinery::{Migration, Runner, Target};

use super::StoreError;

/// Every migration, in order: its `refinery` name and its text.
pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "V1__initial",
        include_str!("../../migrations/V1__initial.sql"),
    ),
    (
        "V2__change_feed",
        include_str!("../../migrations/V2__change_feed.sql"),
    ),
    (
        "V3__token_successor",
        include_str!("../../migrations/V3__token_successor.sql"),
    ),
    (
        "V4__app_url",
        include_str!("../../migrations/V4__app_url.sql"),
    ),
    (
        "V5__environment_models",
        include_str!("../../migrations/V5__environment_models.sql"),
    ),
    (
        "V6__app_lifecycle",
        include_str!("../../migrations/V6__app_lifecycle.sql"),
    ),
    (
        "V7__grant_versions",
        include_str!("../../migrations/V7__grant_versions.sql"),
    ),
    (
        "V8__webhooks",
        include_str!("../../migrations/V8__webhooks.sql"),
    ),
    ("V9__users", include_str!("../../migrations/V9__users.sql")),
    (
        "V10__token_user",
        include_str!("../../migrations/V10__token_user.sql"),
    ),
    (
        "V11__project_roles",
        include_str!("../../migrations/V11__project_roles.sql"),
    ),
    (
        "V12__connected_apps",
        include_str!("../../migrations/V12__connected_apps.sql"),
    ),
    (
        "V13__elements",
        include_str!("../../migrations/V13__elements.sql"),
    ),
    (
        "V14__feed_position",
        include_str!("../../migrations/V14__feed_position.sql"),
    ),
    (
        "V15__placed_positions",
        include_str!("../../migrations/V15__placed_positions.sql"),
    ),
    (
        "V16__studio_sessions",
        include_str!("../../migrations/V16__studio_sessions.sql"),
    ),
];

/// The database a migration is written out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// `text` in this dialect's words (see the module docs).
    fn spell(self, text: &str) -> String {
        let (bytes, serial) = match self {
            Dialect::Sqlite => ("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            Dialect::Postgres => ("BYTEA", "BIGSERIAL PRIMARY KEY"),
        };
        text.replace("{bytes}", bytes).replace("{serial}", serial)
    }
}

/// The runner of every migration, written out for `dialect`.
pub(super) fn runner(dialect: Dialect) -> Result<Runner, StoreError> {
    let migrations = MIGRATIONS
        .iter()
        .map(|(name, text)| Migration::unapplied(name, &dialect.spell(text)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(migration_error)?;
    Ok(Runner::new(&migrations))
}

/// What to record as applied for a database that counted `legacy` migrations
/// the old way (`None`: nothing to record). PostgreSQL's first legacy
/// migration already held the change feed, which SQLite's second added.
pub(super) fn legacy_target(dialect: Dialect, legacy: i64) -> Option<Target> {
    let version = match (dialect, legacy) {
        (_, n) if n <= 0 => return None,
        (Dialect::Sqlite, n) => n,
        (Dialect::Postgres, n) => n + 1,
    };
    Some(Target::FakeVersion(
        i32::try_from(version).unwrap_or(i32::MAX),
    ))
}

/// A migration failure, as a storage error.
pub(super) fn migration_error(e: refinery::Error) -> StoreError {
    StoreError::Database(format!("schema migration failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{Dialect, MIGRATIONS, legacy_target};

    #[test]
    fn every_file_is_listed_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort_by_key(|name| {
            name.trim_start_matches('V')
                .split("__")
                .next()
                .and_then(|n| n.parse::<u32>().ok())
        });
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|(name, _)| format!("{name}.sql"))
            .collect();
        assert_eq!(files, listed);
    }

    #[test]
    fn only_the_two_words_differ_between_dialects() {
        for (name, text) in MIGRATIONS {
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let spelt = dialect.spell(text);
                assert!(!spelt.contains('{'), "{name} has an unknown word");
            }
        }
        assert_eq!(
            Dialect::Sqlite.spell("a {bytes}, s {serial}"),
            "a BLOB, s INTEGER PRIMARY KEY AUTOINCREMENT"
        );
        assert_eq!(
            Dialect::Postgres.spell("a {bytes}, s {serial}"),
            "a BYTEA, s BIGSERIAL PRIMARY KEY"
        );
    }

    #[test]
    fn legacy_counts_map_to_the_same_schema() {
        use refinery::Target::FakeVersion;
        assert!(legacy_target(Dialect::Sqlite, 0).is_none());
        assert!(legacy_target(Dialect::Postgres, 0).is_none());
        assert!(matches!(
            legacy_target(Dialect::Sqlite, 3),
            Some(FakeVersion(3))
        ));
        assert!(matches!(
            legacy_target(Dialect::Postgres, 1),
            Some(FakeVersion(2))
        ));
        assert!(matches!(
            legacy_target(Dialect::Postgres, 2),
            Some(FakeVersion(3))
        ));
    }
}
