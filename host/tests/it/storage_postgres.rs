//! The storage contract (`storage_contract.rs`) on a real PostgreSQL server.
//!
//! These need a server: set `TALLY_TEST_POSTGRES` to a URL whose user may
//! create schemas, e.g. `postgres://tally:tally@127.0.0.1:5432/tally_test`
//! (`.ci/run` installs Debian's `postgresql`, starts it on loopback and
//! creates that role and database). They are `#[ignore]`d so a plain `cargo
//! test` without a server reports them as ignored rather than passing;
//! `.ci/test` runs them with `--include-ignored` and fails without the URL.
//! Each test gets a schema of its own, dropped at the end.

use crate::storage_contract;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tally::storage::{Changed, PgStore, Records, Store, StoreError};
use verifier_core::{Action, Api, Grant};

const NEEDS: &str = "needs PostgreSQL: set TALLY_TEST_POSTGRES";

/// A fresh store in a schema of its own; dropped with the guard.
struct Fresh {
    url: String,
    schema: String,
    store: Arc<dyn Store>,
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            // A test that failed may have left a transaction open on the
            // schema: give up on the schema rather than wait for it.
            let _ = c.batch_execute(&format!(
                "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {} CASCADE",
                self.schema
            ));
        }
    }
}

fn fresh() -> Fresh {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("TALLY_TEST_POSTGRES").expect(NEEDS);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!(
        "t_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    // Its connections carry the schema's name, for tests that look at them.
    let sep = if url.contains('?') { '&' } else { '?' };
    let named = format!("{url}{sep}application_name={schema}");
    let store = Arc::new(PgStore::open_in_schema(&named, &schema).unwrap());
    Fresh { url, schema, store }
}

/// How many of the store's connections are in each state
/// (`pg_stat_activity`), sorted.
fn connection_states(f: &Fresh) -> Vec<(String, i64)> {
    let mut c = postgres::Client::connect(&f.url, postgres::NoTls).unwrap();
    c.query(
        "SELECT coalesce(state, ''), count(*) FROM pg_stat_activity \
         WHERE application_name = $1 GROUP BY 1 ORDER BY 1",
        &[&f.schema],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Holds the row lock of installation `id` until dropped, in a
/// transaction on a connection of the test's own.
fn hold(f: &Fresh, id: &str) -> Box<dyn std::any::Any> {
    struct Held(postgres::Client);
    impl Drop for Held {
        fn drop(&mut self) {
            self.0.batch_execute("COMMIT").unwrap();
        }
    }
    let mut c = postgres::Client::connect(&f.url, postgres::NoTls).unwrap();
    c.batch_execute(&format!("SET search_path = {}; BEGIN", f.schema))
        .unwrap();
    let locked = c
        .execute(
            "SELECT 1 FROM installations WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .unwrap();
    assert_eq!(locked, 1);
    Box::new(Held(c))
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_rows_round_trip_and_conflict() {
    let f = fresh();
    storage_contract::rows_round_trip_and_conflict(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_apps_change_whole_and_go_only_when_uninstalled() {
    let f = fresh();
    storage_contract::apps_change_whole_and_go_only_when_uninstalled(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_grant_versions_apply_narrower_and_wait_for_wider() {
    let f = fresh();
    storage_contract::grant_versions_apply_narrower_and_wait_for_wider(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_webhook_deliveries_are_queued_with_their_change_and_claimed_once() {
    let f = fresh();
    storage_contract::webhook_deliveries_are_queued_with_their_change_and_claimed_once(
        f.store.as_ref(),
    );
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_audit_filters_match_as_text() {
    let f = fresh();
    storage_contract::audit_filters_match_as_text(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_invitations_are_accepted_once_and_roles_are_per_project() {
    let f = fresh();
    storage_contract::invitations_are_accepted_once_and_roles_are_per_project(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_connections_redeem_once_and_a_second_use_ends_them() {
    let f = fresh();
    storage_contract::connections_redeem_once_and_a_second_use_ends_them(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_elements_round_trip_and_installations_switch_them() {
    let f = fresh();
    storage_contract::elements_round_trip_and_installations_switch_them(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_users_sign_in_once_and_one_claim_wins() {
    let f = fresh();
    storage_contract::users_sign_in_once_and_one_claim_wins(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_studio_sessions_last_until_closed_or_expired_and_sign_ins_are_taken_once() {
    let f = fresh();
    storage_contract::studio_sessions_last_until_closed_or_expired_and_sign_ins_are_taken_once(
        f.store.as_ref(),
    );
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_redeem_outcomes() {
    let f = fresh();
    storage_contract::redeem_outcomes(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_concurrent_redeems_yield_one_token() {
    let f = fresh();
    storage_contract::concurrent_redeems_yield_one_token(Arc::clone(&f.store));
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_tokens_revoke_rotate_and_disable() {
    let f = fresh();
    storage_contract::tokens_revoke_rotate_and_disable(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_audit_pages_in_order() {
    let f = fresh();
    storage_contract::audit_pages_in_order(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_listings_hold_everything_oldest_first() {
    let f = fresh();
    storage_contract::listings_hold_everything_oldest_first(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_token_records_page_in_id_order() {
    let f = fresh();
    storage_contract::token_records_page_in_id_order(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_change_feed_in_order() {
    let f = fresh();
    storage_contract::change_feed_in_order(f.store.as_ref());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_feed_skips_nothing_with_writers_on_two_nodes() {
    let f = fresh();
    let other: Arc<dyn Store> = Arc::new(PgStore::open_in_schema(&f.url, &f.schema).unwrap());
    storage_contract::feed_skips_nothing_under_racing_writers(&[Arc::clone(&f.store), other]);
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_a_change_committed_late_is_read_after_a_later_one() {
    // Transaction A appends to the feed and stays open; B appends after it
    // and commits; a reader reads B. When A commits, the reader, standing
    // past B, must still be handed A: a feed ordered by insertion would
    // have given A the smaller number and the reader would skip it.
    let f = fresh();
    storage_contract::seed(f.store.as_ref());
    let mut a = postgres::Client::connect(&f.url, postgres::NoTls).unwrap();
    let mut a = a.transaction().unwrap();
    a.execute(
        &format!(
            "INSERT INTO {}.changes (environment_id) VALUES ('e')",
            f.schema
        ),
        &[],
    )
    .unwrap();
    let start = f.store.last_change().unwrap();
    f.store
        .set_public_grants(
            "e",
            &[Grant::new(Api::Content, Action::READ)],
            &storage_contract::audit("environment.public_grants", "e"),
        )
        .unwrap();
    let b = f.store.changes_after(start, 100).unwrap();
    assert_eq!(b.len(), 1, "B, and not A, which is not committed");
    let cursor = b[0].seq;
    a.commit().unwrap();
    let late = f.store.changes_after(cursor, 100).unwrap();
    assert_eq!(late.len(), 1, "A, read after B");
    assert!(matches!(&late[0].changed, Changed::Environment(e) if e.id == "e"));
    assert!(late[0].seq > cursor);
    assert_eq!(f.store.last_change().unwrap(), late[0].seq);
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_reopens_with_its_data_and_schema() {
    let f = fresh();
    storage_contract::audit_pages_in_order(f.store.as_ref());
    let again = PgStore::open_in_schema(&f.url, &f.schema).unwrap();
    assert_eq!(again.project("p").unwrap().unwrap().name, "P");
    assert_eq!(again.audit_after(0, 100).unwrap().len(), 4);
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_two_stores_on_one_schema_see_each_other() {
    // Two nodes: the same database through two pools.
    let f = fresh();
    let other = PgStore::open_in_schema(&f.url, &f.schema).unwrap();
    storage_contract::rows_round_trip_and_conflict(f.store.as_ref());
    assert_eq!(other.app_by_client_id("cl_1").unwrap().unwrap().id, "app_1");
    assert_eq!(other.last_change().unwrap(), f.store.last_change().unwrap());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_opens_a_database_from_before_refinery() {
    let url = std::env::var("TALLY_TEST_POSTGRES").expect(NEEDS);
    let fresh = fresh();
    // The fixture is a dump of schema `legacy_fixture`; restore it into
    // this test's schema instead.
    let dump = include_str!("fixtures/legacy/postgres.sql")
        .replace("legacy_fixture", &fresh.schema)
        .replace(&format!("CREATE SCHEMA {};", fresh.schema), "");
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "DROP SCHEMA {0} CASCADE; CREATE SCHEMA {0};",
        fresh.schema
    ))
    .unwrap();
    c.batch_execute(&dump).unwrap();
    let store = PgStore::open_in_schema(&url, &fresh.schema).unwrap();
    storage_contract::legacy_data_carries_on(&store);
    drop(store);
    let again = PgStore::open_in_schema(&url, &fresh.schema).unwrap();
    assert_eq!(again.last_change().unwrap(), 11);
    let applied: i64 = c
        .query_one(
            &format!(
                "SELECT count(*) FROM {}.refinery_schema_history",
                fresh.schema
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(applied, storage_contract::migrations());
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_a_failed_change_leaves_no_transaction_open() {
    // A write transaction sends its statements with the next one; one that
    // fails after a statement went out must still end the transaction, or
    // its connection goes back to the pool inside it and the next change
    // made there joins it.
    let f = fresh();
    storage_contract::seed(f.store.as_ref());
    for _ in 0..3 {
        let missing = f.store.set_public_grants(
            "nope",
            &[],
            &storage_contract::audit("environment.public_grants", "nope"),
        );
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
    }
    let states = connection_states(&f);
    assert!(
        states.iter().all(|(state, _)| state == "idle"),
        "every pooled connection idle: {states:?}"
    );
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_a_panic_mid_exchange_leaves_no_transaction_open() {
    // An exchange's decision runs between its reads, which lock the code,
    // and its writes. A panic there must not send the connection back to
    // the pool inside the transaction, holding the code's lock.
    let f = fresh();
    let (_, _, code) = storage_contract::seed(f.store.as_ref());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        f.store
            .exchange_setup_code("cl_1", &code.hash(), 10, &mut |_| {
                panic!("a decision that panics")
            })
    }));
    assert!(panicked.is_err());
    let states = connection_states(&f);
    assert!(
        states.iter().all(|(state, _)| state == "idle"),
        "every pooled connection idle: {states:?}"
    );
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_connections_the_server_closed_are_replaced() {
    // The server ends every connection of the store (a restart, a
    // failover, an administrator): the next changes and reads open new
    // ones rather than fail on the dead.
    let f = fresh();
    storage_contract::seed(f.store.as_ref());
    assert!(!connection_states(&f).is_empty());
    let mut admin = postgres::Client::connect(&f.url, postgres::NoTls).unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&f.schema],
        )
        .unwrap();
    while !connection_states(&f).is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for _ in 0..10 {
        f.store
            .set_public_grants(
                "e",
                &[Grant::new(Api::Content, Action::READ)],
                &storage_contract::audit("environment.public_grants", "e"),
            )
            .unwrap();
        assert_eq!(
            f.store
                .environment("e")
                .unwrap()
                .unwrap()
                .public_grants
                .len(),
            1
        );
    }
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_catch_ups_find_every_writers_change() {
    let f = fresh();
    storage_contract::catch_ups_find_every_writers_change(Arc::clone(&f.store));
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_exchanges_redeem_once_and_say_what_they_replaced() {
    let f = fresh();
    storage_contract::exchanges_redeem_once_and_say_what_they_replaced(Arc::clone(&f.store));
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_exchanges_of_one_installation_at_once_leave_one_token() {
    let f = fresh();
    storage_contract::exchanges_of_one_installation_at_once_leave_one_token(
        Arc::clone(&f.store),
        &|id| hold(&f, id),
    );
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_tokens_made_at_once_get_their_installations_grants() {
    let f = fresh();
    storage_contract::tokens_made_at_once_get_their_installations_grants(
        Arc::clone(&f.store),
        &|id| hold(&f, id),
    );
}

#[test]
#[ignore = "needs PostgreSQL: set TALLY_TEST_POSTGRES"]
fn postgres_an_exchange_that_fails_fails_alone() {
    let f = fresh();
    storage_contract::an_exchange_that_fails_fails_alone(Arc::clone(&f.store), &|id| hold(&f, id));
}
