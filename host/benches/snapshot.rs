//! A replica starting from the snapshot of an authority holding N ten-grant
//! token records (10,000,000 unless `TALLY_SNAPSHOT_RECORDS` says), and the
//! memory it then holds per record.
//!
//! `cargo bench -p tally --bench snapshot`
//!
//! The authority is a real `tally serve` on loopback over SQLite. Its
//! records are written straight into its database (a token API call per
//! record would take hours): one ten-grant token, copied N times with new
//! ids. The replica is `follow::catch_up` into a `ReplicaStore` in this
//! process, what `tally serve --replica-of` does before it listens; the
//! time is until it is current, the memory is this process's resident set
//! before and after.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use tally::follow::{Source, catch_up};
use tally::storage::ReplicaStore;

#[path = "../../verifier-core/benches/common/mod.rs"]
mod common;
mod support;

fn main() {
    let n: u64 = support::env_or("TALLY_SNAPSHOT_RECORDS", 10_000_000);
    let dir = tempfile::tempdir().unwrap();

    // A first start makes the schema and the admin token the replica reads with.
    let data = dir.path().to_str().unwrap();
    let first = support::serve(&["--data", data], &[]);
    let admin = first
        .admin
        .clone()
        .expect("a first start prints the admin token");
    drop(first);

    let (_, template, _, _) = common::fixture();
    let grants = serde_json::to_string(&template.grants).unwrap();
    let started = Instant::now();
    let db = rusqlite::Connection::open(dir.path().join("tally.db")).unwrap();
    // A rollback journal for the bulk write (a WAL would hold every page
    // of it a second time); the server turns WAL back on when it opens.
    db.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF;")
        .unwrap();
    let copied = db
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO tokens (token_id, secret_hash, kind, name, project_id, environment_id, \
             installation_id, principal, grants, expires_at, revoked, created_at, user_id) \
             SELECT unhex(printf('%016x', i)), t.secret_hash, 'PAT', 'token ' || i, \
             'p1', 'master', NULL, NULL, ?2, NULL, FALSE, t.created_at, NULL \
             FROM n, (SELECT * FROM tokens LIMIT 1) t",
            rusqlite::params![n, grants],
        )
        .unwrap();
    drop(db);
    println!(
        "{copied} ten-grant records written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let node = support::serve(&["--data", data], &[]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = ReplicaStore::new();
    let before = support::resident_bytes();
    let started = Instant::now();
    let read = runtime
        .block_on(catch_up(&store, &Source::new(&node.base, &admin)))
        .unwrap();
    let took = started.elapsed();
    let after = support::resident_bytes();
    drop(node);
    let records = store.token_count() as u64;
    println!(
        "replica of {records} records ({} from the snapshot, {} feed changes after it) \
         current in {:.1} s; {} MiB resident, {} bytes per record, {} grant lists",
        read.snapshot_records,
        read.changes,
        took.as_secs_f64(),
        (after - before) >> 20,
        (after - before) / records.max(1),
        store.grant_list_count()
    );
}
