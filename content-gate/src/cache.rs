//! Requests seen before, read and planned once.
//!
//! Clients send the same few documents again and again, with other
//! variables at most; reading a document and planning it is nearly all of
//! what a GraphQL check costs when done afresh (BENCHMARKS.md). A
//! [`PlanCache`] keeps each document read (by its text and operation name)
//! and, for each, the last few [`Plan`]s made of it, each with the
//! environment, options, variables and extensions it was made for: a plan is
//! reused only for a request that would plan the same, compared field by
//! field, never by a hash alone. A plan in turn keeps its last authorization
//! ([`Plan::authorize`]), so a repeated request with the same decisions is
//! not rewritten again either.
//!
//! Bounded: past [`PlanCache::CAPACITY`] documents the oldest goes, with its
//! plans; at most [`PlanCache::PLANS`] plans per operation. Refusals are not
//! kept. Requests name their `now` (a second), so a document's plan is made
//! again at most once a second per set of inputs.
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
    plans: Vec<Planned>,
}

/// A plan kept.
#[derive(Debug)]
struct Planned {
    plan: Arc<Plan>,
}

impl Planned {
    /// Whether `request` against `environment` with `options` plans as this
    /// plan's request did. The document and operation name are the
    /// entry's.
    fn serves(
        &self,
        request: &GraphqlRequest,
        environment: &Environment,
        options: &Options,
    ) -> bool {
        let plan = &self.plan;
        let variables = match &request.variables {
            Some(given) => *given == plan.variables,
            None => plan.variables.is_empty(),
        };
        variables
            && request.extensions == plan.extensions
            && plan.options == *options
            && plan.environment == *environment
    }
}

/// Documents read and their plans (see the module docs).
#[derive(Debug, Default)]
pub struct PlanCache {
    documents: HashMap<Arc<str>, Vec<Operation>, foldhash::fast::RandomState>,
    order: VecDeque<Arc<str>>,
}

impl PlanCache {
    /// Most documents kept.
    pub const CAPACITY: usize = 512;
    /// Most operations kept per document (a document may hold several,
    /// chosen by `operationName`).
    pub const OPERATIONS: usize = 8;
    /// Most plans kept per operation.
    pub const PLANS: usize = 4;

    /// The plan of `request` against `environment` with `options`: the one
    /// made before for the same inputs, or a new one ([`Plan::of`]), kept.
    pub fn plan(
        &mut self,
        request: &GraphqlRequest,
        environment: &Environment,
        options: &Options,
    ) -> Result<Arc<Plan>, Stop> {
        let name = request.operation_name.as_deref();
        let operation = self.operation(&request.query, name)?;
        if let Some(at) = operation
            .plans
            .iter()
            .position(|p| p.serves(request, environment, options))
        {
            if at > 0 {
                let found = operation.plans.remove(at);
                operation.plans.insert(0, found);
            }
            if let Some(first) = operation.plans.first() {
                return Ok(Arc::clone(&first.plan));
            }
        }
        let plan = Arc::new(Plan::of(
            Arc::clone(&operation.document),
            request,
            environment,
            options,
        )?);
        operation.plans.truncate(Self::PLANS - 1);
        operation.plans.insert(
            0,
            Planned {
                plan: Arc::clone(&plan),
            },
        );
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
        if !self.documents.contains_key(text) {
            let document = Arc::new(Document::parse(text, name)?);
            if self.order.len() >= Self::CAPACITY
                && let Some(oldest) = self.order.pop_front()
            {
                self.documents.remove(&oldest);
            }
            let key: Arc<str> = Arc::from(text);
            self.order.push_back(Arc::clone(&key));
            self.documents.insert(
                key,
                vec![Operation {
                    name: name.map(String::from),
                    document,
                    plans: Vec::new(),
                }],
            );
        }
        let Some(operations) = self.documents.get_mut(text) else {
            return Err(Refused::Invalid("the document cache lost an entry".into()));
        };
        let at = match operations.iter().position(|o| o.name.as_deref() == name) {
            Some(at) => at,
            None => {
                let document = Arc::new(Document::parse(text, name)?);
                if operations.len() >= Self::OPERATIONS {
                    operations.remove(0);
                }
                operations.push(Operation {
                    name: name.map(String::from),
                    document,
                    plans: Vec::new(),
                });
                operations.len() - 1
            }
        };
        operations
            .get_mut(at)
            .ok_or_else(|| Refused::Invalid("the document cache lost an entry".into()))
    }

    /// How many documents are kept.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
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
        assert_eq!(cache.len(), 2, "refusals are not kept");
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
        assert!(Arc::ptr_eq(
            &first,
            &cache.plan(&draft, &env, &options).unwrap()
        ));
        assert_eq!(first.checks[0].request.stage.as_deref(), Some("DRAFT"));

        // Other variables, another second, another header, another
        // environment: each is planned for what it says.
        let published = cache
            .plan(&request(query, json!({"s": "PUBLISHED"})), &env, &options)
            .unwrap();
        assert_eq!(
            published.checks[0].request.stage.as_deref(),
            Some("PUBLISHED")
        );
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
        assert_eq!(
            cache.plan(&draft, &env, &located).unwrap().checks[0]
                .request
                .locale
                .as_deref(),
            Some("de")
        );
        let mut other = env.clone();
        other.models.clear();
        assert!(matches!(
            cache.plan(&draft, &other, &options),
            Err(Stop::Denied(_))
        ));
        // Four plans are kept: the first is still there; a fifth pushes it
        // out.
        assert!(Arc::ptr_eq(
            &first,
            &cache.plan(&draft, &env, &options).unwrap()
        ));
        for stage in ["A", "B", "C", "D"] {
            cache
                .plan(&request(query, json!({"s": stage})), &env, &options)
                .unwrap();
        }
        assert!(!Arc::ptr_eq(
            &first,
            &cache.plan(&draft, &env, &options).unwrap()
        ));
        let kept = cache.plan(&draft, &env, &options).unwrap();
        assert!(Arc::ptr_eq(
            &kept,
            &cache.plan(&draft, &env, &options).unwrap()
        ));
        // No variables and empty variables plan the same.
        let bare = request("{ posts { id } }", serde_json::Value::Null);
        let empty = request("{ posts { id } }", json!({}));
        let p = cache.plan(&bare, &env, &options).unwrap();
        assert!(Arc::ptr_eq(
            &p,
            &cache.plan(&empty, &env, &options).unwrap()
        ));
    }
}
