//! The storage contract: what every `Store` must do, written against
//! `&dyn Store` so each implementation runs the same checks (SQLite in
//! `storage.rs`, PostgreSQL in `storage_postgres.rs`).

use std::sync::Arc;

use serde_json::json;
use tally::storage::{
    AppRow, AuditEntry, Changed, EnvironmentRow, Exchanged, NewTokens, PreviousSecret, Project,
    Records, Redeem, SetupCodeRow, Store, StoreError, TokenRow,
};
use verifier_core::{
    Action, Api, Grant, Grants, Installation, InstallationStatus, IssuedToken, OpaqueSecret,
    TokenKind, TokenRecord,
};

/// How many migrations there are: the files of `host/migrations/`.
pub fn migrations() -> i64 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let files = std::fs::read_dir(dir).unwrap();
    i64::try_from(files.count()).unwrap()
}

pub fn audit(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: 100,
        actor: "test".into(),
        action: action.into(),
        target: target.into(),
        detail: json!({}),
    }
}

fn token(seed: u8, installation: Option<&str>, created_at: i64) -> (IssuedToken, TokenRow) {
    let issued = IssuedToken::from_random([seed; 32]);
    let record = TokenRecord {
        token_id: issued.token_id(),
        secret_hash: issued.secret_hash(),
        kind: if installation.is_some() {
            TokenKind::App
        } else {
            TokenKind::Pat
        },
        name: format!("t{seed}"),
        project_id: Some("p".into()),
        environment_id: Some("e".into()),
        installation_id: installation.map(Into::into),
        principal: None,
        grants: Grants::shared(vec![Grant::new(Api::Content, Action::READ)]),
        expires_at: Some(10_000),
        revoked: false,
    };
    (
        issued,
        TokenRow {
            record,
            created_at,
            user_id: None,
        },
    )
}

pub fn seed(store: &dyn Store) -> (AppRow, Installation, OpaqueSecret) {
    store
        .create_project(
            &Project {
                id: "p".into(),
                name: "P".into(),
                created_at: 1,
            },
            &audit("project.create", "p"),
        )
        .unwrap();
    let env = EnvironmentRow {
        id: "e".into(),
        project_id: "p".into(),
        name: "E".into(),
        default_stage: "PUBLISHED".into(),
        public_grants: vec![],
        created_at: 1,
        models: vec![],
    };
    store
        .create_environment(&env, &audit("environment.create", "e"))
        .unwrap();
    let secret = OpaqueSecret::from_random([1; 32]);
    let app = AppRow {
        id: "app_1".into(),
        name: "A".into(),
        client_id: "cl_1".into(),
        client_secret_hash: secret.hash(),
        setup_url: "http://a/setup".into(),
        url: Some("http://a/".into()),
        origins: vec!["http://a".into()],
        grants: vec![Grant::new(Api::Content, Action::READ)],
        created_at: 1,
        previous_secret: None,
        webhook_url: None,
        webhook_secret_version: 1,
        project_id: None,
        redirect_uris: Vec::new(),
        elements: Vec::new(),
    };
    store
        .create_app(&app, &audit("app.create", "app_1"))
        .unwrap();
    let installation = Installation {
        id: "in_1".into(),
        app_id: "app_1".into(),
        environment_id: "e".into(),
        status: InstallationStatus::Pending,
        config: json!({}),
    };
    let code = OpaqueSecret::from_random([2; 32]);
    let row = SetupCodeRow {
        code_hash: code.hash(),
        installation_id: "in_1".into(),
        app_id: "app_1".into(),
        expires_at: 1000,
    };
    store
        .create_installation(&installation, &row, &audit("installation.create", "in_1"))
        .unwrap();
    (app, installation, code)
}

pub fn rows_round_trip_and_conflict(store: &dyn Store) {
    assert!(store.is_empty().unwrap());
    let (app, installation, _) = seed(store);
    assert_eq!(store.project("p").unwrap().unwrap().name, "P");
    assert!(store.project("q").unwrap().is_none());
    assert_eq!(
        store.environment("e").unwrap().unwrap().default_stage,
        "PUBLISHED"
    );
    let got = store.app_by_client_id("cl_1").unwrap().unwrap();
    assert_eq!(
        (got.id.as_str(), got.origins.clone()),
        ("app_1", app.origins.clone())
    );
    assert!(got.client_secret_hash.ct_eq(&app.client_secret_hash));
    assert_eq!(got.url.as_deref(), Some("http://a/"));
    let stored = store.installation("in_1").unwrap().unwrap();
    assert_eq!(stored.installation, installation);
    // An installation approves its app's grants as they are when it is made.
    assert_eq!((&stored.grants, stored.grants_version), (&app.grants, 1));
    assert_eq!(stored.requested, None);

    let before = store.audit_after(0, 1000).unwrap().len();
    let dup = store.create_project(
        &Project {
            id: "p".into(),
            name: "again".into(),
            created_at: 2,
        },
        &audit("project.create", "p"),
    );
    assert!(
        matches!(dup, Err(StoreError::Conflict("project"))),
        "{dup:?}"
    );
    let orphan = EnvironmentRow {
        id: "x".into(),
        project_id: "nope".into(),
        name: "X".into(),
        default_stage: "PUBLISHED".into(),
        public_grants: vec![],
        created_at: 1,
        models: vec![],
    };
    assert!(matches!(
        store.create_environment(&orphan, &audit("environment.create", "x")),
        Err(StoreError::NotFound("project"))
    ));
    assert!(matches!(
        store.set_public_grants("nope", &[], &audit("environment.public_grants", "nope")),
        Err(StoreError::NotFound(_))
    ));
    // A failed change writes no audit entry.
    assert_eq!(store.audit_after(0, 1000).unwrap().len(), before);

    let grants = vec![Grant::new(Api::Content, Action::READ)];
    store
        .set_public_grants("e", &grants, &audit("environment.public_grants", "e"))
        .unwrap();
    assert_eq!(
        store.environment("e").unwrap().unwrap().public_grants,
        grants
    );
}

pub fn redeem_outcomes(store: &dyn Store) {
    let (_, _, code) = seed(store);
    let (_, t1) = token(10, Some("in_1"), 5);
    let (_, t2) = token(11, Some("in_1"), 5);
    let unknown = OpaqueSecret::from_random([9; 32]).hash();
    assert_eq!(
        store
            .redeem_setup_code(&unknown, "app_1", 10, &t1, &audit("x", "in_1"))
            .unwrap(),
        Redeem::Unknown
    );
    assert_eq!(
        store
            .redeem_setup_code(&code.hash(), "app_2", 10, &t1, &audit("x", "in_1"))
            .unwrap(),
        Redeem::Unknown
    );
    // An exchange reads the app and the code's context; declined, it
    // writes nothing.
    let mut read = None;
    let declined = store
        .exchange_setup_code("cl_1", &code.hash(), 10, &mut |context| {
            read = Some(context.clone());
            None
        })
        .unwrap();
    assert_eq!(declined, Exchanged::Declined);
    let context = read.unwrap();
    assert_eq!(context.app.unwrap().id, "app_1");
    let (installation, environment) = context.code.unwrap();
    assert_eq!(installation.installation.id, "in_1");
    assert_eq!(
        installation.installation.environment_id,
        environment.unwrap().id
    );
    let mut read = None;
    store
        .exchange_setup_code("cl_none", &unknown, 10, &mut |context| {
            read = Some(context.clone());
            None
        })
        .unwrap();
    let nothing = read.unwrap();
    assert!(nothing.app.is_none() && nothing.code.is_none());
    assert!(
        store.token(&t1.record.token_id).unwrap().is_none(),
        "no token without a redeem"
    );
    assert_eq!(
        store
            .redeem_setup_code(&code.hash(), "app_1", 999, &t1, &audit("x", "in_1"))
            .unwrap(),
        Redeem::Redeemed
    );
    assert!(store.token(&t1.record.token_id).unwrap().is_some());
    assert_eq!(
        store
            .redeem_setup_code(&code.hash(), "app_1", 999, &t2, &audit("x", "in_1"))
            .unwrap(),
        Redeem::Used
    );
    assert!(store.token(&t2.record.token_id).unwrap().is_none());

    let late = OpaqueSecret::from_random([3; 32]);
    let installation = store.installation("in_1").unwrap().unwrap().installation;
    let row = SetupCodeRow {
        code_hash: late.hash(),
        installation_id: "in_1".into(),
        app_id: "app_1".into(),
        expires_at: 50,
    };
    store
        .update_installation(
            &installation,
            InstallationStatus::Pending,
            false,
            Some(&row),
            &audit("installation.setup_code", "in_1"),
        )
        .unwrap();
    assert_eq!(
        store
            .redeem_setup_code(&late.hash(), "app_1", 50, &t2, &audit("x", "in_1"))
            .unwrap(),
        Redeem::Expired
    );
}

pub fn concurrent_redeems_yield_one_token(store: Arc<dyn Store>) {
    let (_, _, code) = seed(store.as_ref());
    let threads: Vec<_> = (0..16u8)
        .map(|i| {
            let store = Arc::clone(&store);
            let hash = code.hash();
            std::thread::spawn(move || {
                let (_, t) = token(100 + i, Some("in_1"), 5);
                store
                    .redeem_setup_code(&hash, "app_1", 10, &t, &audit("x", "in_1"))
                    .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<Redeem> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Redeem::Redeemed).count(),
        1
    );
    assert_eq!(outcomes.iter().filter(|o| **o == Redeem::Used).count(), 15);
    let app_tokens = store
        .tokens()
        .unwrap()
        .into_iter()
        .filter(|t| t.record.installation_id.as_deref() == Some("in_1"))
        .count();
    assert_eq!(app_tokens, 1);
}

pub fn tokens_revoke_rotate_and_disable(store: &dyn Store) {
    let (_, mut installation, code) = seed(store);
    let (_, a) = token(20, None, 5);
    let (_, b) = token(21, None, 6);
    let (_, c) = token(22, Some("in_1"), 7);
    store.insert_token(&a, &audit("token.create", "a")).unwrap();
    store.insert_token(&b, &audit("token.create", "b")).unwrap();
    store.insert_token(&c, &audit("token.create", "c")).unwrap();
    assert!(!store.is_empty().unwrap());
    assert!(matches!(
        store.insert_token(&a, &audit("token.create", "a")),
        Err(StoreError::Conflict("token"))
    ));
    let listed: Vec<_> = store
        .tokens()
        .unwrap()
        .into_iter()
        .map(|t| t.created_at)
        .collect();
    assert_eq!(listed, [7, 6, 5], "newest first");
    let got = store.token(&a.record.token_id).unwrap().unwrap();
    assert!(got.record.secret_hash.ct_eq(&a.record.secret_hash));
    assert_eq!(got.record.grants, a.record.grants);
    assert_eq!(got.record.expires_at, Some(10_000));

    store
        .revoke_token(&a.record.token_id, &audit("token.revoke", "a"))
        .unwrap();
    assert!(
        store
            .token(&a.record.token_id)
            .unwrap()
            .unwrap()
            .record
            .revoked
    );
    let missing = IssuedToken::from_random([99; 32]).token_id();
    assert!(matches!(
        store.revoke_token(&missing, &audit("token.revoke", "m")),
        Err(StoreError::NotFound(_))
    ));

    // Rotation without grace revokes; with grace, shortens expiry.
    let (_, b2) = token(23, None, 8);
    store
        .rotate_token(&b.record.token_id, None, &b2, &audit("token.rotate", "b"))
        .unwrap();
    assert!(
        store
            .token(&b.record.token_id)
            .unwrap()
            .unwrap()
            .record
            .revoked
    );
    assert!(store.token(&b2.record.token_id).unwrap().is_some());
    let (_, b3) = token(24, None, 9);
    store
        .rotate_token(
            &b2.record.token_id,
            Some(500),
            &b3,
            &audit("token.rotate", "b2"),
        )
        .unwrap();
    let old = store
        .token(&b2.record.token_id)
        .unwrap()
        .unwrap()
        .record
        .clone();
    assert_eq!((old.revoked, old.expires_at), (false, Some(500)));
    let (_, b4) = token(25, None, 9);
    assert!(matches!(
        store.rotate_token(&a.record.token_id, None, &b4, &audit("token.rotate", "a")),
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store.token(&b4.record.token_id).unwrap().is_none(),
        "a failed rotation stores nothing"
    );

    // Disabling revokes the installation's tokens and kills its codes.
    installation.status = InstallationStatus::Disabled;
    store
        .update_installation(
            &installation,
            InstallationStatus::Pending,
            true,
            None,
            &audit("installation.update", "in_1"),
        )
        .unwrap();
    assert!(
        store
            .token(&c.record.token_id)
            .unwrap()
            .unwrap()
            .record
            .revoked
    );
    assert!(
        !store
            .token(&b3.record.token_id)
            .unwrap()
            .unwrap()
            .record
            .revoked,
        "other tokens untouched"
    );
    let (_, t) = token(26, Some("in_1"), 9);
    assert_eq!(
        store
            .redeem_setup_code(&code.hash(), "app_1", 10, &t, &audit("x", "in_1"))
            .unwrap(),
        Redeem::NotPending,
        "a disabled installation's codes are spent"
    );
    assert_eq!(
        store
            .installation("in_1")
            .unwrap()
            .unwrap()
            .installation
            .status,
        InstallationStatus::Disabled
    );
}

pub fn audit_pages_in_order(store: &dyn Store) {
    seed(store);
    let all = store.audit_after(0, 1000).unwrap();
    let actions: Vec<_> = all.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "project.create",
            "environment.create",
            "app.create",
            "installation.create"
        ]
    );
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let page = store.audit_after(all[1].seq, 1).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].entry.action, "app.create");
}

pub fn listings_hold_everything_oldest_first(store: &dyn Store) {
    seed(store);
    let projects = store.projects().unwrap();
    assert_eq!(
        projects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["p"]
    );
    let environments = store.environments().unwrap();
    assert_eq!(
        (environments.len(), environments[0].project_id.as_str()),
        (1, "p")
    );
    let apps = store.apps().unwrap();
    assert_eq!(apps[0].client_id, "cl_1");
    let installations = store.installations().unwrap();
    assert_eq!(
        installations[0].installation.status,
        InstallationStatus::Pending
    );
}

/// A snapshot's pages: every token record once, in id order, the last
/// page short; a page's equal grant lists are one list; a revocation is
/// read as it is.
pub fn token_records_page_in_id_order(store: &dyn Store) {
    seed(store);
    let mut made = Vec::new();
    for seed in 1..=9u8 {
        let (_, row) = token(seed, None, i64::from(seed));
        store
            .insert_token(&row, &audit("token.create", "t"))
            .unwrap();
        made.push(row.record.token_id);
    }
    store
        .revoke_token(&made[4], &audit("token.revoke", "t"))
        .unwrap();
    made.sort();
    let mut read = Vec::new();
    let mut after = None;
    loop {
        let page = store.token_records_after(after.as_ref(), 4).unwrap();
        for pair in page.windows(2) {
            assert!(
                Arc::ptr_eq(&pair[0].grants, &pair[1].grants),
                "equal lists on a page are one"
            );
        }
        read.extend(page.iter().map(|r| (r.token_id, r.revoked)));
        match page.last() {
            Some(last) if page.len() == 4 => after = Some(last.token_id),
            _ => break,
        }
    }
    assert_eq!(
        read.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        made,
        "every record once, in id order"
    );
    let revoked: Vec<_> = read.iter().filter(|(_, r)| *r).collect();
    assert_eq!(revoked.len(), 1);
}

/// The change feed: creation, revocation, rotation, disabling and public
/// grants all appear, in order, with the value as it is when read; paging
/// by `limit` sees each change once.
pub fn change_feed_in_order(store: &dyn Store) {
    assert_eq!(store.last_change().unwrap(), 0);
    let (_, mut installation, _) = seed(store);
    let (_, a) = token(10, Some("in_1"), 5);
    let (_, b) = token(11, None, 6);
    store.insert_token(&a, &audit("token.create", "a")).unwrap();
    store.insert_token(&b, &audit("token.create", "b")).unwrap();
    store
        .revoke_token(&b.record.token_id, &audit("token.revoke", "b"))
        .unwrap();
    let (_, c) = token(12, None, 7);
    store
        .rotate_token(&a.record.token_id, None, &c, &audit("token.rotate", "a"))
        .unwrap();
    store
        .set_public_grants(
            "e",
            &[Grant::new(Api::Content, Action::READ)],
            &audit("environment.public_grants", "e"),
        )
        .unwrap();
    installation.status = InstallationStatus::Disabled;
    store
        .update_installation(
            &installation,
            InstallationStatus::Pending,
            true,
            None,
            &audit("installation.update", "in_1"),
        )
        .unwrap();

    let all = store.changes_after(0, 1000).unwrap();
    let seqs: Vec<i64> = all.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(store.last_change().unwrap(), *seqs.last().unwrap());
    let described: Vec<String> = all
        .iter()
        .map(|c| match &c.changed {
            Changed::Token(r) => format!("token {} revoked={}", r.name, r.revoked),
            Changed::Environment(e) => {
                format!("environment {} public={}", e.id, e.public_grants.len())
            }
        })
        .collect();
    // Values are as they are now: `b` was revoked after it was created, so
    // both of its entries say so; `a` was rotated (revoked) and its
    // installation disabled.
    assert_eq!(
        described,
        [
            "environment e public=1",
            "token t10 revoked=true",
            "token t11 revoked=true",
            "token t11 revoked=true",
            "token t10 revoked=true",
            "token t12 revoked=false",
            "environment e public=1",
            "token t10 revoked=true",
        ],
    );
    // Paging with a small limit gives the same sequence.
    let mut paged = Vec::new();
    let mut cursor = 0;
    loop {
        let page = store.changes_after(cursor, 3).unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().unwrap().seq;
        paged.extend(page.into_iter().map(|c| c.seq));
    }
    assert_eq!(paged, seqs);
    assert!(store.changes_after(cursor, 10).unwrap().is_empty());
}

/// A store opened on the data written by the build before migrations ran
/// through `refinery` (`fixtures/legacy/`: the project, app and
/// installation of [`seed`], then [`tokens_revoke_rotate_and_disable`]):
/// everything is there, and the store goes on from where it stood.
pub fn legacy_data_carries_on(store: &dyn Store) {
    use verifier_core::TokenId;
    let id =
        |hex: &str| TokenId::from_bytes(<[u8; 8]>::try_from(hex::decode(hex).unwrap()).unwrap());

    assert_eq!(store.project("p").unwrap().unwrap().name, "P");
    let app = store.app("app_1").unwrap().unwrap();
    assert_eq!(app.client_id, "cl_1");
    // An app made before apps had a main page has none.
    assert_eq!(app.url, None);
    // Installations made before grants were versioned approved the app's
    // grants as version 1, with nothing requested; no secret is in grace.
    assert!(app.previous_secret.is_none());
    let installations = store.installations().unwrap();
    assert!(!installations.is_empty());
    for i in &installations {
        assert_eq!((&i.grants, i.grants_version), (&app.grants, 1));
        assert_eq!(i.requested, None);
    }
    let tokens = store.tokens().unwrap();
    assert_eq!(tokens.len(), 5);
    assert_eq!(tokens.iter().filter(|t| t.record.revoked).count(), 3);
    assert_eq!(store.audit_after(0, 100).unwrap().len(), 11);
    assert_eq!(store.last_change().unwrap(), 10);
    assert_eq!(store.changes_after(0, 100).unwrap().len(), 10);

    // The successor column (the last legacy migration) is there and read:
    // a rotated token cannot be rotated again.
    let (_, next) = token(40, None, 300);
    assert!(matches!(
        store.rotate_token(
            &id("78b37abf24aecb9a"),
            None,
            &next,
            &audit("token.rotate", "x")
        ),
        Err(StoreError::Conflict(_))
    ));
    // New changes follow the old ones in the feed and the audit log.
    store
        .revoke_token(&id("de8238d98128f76a"), &audit("token.revoke", "x"))
        .unwrap();
    assert_eq!(store.last_change().unwrap(), 11);
    assert_eq!(store.audit_after(11, 100).unwrap().len(), 1);
    assert!(
        store
            .token(&id("de8238d98128f76a"))
            .unwrap()
            .unwrap()
            .record
            .revoked
    );
}

pub fn apps_change_whole_and_go_only_when_uninstalled(store: &dyn Store) {
    let (app, mut installation, _) = seed(store);

    // A change stores what the closure returns (but never a new id, client
    // id or creation time) with its audit entry, in one transaction.
    let previous = OpaqueSecret::from_random([9; 32]).hash();
    let stored = store
        .change_app("app_1", &mut |mut a| {
            a.name = "B".into();
            a.client_id = "cl_stolen".into();
            a.created_at = 99;
            a.previous_secret = Some(PreviousSecret {
                hash: previous,
                expires_at: 500,
            });
            Ok((a, audit("app.update", "app_1")))
        })
        .unwrap();
    let read = store.app("app_1").unwrap().unwrap();
    for a in [&stored, &read] {
        assert_eq!(
            (a.name.as_str(), a.client_id.as_str(), a.created_at),
            ("B", "cl_1", 1)
        );
        let p = a.previous_secret.unwrap();
        assert!(p.hash.ct_eq(&previous) && p.expires_at == 500);
    }
    assert_eq!(store.app_by_client_id("cl_1").unwrap().unwrap().name, "B");
    // A refused change stores nothing, audit included.
    let audits = store.audit_after(0, 1000).unwrap().len();
    let refused = store.change_app("app_1", &mut |mut a| {
        a.name = "C".into();
        Err(StoreError::Invalid("no".into()))
    });
    assert!(matches!(refused, Err(StoreError::Invalid(_))));
    assert_eq!(store.app("app_1").unwrap().unwrap().name, "B");
    assert_eq!(store.audit_after(0, 1000).unwrap().len(), audits);
    assert!(matches!(
        store.change_app("app_x", &mut |a| Ok((a, audit("x", "x")))),
        Err(StoreError::NotFound("app"))
    ));

    // An installation moves only from the status its change was decided on.
    installation.status = InstallationStatus::Completed;
    let stale = store.update_installation(
        &installation,
        InstallationStatus::Disabled,
        false,
        None,
        &audit("installation.update", "in_1"),
    );
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    assert_eq!(
        store
            .installation("in_1")
            .unwrap()
            .unwrap()
            .installation
            .status,
        InstallationStatus::Pending
    );
    let missing = Installation {
        id: "in_x".into(),
        ..installation.clone()
    };
    assert!(matches!(
        store.update_installation(
            &missing,
            InstallationStatus::Pending,
            false,
            None,
            &audit("x", "in_x")
        ),
        Err(StoreError::NotFound("installation"))
    ));

    // Deleting: refused, naming them, while an installation is not
    // UNINSTALLED; then gone from every read, its installation kept.
    assert_eq!(
        store
            .delete_app("app_1", 200, &audit("app.delete", "app_1"))
            .unwrap(),
        vec!["in_1".to_owned()]
    );
    assert!(store.app("app_1").unwrap().is_some());
    installation.status = InstallationStatus::Uninstalled;
    store
        .update_installation(
            &installation,
            InstallationStatus::Pending,
            true,
            None,
            &audit("installation.uninstall", "in_1"),
        )
        .unwrap();
    assert_eq!(
        store
            .delete_app("app_1", 200, &audit("app.delete", "app_1"))
            .unwrap(),
        Vec::<String>::new()
    );
    assert!(store.app("app_1").unwrap().is_none());
    assert!(store.app_by_client_id("cl_1").unwrap().is_none());
    assert!(store.apps().unwrap().is_empty());
    assert_eq!(
        store
            .installation("in_1")
            .unwrap()
            .unwrap()
            .installation
            .status,
        InstallationStatus::Uninstalled
    );
    assert!(matches!(
        store.delete_app("app_1", 201, &audit("app.delete", "app_1")),
        Err(StoreError::NotFound("app"))
    ));
    // A deleted app is installed nowhere again.
    let again = Installation {
        id: "in_2".into(),
        status: InstallationStatus::Pending,
        ..installation
    };
    let code = SetupCodeRow {
        code_hash: OpaqueSecret::from_random([7; 32]).hash(),
        installation_id: "in_2".into(),
        app_id: app.id.clone(),
        expires_at: 1000,
    };
    assert!(matches!(
        store.create_installation(&again, &code, &audit("installation.create", "in_2")),
        Err(StoreError::NotFound("app"))
    ));
    assert!(store.installation("in_2").unwrap().is_none());
}

pub fn grant_versions_apply_narrower_and_wait_for_wider(store: &dyn Store) {
    let (app, mut installation, _) = seed(store);
    let read_post = Grant {
        models: verifier_core::Scope::Only(vec!["Post".into()]),
        ..Grant::new(Api::Content, Action::READ)
    };
    let write = Grant::new(Api::Content, Action::CREATE);
    let (_, app_token) = token(5, Some("in_1"), 10);
    // An installation's token gets its approved grants, whatever it says.
    let wide = TokenRow {
        record: TokenRecord {
            grants: Grants::shared(vec![write.clone()]),
            ..app_token.record.clone()
        },
        ..app_token.clone()
    };
    store
        .insert_token(&wide, &audit("token.create", "t"))
        .unwrap();
    let stored = |store: &dyn Store| {
        store
            .token(&app_token.record.token_id)
            .unwrap()
            .unwrap()
            .record
            .grants
            .to_vec()
    };
    assert_eq!(stored(store), app.grants);

    // Wider: requested; nothing moves.
    let before = store.last_change().unwrap();
    let published = store
        .publish_grants(
            "app_1",
            &[app.grants[0].clone(), write.clone()],
            &audit("p", "app_1"),
        )
        .unwrap();
    assert_eq!(
        (
            published.version,
            published.applied.len(),
            published.requested.clone()
        ),
        (2, 0, vec!["in_1".to_owned()])
    );
    assert_eq!(store.last_change().unwrap(), before, "nothing in the feed");
    let row = store.installation("in_1").unwrap().unwrap();
    assert_eq!(
        (
            row.grants_version,
            row.requested.as_ref().map(|r| r.version)
        ),
        (1, Some(2))
    );
    assert_eq!(stored(store), app.grants);
    // Only the version requested is decided on.
    assert!(matches!(
        store.approve_grants("in_1", 1, &audit("a", "in_1")),
        Err(StoreError::Conflict(_))
    ));
    store
        .approve_grants("in_1", 2, &audit("a", "in_1"))
        .unwrap();
    let row = store.installation("in_1").unwrap().unwrap();
    assert_eq!((row.grants_version, row.requested), (2, None));
    assert_eq!(stored(store), vec![app.grants[0].clone(), write.clone()]);
    let moved = store.changes_after(before, 100).unwrap();
    assert!(moved.iter().any(|c| matches!(&c.changed,
        Changed::Token(t) if t.token_id == app_token.record.token_id)));
    assert!(matches!(
        store.approve_grants("in_1", 2, &audit("a", "in_1")),
        Err(StoreError::Conflict(_))
    ));

    // Declined: kept, and no longer requested; a later version asks again.
    store
        .publish_grants(
            "app_1",
            &[Grant::new(Api::Content, Action::ADMIN)],
            &audit("p", "app_1"),
        )
        .unwrap();
    store
        .decline_grants("in_1", 3, &audit("d", "in_1"))
        .unwrap();
    let row = store.installation("in_1").unwrap().unwrap();
    assert_eq!((row.grants_version, row.requested), (2, None));

    // Narrower: applied at once, tokens included.
    let published = store
        .publish_grants(
            "app_1",
            std::slice::from_ref(&read_post),
            &audit("p", "app_1"),
        )
        .unwrap();
    assert_eq!(
        (published.version, published.applied),
        (4, vec!["in_1".to_owned()])
    );
    assert_eq!(stored(store), vec![read_post.clone()]);
    let row = store.installation("in_1").unwrap().unwrap();
    assert_eq!((row.grants_version, row.requested), (4, None));

    // An uninstalled installation is left alone and decides nothing.
    installation.status = InstallationStatus::Uninstalled;
    store
        .update_installation(
            &installation,
            InstallationStatus::Pending,
            true,
            None,
            &audit("u", "in_1"),
        )
        .unwrap();
    let published = store
        .publish_grants("app_1", &[write], &audit("p", "app_1"))
        .unwrap();
    assert!(published.applied.is_empty() && published.requested.is_empty());
    assert!(matches!(
        store.approve_grants("in_1", 5, &audit("a", "in_1")),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.publish_grants("app_x", &[], &audit("p", "app_x")),
        Err(StoreError::NotFound("app"))
    ));
}

pub fn webhook_deliveries_are_queued_with_their_change_and_claimed_once(store: &dyn Store) {
    let (app, installation, _) = seed(store);
    // No webhook URL: the change has no delivery.
    assert!(store.deliveries("app_1", 10).unwrap().is_empty());
    store
        .change_app("app_1", &mut |mut a| {
            a.webhook_url = Some("https://hooks.example.com/".into());
            Ok((a, audit("app.update", "app_1")))
        })
        .unwrap();
    let disabled = Installation {
        status: InstallationStatus::Disabled,
        ..installation.clone()
    };
    store
        .update_installation(
            &disabled,
            InstallationStatus::Pending,
            true,
            None,
            &AuditEntry {
                detail: json!({"from": "PENDING", "to": "DISABLED"}),
                ..audit("installation.update", "in_1")
            },
        )
        .unwrap();
    // A change that fails queues nothing (same transaction).
    assert!(
        store
            .update_installation(
                &disabled,
                InstallationStatus::Completed,
                true,
                None,
                &AuditEntry {
                    detail: json!({"from": "COMPLETED", "to": "DISABLED"}),
                    ..audit("installation.update", "in_1")
                },
            )
            .is_err()
    );
    let queued = store.deliveries("app_1", 10).unwrap();
    assert_eq!(queued.len(), 1);
    let d = &queued[0];
    assert_eq!(
        (d.event_type.as_str(), d.status.as_str(), d.attempts),
        ("installation.disabled", "pending", 0)
    );
    let payload: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
    assert_eq!(payload["data"]["installationId"], "in_1");
    assert_eq!(payload["data"]["appId"], app.id.as_str());

    // Due now; of two claims one wins, until the claim lapses.
    let due = store.due_deliveries(1_000, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].url.as_deref(), Some("https://hooks.example.com/"));
    assert!(store.claim_delivery(&d.id, 1_000, 2_000).unwrap());
    assert!(!store.claim_delivery(&d.id, 1_000, 2_000).unwrap());
    assert!(
        store.due_deliveries(1_500, 10).unwrap().is_empty(),
        "claimed"
    );
    assert!(store.claim_delivery(&d.id, 2_001, 3_000).unwrap(), "lapsed");

    // A failure is retried when its time comes; then delivered.
    store
        .record_attempt(
            &d.id,
            &tally::storage::Attempt::Failed {
                status: Some(503),
                error: "answered 503".into(),
                retry_at_ms: Some(5_000),
            },
            2_100,
            90_000,
        )
        .unwrap();
    assert!(store.due_deliveries(4_999, 10).unwrap().is_empty());
    let due = store.due_deliveries(5_000, 10).unwrap();
    assert_eq!(
        (due[0].delivery.attempts, due[0].delivery.last_status),
        (1, Some(503))
    );
    assert_eq!(due[0].delivery.give_up_ms, Some(90_000));
    assert!(store.claim_delivery(&d.id, 5_000, 6_000).unwrap());
    store
        .record_attempt(
            &d.id,
            &tally::storage::Attempt::Delivered { status: 200 },
            5_100,
            1,
        )
        .unwrap();
    let done = &store.deliveries("app_1", 10).unwrap()[0];
    assert_eq!(
        (
            done.status.as_str(),
            done.attempts,
            done.delivered_ms,
            done.give_up_ms
        ),
        ("delivered", 2, Some(5_100), Some(90_000))
    );
    assert!(store.due_deliveries(i64::MAX, 10).unwrap().is_empty());

    // Sent again on request.
    let again = store
        .retry_delivery("app_1", &d.id, &audit("app.delivery.retry", "app_1"))
        .unwrap();
    assert_eq!((again.status.as_str(), again.give_up_ms), ("pending", None));
    assert_eq!(store.due_deliveries(0, 10).unwrap().len(), 1);
    assert!(matches!(
        store.retry_delivery("app_x", &d.id, &audit("x", "x")),
        Err(StoreError::NotFound("delivery"))
    ));
}

pub fn audit_filters_match_as_text(store: &dyn Store) {
    seed(store);
    let actions = |filter: tally::storage::AuditFilter| {
        store
            .audit_matching(0, 100, &filter)
            .unwrap()
            .into_iter()
            .map(|e| e.entry.action)
            .collect::<Vec<_>>()
    };
    use tally::storage::AuditFilter;
    assert_eq!(
        actions(AuditFilter::default()).len(),
        store.audit_after(0, 100).unwrap().len()
    );
    assert_eq!(
        actions(AuditFilter {
            action: Some("app.".into()),
            ..AuditFilter::default()
        }),
        ["app.create"]
    );
    assert_eq!(
        actions(AuditFilter {
            target: Some("in_1".into()),
            actor: Some("test".into()),
            ..AuditFilter::default()
        }),
        ["installation.create"]
    );
    for pattern in ["%", "_pp.", "app.create%"] {
        assert!(
            actions(AuditFilter {
                action: Some(pattern.into()),
                ..AuditFilter::default()
            })
            .is_empty(),
            "{pattern}"
        );
    }
}

pub fn users_sign_in_once_and_one_claim_wins(store: &dyn Store) {
    use tally::storage::UserRow;
    let user = |id: &str, sub: &str, email: &str| UserRow {
        id: id.into(),
        issuer: "https://idp".into(),
        subject: sub.into(),
        email: Some(email.into()),
        name: None,
        created_at: 5,
    };
    let alice = store
        .sign_in_user(
            &user("usr_a", "alice", "a@x"),
            &audit("user.create", "usr_a"),
        )
        .unwrap();
    assert_eq!(alice.id, "usr_a");
    // The same subject again is the same user, their email brought up to date.
    let again = store
        .sign_in_user(
            &user("usr_other", "alice", "a@y"),
            &audit("user.create", "x"),
        )
        .unwrap();
    assert_eq!(
        (again.id.as_str(), again.email.as_deref()),
        ("usr_a", Some("a@y"))
    );
    assert_eq!(
        store.user("usr_a").unwrap().unwrap().email.as_deref(),
        Some("a@y")
    );
    assert!(store.user("usr_other").unwrap().is_none());
    store
        .sign_in_user(&user("usr_b", "bob", "b@x"), &audit("user.create", "usr_b"))
        .unwrap();

    assert!(!store.has_owner().unwrap());
    let first = OpaqueSecret::from_random([3; 32]).hash();
    let second = OpaqueSecret::from_random([4; 32]).hash();
    store.set_claim_code(&first, 1).unwrap();
    // A new code replaces the outstanding one.
    store.set_claim_code(&second, 2).unwrap();
    assert!(
        !store
            .claim_ownership(&first, "usr_a", 3, &audit("user.claim_owner", "usr_a"))
            .unwrap()
    );
    assert!(
        store
            .claim_ownership(&second, "usr_a", 3, &audit("user.claim_owner", "usr_a"))
            .unwrap()
    );
    assert!(
        !store
            .claim_ownership(&second, "usr_b", 4, &audit("user.claim_owner", "usr_b"))
            .unwrap(),
        "used"
    );
    assert!(store.has_owner().unwrap());
    assert_eq!(
        store.user_roles("usr_a").unwrap(),
        vec![tally::storage::RoleGrant {
            project_id: "*".into(),
            role: "owner".into()
        }]
    );
    assert!(store.user_roles("usr_b").unwrap().is_empty());
    // With an owner, even a fresh code claims nothing.
    store.set_claim_code(&first, 5).unwrap();
    assert!(
        !store
            .claim_ownership(&first, "usr_b", 6, &audit("user.claim_owner", "usr_b"))
            .unwrap()
    );
}

pub fn studio_sessions_last_until_closed_or_expired_and_sign_ins_are_taken_once(store: &dyn Store) {
    use tally::storage::{SignInRow, StudioSessionRow, UserRow};
    store
        .sign_in_user(
            &UserRow {
                id: "usr_s".into(),
                issuer: "https://idp".into(),
                subject: "sam".into(),
                email: None,
                name: None,
                created_at: 1,
            },
            &audit("user.create", "usr_s"),
        )
        .unwrap();
    let hash = |seed: u8| OpaqueSecret::from_random([seed; 32]).hash();
    let person = StudioSessionRow {
        hash: hash(10),
        user_id: Some("usr_s".into()),
        sealed_token: None,
        expires_at: 200,
    };
    let token = StudioSessionRow {
        hash: hash(11),
        user_id: None,
        sealed_token: Some(vec![1, 2, 3]),
        expires_at: 150,
    };
    store.open_studio_session(&person, 100).unwrap();
    store.open_studio_session(&token, 100).unwrap();
    assert!(matches!(
        store.open_studio_session(&token, 100),
        Err(StoreError::Conflict(_))
    ));
    let found = store.studio_session(&hash(10), 100).unwrap().unwrap();
    assert!(found.hash.ct_eq(&hash(10)));
    assert_eq!(
        (
            found.user_id.as_deref(),
            found.sealed_token,
            found.expires_at
        ),
        (Some("usr_s"), None, 200)
    );
    let found = store.studio_session(&hash(11), 149).unwrap().unwrap();
    assert_eq!(
        (found.user_id, found.sealed_token),
        (None, Some(vec![1, 2, 3]))
    );
    // Expired at its second, and unknown hashes are none.
    assert!(store.studio_session(&hash(11), 150).unwrap().is_none());
    assert!(store.studio_session(&hash(12), 100).unwrap().is_none());
    // Closing one leaves the other; closing it again is nothing.
    store.close_studio_session(&hash(10)).unwrap();
    store.close_studio_session(&hash(10)).unwrap();
    assert!(store.studio_session(&hash(10), 100).unwrap().is_none());
    assert!(store.studio_session(&hash(11), 100).unwrap().is_some());
    // Opening a session at 150 deletes the one expired then: its hash
    // may be used again.
    let later = StudioSessionRow {
        expires_at: 400,
        ..token.clone()
    };
    store.open_studio_session(&person, 150).unwrap();
    store.open_studio_session(&later, 150).unwrap();
    assert_eq!(
        store
            .studio_session(&hash(11), 300)
            .unwrap()
            .map(|s| s.expires_at),
        Some(400)
    );

    let flow = SignInRow {
        state_hash: hash(20),
        binding_hash: hash(21),
        return_to: Some("/studio/oauth/authorize?client_id=c".into()),
        expires_at: 700,
    };
    store.start_sign_in(&flow, 100, 10).unwrap();
    assert!(store.take_sign_in(&hash(22)).unwrap().is_none());
    let taken = store.take_sign_in(&hash(20)).unwrap().unwrap();
    assert!(taken.state_hash.ct_eq(&hash(20)) && taken.binding_hash.ct_eq(&hash(21)));
    assert_eq!(
        (taken.return_to.as_deref(), taken.expires_at),
        (Some("/studio/oauth/authorize?client_id=c"), 700)
    );
    // Once.
    assert!(store.take_sign_in(&hash(20)).unwrap().is_none());
    // An expired one is deleted when another starts.
    store.start_sign_in(&flow, 100, 10).unwrap();
    let next = SignInRow {
        state_hash: hash(23),
        binding_hash: hash(21),
        return_to: None,
        expires_at: 1300,
    };
    store.start_sign_in(&next, 700, 10).unwrap();
    assert!(store.take_sign_in(&hash(20)).unwrap().is_none());
    assert!(store.take_sign_in(&hash(23)).unwrap().is_some());
    // Beyond `keep`, those that expire first go.
    for (seed, expires_at) in [(30, 2000), (31, 2001), (32, 2002)] {
        let row = SignInRow {
            state_hash: hash(seed),
            binding_hash: hash(21),
            return_to: None,
            expires_at,
        };
        store.start_sign_in(&row, 1000, 2).unwrap();
    }
    assert!(store.take_sign_in(&hash(30)).unwrap().is_none());
    assert!(store.take_sign_in(&hash(31)).unwrap().is_some());
    assert!(store.take_sign_in(&hash(32)).unwrap().is_some());
}

pub fn invitations_are_accepted_once_and_roles_are_per_project(store: &dyn Store) {
    use tally::storage::{InvitationRow, RoleGrant, UserRow};
    store
        .sign_in_user(
            &UserRow {
                id: "usr_e".into(),
                issuer: "https://idp".into(),
                subject: "erin".into(),
                email: Some("erin@x.org".into()),
                name: None,
                created_at: 5,
            },
            &audit("user.create", "usr_e"),
        )
        .unwrap();
    let invitation = |id: &str, project: &str, expires_at: i64| InvitationRow {
        id: id.into(),
        email: "erin@x.org".into(),
        project_id: project.into(),
        role: "developer".into(),
        invited_by: "cli".into(),
        created_at: 10,
        expires_at,
        accepted_by: None,
        accepted_at: None,
        revoked_at: None,
    };
    for (id, project, expires_at) in [
        ("inv_1", "blog", 100),
        ("inv_2", "shop", 50),
        ("inv_3", "docs", 100),
    ] {
        store
            .create_invitation(
                &invitation(id, project, expires_at),
                &audit("invitation.create", id),
            )
            .unwrap();
    }
    let outstanding = |now| {
        store
            .outstanding_invitations("erin@x.org", now)
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(outstanding(20), ["inv_1", "inv_2", "inv_3"]);
    assert_eq!(outstanding(50), ["inv_1", "inv_3"], "expired at its time");
    store
        .revoke_invitation("inv_3", 20, &audit("invitation.revoke", "inv_3"))
        .unwrap();
    assert!(matches!(
        store.revoke_invitation("inv_3", 21, &audit("invitation.revoke", "inv_3")),
        Err(StoreError::NotFound(_))
    ));
    assert!(
        !store
            .accept_invitation(
                "inv_3",
                "usr_e",
                "developer",
                22,
                &audit("invitation.accept", "inv_3")
            )
            .unwrap(),
        "revoked"
    );
    assert!(
        !store
            .accept_invitation(
                "inv_2",
                "usr_e",
                "developer",
                60,
                &audit("invitation.accept", "inv_2")
            )
            .unwrap(),
        "expired"
    );
    let accept = || {
        store
            .accept_invitation(
                "inv_1",
                "usr_e",
                "developer",
                30,
                &audit("invitation.accept", "inv_1"),
            )
            .unwrap()
    };
    assert!(accept());
    assert!(!accept(), "once");
    let accepted = store.invitation("inv_1").unwrap().unwrap();
    assert_eq!(
        (accepted.accepted_by.as_deref(), accepted.accepted_at),
        (Some("usr_e"), Some(30))
    );
    assert_eq!(store.invitations().unwrap().len(), 3);
    // Roles are per project; a project role changes alone.
    store
        .set_role(
            "usr_e",
            "shop",
            Some("viewer"),
            &audit("user.role", "usr_e"),
        )
        .unwrap();
    store
        .set_role("usr_e", "blog", Some("admin"), &audit("user.role", "usr_e"))
        .unwrap();
    let grant = |project: &str, role: &str| RoleGrant {
        project_id: project.into(),
        role: role.into(),
    };
    assert_eq!(
        store.user_roles("usr_e").unwrap(),
        [grant("blog", "admin"), grant("shop", "viewer")]
    );
    store
        .set_role("usr_e", "shop", None, &audit("user.role", "usr_e"))
        .unwrap();
    assert_eq!(store.user_roles("usr_e").unwrap(), [grant("blog", "admin")]);
    // Project roles make no owner of every project.
    store
        .set_role("usr_e", "blog", Some("owner"), &audit("user.role", "usr_e"))
        .unwrap();
    assert!(!store.has_owner().unwrap());

    // What a person did, themselves or through an app; not someone whose
    // id merely starts alike.
    for actor in [
        "user:usr_e",
        "user:usr_e via installation:in_1",
        "user:usr_ex",
        "user:usr_ex via installation:in_1",
        "token:usr_e",
    ] {
        let entry = AuditEntry {
            actor: actor.into(),
            ..audit("person.did", actor)
        };
        store
            .set_role("usr_e", "docs", Some("viewer"), &entry)
            .unwrap();
    }
    let by = store
        .audit_matching(
            0,
            100,
            &tally::storage::AuditFilter {
                user: Some("usr_e".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .into_iter()
        .map(|e| e.entry.actor)
        .collect::<Vec<_>>();
    assert_eq!(by, ["user:usr_e", "user:usr_e via installation:in_1"]);
}

pub fn connections_redeem_once_and_a_second_use_ends_them(store: &dyn Store) {
    use tally::storage::{ConnectionRow, OAuthCodeRow, Redeemed, RefreshTokenRow};
    seed(store);
    let connection = ConnectionRow {
        id: "cn_1".into(),
        app_id: "app_1".into(),
        user_id: "usr_e".into(),
        environment_id: "e".into(),
        grants: vec![Grant::new(Api::Content, Action::READ)],
        created_at: 10,
        revoked_at: None,
        token_id: None,
    };
    let code = OpaqueSecret::from_random([40; 32]);
    let code_row = |expires_at| OAuthCodeRow {
        code_hash: code.hash(),
        connection_id: "cn_1".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        code_challenge: "c".repeat(43),
        expires_at,
        used_at: None,
    };
    store
        .create_connection(
            &connection,
            &code_row(70),
            &audit("connection.create", "cn_1"),
        )
        .unwrap();
    let stored = store.oauth_code(&code.hash()).unwrap().unwrap();
    assert_eq!(
        (
            stored.connection_id.as_str(),
            stored.expires_at,
            stored.used_at
        ),
        ("cn_1", 70, None)
    );
    let refresh = |seed: u8, expires_at| RefreshTokenRow {
        token_hash: OpaqueSecret::from_random([seed; 32]).hash(),
        connection_id: "cn_1".into(),
        created_at: 20,
        expires_at,
        used_at: None,
    };
    let live = |id: &verifier_core::TokenId| !store.token(id).unwrap().unwrap().record.revoked;
    let (_, first) = token(41, None, 20);
    // Expired: nothing changes.
    let late = store
        .redeem_oauth_code(
            &code.hash(),
            70,
            &NewTokens {
                token: &first,
                refresh: &refresh(42, 1000),
                issued: &audit("connection.token", "cn_1"),
                replayed: &audit("connection.revoke", "cn_1"),
            },
        )
        .unwrap();
    assert_eq!(late, Redeemed::Invalid);
    assert!(store.token(&first.record.token_id).unwrap().is_none());
    // In time: the token and the refresh token are the connection's.
    let issued = store
        .redeem_oauth_code(
            &code.hash(),
            69,
            &NewTokens {
                token: &first,
                refresh: &refresh(42, 1000),
                issued: &audit("connection.token", "cn_1"),
                replayed: &audit("connection.revoke", "cn_1"),
            },
        )
        .unwrap();
    let Redeemed::Issued(now) = issued else {
        panic!("{issued:?}")
    };
    assert_eq!(now.token_id, Some(first.record.token_id));
    assert!(live(&first.record.token_id));
    // A refresh replaces both, and ends the access token it replaces.
    let (_, second) = token(43, None, 30);
    let used = OpaqueSecret::from_random([42; 32]).hash();
    let refreshed = store
        .use_refresh_token(
            &used,
            30,
            &NewTokens {
                token: &second,
                refresh: &refresh(44, 1000),
                issued: &audit("connection.token", "cn_1"),
                replayed: &audit("connection.revoke", "cn_1"),
            },
        )
        .unwrap();
    assert!(matches!(refreshed, Redeemed::Issued(_)), "{refreshed:?}");
    assert!(!live(&first.record.token_id));
    assert!(live(&second.record.token_id));
    // The used refresh token again: reuse ends the connection.
    let (_, third) = token(45, None, 40);
    let reused = store
        .use_refresh_token(
            &used,
            40,
            &NewTokens {
                token: &third,
                refresh: &refresh(46, 1000),
                issued: &audit("connection.token", "cn_1"),
                replayed: &audit("connection.revoke", "cn_1"),
            },
        )
        .unwrap();
    assert!(matches!(reused, Redeemed::Replayed(_)), "{reused:?}");
    assert!(!live(&second.record.token_id));
    assert!(store.token(&third.record.token_id).unwrap().is_none());
    let ended = store.connection("cn_1").unwrap().unwrap();
    assert_eq!(ended.revoked_at, Some(40));
    // Ended: the newest refresh token and the code are nothing now.
    let newest = OpaqueSecret::from_random([44; 32]).hash();
    let after = store
        .use_refresh_token(
            &newest,
            41,
            &NewTokens {
                token: &third,
                refresh: &refresh(47, 1000),
                issued: &audit("connection.token", "cn_1"),
                replayed: &audit("connection.revoke", "cn_1"),
            },
        )
        .unwrap();
    assert_eq!(after, Redeemed::Invalid);
    assert!(matches!(
        store.revoke_connection("cn_1", 42, &audit("connection.revoke", "cn_1")),
        Err(StoreError::NotFound(_))
    ));
    // The feed carries each revocation.
    let revoked_in_feed = store
        .changes_after(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|c| {
            matches!(&c.changed, tally::storage::Changed::Token(r)
                if r.revoked && [first.record.token_id, second.record.token_id].contains(&r.token_id))
        })
        .count();
    assert!(revoked_in_feed >= 2, "{revoked_in_feed}");

    // A second connection: its code replayed ends it too.
    let mut other = connection.clone();
    other.id = "cn_2".into();
    let code2 = OpaqueSecret::from_random([50; 32]);
    let mut row2 = code_row(1000);
    row2.code_hash = code2.hash();
    row2.connection_id = "cn_2".into();
    store
        .create_connection(&other, &row2, &audit("connection.create", "cn_2"))
        .unwrap();
    let mut refresh2 = refresh(52, 1000);
    refresh2.connection_id = "cn_2".into();
    let (_, fourth) = token(51, None, 50);
    let redeem = |t: &TokenRow, r: &RefreshTokenRow| {
        store
            .redeem_oauth_code(
                &code2.hash(),
                50,
                &NewTokens {
                    token: t,
                    refresh: r,
                    issued: &audit("connection.token", "cn_2"),
                    replayed: &audit("connection.revoke", "cn_2"),
                },
            )
            .unwrap()
    };
    assert!(matches!(redeem(&fourth, &refresh2), Redeemed::Issued(_)));
    let (_, fifth) = token(53, None, 51);
    let mut refresh3 = refresh(54, 1000);
    refresh3.connection_id = "cn_2".into();
    assert!(matches!(redeem(&fifth, &refresh3), Redeemed::Replayed(_)));
    assert!(!live(&fourth.record.token_id));
    assert_eq!(store.connections().unwrap().len(), 2);
}

pub fn elements_round_trip_and_installations_switch_them(store: &dyn Store) {
    use tally::storage::{Element, ElementKind, FieldType};
    let (app, installation, _) = seed(store);
    let element = Element {
        kind: ElementKind::Field,
        api_id: "colour".into(),
        name: "Colour".into(),
        url: "http://a/field".into(),
        field_type: Some(FieldType::Color),
        config: Some(json!({"palette": ["#fff"]})),
    };
    let mut edit = |mut a: AppRow| {
        a.elements = vec![element.clone()];
        Ok((a, audit("app.update", "app_1")))
    };
    store.change_app(&app.id, &mut edit).unwrap();
    assert_eq!(store.app(&app.id).unwrap().unwrap().elements, [element]);
    assert!(
        store
            .installation(&installation.id)
            .unwrap()
            .unwrap()
            .disabled_elements
            .is_empty()
    );
    let mut switch = |stored: Vec<String>| {
        assert!(stored.is_empty());
        Ok((
            vec!["colour".to_owned()],
            audit("installation.elements", "in_1"),
        ))
    };
    store
        .change_disabled_elements(&installation.id, &mut switch)
        .unwrap();
    assert_eq!(
        store
            .installation(&installation.id)
            .unwrap()
            .unwrap()
            .disabled_elements,
        ["colour"]
    );
    let mut none = |_: Vec<String>| Ok((Vec::new(), audit("installation.elements", "x")));
    assert!(matches!(
        store.change_disabled_elements("in_none", &mut none),
        Err(StoreError::NotFound(_))
    ));
}

/// Writers on every store of `nodes` (each a node on one database) create
/// tokens as fast as they can while a reader on `nodes[0]` follows the
/// feed: no change is skipped or seen twice, places only grow, and each
/// writer's changes come in the order it made them (each committed before
/// the next began).
pub fn feed_skips_nothing_under_racing_writers(nodes: &[Arc<dyn Store>]) {
    use std::sync::atomic::{AtomicBool, Ordering};
    const WRITERS_PER_NODE: usize = 4;
    const TOKENS_PER_WRITER: usize = 120;
    seed(nodes[0].as_ref());

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (Arc::clone(&nodes[0]), Arc::clone(&done));
        std::thread::spawn(move || {
            let (mut cursor, mut seen) = (0i64, Vec::new());
            loop {
                // Read `done` before the page: a page read after every
                // writer finished holds whatever is left.
                let finished = done.load(Ordering::SeqCst);
                let page = store.changes_after(cursor, 50).unwrap();
                for change in &page {
                    assert!(change.seq > cursor, "{} after {cursor}", change.seq);
                    cursor = change.seq;
                    if let Changed::Token(record) = &change.changed {
                        seen.push(record.name.clone());
                    }
                }
                if finished && page.is_empty() {
                    return seen;
                }
            }
        })
    };
    let writers: Vec<_> = (0..nodes.len() * WRITERS_PER_NODE)
        .map(|w| {
            let store = Arc::clone(&nodes[w % nodes.len()]);
            std::thread::spawn(move || {
                for i in 0..TOKENS_PER_WRITER {
                    let mut random = [0u8; 32];
                    random[..8].copy_from_slice(&(w as u32).to_be_bytes().repeat(2));
                    random[8..16].copy_from_slice(&(i as u64).to_be_bytes());
                    let (_, mut row) = token(0, None, 1);
                    let issued = IssuedToken::from_random(random);
                    row.record.token_id = issued.token_id();
                    row.record.secret_hash = issued.secret_hash();
                    row.record.name = format!("w{w}/{i}");
                    store
                        .insert_token(&row, &audit("token.create", &row.record.name))
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.join().unwrap();

    let total = nodes.len() * WRITERS_PER_NODE * TOKENS_PER_WRITER;
    assert_eq!(seen.len(), total, "every change once");
    let mut next = vec![0usize; nodes.len() * WRITERS_PER_NODE];
    for name in &seen {
        let (w, i) = name[1..].split_once('/').unwrap();
        let (w, i): (usize, usize) = (w.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[w], "writer {w}'s changes in the order made");
        next[w] += 1;
    }
}

/// Writers on several threads each make a token that the read cache has
/// just answered "not found" for, then catch the cache up, as the
/// authority does after every change: each must find its own token at
/// once, though catch-ups that arrive together share one read of the feed.
pub fn catch_ups_find_every_writers_change(store: Arc<dyn Store>) {
    const WRITERS: u32 = 8;
    const TOKENS_PER_WRITER: u64 = 40;
    seed(store.as_ref());
    let cache = Arc::new(tally::storage::RecordCache::new(Arc::clone(&store)).unwrap());
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, cache) = (Arc::clone(&store), Arc::clone(&cache));
            std::thread::spawn(move || {
                for i in 0..TOKENS_PER_WRITER {
                    let mut random = [0u8; 32];
                    random[..4].copy_from_slice(&w.to_be_bytes());
                    random[4..12].copy_from_slice(&i.to_be_bytes());
                    let issued = IssuedToken::from_random(random);
                    let (_, mut row) = token(0, None, 1);
                    row.record.token_id = issued.token_id();
                    row.record.secret_hash = issued.secret_hash();
                    let id = issued.token_id();
                    assert!(cache.token(&id).unwrap().is_none());
                    store
                        .insert_token(&row, &audit("token.create", "t"))
                        .unwrap();
                    cache.catch_up().unwrap();
                    assert!(
                        cache.token(&id).unwrap().is_some(),
                        "writer {w}'s token {i} is still cached as unknown after its catch-up"
                    );
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
}

/// Exchanges redeem as `redeem_setup_code` does, say whether they revoked
/// earlier APP tokens, and of concurrent exchanges of one code exactly one
/// stores its token.
pub fn exchanges_redeem_once_and_say_what_they_replaced(store: Arc<dyn Store>) {
    let (_, installation, code) = seed(store.as_ref());
    let exchange = |hash: &verifier_core::SecretHash, seed: u8, now: i64| {
        let (_, t) = token(seed, Some("in_1"), 5);
        let id = t.record.token_id;
        let ended = store
            .exchange_setup_code("cl_1", hash, now, &mut |_| {
                Some((t.clone(), audit("installation.exchange", "in_1")))
            })
            .unwrap();
        (ended, id)
    };
    let threads: Vec<_> = (0..8u8)
        .map(|i| {
            let store = Arc::clone(&store);
            let hash = code.hash();
            std::thread::spawn(move || {
                let (_, t) = token(200 + i, Some("in_1"), 5);
                store
                    .exchange_setup_code("cl_1", &hash, 10, &mut |_| {
                        Some((t.clone(), audit("installation.exchange", "in_1")))
                    })
                    .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<Exchanged> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let redeemed = Exchanged::Ended {
        outcome: Redeem::Redeemed,
        replaced: false,
    };
    let used = Exchanged::Ended {
        outcome: Redeem::Used,
        replaced: false,
    };
    assert_eq!(outcomes.iter().filter(|o| **o == redeemed).count(), 1);
    assert_eq!(outcomes.iter().filter(|o| **o == used).count(), 7);

    // A new code for the installation: its token replaces the first.
    let again = OpaqueSecret::from_random([4; 32]);
    add_code(store.as_ref(), &installation, &again, 50);
    let (ended, id) = exchange(&again.hash(), 30, 20);
    assert_eq!(
        ended,
        Exchanged::Ended {
            outcome: Redeem::Redeemed,
            replaced: true
        }
    );
    let live = live_tokens(store.as_ref(), "in_1");
    assert_eq!(live, [id], "one live APP token: the last");
    // The app of another client redeems nothing.
    let (_, t) = token(31, Some("in_1"), 5);
    let other = store
        .exchange_setup_code("cl_none", &again.hash(), 20, &mut |_| {
            Some((t.clone(), audit("installation.exchange", "in_1")))
        })
        .unwrap();
    assert_eq!(other, Exchanged::Declined);
}

/// A pending installation `id` of `app_1` (from [`seed`]) with a code.
fn add_installation(store: &dyn Store, id: &str, code: u8) -> OpaqueSecret {
    let secret = OpaqueSecret::from_random([code; 32]);
    let installation = Installation {
        id: id.into(),
        app_id: "app_1".into(),
        environment_id: "e".into(),
        status: InstallationStatus::Pending,
        config: json!({}),
    };
    let row = SetupCodeRow {
        code_hash: secret.hash(),
        installation_id: id.into(),
        app_id: "app_1".into(),
        expires_at: 1000,
    };
    store
        .create_installation(&installation, &row, &audit("installation.create", id))
        .unwrap();
    secret
}

/// Gives the pending `installation` (of `app_1`) one more code, `code`,
/// valid until `expires_at`; its other codes stay.
fn add_code(store: &dyn Store, installation: &Installation, code: &OpaqueSecret, expires_at: i64) {
    store
        .update_installation(
            installation,
            InstallationStatus::Pending,
            false,
            Some(&SetupCodeRow {
                code_hash: code.hash(),
                installation_id: installation.id.clone(),
                app_id: "app_1".into(),
                expires_at,
            }),
            &audit("installation.setup_code", &installation.id),
        )
        .unwrap();
}

/// The ids of `installation`'s tokens that are not revoked.
fn live_tokens(store: &dyn Store, installation: &str) -> Vec<verifier_core::TokenId> {
    store
        .tokens()
        .unwrap()
        .into_iter()
        .filter(|t| t.record.installation_id.as_deref() == Some(installation))
        .filter(|t| !t.record.revoked)
        .map(|t| t.record.token_id)
        .collect()
}

/// [`seed`], and a PAT made from `pat`: its id, for a token that takes it.
fn seed_with_pat(store: &dyn Store, pat: u8) -> verifier_core::TokenId {
    seed(store);
    let (_, taken) = token(pat, None, 5);
    store
        .insert_token(&taken, &audit("token.create", "pat"))
        .unwrap();
    taken.record.token_id
}

/// Exchanges `code` for an APP token of `installation` made from `seed`,
/// with `id` for its token id if given.
fn exchange_code(
    store: &dyn Store,
    installation: &str,
    code: &OpaqueSecret,
    seed: u8,
    id: Option<verifier_core::TokenId>,
) -> Result<(Exchanged, verifier_core::TokenId), StoreError> {
    let (_, mut t) = token(seed, Some(installation), 5);
    if let Some(id) = id {
        t.record.token_id = id;
    }
    let audit = audit("installation.exchange", installation);
    store
        .exchange_setup_code("cl_1", &code.hash(), 10, &mut |_| {
            Some((t.clone(), audit.clone()))
        })
        .map(|ended| (ended, t.record.token_id))
}

/// Runs `crowd` at once, after two exchanges that wait for the locks
/// `hold` takes on two other installations (a store that groups writers,
/// PostgreSQL, then has its groups under way and the crowd waiting for
/// the next), and ends with the held locks released: the crowd's
/// exchanges share a transaction where the store groups them. `hold`
/// holds an installation's row lock until what it returns is dropped
/// (SQLite: nothing to hold).
fn in_one_group<T: Send + 'static>(
    store: &Arc<dyn Store>,
    hold: &dyn Fn(&str) -> Box<dyn std::any::Any>,
    crowd: Vec<Box<dyn FnOnce() -> T + Send>>,
) -> Vec<T> {
    let pause = std::time::Duration::from_millis(300);
    let held: Vec<_> = ["in_x", "in_y"]
        .iter()
        .zip([30u8, 31])
        .map(|(id, seed)| {
            let code = add_installation(store.as_ref(), id, seed);
            let lock = hold(id);
            let store = Arc::clone(store);
            let ahead = std::thread::spawn(move || {
                exchange_code(store.as_ref(), id, &code, seed, None).unwrap()
            });
            (lock, ahead)
        })
        .collect();
    std::thread::sleep(pause);
    let crowd: Vec<_> = crowd.into_iter().map(std::thread::spawn).collect();
    std::thread::sleep(pause);
    let ahead: Vec<_> = held
        .into_iter()
        .map(|(lock, ahead)| {
            drop(lock);
            ahead
        })
        .collect();
    for a in ahead {
        let (ended, _) = a.join().unwrap();
        assert!(matches!(
            ended,
            Exchanged::Ended {
                outcome: Redeem::Redeemed,
                ..
            }
        ));
    }
    crowd.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Exchanges of several codes of one installation at once (in one group,
/// where the store groups writers: [`in_one_group`]) end as if they ran
/// one after the other: each redeems its code, each but the first
/// replaces the token before it, and one APP token is left live.
pub fn exchanges_of_one_installation_at_once_leave_one_token(
    store: Arc<dyn Store>,
    hold: &dyn Fn(&str) -> Box<dyn std::any::Any>,
) {
    let (_, installation, _) = seed(store.as_ref());
    let codes: Vec<OpaqueSecret> = (0..8u8)
        .map(|i| OpaqueSecret::from_random([40 + i; 32]))
        .collect();
    for code in &codes {
        add_code(store.as_ref(), &installation, code, 1000);
    }
    let crowd = codes
        .into_iter()
        .zip(60u8..)
        .map(|(code, seed)| {
            let store = Arc::clone(&store);
            Box::new(move || exchange_code(store.as_ref(), "in_1", &code, seed, None).unwrap())
                as Box<dyn FnOnce() -> _ + Send>
        })
        .collect();
    let ended = in_one_group(&store, hold, crowd);
    let replaced = |r: bool| Exchanged::Ended {
        outcome: Redeem::Redeemed,
        replaced: r,
    };
    assert_eq!(
        ended.iter().filter(|(e, _)| *e == replaced(false)).count(),
        1
    );
    assert_eq!(
        ended.iter().filter(|(e, _)| *e == replaced(true)).count(),
        7
    );
    let live = live_tokens(store.as_ref(), "in_1");
    assert_eq!(live.len(), 1, "one live APP token");
    assert!(ended.iter().any(|(_, id)| *id == live[0]));
}

/// An exchange whose write fails (its token's id is taken) fails alone,
/// also where exchanges share a transaction ([`in_one_group`]): the
/// exchanges beside it redeem, and its code is left unspent.
pub fn an_exchange_that_fails_fails_alone(
    store: Arc<dyn Store>,
    hold: &dyn Fn(&str) -> Box<dyn std::any::Any>,
) {
    let taken = seed_with_pat(store.as_ref(), 90);
    let failing = "in_5";
    let installations: Vec<(String, OpaqueSecret)> = (2..10u8)
        .map(|i| {
            let id = format!("in_{i}");
            let code = add_installation(store.as_ref(), &id, 50 + i);
            (id, code)
        })
        .collect();
    let crowd = installations
        .iter()
        .cloned()
        .zip(70u8..)
        .map(|((id, code), seed)| {
            let store = Arc::clone(&store);
            Box::new(move || {
                let reuse = (id == failing).then_some(taken);
                let ended = exchange_code(store.as_ref(), &id, &code, seed, reuse);
                (id, ended.map(|(e, _)| e))
            }) as Box<dyn FnOnce() -> _ + Send>
        })
        .collect();
    for (id, ended) in in_one_group(&store, hold, crowd) {
        if id == failing {
            assert!(matches!(ended, Err(StoreError::Conflict(_))), "{ended:?}");
        } else {
            assert_eq!(
                ended.unwrap(),
                Exchanged::Ended {
                    outcome: Redeem::Redeemed,
                    replaced: false
                },
                "{id}"
            );
        }
    }
    // Nothing of the failed exchange was written: its code still redeems.
    let (_, code) = &installations[3];
    let (ended, _) = exchange_code(store.as_ref(), failing, code, 99, None).unwrap();
    assert_eq!(
        ended,
        Exchanged::Ended {
            outcome: Redeem::Redeemed,
            replaced: false
        }
    );
}

/// Tokens made at once (in one group, where the store groups writers:
/// [`in_one_group`]) each get their installation's approved grants,
/// whatever they asked for, and one whose id is taken fails alone.
pub fn tokens_made_at_once_get_their_installations_grants(
    store: Arc<dyn Store>,
    hold: &dyn Fn(&str) -> Box<dyn std::any::Any>,
) {
    let taken = seed_with_pat(store.as_ref(), 91);
    for i in 2..6u8 {
        add_installation(store.as_ref(), &format!("in_{i}"), 50 + i);
    }
    let crowd = (2..7u8)
        .map(|i| {
            let store = Arc::clone(&store);
            Box::new(move || {
                let installation = format!("in_{i}");
                let (_, mut t) = token(80 + i, (i < 6).then_some(installation.as_str()), 5);
                t.record.grants = Grants::shared(vec![Grant::new(Api::Content, Action::UPDATE)]);
                if i == 6 {
                    t.record.token_id = taken;
                }
                let made = store.insert_token(&t, &audit("token.create", &installation));
                (t.record.token_id, i, made)
            }) as Box<dyn FnOnce() -> _ + Send>
        })
        .collect();
    for (id, i, made) in in_one_group(&store, hold, crowd) {
        if i == 6u8 {
            assert!(matches!(made, Err(StoreError::Conflict(_))), "{made:?}");
            continue;
        }
        made.unwrap();
        let stored = store.token(&id).unwrap().unwrap();
        assert_eq!(
            stored.record.grants.to_vec(),
            vec![Grant::new(Api::Content, Action::READ)],
            "in_{i}"
        );
    }
}
