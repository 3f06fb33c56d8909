//! The storage contract (`storage_contract.rs`) on SQLite, in both
//! durability modes where it matters.

use crate::storage_contract;

use std::sync::Arc;

use tally::storage::{Durability, SqliteStore, Store};

fn store(dir: &tempfile::TempDir, durability: Durability) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir.path(), durability).unwrap())
}

#[test]
fn sqlite_rows_round_trip_and_conflict() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::rows_round_trip_and_conflict(store(&dir, Durability::Normal).as_ref());
}

#[test]
fn sqlite_redeem_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::redeem_outcomes(store(&dir, Durability::Normal).as_ref());
}

#[test]
fn sqlite_concurrent_redeems_yield_one_token() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::concurrent_redeems_yield_one_token(store(&dir, Durability::Full));
}

#[test]
fn sqlite_tokens_revoke_rotate_and_disable() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::tokens_revoke_rotate_and_disable(store(&dir, Durability::Normal).as_ref());
}

#[test]
fn sqlite_audit_pages_in_order() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::audit_pages_in_order(store(&dir, Durability::Normal).as_ref());
}

#[test]
fn sqlite_reopens_with_its_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = store(&dir, Durability::Normal);
        storage_contract::audit_pages_in_order(s.as_ref());
    }
    let again = store(&dir, Durability::Normal);
    assert_eq!(again.project("p").unwrap().unwrap().name, "P");
    assert_eq!(again.audit_after(0, 100).unwrap().len(), 4);
}

#[test]
fn sqlite_listings_hold_everything_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::listings_hold_everything_oldest_first(
        store(&dir, Durability::Normal).as_ref(),
    );
}

#[test]
fn sqlite_change_feed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::change_feed_in_order(store(&dir, Durability::Normal).as_ref());
}
