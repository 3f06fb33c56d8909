//! From the verifier's decisions to what goes to the upstream: the
//! document with every filter written into it, and a query to run first
//! for one-row writes limited to the caller's rows.
//!
//! Every check of every field must allow; otherwise the whole operation is
//! denied, one error per field. Then, for each field:
//!
//! - **Masked writes**: a write (`data`, an upsert's `create`/`update`) of a
//!   field the caller's grants mask is denied (`masked_field`).
//! - **Rows limited** (a decision's `filter`): for many rows (`posts`,
//!   `postsConnection`, `updateManyPosts`, …) the conditions are ANDed into
//!   `where` — `where: { AND: [<theirs>, { OR: [<condition>, …] }, …] }` —
//!   and the condition fields are added to the selection under reserved
//!   aliases so that the answer is filtered again ([`crate::answer`]),
//!   whatever the upstream does with `where`. One row read (`post`) cannot
//!   take an `AND` in its unique `where`: its condition fields are selected
//!   and a row outside the caller's is answered `null`, as if absent. One
//!   row written (`updatePost`, `deletePost`, `publishPost`,
//!   `unpublishPost`, an upsert's update) is read first
//!   ([`Authorized::preflight`], at `DRAFT`): the write goes on only if the
//!   row is the caller's, else it is denied (`not_your_row`, the same as no
//!   row). A create was checked against its own data (the verifier applied
//!   the conditions to it).
//! - **Masked reads**: the fields the decisions mask are nulled in the
//!   answer ([`crate::answer`]).

use serde_json::{Map, Value};
use verifier_core::Decision;

use std::sync::Arc;

use crate::document::RootField;
use crate::error::{Denied, FieldError, GateReason};
use crate::naming::{Shape, Verb};
use crate::plan::{Plan, PlannedField, RESERVED_PREFIX};
use crate::values::{Requirement, is_name, literal, requirement_fields, requirement_input};

/// How one field is held to its decisions in the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Enforced {
    /// Its response key.
    pub key: String,
    /// Its shape (`None` for introspection).
    pub shape: Option<Shape>,
    /// The rows it is limited to (empty: not limited).
    pub requirement: Requirement,
    /// Whether its answer's rows are checked against the requirement (reads,
    /// and writes answering `edges`), through `hidden`.
    pub checks_rows: bool,
    /// The reserved alias of each condition field added to its selection.
    pub hidden: Vec<(String, String)>,
    /// The fields to null in its rows.
    pub masked: Vec<String>,
    /// The root field (what it selects: `root.below`).
    pub root: Arc<RootField>,
    /// The alias of its row in the preflight answer.
    pub preflight: Option<String>,
}

/// What goes on to the upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorized {
    /// The document to forward: the operation with its root fields
    /// flattened and rewritten, and the fragments they use.
    pub query: String,
    /// Its variables, unchanged.
    pub variables: Map<String, Value>,
    /// `operationName`, unchanged.
    pub operation_name: Option<String>,
    /// `extensions`, unchanged.
    pub extensions: Option<Value>,
    /// A query (no variables) to run first; its answer goes to
    /// [`Authorized::check_preflight`].
    pub preflight: Option<String>,
    /// Each field's enforcement.
    pub fields: Vec<Enforced>,
    /// The principal the decisions name (the first that names one).
    pub principal: Option<String>,
    /// The reason of the first decision (`allowed` or `public`).
    pub reason: String,
}

impl Authorized {
    /// The GraphQL-over-HTTP body to forward.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("query".into(), Value::String(self.query.clone()));
        body.insert("variables".into(), Value::Object(self.variables.clone()));
        if let Some(name) = &self.operation_name {
            body.insert("operationName".into(), Value::String(name.clone()));
        }
        if let Some(extensions) = &self.extensions {
            body.insert("extensions".into(), extensions.clone());
        }
        Value::Object(body)
    }
}

fn field_error(field: &PlannedField, reason: &str, message: String) -> FieldError {
    FieldError {
        reason: reason.into(),
        message,
        path: vec![field.key.clone()],
    }
}

/// The requirement's hidden aliases: `_tally0` … for its condition fields.
fn hidden(requirement: &Requirement) -> Vec<(String, String)> {
    requirement_fields(requirement)
        .into_iter()
        .enumerate()
        .map(|(i, f)| (format!("{RESERVED_PREFIX}{i}"), f))
        .collect()
}

fn hidden_selection(hidden: &[(String, String)]) -> String {
    hidden
        .iter()
        .map(|(alias, field)| format!(" {alias}: {field}"))
        .collect()
}

/// A plan's last decisions allowed and what they authorized.
pub(crate) type Memo = (Vec<Decision>, Arc<Authorized>);

impl Plan {
    /// Applies `decisions` (one per check, in [`Plan::checks`]' order).
    ///
    /// What comes out is a function of the plan and the decisions alone, so
    /// a plan keeps the last decisions it authorized and answers the same
    /// decisions again without rewriting the document: a repeated request
    /// (a [`crate::cache::PlanCache`] hit) by the same caller costs a
    /// comparison. Denials are not kept.
    pub fn authorize(&self, decisions: &[Decision]) -> Result<Arc<Authorized>, Denied> {
        let mut memo = self.authorized.lock().ok();
        if let Some(Some((seen, authorized))) = memo.as_deref()
            && seen == decisions
        {
            return Ok(Arc::clone(authorized));
        }
        let authorized = Arc::new(self.authorize_afresh(decisions)?);
        if let Some(memo) = memo.as_deref_mut() {
            *memo = Some((decisions.to_vec(), Arc::clone(&authorized)));
        }
        Ok(authorized)
    }

    /// [`Plan::authorize`] without its memo: what a plan's first
    /// authorization costs.
    pub fn authorize_afresh(&self, decisions: &[Decision]) -> Result<Authorized, Denied> {
        let mut errors = Vec::new();
        let mut unauthenticated = false;
        // Each field's decisions, and whether each was checked against a
        // row (a create's data): its conditions were then applied to that
        // row, and its filter restates them.
        let mut per_field: Vec<Vec<(&Decision, bool)>> = vec![Vec::new(); self.fields.len()];
        for (check, decision) in self.checks.iter().zip(decisions) {
            if let Some(list) = per_field.get_mut(check.field) {
                list.push((decision, check.request.document.is_some()));
            }
        }
        if decisions.len() != self.checks.len() {
            return Err(Denied {
                status: 403,
                errors: vec![FieldError {
                    reason: "verifier_failed".into(),
                    message: "a check has no decision".into(),
                    path: Vec::new(),
                }],
            });
        }
        for (i, field) in self.fields.iter().enumerate() {
            let denial = per_field
                .get(i)
                .and_then(|ds| ds.iter().map(|(d, _)| d).find(|d| !d.allow));
            if let Some(d) = denial {
                unauthenticated |= d.reason.is_unauthenticated();
                let what = self
                    .checks
                    .iter()
                    .zip(decisions)
                    .find(|(c, dd)| c.field == i && !dd.allow)
                    .map(|(c, _)| describe(&c.request))
                    .unwrap_or_default();
                errors.push(field_error(
                    field,
                    d.reason.as_str(),
                    format!("{what} is not granted ({})", d.reason.as_str()),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(Denied {
                status: if unauthenticated { 401 } else { 403 },
                errors,
            });
        }

        let mut enforced = Vec::new();
        let mut preflight_fields = Vec::new();
        for (i, field) in self.fields.iter().enumerate() {
            let ds = per_field.get(i).map(Vec::as_slice).unwrap_or_default();
            let mut masked: Vec<String> = Vec::new();
            for (d, _) in ds {
                for m in &d.masked {
                    if !masked.contains(m) {
                        masked.push(m.clone());
                    }
                }
            }
            let requirement: Requirement = ds
                .iter()
                .filter(|(_, on_row)| !on_row)
                .filter_map(|(d, _)| d.filter.clone())
                .collect();
            for write in &field.writes {
                if let Some(object) = write.as_object() {
                    for key in object.keys().filter(|k| masked.contains(k)) {
                        errors.push(FieldError {
                            reason: GateReason::MaskedField.as_str().into(),
                            message: format!(
                                "{key} is masked for these credentials and cannot be written"
                            ),
                            path: vec![field.key.clone(), "data".into(), key.clone()],
                        });
                    }
                }
            }
            let unenforceable = |why: &str| {
                field_error(
                    field,
                    GateReason::UnenforceableFilter.as_str(),
                    format!("the caller's rows are limited, and {why}"),
                )
            };
            if requirement_fields(&requirement).iter().any(|f| !is_name(f)) {
                errors.push(unenforceable("a condition field is not a GraphQL name"));
                continue;
            }
            let shape = field.verb_shape().map(|(_, s)| s);
            let verb = field.verb_shape().map(|(v, _)| v);
            let limited = !requirement.is_empty();
            let checks_rows =
                limited && (verb == Some(Verb::Read) || shape == Some(Shape::Connection));
            let hidden = if limited {
                hidden(&requirement)
            } else {
                Vec::new()
            };
            let mut preflight = None;
            if limited {
                match (verb, shape) {
                    (Some(Verb::Create), _) => {
                        errors.push(unenforceable("the create gives no data to check"));
                        continue;
                    }
                    (Some(v), Some(Shape::One | Shape::Upsert)) if v.is_mutation() => {
                        let Some(where_) = &field.where_ else {
                            errors.push(unenforceable("the write names no row (where)"));
                            continue;
                        };
                        let Some(literal) = literal(where_) else {
                            errors.push(unenforceable("its where cannot be written as a literal"));
                            continue;
                        };
                        let alias = format!("{RESERVED_PREFIX}p{}", preflight_fields.len());
                        let model = field
                            .model
                            .as_ref()
                            .map(|m| lower_first(&m.api_id))
                            .unwrap_or_default();
                        preflight_fields.push(format!(
                            "{alias}: {model}(where: {literal}, stage: DRAFT) {{{} }}",
                            hidden_selection(&hidden)
                        ));
                        preflight = Some(alias);
                    }
                    (_, Some(Shape::One | Shape::Many | Shape::Connection))
                        if field.root.selection_range.is_none() =>
                    {
                        errors.push(unenforceable("the field selects nothing to check"));
                        continue;
                    }
                    _ => {}
                }
            }
            enforced.push(Enforced {
                key: field.key.clone(),
                shape,
                requirement,
                checks_rows,
                hidden,
                masked,
                root: Arc::clone(&field.root),
                preflight,
            });
        }
        if !errors.is_empty() {
            return Err(Denied {
                status: 403,
                errors,
            });
        }

        let first = decisions.first();
        Ok(Authorized {
            query: self.rewrite(&enforced),
            variables: self.variables.clone(),
            operation_name: self.operation_name.clone(),
            extensions: self.extensions.clone(),
            preflight: (!preflight_fields.is_empty())
                .then(|| format!("query {{ {} }}", preflight_fields.join(" "))),
            fields: enforced,
            principal: decisions.iter().find_map(|d| d.principal.clone()),
            reason: first.map_or("allowed", |d| d.reason.as_str()).into(),
        })
    }

    /// The document to forward: the operation's head, its root fields
    /// (each rewritten where its rows are limited) and the fragments they
    /// use.
    fn rewrite(&self, enforced: &[Enforced]) -> String {
        let doc = &self.document;
        let mut out = String::from(doc.slice(&doc.head).trim_end());
        out.push_str(" {");
        for key in &doc.typename_keys {
            out.push_str(&format!(" {key}: __typename"));
        }
        for (field, e) in self.fields.iter().zip(enforced) {
            out.push(' ');
            out.push_str(&rewrite_field(field, e, doc.slice(&field.root.range)));
        }
        out.push_str(" }");
        let mut used: Vec<usize> = doc.used_fragments.iter().flatten().copied().collect();
        used.sort_unstable();
        used.dedup();
        for at in used {
            if let Some(f) = doc.fragments.get(at) {
                out.push('\n');
                out.push_str(doc.slice(&f.range).trim_end());
            }
        }
        out
    }
}

/// A field's text with the requirement written into its `where` (many
/// rows) and its condition fields selected (every limited read).
fn rewrite_field(field: &PlannedField, e: &Enforced, text: &str) -> String {
    if e.requirement.is_empty() {
        return text.to_string();
    }
    let base = field.root.range.start;
    let at = |offset: usize| offset.saturating_sub(base);
    let mut splices: Vec<(usize, usize, String)> = Vec::new();
    let many = matches!(e.shape, Some(Shape::Many | Shape::Connection));
    if many {
        let required = requirement_input(&e.requirement);
        let entries = match required.get("AND") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(literal)
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        let written = field
            .root
            .value_ranges
            .iter()
            .find(|(n, _)| n == "where")
            .map(|(_, r)| r.clone());
        match (written, &field.root.arguments_range) {
            (Some(r), _) => {
                let theirs = text.get(at(r.start)..at(r.end)).unwrap_or_default().trim();
                splices.push((
                    at(r.start),
                    r.end - r.start,
                    format!("{{AND: [{theirs}, {entries}]}}"),
                ));
            }
            (None, Some(args)) => {
                splices.push((
                    at(args.start) + 1,
                    0,
                    format!("where: {{AND: [{entries}]}}, "),
                ));
            }
            (None, None) => {
                splices.push((
                    at(field.root.name_range.end),
                    0,
                    format!("(where: {{AND: [{entries}]}})"),
                ));
            }
        }
    }
    if let (true, Some(set)) = (e.checks_rows, &field.root.selection_range) {
        let set_text = text.get(at(set.start)..at(set.end)).unwrap_or_default();
        if let Some(close) = set_text.rfind('}') {
            let hidden = hidden_selection(&e.hidden);
            let insert = match e.shape {
                Some(Shape::Connection) => {
                    format!(
                        " {RESERVED_PREFIX}edges: edges {{ {RESERVED_PREFIX}node: node {{{hidden} }} }} "
                    )
                }
                _ => format!("{hidden} "),
            };
            splices.push((at(set.start) + close, 0, insert));
        }
    }
    splices.sort_by_key(|s| core::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (offset, len, insert) in splices {
        if out.is_char_boundary(offset) && out.is_char_boundary(offset + len) {
            out.replace_range(offset..offset + len, &insert);
        }
    }
    out
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `read Post at DRAFT in en`, for messages.
fn describe(request: &verifier_core::Request) -> String {
    let mut out = format!(
        "{} {}",
        request.action.as_str(),
        request.model.as_deref().unwrap_or("the schema")
    );
    if let Some(stage) = &request.stage {
        out.push_str(&format!(" at {stage}"));
    }
    if let Some(locale) = &request.locale {
        out.push_str(&format!(" in {locale}"));
    }
    out
}
