//! The gate end to end over the verifier's real decisions: a token's
//! grants (JSON, as the authority stores them) decide every check; what
//! goes upstream and what comes back are asserted as text and JSON.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use content_gate::{Authorized, Denied, Document, GraphqlRequest, Options, Plan, PlanCache, Stop};
use std::sync::Arc;

use serde_json::{Value, json};
use verifier_core::{Environment, IssuedToken, TokenKind, TokenRecord, verify, verify_all};

const NOW: i64 = 1_800_000_000;

fn environment() -> Environment {
    serde_json::from_value(json!({
        "id": "master",
        "models": [
            {"apiId": "Post", "apiIdPlural": "Posts", "ownerField": "ownerId", "sensitiveFields": ["internalNotes"]},
            {"apiId": "Author", "apiIdPlural": "Authors"}
        ]
    }))
    .unwrap()
}

/// A token with `grants` (JSON) whose principal is `user:1`.
fn token(grants: Value) -> (String, TokenRecord) {
    let issued = IssuedToken::from_random([7; 32]);
    let record = TokenRecord {
        token_id: issued.token_id(),
        secret_hash: issued.secret_hash(),
        kind: TokenKind::Pat,
        name: "t".into(),
        project_id: None,
        environment_id: Some("master".into()),
        installation_id: None,
        principal: Some("user:1".into()),
        grants: serde_json::from_value(grants).unwrap(),
        expires_at: None,
        revoked: false,
    };
    (issued.header(), record)
}

fn own_posts() -> Value {
    json!([
        {"api": "content", "action": "read", "models": ["Post"], "stages": ["PUBLISHED"], "condition": {"ownerId": "$principal"}},
        {"api": "content", "action": "create", "models": ["Post"], "condition": {"ownerId": "$principal"}},
        {"api": "content", "action": "update", "models": ["Post"], "condition": {"ownerId": "$principal"}},
        {"api": "content", "action": "read", "models": ["Author"]}
    ])
}

fn request(query: &str, variables: Value) -> GraphqlRequest {
    serde_json::from_value(json!({"query": query, "variables": variables})).unwrap()
}

/// Plans, decides each check with the verifier, authorizes.
fn run(grants: Value, req: &GraphqlRequest, options: Options) -> Result<Arc<Authorized>, Stop> {
    let (header, record) = token(grants);
    let env = environment();
    let plan = Plan::new(
        req,
        &env,
        &Options {
            now: NOW,
            ..options
        },
    )?;
    let decisions: Vec<_> = plan
        .checks
        .iter()
        .map(|c| verify(&header, Some(&record), Some(&env), &c.request))
        .collect();
    plan.authorize(&decisions).map_err(Stop::Denied)
}

fn denied(result: Result<Arc<Authorized>, Stop>) -> Denied {
    match result {
        Err(Stop::Denied(d)) => d,
        other => panic!("not denied: {other:?}"),
    }
}

/// `text` with every run of white space one space.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn reparses(query: &str) {
    Document::parse(query, None).unwrap_or_else(|e| panic!("{e}: {query}"));
}

#[test]
fn own_posts_only_whatever_the_upstream_does_and_notes_masked_under_any_alias() {
    let req = request(
        "query Q($w: PostWhereInput) { mine: posts(where: $w, first: 5) { id title ...N } }
         fragment N on Post { secret: internalNotes }",
        json!({"w": {"title_contains": "a"}}),
    );
    let a = run(own_posts(), &req, Options::default()).unwrap();
    assert!(
        a.query
            .contains(r#"where: {AND: [$w, {OR: [{ownerId: "user:1"}]}]}"#),
        "{}",
        a.query
    );
    assert!(a.query.contains("_tally0: ownerId"), "{}", a.query);
    assert!(a.query.contains("fragment N on Post"), "{}", a.query);
    reparses(&a.query);
    assert_eq!(a.principal.as_deref(), Some("user:1"));
    // An upstream that ignored `where` answers someone else's post too.
    let upstream = json!({"data": {"mine": [
        {"id": "1", "title": "a", "secret": "x", "_tally0": "user:1"},
        {"id": "2", "title": "b", "secret": "y", "_tally0": "user:2"}
    ]}});
    let (answer, masked) = a.finish(upstream);
    assert_eq!(
        answer,
        json!({"data": {"mine": [{"id": "1", "title": "a", "secret": null}]}, "extensions": {"masked": ["mine.secret"]}})
    );
    assert_eq!(masked, ["mine.secret"]);
}

#[test]
fn a_where_is_added_when_there_is_none_and_one_row_reads_are_checked_in_the_answer() {
    let req = request(
        "{ posts { id } post(where: {id: \"2\"}) { id } postsConnection { edges { node { id internalNotes } } } }",
        json!({}),
    );
    let a = run(own_posts(), &req, Options::default()).unwrap();
    let q = squash(&a.query);
    assert!(
        q.contains(r#"posts(where: {AND: [{OR: [{ownerId: "user:1"}]}]})"#),
        "{q}"
    );
    assert!(
        q.contains(r#"post(where: {id: "2"}) { id _tally0: ownerId }"#),
        "{q}"
    );
    assert!(
        q.contains("_tallyedges: edges { _tallynode: node { _tally0: ownerId } }"),
        "{q}"
    );
    reparses(&a.query);
    let (answer, _) = a.finish(json!({"data": {
        "posts": [{"id": "1", "_tally0": "user:1"}],
        "post": {"id": "2", "_tally0": "user:2"},
        "postsConnection": {
            "edges": [{"node": {"id": "1", "internalNotes": "n"}}, {"node": {"id": "3", "internalNotes": "m"}}],
            "_tallyedges": [{"_tallynode": {"_tally0": "user:1"}}, {"_tallynode": {"_tally0": "user:3"}}]
        }
    }}));
    assert_eq!(answer["data"]["posts"], json!([{"id": "1"}]));
    assert_eq!(
        answer["data"]["post"],
        Value::Null,
        "someone else's post is absent"
    );
    assert_eq!(
        answer["data"]["postsConnection"],
        json!({"edges": [{"node": {"id": "1", "internalNotes": null}}]})
    );
    assert_eq!(
        answer["extensions"]["masked"],
        json!(["postsConnection.edges.node.internalNotes"])
    );
}

#[test]
fn a_draft_read_with_a_published_only_grant_is_denied_however_the_stage_is_given() {
    for (query, variables, header) in [
        ("{ posts(stage: DRAFT) { id } }", json!({}), None),
        (
            "query($s: Stage) { posts(stage: $s) { id } }",
            json!({"s": "DRAFT"}),
            None,
        ),
        ("{ posts { id } }", json!({}), Some("DRAFT")),
    ] {
        let options = Options {
            stage: header.map(String::from),
            ..Options::default()
        };
        let d = denied(run(own_posts(), &request(query, variables), options));
        assert_eq!((d.status, d.reason()), (403, "not_granted"), "{query}");
    }
    // Published is fine, by argument or by default.
    assert!(
        run(
            own_posts(),
            &request("{ posts(stage: PUBLISHED) { id } }", json!({})),
            Options::default()
        )
        .is_ok()
    );
}

#[test]
fn aliases_and_fragments_cannot_smuggle_a_model() {
    let grants = json!([{"api": "content", "action": "read", "models": ["Author"]}]);
    for query in [
        "{ authors { id } a: posts { id } }",
        "{ authors { id } ... on Query { posts { id } } }",
        "{ authors { id } ...F } fragment F on Query { x: post(where: {id: \"1\"}) { id } }",
    ] {
        let d = denied(run(
            grants.clone(),
            &request(query, json!({})),
            Options::default(),
        ));
        assert_eq!(d.reason(), "not_granted", "{query}");
        assert_eq!(d.errors.len(), 1);
    }
    let d = denied(run(
        grants.clone(),
        &request("{ authors { id } comments { id } }", json!({})),
        Options::default(),
    ));
    assert_eq!((d.status, d.reason()), (403, "unknown_field"));
    assert_eq!(d.errors[0].path, ["comments"]);
    // Introspection: denied without a grant or the flag.
    let d = denied(run(
        grants.clone(),
        &request("{ __schema { types { name } } }", json!({})),
        Options::default(),
    ));
    assert_eq!(d.reason(), "not_granted");
    let open = Options {
        introspection: true,
        ..Options::default()
    };
    assert!(
        run(
            grants,
            &request("{ __schema { types { name } } }", json!({})),
            open
        )
        .is_ok()
    );
}

#[test]
fn creates_are_checked_against_their_data_and_masked_fields_cannot_be_written() {
    let create = |data: Value| {
        request(
            "mutation($d: PostCreateInput!) { createPost(data: $d) { id internalNotes } }",
            json!({"d": data}),
        )
    };
    let d = denied(run(
        own_posts(),
        &create(json!({"title": "t", "ownerId": "user:2"})),
        Options::default(),
    ));
    assert_eq!(d.reason(), "not_granted");
    let d = denied(run(
        own_posts(),
        &create(json!({"title": "t"})),
        Options::default(),
    ));
    assert_eq!(
        d.reason(),
        "not_granted",
        "the owner must be set to the principal"
    );
    let a = run(
        own_posts(),
        &create(json!({"title": "t", "ownerId": "user:1"})),
        Options::default(),
    )
    .unwrap();
    let (answer, _) = a.finish(json!({"data": {"createPost": {"id": "9", "internalNotes": "n"}}}));
    assert_eq!(answer["data"]["createPost"]["internalNotes"], Value::Null);
    let d = denied(run(
        own_posts(),
        &create(json!({"title": "t", "ownerId": "user:1", "internalNotes": "sneaky"})),
        Options::default(),
    ));
    assert_eq!(d.reason(), "masked_field");
    assert_eq!(d.errors[0].path, ["createPost", "data", "internalNotes"]);
}

#[test]
fn a_one_row_write_goes_on_only_if_the_preflight_finds_the_callers_row() {
    let req = request(
        "mutation { updatePost(where: {id: \"5\"}, data: {title: \"new\"}) { id } }",
        json!({}),
    );
    let a = run(own_posts(), &req, Options::default()).unwrap();
    let preflight = a.preflight.clone().unwrap();
    assert_eq!(
        preflight,
        r#"query { _tallyp0: post(where: {id: "5"}, stage: DRAFT) { _tally0: ownerId } }"#
    );
    reparses(&preflight);
    assert!(
        a.check_preflight(&json!({"data": {"_tallyp0": {"_tally0": "user:1"}}}))
            .is_ok()
    );
    for other in [
        json!({"data": {"_tallyp0": {"_tally0": "user:2"}}}),
        json!({"data": {"_tallyp0": null}}),
        json!({"errors": []}),
    ] {
        let d = a.check_preflight(&other).unwrap_err();
        assert_eq!(d.reason(), "not_your_row");
    }
    // Unlimited writes need no preflight.
    let admin = json!([{"api": "content", "action": "update"}]);
    assert_eq!(
        run(admin, &req, Options::default()).unwrap().preflight,
        None
    );
}

#[test]
fn limits_and_reserved_keys_are_refusals() {
    for query in [
        "{ _tally0: posts { id } }",
        "{ posts { _tallyx: id } }",
        "subscription { posts { id } }",
        "{ posts(stage: \"no such\") { id } }",
    ] {
        match run(own_posts(), &request(query, json!({})), Options::default()) {
            Err(Stop::Refused(r)) => assert_eq!(r.reason(), "invalid_document", "{query}"),
            other => panic!("{query}: {other:?}"),
        }
    }
    let many: String = (0..300).map(|i| format!("a{i}: id ")).collect();
    match run(
        own_posts(),
        &request(&format!("{{ posts {{ {many} }} }}"), json!({})),
        Options::default(),
    ) {
        Err(Stop::Refused(r)) => assert_eq!(r.reason(), "too_many_aliases"),
        other => panic!("{other:?}"),
    }
}

/// Options at [`NOW`], nothing else set.
fn at_now() -> Options {
    Options {
        now: NOW,
        ..Options::default()
    }
}

/// A plan answers the same decisions with what it authorized before, and
/// other decisions (another caller's rows, a denial) afresh: the memo
/// never lends one caller's document to another.
#[test]
fn a_plan_authorizes_the_same_decisions_once_and_others_afresh() {
    let (env, mut plans, req) = (
        environment(),
        PlanCache::default(),
        request("{ posts { id title } }", json!({})),
    );
    let plan = plans.plan(&req, &env, &at_now()).unwrap();
    let decide = |principal: &str, grants: Value| {
        let (header, mut record) = token(grants);
        record.principal = Some(principal.into());
        verify_all(&header, Some(&record), Some(&env), plan.requests())
    };
    let first = plan.authorize(&decide("user:1", own_posts())).unwrap();
    assert!(
        first.query.contains(r#"ownerId: "user:1""#),
        "{}",
        first.query
    );
    let again = plans.plan(&req, &env, &at_now()).unwrap();
    assert!(Arc::ptr_eq(&plan, &again), "the plan is kept");
    let second = again.authorize(&decide("user:1", own_posts())).unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "the same decisions: the same answer"
    );

    let other = plan.authorize(&decide("user:2", own_posts())).unwrap();
    assert!(
        other.query.contains(r#"ownerId: "user:2""#),
        "{}",
        other.query
    );
    assert!(!other.query.contains("user:1"), "{}", other.query);
    assert_eq!(other.principal.as_deref(), Some("user:2"));

    let none = json!([{"api": "content", "action": "read", "models": ["Author"]}]);
    assert!(plan.authorize(&decide("user:2", none)).is_err());
    let everything = json!([{"api": "content", "action": "read", "models": ["Post"]}]);
    let open = plan.authorize(&decide("user:2", everything)).unwrap();
    assert!(!open.query.contains("AND"), "{}", open.query);
    assert!(
        !open.fields[0].masked.is_empty(),
        "internalNotes stays masked"
    );
}

/// `Plan::check` answers as deciding each check and authorizing, and its
/// memo of the last token never outlives what authentication says:
/// revoked, expired, a wrong secret or other grants are decided again.
#[test]
fn a_native_check_authenticates_every_time_and_decides_as_verify() {
    let env = environment();
    let req = request("{ posts { id title } authors { id } }", json!({}));
    let plan = PlanCache::default().plan(&req, &env, &at_now()).unwrap();
    let (header, record) = token(own_posts());
    let expected = plan
        .authorize(&verify_all(
            &header,
            Some(&record),
            Some(&env),
            plan.requests(),
        ))
        .unwrap();
    let first = plan.check(&header, Some(&record)).unwrap();
    assert_eq!(*first, *expected);
    let again = plan.check(&header, Some(&record)).unwrap();
    assert!(Arc::ptr_eq(&first, &again), "kept for the same token");

    let mut revoked = record.clone();
    revoked.revoked = true;
    let d = denied(plan.check(&header, Some(&revoked)).map_err(Stop::Denied));
    assert_eq!((d.status, d.reason()), (401, "revoked"));
    let mut expired = record.clone();
    expired.expires_at = Some(NOW);
    let d = denied(plan.check(&header, Some(&expired)).map_err(Stop::Denied));
    assert_eq!((d.status, d.reason()), (401, "expired"));
    let (other_header, _) = {
        let issued = IssuedToken::from_random([8; 32]);
        (issued.header(), ())
    };
    let d = denied(
        plan.check(&other_header, Some(&record))
            .map_err(Stop::Denied),
    );
    assert_eq!(d.status, 401);
    let d = denied(plan.check(&header, None).map_err(Stop::Denied));
    assert_eq!((d.status, d.reason()), (401, "unknown_token"));
    let d = denied(plan.check("", None).map_err(Stop::Denied));
    assert_eq!((d.status, d.reason()), (401, "missing_credentials"));

    // The same record with other grants (a new list) or another principal
    // is decided again.
    let mut narrower = record.clone();
    narrower.grants = serde_json::from_value(json!([
        {"api": "content", "action": "read", "models": ["Author"]}
    ]))
    .unwrap();
    assert_eq!(
        denied(plan.check(&header, Some(&narrower)).map_err(Stop::Denied)).reason(),
        "not_granted"
    );
    let mut someone = record.clone();
    someone.principal = Some("user:2".into());
    let theirs = plan.check(&header, Some(&someone)).unwrap();
    assert!(theirs.query.contains(r#""user:2""#), "{}", theirs.query);
    let back = plan.check(&header, Some(&record)).unwrap();
    assert_eq!(*back, *expected);
}
