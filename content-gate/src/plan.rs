//! From a GraphQL request to the verifier checks it needs: every root field
//! mapped to its model and verb ([`crate::naming`]), at each stage and
//! locale it touches, each a [`verifier_core::Request`] the caller decides.
//!
//! Stages: a read's `stage` argument, else the `X-Tally-Stage` header
//! ([`Options::stage`]), else the environment's default (the verifier's).
//! Writes (`create`, `update`, `delete`, `upsert`) act on `DRAFT`, as
//! Hygraph's mutations do; `publish` is checked at each stage of its `to`
//! argument and `unpublish` at each of its `from` (both default
//! `PUBLISHED`). Locales: the field's `locales` argument, else the
//! `X-Tally-Locale` header's ([`Options::locales`]), else none; every one is
//! checked. A create is checked with its `data` as the row (the verifier
//! then applies conditions to it: a create outside the caller's rows is
//! denied, not filtered), and an upsert's create with `upsert.create`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use verifier_core::{Action, Api, Environment, Model, Request};

use crate::document::{Document, OperationKind, Refused, RootField, Selected};
use crate::error::{Denied, FieldError, GateReason, Stop};
use crate::naming::{Shape, Target, Verb, target};
use crate::values::{resolve, scalar_text};

/// Most stages one field may name (`to`, `from`).
pub const MAX_STAGES: usize = 8;
/// Most locales one field may name.
pub const MAX_LOCALES: usize = 16;
/// Most checks one request may need.
pub const MAX_CHECKS: usize = 512;
/// Response keys starting with this are the gate's own (it adds them to
/// read condition fields); a document may not use it.
pub const RESERVED_PREFIX: &str = "_tally";

/// GraphQL over HTTP: what a client posts.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlRequest {
    /// The document.
    pub query: String,
    /// Its variables.
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
    /// The operation to run, when the document holds several.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// Other GraphQL-over-HTTP fields (`extensions`) travel on untouched.
    #[serde(default)]
    pub extensions: Option<Value>,
}

/// What the request's headers and the server's flags say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// `X-Tally-Stage`: the stage of reads that name none.
    pub stage: Option<String>,
    /// `X-Tally-Locale` (comma separated): the locales of fields that name
    /// none.
    pub locales: Vec<String>,
    /// Introspection open to every caller (else a grant of the action
    /// `introspect` is needed).
    pub introspection: bool,
    /// The caller's clock, unix seconds (the checks' `now`).
    pub now: i64,
}

/// One check: field `field`'s request.
#[derive(Debug, Clone)]
pub struct Check {
    /// Index into [`Plan::fields`].
    pub field: usize,
    /// What the verifier decides.
    pub request: Request,
}

/// A root field and what it addresses.
#[derive(Debug, Clone)]
pub struct PlannedField {
    /// Its response key.
    pub key: String,
    /// The root field as read.
    pub root: Arc<RootField>,
    /// Its target.
    pub target: Target,
    /// The model, for a model field.
    pub model: Option<Model>,
    /// Its `where`, resolved.
    pub where_: Option<Value>,
    /// The row data it writes, resolved (`data`; an upsert's `create` and
    /// `update`).
    pub writes: Vec<Value>,
}

impl PlannedField {
    /// The verb and shape, for a model field.
    pub fn verb_shape(&self) -> Option<(Verb, Shape)> {
        match self.target {
            Target::Model { verb, shape, .. } => Some((verb, shape)),
            Target::Introspection => None,
        }
    }
}

/// A request read and mapped: its fields and the checks they need.
#[derive(Debug)]
pub struct Plan {
    /// The document.
    pub document: Arc<Document>,
    /// The variables, as given.
    pub variables: Map<String, Value>,
    /// `operationName`, as given.
    pub operation_name: Option<String>,
    /// `extensions`, as given.
    pub extensions: Option<Value>,
    /// The root fields.
    pub fields: Vec<PlannedField>,
    /// The checks, in field order.
    pub checks: Vec<Check>,
    /// The environment the request addresses: its policy, as the plan was
    /// made against it (shared by the plans a [`crate::cache::PlanCache`]
    /// makes against the same one).
    pub environment: Arc<Environment>,
    /// The options it was made with.
    pub options: Options,
    /// The last decisions allowed and what they authorized
    /// ([`Plan::authorize`]).
    pub(crate) authorized: std::sync::Mutex<Option<crate::authorize::Memo>>,
    /// The last token whose checks allowed, and what they authorized
    /// ([`Plan::check`]).
    pub(crate) checked: std::sync::Mutex<Option<crate::check::Memo>>,
}

impl Plan {
    /// Reads `request` against `environment`'s models.
    pub fn new(
        request: &GraphqlRequest,
        environment: &Environment,
        options: &Options,
    ) -> Result<Plan, Stop> {
        let document = Document::parse(&request.query, request.operation_name.as_deref())?;
        Plan::of(Arc::new(document), request, environment, options)
    }

    /// As [`Plan::new`], the document read already (from a
    /// [`crate::cache::PlanCache`]): `request`'s variables,
    /// `operationName` and `extensions` are taken from `request`, its
    /// `query` is `document`'s.
    pub fn of(
        document: Arc<Document>,
        request: &GraphqlRequest,
        environment: &Environment,
        options: &Options,
    ) -> Result<Plan, Stop> {
        Plan::against(document, request, Arc::new(environment.clone()), options)
    }

    /// [`Plan::of`] with the environment shared.
    pub(crate) fn against(
        document: Arc<Document>,
        request: &GraphqlRequest,
        environment: Arc<Environment>,
        options: &Options,
    ) -> Result<Plan, Stop> {
        if document.kind == OperationKind::Subscription {
            return Err(Refused::Invalid("subscriptions are not served".into()).into());
        }
        for field in &document.root_fields {
            if reserved(&field.key) || field.below.iter().any(reserved_below) {
                return Err(Refused::Invalid(format!(
                    "response keys starting with {RESERVED_PREFIX} are the gate's"
                ))
                .into());
            }
        }
        let variables = request.variables.clone().unwrap_or_default();
        let mut fields = Vec::new();
        let mut checks = Vec::new();
        let mut unknown = Vec::new();
        for root in &document.root_fields {
            let index = fields.len();
            let found = target(&root.name, &environment.models).filter(|t| match t {
                Target::Model { verb, .. } => {
                    verb.is_mutation() == (document.kind == OperationKind::Mutation)
                }
                Target::Introspection => document.kind == OperationKind::Query,
            });
            let Some(target) = found else {
                unknown.push(FieldError {
                    reason: GateReason::UnknownField.as_str().into(),
                    message: format!("{} is not a content field this gate serves", root.name),
                    path: vec![root.key.clone()],
                });
                continue;
            };
            let argument = |name: &str| {
                root.arguments
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, w)| resolve(w, &variables))
            };
            let (model, where_, writes) = match &target {
                Target::Model { model, verb, .. } => {
                    let data = argument("data").filter(|d| !d.is_null());
                    let writes = match verb {
                        Verb::Upsert => argument("upsert")
                            .map(|u| {
                                ["create", "update"]
                                    .iter()
                                    .filter_map(|k| u.get(*k).cloned())
                                    .filter(|v| !v.is_null())
                                    .collect()
                            })
                            .unwrap_or_default(),
                        _ => data.into_iter().collect(),
                    };
                    (
                        environment.models.get(*model).cloned(),
                        argument("where").filter(|w| !w.is_null()),
                        writes,
                    )
                }
                Target::Introspection => (None, None, Vec::new()),
            };
            let field = PlannedField {
                key: root.key.clone(),
                root: Arc::clone(root),
                target,
                model,
                where_,
                writes,
            };
            for request in field_checks(&field, &argument, &environment.id, options)? {
                checks.push(Check {
                    field: index,
                    request,
                });
                if checks.len() > MAX_CHECKS {
                    return Err(Refused::Invalid(format!(
                        "the operation needs more than {MAX_CHECKS} checks (fields × stages × locales)"
                    ))
                    .into());
                }
            }
            fields.push(field);
        }
        if !unknown.is_empty() {
            return Err(Stop::Denied(Denied {
                status: 403,
                errors: unknown,
            }));
        }
        Ok(Plan {
            document,
            variables,
            operation_name: request.operation_name.clone(),
            extensions: request.extensions.clone(),
            fields,
            checks,
            environment: Arc::clone(&environment),
            options: options.clone(),
            authorized: std::sync::Mutex::default(),
            checked: std::sync::Mutex::default(),
        })
    }
}

impl Plan {
    /// The checks' requests, in order: what the caller decides (one
    /// header's decisions at once: `verifier_core::verify_all`).
    pub fn requests(&self) -> impl Iterator<Item = &Request> {
        self.checks.iter().map(|c| &c.request)
    }
}

fn reserved(key: &str) -> bool {
    key.starts_with(RESERVED_PREFIX)
}

fn reserved_below(selected: &Selected) -> bool {
    reserved(&selected.key) || selected.below.iter().any(reserved_below)
}

/// The names in a stage or locale argument: one name, or a list of them.
fn names(value: Option<Value>, what: &str, max: usize) -> Result<Option<Vec<String>>, Refused> {
    let bad = || Refused::Invalid(format!("{what} must be names"));
    let list = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad()),
    };
    if list.len() > max {
        return Err(Refused::Invalid(format!("{what} names more than {max}")));
    }
    if !list
        .iter()
        .all(|s| crate::values::is_name(s) || is_locale(s))
    {
        return Err(bad());
    }
    Ok(Some(list))
}

/// A locale code as the headers carry it (`en`, `de_CH`, `en-US`).
fn is_locale(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 35
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The row a create writes, as the verifier reads one: its scalar fields.
fn row(data: &Value) -> Option<std::collections::BTreeMap<String, String>> {
    let object = data.as_object()?;
    Some(
        object
            .iter()
            .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), t)))
            .collect(),
    )
}

fn field_checks(
    field: &PlannedField,
    argument: &dyn Fn(&str) -> Option<Value>,
    environment_id: &str,
    options: &Options,
) -> Result<Vec<Request>, Refused> {
    let base = |action: &str| -> Result<Request, Refused> {
        let action: Action = action
            .parse()
            .map_err(|_| Refused::Invalid(format!("{action} is not an action name")))?;
        let mut request = Request::new(Api::Content, action, options.now);
        request.environment_id = Some(environment_id.into());
        Ok(request)
    };
    let (model, verb) = match &field.target {
        Target::Introspection => {
            return if options.introspection {
                Ok(Vec::new())
            } else {
                Ok(vec![base("introspect")?])
            };
        }
        Target::Model { verb, .. } => (
            field
                .model
                .as_ref()
                .map(|m| m.api_id.clone())
                .unwrap_or_default(),
            *verb,
        ),
    };
    let stages: Vec<Option<String>> = match verb {
        Verb::Read => vec![match names(argument("stage"), "stage", 1)? {
            Some(mut one) => one.pop(),
            None => options.stage.clone(),
        }],
        Verb::Publish | Verb::Unpublish => {
            let arg = if verb == Verb::Publish { "to" } else { "from" };
            names(argument(arg), arg, MAX_STAGES)?
                .unwrap_or_else(|| vec!["PUBLISHED".into()])
                .into_iter()
                .map(Some)
                .collect()
        }
        _ => vec![Some("DRAFT".into())],
    };
    let locales: Vec<Option<String>> = match names(argument("locales"), "locales", MAX_LOCALES)? {
        Some(list) if !list.is_empty() => list.into_iter().map(Some).collect(),
        _ if !options.locales.is_empty() => options.locales.iter().cloned().map(Some).collect(),
        _ => vec![None],
    };
    let mut out = Vec::new();
    for action in verb.actions() {
        // An upsert's create is checked against the row it would make.
        let document = match (verb, *action) {
            (Verb::Create, _) => field.writes.first().and_then(row),
            (Verb::Upsert, "create") => argument("upsert")
                .and_then(|u| u.get("create").cloned())
                .and_then(|c| row(&c)),
            _ => None,
        };
        for stage in &stages {
            for locale in &locales {
                let mut request = base(action)?;
                request.model = Some(model.clone());
                request.stage = stage.clone();
                request.locale = locale.clone();
                request.document = document.clone();
                out.push(request);
            }
        }
    }
    Ok(out)
}
