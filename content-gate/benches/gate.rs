//! The GraphQL check against the REST check, natively, in one run.
//!
//! `cargo bench -p content-gate --bench gate`
//!
//! `rest_check` is what the REST gateway decides per request: one verify.
//! The GraphQL checks decide a typical content query of about 1.5 KB (four
//! root fields, aliases, a fragment, variables, stages and a locale, three
//! fields limited to the caller's rows) as far as the document to forward:
//! `graphql_check` reads it fresh, plans its checks, decides them
//! (`verify_all`) and authorizes (rewrites the document);
//! `graphql_check_cached` has the document read before;
//! `graphql_check_repeated` is the same request again, its plan kept and
//! its decisions authorized before; `graphql_check_native` is that,
//! decided by `Plan::check`. `graphql_finish` holds a typical answer to the
//! decisions. The target: a GraphQL check ≤ 2 × `rest_check`
//! (BENCHMARKS.md).
#![allow(missing_docs)] // criterion_group! generates an undocumented fn
#![allow(clippy::expect_used, clippy::unwrap_used)] // a bench fails loudly on a broken fixture

use std::hint::black_box;

use content_gate::{GraphqlRequest, Options, Plan, PlanCache};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use verifier_core::{
    Environment, IssuedToken, Request, TokenKind, TokenRecord, verify, verify_all,
};

const QUERY: &str = r#"query Dashboard($first: Int, $title: String) {
  recent: posts(where: { title_contains: $title }, first: $first, stage: PUBLISHED) {
    id
    title
    slug
    excerpt
    publishedAt
    updatedAt
    ...PostCard
    author { id name avatar { url width height } }
    tags { id name slug }
  }
  featured: postsConnection(first: 3, where: { featured: true }) {
    edges { node { id title slug ...PostCard } }
    aggregate { count }
  }
  authors(first: 10) {
    id
    name
    bio
    email
    website
    twitterHandle
    avatar { url width height }
    posts(first: 3) { id title slug publishedAt }
  }
  popular: posts(first: 5, where: { views_gt: 1000 }, stage: PUBLISHED, locales: [en]) {
    id
    title
    slug
    views
    commentsCount
    ...PostCard
    comments(first: 2) { id body author { name } createdAt }
  }
}
fragment PostCard on Post {
  coverImage { url width height altText caption credit }
  readingTime
  wordCount
  category { id name slug color parent { id name } }
  seo { title description keywords canonicalUrl image { url width height } }
  localizations(locales: [de, fr]) { locale title slug }
  internalNotes
}"#;

fn fixture() -> (String, TokenRecord, Environment, GraphqlRequest) {
    let issued = IssuedToken::from_random([7; 32]);
    let grants = json!([
        {"api": "content", "action": "read", "models": ["Post"], "stages": ["PUBLISHED"], "condition": {"ownerId": "$principal"}},
        {"api": "content", "action": "read", "models": ["Author"]},
        {"api": "content", "action": "create", "models": ["Post"]},
        {"api": "content", "action": "update", "models": ["Post"], "condition": {"ownerId": "$principal"}}
    ]);
    let record = TokenRecord {
        token_id: issued.token_id(),
        secret_hash: issued.secret_hash(),
        kind: TokenKind::Pat,
        name: "bench".into(),
        project_id: None,
        environment_id: Some("master".into()),
        installation_id: None,
        principal: Some("user:1".into()),
        grants: serde_json::from_value(grants).unwrap(),
        expires_at: None,
        revoked: false,
    };
    let env: Environment = serde_json::from_value(json!({
        "id": "master",
        "models": [
            {"apiId": "Post", "apiIdPlural": "Posts", "ownerField": "ownerId", "sensitiveFields": ["internalNotes"]},
            {"apiId": "Author", "apiIdPlural": "Authors"}
        ]
    }))
    .unwrap();
    let request =
        serde_json::from_value(json!({"query": QUERY, "variables": {"first": 10, "title": "a"}}))
            .unwrap();
    (issued.header(), record, env, request)
}

fn benches(c: &mut Criterion) {
    let (header, record, env, graphql) = fixture();
    assert!((1000..2100).contains(&QUERY.len()), "{}", QUERY.len());
    let options = Options {
        now: 1_800_000_000,
        ..Options::default()
    };
    let mut rest = Request::new(
        verifier_core::Api::Content,
        verifier_core::Action::READ,
        1_800_000_000,
    );
    rest.environment_id = Some("master".into());
    rest.model = Some("Post".into());
    assert!(verify(&header, Some(&record), Some(&env), &rest).allow);

    c.bench_function("rest_check", |b| {
        b.iter(|| {
            verify(
                black_box(&header),
                Some(&record),
                Some(&env),
                black_box(&rest),
            )
        })
    });
    let check = || {
        let plan = Plan::new(black_box(&graphql), &env, &options).unwrap();
        let decisions = verify_all(&header, Some(&record), Some(&env), plan.requests());
        plan.authorize(&decisions).unwrap()
    };
    let authorized = check();
    assert!(authorized.query.contains("AND:"));
    c.bench_function("graphql_check", |b| b.iter(check));
    // The document read before, the other inputs new (another second,
    // other variables): planned and authorized afresh.
    let mut plans = PlanCache::default();
    c.bench_function("graphql_check_cached", |b| {
        b.iter(|| {
            let document = plans.document(black_box(&graphql.query), None).unwrap();
            let plan = Plan::of(document, &graphql, &env, &options).unwrap();
            let decisions = verify_all(&header, Some(&record), Some(&env), plan.requests());
            plan.authorize(&decisions).unwrap()
        })
    });
    // The same request again (what a gateway meets most: a client sending
    // its documents again): its plan kept; every check decided (a verifier
    // module's decisions, compared with those authorized before).
    c.bench_function("graphql_check_repeated", |b| {
        b.iter(|| {
            let plan = plans.plan(black_box(&graphql), &env, &options).unwrap();
            let decisions = verify_all(&header, Some(&record), Some(&env), plan.requests());
            plan.authorize(&decisions).unwrap()
        })
    });
    // The same, decided natively (`Plan::check`): the header authenticated
    // against the record, the token's last answer reused.
    c.bench_function("graphql_check_native", |b| {
        b.iter(|| {
            let plan = plans.plan(black_box(&graphql), &env, &options).unwrap();
            plan.check(black_box(&header), Some(&record)).unwrap()
        })
    });
    // Its parts: the parser alone, and the gate's reading of the document.
    c.bench_function("graphql_parse_only", |b| {
        b.iter(|| {
            apollo_parser::Parser::new(black_box(QUERY))
                .parse()
                .errors()
                .count()
        })
    });
    c.bench_function("graphql_document", |b| {
        b.iter(|| content_gate::Document::parse(black_box(QUERY), None).unwrap())
    });
    let plan = Plan::new(&graphql, &env, &options).unwrap();
    let decisions = verify_all(&header, Some(&record), Some(&env), plan.requests());
    c.bench_function("graphql_plan", |b| {
        b.iter(|| Plan::new(black_box(&graphql), &env, &options).unwrap())
    });
    c.bench_function("graphql_authorize", |b| {
        b.iter(|| plan.authorize_afresh(black_box(&decisions)).unwrap())
    });
    let row =
        json!({"id": "1", "title": "t", "slug": "s", "internalNotes": "n", "_tally0": "user:1"});
    let answer = json!({"data": {
        "recent": vec![row.clone(); 10],
        "popular": vec![row.clone(); 5],
        "featured": {"edges": vec![json!({"node": row}); 3], "_tallyedges": vec![json!({"_tallynode": {"_tally0": "user:1"}}); 3], "aggregate": {"count": 3}},
        "authors": vec![json!({"id": "a", "name": "n"}); 10]
    }});
    c.bench_function("graphql_finish", |b| {
        b.iter(|| authorized.finish(black_box(answer.clone())))
    });
}

criterion_group!(gate, benches);
criterion_main!(gate);
