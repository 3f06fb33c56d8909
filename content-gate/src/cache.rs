//! Requests seen before, read and planned once.
//!
//! Clients send the same few documents again and again, with other
//! variables at most; reading a document and planning it is nearly all of
//! what a GraphQL check costs when done afresh (BENCHMARKS.md). A
//! [`PlanCache`] keeps each document read (by its text and operation name)
//! and, for each, its last [`PlanCache::PLANS`] [`Plan`]s, each with the
//! environment, options, variables and extensions it was made for: a plan is
//! reused only for a request that would plan the same, compared field by
//! field, never by a hash alone. A plan in turn keeps its last authorization
//! ([`Plan::authorize`], [`Plan::check`]), so a repeated request with the
//! same decisions is not rewritten again either.
//!
//! Bounded: at most [`PlanCache::CAPACITY`] operations and
//! [`PlanCache::BYTES`] of their documents' text; past either, the oldest
//! operation goes, with its plans. A plan holds about its document's size
//! again (its checks, its rewritten document), so the whole stays within a
//! small multiple of `BYTES`. Plans made against equal environments share
//! one copy. Refusals are not kept. Requests name their `now` (a second), so
//! a document's plan is made again at most once a second per set of inputs.
//!
//! The cache is one caller's (`&mut self`): a gateway keeps one per worker
//! thread, a module one per instance.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use verifier_core::Environment;

use crate::document::{Document, Refused};
use crate::error::Stop;
use crate::plan::{GraphqlRequest, Options, Plan};

/// One operation of a document: the document read with it selected, and
/// its plans, the latest first.
#[derive(Debug)]
struct Operation {
    name: Option<String>,
    document: Arc<Document>,
    plans: Vec<Arc<Plan>>,
}

/// The environment a request is planned against: borrowed, or shared by
/// the caller (compared by address first, then by value).
#[derive(Clone, Copy)]
enum Policy<'e> {
    Borrowed(&'e Environment),
    Shared(&'e Arc<Environment>),
}

impl Policy<'_> {
    fn get(&self) -> &Environment {
        match self {
            Policy::Borrowed(e) => e,
            Policy::Shared(e) => e,
        }
    }

    fn is(&self, kept: &Arc<Environment>) -> bool {
        match self {
            Policy::Shared(e) if Arc::ptr_eq(e, kept) => true,
            _ => **kept == *self.get(),
        }
    }
}

/// Whether `request` against `environment` with `options` plans as `plan`'s
/// request did (the document and operation name are its entry's).
fn serves(
    plan: &Plan,
    request: &GraphqlRequest,
    environment: Policy<'_>,
    options: &Options,
) -> bool {
    let variables = match &request.variables {
        Some(given) => *given == plan.variables,
        None => plan.variables.is_empty(),
    };
    variables
        && request.extensions == plan.extensions
        && plan.options == *options
        && environment.is(&plan.environment)
}

/// Documents read and their plans (see the module docs).
#[derive(Debug, Default)]
pub struct PlanCache {
    documents: HashMap<Arc<str>, Vec<Operation>, foldhash::fast::RandomState>,
    /// Every operation kept, the oldest first.
    order: VecDeque<(Arc<str>, Option<String>)>,
    /// The text bytes of the operations in `order`.
    bytes: usize,
    /// The environment last planned against, shared by its plans.
    environment: Option<Arc<Environment>>,
}

impl PlanCache {
    /// Most operations kept.
    pub const CAPACITY: usize = 512;
    /// Most document text kept, counted once per operation.
    pub const BYTES: usize = 4 << 20;
    /// Most plans kept per operation.
    pub const PLANS: usize = 2;

    /// The plan of `request` against `environment` with `options`: the one
    /// made before for the same inputs, or a new one ([`Plan::of`]), kept.
    pub fn plan(
        &mut self,
        request: &GraphqlRequest,
        environment: &Environment,
        options: &Options,
    ) -> Result<Arc<Plan>, Stop> {
        self.plan_against(request, Policy::Borrowed(environment), options)
    }

    /// [`PlanCache::plan`] for an environment the caller keeps in an
    /// `Arc` (one per version of the environment): a plan made against that
    /// very `Arc` is known by its address, without comparing the policy, and
    /// new plans share it rather than copy it.
    pub fn plan_shared(
        &mut self,
        request: &GraphqlRequest,
        environment: &Arc<Environment>,
        options: &Options,
    ) -> Result<Arc<Plan>, Stop> {
        self.plan_against(request, Policy::Shared(environment), options)
    }

    fn plan_against(
        &mut self,
        request: &GraphqlRequest,
        environment: Policy<'_>,
        options: &Options,
    ) -> Result<Arc<Plan>, Stop> {
        let name = request.operation_name.as_deref();
        let operation = self.operation(&request.query, name)?;
        if let Some(at) = operation
            .plans
            .iter()
            .position(|p| serves(p, request, environment, options))
        {
            let found = operation.plans.remove(at);
            operation.plans.insert(0, Arc::clone(&found));
            return Ok(found);
        }
        let document = Arc::clone(&operation.document);
        let shared = match (&self.environment, environment) {
            (_, Policy::Shared(given)) => Arc::clone(given),
            (Some(kept), given) if given.is(kept) => Arc::clone(kept),
            (_, given) => Arc::new(given.get().clone()),
        };
        self.environment = Some(Arc::clone(&shared));
        let plan = Arc::new(Plan::against(document, request, shared, options)?);
        let operation = self.operation(&request.query, name)?;
        operation.plans.truncate(Self::PLANS - 1);
        operation.plans.insert(0, Arc::clone(&plan));
        Ok(plan)
    }

    /// The document `text` with `operation_name` selected, read once.
    pub fn document(
        &mut self,
        text: &str,
        operation_name: Option<&str>,
    ) -> Result<Arc<Document>, Refused> {
        self.operation(text, operation_name)
            .map(|o| Arc::clone(&o.document))
    }

    /// The entry of `text`'s operation `name`, read if it is new.
    fn operation(&mut self, text: &str, name: Option<&str>) -> Result<&mut Operation, Refused> {
        let known = self
            .documents
            .get(text)
            .is_some_and(|ops| ops.iter().any(|o| o.name.as_deref() == name));
        if !known {
            let document = Arc::new(Document::parse(text, name)?);
            while self.order.len() >= Self::CAPACITY
                || (!self.order.is_empty() && self.bytes + text.len() > Self::BYTES)
            {
                self.evict_oldest();
            }
            let key = match self.documents.get_key_value(text) {
                Some((key, _)) => Arc::clone(key),
                None => Arc::from(text),
            };
            self.order
                .push_back((Arc::clone(&key), name.map(String::from)));
            self.bytes += text.len();
            self.documents.entry(key).or_default().push(Operation {
                name: name.map(String::from),
                document,
                plans: Vec::new(),
            });
        }
        self.documents
            .get_mut(text)
            .and_then(|ops| ops.iter_mut().find(|o| o.name.as_deref() == name))
            .ok_or_else(|| Refused::Invalid("the document cache lost an entry".into()))
    }

    fn evict_oldest(&mut self) {
        let Some((text, name)) = self.order.pop_front() else {
            return;
        };
        self.bytes = self.bytes.saturating_sub(text.len());
        if let Some(ops) = self.documents.get_mut(&text) {
            ops.retain(|o| o.name != name);
            if ops.is_empty() {
                self.documents.remove(&text);
            }
        }
    }

    /// How many operations are kept.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(query: &str, variables: serde_json::Value) -> GraphqlRequest {
        serde_json::from_value(json!({ "query": query, "variables": variables })).unwrap()
    }

    fn environment() -> Environment {
        serde_json::from_value(json!({
            "id": "master",
            "models": [{"apiId": "Post", "apiIdPlural": "Posts"}]
        }))
        .unwrap()
    }

    #[test]
    fn a_document_is_read_once_and_bounded() {
        let mut cache = PlanCache::default();
        let a = cache.document("{ posts { id } }", None).unwrap();
        let again = cache.document("{ posts { id } }", None).unwrap();
        assert!(Arc::ptr_eq(&a, &again), "read once");
        // The operation name selects the operation.
        let text = "query A { posts { id } } query B { authors { id } }";
        let b = cache.document(text, Some("B")).unwrap();
        assert_eq!(b.root_fields[0].name, "authors");
        let a2 = cache.document(text, Some("A")).unwrap();
        assert_eq!(a2.root_fields[0].name, "posts");
        assert!(cache.document(text, Some("C")).is_err());
        assert!(cache.document("{ posts { id ", None).is_err());
        assert_eq!(cache.len(), 3, "refusals are not kept");
        for i in 0..PlanCache::CAPACITY + 10 {
            cache
                .document(&format!("{{ posts(first: {i}) {{ id }} }}"), None)
                .unwrap();
        }
        assert_eq!(cache.len(), PlanCache::CAPACITY);
        assert_eq!(cache.order.len(), PlanCache::CAPACITY);
        let fresh = cache.document("{ posts { id } }", None).unwrap();
        assert!(!Arc::ptr_eq(&a, &fresh), "the oldest went first");
    }

    #[test]
    fn the_text_kept_is_bounded_too() {
        let mut cache = PlanCache::default();
        let large = |i: usize| {
            format!(
                "{{ posts(first: {}) {{ id }} }}{}",
                100 + i,
                " ".repeat(60_000)
            )
        };
        let size = large(0).len();
        for i in 0..100 {
            cache.document(&large(i), None).unwrap();
        }
        assert!(cache.bytes <= PlanCache::BYTES, "{}", cache.bytes);
        assert_eq!(cache.len(), PlanCache::BYTES / size);
        assert_eq!(cache.bytes, cache.len() * size);
        // The operations of one text go one by one.
        let text = "query A { posts { id } } query B { authors { id } }";
        cache.document(text, Some("A")).unwrap();
        cache.document(text, Some("B")).unwrap();
        assert_eq!(cache.documents.get(text).map(Vec::len), Some(2));
    }

    #[test]
    fn a_plan_is_reused_only_for_the_same_inputs() {
        let mut cache = PlanCache::default();
        let env = environment();
        let options = Options {
            now: 100,
            ..Options::default()
        };
        let query = "query Q($s: Stage) { posts(stage: $s) { id } }";
        let draft = request(query, json!({"s": "DRAFT"}));
        let first = cache.plan(&draft, &env, &options).unwrap();
        let same = |cache: &mut PlanCache, plan: &Arc<Plan>, options: &Options| {
            Arc::ptr_eq(plan, &cache.plan(&draft, &env, options).unwrap())
        };
        assert!(same(&mut cache, &first, &options));
        assert_eq!(first.checks[0].request.stage.as_deref(), Some("DRAFT"));

        // Other variables, another second, other headers, another
        // environment: each is planned for what it says.
        let published = cache
            .plan(&request(query, json!({"s": "PUBLISHED"})), &env, &options)
            .unwrap();
        let stage = |p: &Plan| p.checks[0].request.stage.clone();
        assert_eq!(stage(&published).as_deref(), Some("PUBLISHED"));
        assert!(same(&mut cache, &first, &options), "two plans are kept");
        let later = Options {
            now: 101,
            ..options.clone()
        };
        assert_eq!(
            cache.plan(&draft, &env, &later).unwrap().checks[0]
                .request
                .now,
            101
        );
        let located = Options {
            locales: vec!["de".into()],
            ..options.clone()
        };
        let de = cache.plan(&draft, &env, &located).unwrap();
        assert_eq!(de.checks[0].request.locale.as_deref(), Some("de"));
        assert!(Arc::ptr_eq(&de.environment, &first.environment), "one copy");
        let mut other = env.clone();
        other.models.clear();
        assert!(matches!(
            cache.plan(&draft, &other, &options),
            Err(Stop::Denied(_))
        ));
        // Two newer plans pushed the first out.
        assert!(!same(&mut cache, &first, &options));

        // No variables and empty variables plan the same.
        let bare = request("{ posts { id } }", serde_json::Value::Null);
        let empty = request("{ posts { id } }", json!({}));
        let p = cache.plan(&bare, &env, &options).unwrap();
        assert!(Arc::ptr_eq(
            &p,
            &cache.plan(&empty, &env, &options).unwrap()
        ));
    }

    #[test]
    fn a_shared_environment_is_known_by_address_and_else_by_value() {
        let mut cache = PlanCache::default();
        let options = Options::default();
        let req = request("{ posts { id } }", json!({}));
        let shared = Arc::new(environment());
        let first = cache.plan_shared(&req, &shared, &options).unwrap();
        assert!(
            Arc::ptr_eq(&first.environment, &shared),
            "shared, not copied"
        );
        assert!(Arc::ptr_eq(
            &first,
            &cache.plan_shared(&req, &shared, &options).unwrap()
        ));
        // An equal policy in another Arc (the row read again): the same.
        let again = Arc::new(environment());
        assert!(Arc::ptr_eq(
            &first,
            &cache.plan_shared(&req, &again, &options).unwrap()
        ));
        assert!(Arc::ptr_eq(
            &first,
            &cache.plan(&req, &environment(), &options).unwrap()
        ));
        // A changed one: planned again.
        let mut changed = environment();
        changed.default_stage = "DRAFT".into();
        let changed = Arc::new(changed);
        let other = cache.plan_shared(&req, &changed, &options).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(other.environment.default_stage, "DRAFT");
    }
}
