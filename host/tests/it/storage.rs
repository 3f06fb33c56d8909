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
fn sqlite_apps_change_whole_and_go_only_when_uninstalled() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::apps_change_whole_and_go_only_when_uninstalled(
        store(&dir, Durability::Normal).as_ref(),
    );
}

#[test]
fn sqlite_grant_versions_apply_narrower_and_wait_for_wider() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::grant_versions_apply_narrower_and_wait_for_wider(
        store(&dir, Durability::Normal).as_ref(),
    );
}

#[test]
fn sqlite_webhook_deliveries_are_queued_with_their_change_and_claimed_once() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::webhook_deliveries_are_queued_with_their_change_and_claimed_once(
        store(&dir, Durability::Normal).as_ref(),
    );
}

#[test]
fn sqlite_audit_filters_match_as_text() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::audit_filters_match_as_text(store(&dir, Durability::Normal).as_ref());
}

#[test]
fn sqlite_users_sign_in_once_and_one_claim_wins() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::users_sign_in_once_and_one_claim_wins(
        store(&dir, Durability::Normal).as_ref(),
    );
}

#[test]
fn sqlite_studio_sessions_last_until_closed_or_expired_and_sign_ins_are_taken_once() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::studio_sessions_last_until_closed_or_expired_and_sign_ins_are_taken_once(
        store(&dir, Durability::Normal).as_ref(),
    );
}

#[test]
fn sqlite_invitations_are_accepted_once_and_roles_are_per_project() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::invitations_are_accepted_once_and_roles_are_per_project(
        store(&dir, Durability::Normal).as_ref(),
    );
}

#[test]
fn sqlite_connections_redeem_once_and_a_second_use_ends_them() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::connections_redeem_once_and_a_second_use_ends_them(
        store(&dir, Durability::Normal).as_ref(),
    );
}

#[test]
fn sqlite_elements_round_trip_and_installations_switch_them() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::elements_round_trip_and_installations_switch_them(
        store(&dir, Durability::Normal).as_ref(),
    );
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
fn sqlite_token_records_page_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::token_records_page_in_id_order(store(&dir, Durability::Normal).as_ref());
}

#[test]
fn sqlite_change_feed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::change_feed_in_order(store(&dir, Durability::Normal).as_ref());
}

#[test]
fn sqlite_feed_skips_nothing_under_racing_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, Durability::Normal);
    storage_contract::feed_skips_nothing_under_racing_writers(&[Arc::clone(&store), store]);
}

/// A copy of the data dir the build before `refinery` wrote.
fn legacy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/legacy/tally.db");
    std::fs::copy(fixture, dir.path().join("tally.db")).unwrap();
    dir
}

#[test]
fn sqlite_opens_a_data_dir_from_before_refinery() {
    let dir = legacy_dir();
    storage_contract::legacy_data_carries_on(store(&dir, Durability::Normal).as_ref());
    // Opened again, it is an ordinary database: nothing is applied twice.
    let again = store(&dir, Durability::Normal);
    assert_eq!(again.last_change().unwrap(), 11);
    let applied: i64 = rusqlite::Connection::open(dir.path().join("tally.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM refinery_schema_history", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(applied, storage_contract::migrations());
}

#[test]
fn sqlite_refuses_a_schema_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    drop(store(&dir, Durability::Normal));
    // As a newer build would leave it: a migration this one lacks.
    rusqlite::Connection::open(dir.path().join("tally.db"))
        .unwrap()
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES (99, 'from_the_future', '2030-01-01T00:00:00Z', '1')",
            [],
        )
        .unwrap();
    let err = SqliteStore::open(dir.path(), Durability::Normal)
        .err()
        .unwrap();
    assert!(err.to_string().contains("schema migration failed"), "{err}");
}

#[test]
fn sqlite_catch_ups_find_every_writers_change() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::catch_ups_find_every_writers_change(store(&dir, Durability::Normal));
}

#[test]
fn sqlite_exchanges_redeem_once_and_say_what_they_replaced() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::exchanges_redeem_once_and_say_what_they_replaced(store(
        &dir,
        Durability::Normal,
    ));
}

#[test]
fn sqlite_exchanges_of_one_installation_at_once_leave_one_token() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::exchanges_of_one_installation_at_once_leave_one_token(
        store(&dir, Durability::Normal),
        &|_| Box::new(()),
    );
}

#[test]
fn sqlite_an_exchange_that_fails_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::an_exchange_that_fails_fails_alone(store(&dir, Durability::Normal), &|_| {
        Box::new(())
    });
}

#[test]
fn sqlite_tokens_made_at_once_get_their_installations_grants() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract::tokens_made_at_once_get_their_installations_grants(
        store(&dir, Durability::Normal),
        &|_| Box::new(()),
    );
}
