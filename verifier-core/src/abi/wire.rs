//! The ABI's payload types: what crosses the module boundary, field by field,
//! in [postcard](https://postcard.jamesmunns.com/wire-format) encoding.
//!
//! They mirror the crate's types but are kept apart from them on purpose:
//! this layout is a contract with every driver (ABI.md lists it field by
//! field), while the crate's JSON shapes may grow optional fields. Field order
//! is the layout; never reorder, insert or remove a field without bumping
//! [`ABI_VERSION`](super::ABI_VERSION).

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::decision::{Decision, Reason, Verdict};
use crate::error::GrantError;
use crate::grant::{Action, Api, Condition, Grant, Scope};
use crate::model::Model;
use crate::record::{TokenKind, TokenRecord};
use crate::request::{Document, Environment, Names, Request, RequestView};
use crate::token::{SecretHash, TokenId};

/// Name/value pairs: conditions, documents, filter alternatives.
pub type Pairs = Vec<(String, String)>;

/// `verify` input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// What the lookup found.
    pub record: Option<Record>,
    /// The request's environment policy, if known.
    pub environment: Option<Env>,
    /// The request.
    pub request: Req,
}

/// A token record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// tokenId, 8 raw bytes.
    pub token_id: [u8; 8],
    /// SHA-256 of the secret, 32 raw bytes.
    pub secret_hash: [u8; 32],
    /// Kind.
    pub kind: TokenKind,
    /// Name.
    pub name: String,
    /// Project.
    pub project_id: Option<String>,
    /// Bound environment.
    pub environment_id: Option<String>,
    /// Installation.
    pub installation_id: Option<String>,
    /// Explicit principal.
    pub principal: Option<String>,
    /// Grants.
    pub grants: Vec<WireGrant>,
    /// Expiry, unix seconds.
    pub expires_at: Option<i64>,
    /// Revoked.
    pub revoked: bool,
}

/// A grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireGrant {
    /// Api.
    pub api: Api,
    /// Action name.
    pub action: String,
    /// Models.
    pub models: WireScope,
    /// Stages.
    pub stages: WireScope,
    /// Locales.
    pub locales: WireScope,
    /// Environments.
    pub environments: WireScope,
    /// Row condition.
    pub condition: Option<Pairs>,
    /// Unmasked sensitive fields.
    pub unmask: Vec<String>,
}

/// `"*"` (variant 0) or a list (variant 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireScope {
    /// Everything.
    Any,
    /// Only these.
    Only(Vec<String>),
}

/// An environment's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Env {
    /// Id.
    pub id: String,
    /// Default stage.
    pub default_stage: String,
    /// Public grants.
    pub public_grants: Vec<WireGrant>,
    /// Registered content models (ABI version 3).
    pub models: Vec<WireModel>,
}

/// A registered content model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireModel {
    /// `apiId`.
    pub api_id: String,
    /// `apiIdPlural`.
    pub api_id_plural: String,
    /// The owner field.
    pub owner_field: Option<String>,
    /// Sensitive fields.
    pub sensitive_fields: Vec<String>,
}

/// A request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Req {
    /// Api.
    pub api: Api,
    /// Action name.
    pub action: String,
    /// Environment.
    pub environment_id: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Stage.
    pub stage: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// The one row addressed.
    pub document: Option<Pairs>,
    /// Sensitive fields of the model.
    pub sensitive_fields: Vec<String>,
    /// Unix seconds.
    pub now: i64,
}

/// A `verify` input as the module reads it: the layout of [`Input`], its
/// request decoded in place ([`ReqIn`]).
#[derive(Debug, Deserialize)]
pub(crate) struct InputIn<'a> {
    pub(crate) record: Option<Record>,
    pub(crate) environment: Option<Env>,
    #[serde(borrow)]
    pub(crate) request: ReqIn<'a>,
}

/// A request as the module reads it: the layout of [`Req`], decoded in
/// place (names borrowed from the input bytes, nothing copied).
#[derive(Debug, Deserialize)]
pub(crate) struct ReqIn<'a> {
    pub(crate) api: Api,
    pub(crate) action: &'a str,
    #[serde(borrow)]
    pub(crate) environment_id: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) model: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) stage: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) locale: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) document: Option<Vec<(&'a str, &'a str)>>,
    #[serde(borrow)]
    pub(crate) sensitive_fields: Vec<&'a str>,
    pub(crate) now: i64,
}

impl<'a> ReqIn<'a> {
    /// The view a decision reads, with `action` (this request's action
    /// name, parsed by the caller).
    pub(crate) fn view<'v>(&'v self, action: &'v Action) -> RequestView<'v> {
        RequestView {
            api: self.api,
            action,
            environment_id: self.environment_id,
            model: self.model,
            stage: self.stage,
            locale: self.locale,
            document: self.document.as_deref().map(Document::Pairs),
            sensitive_fields: Names::Borrowed(&self.sensitive_fields),
            now: self.now,
        }
    }
}

/// A request, borrowed: serializes to exactly the bytes of the [`Req`] with
/// the same values (postcard writes a map as its length and then its pairs,
/// as it writes a list of pairs). Drivers encode with it to copy nothing.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReqRef<'a> {
    /// Api.
    pub api: Api,
    /// Action name.
    pub action: &'a str,
    /// Environment.
    pub environment_id: Option<&'a str>,
    /// Model.
    pub model: Option<&'a str>,
    /// Stage.
    pub stage: Option<&'a str>,
    /// Locale.
    pub locale: Option<&'a str>,
    /// The one row addressed.
    pub document: Option<&'a alloc::collections::BTreeMap<String, String>>,
    /// Sensitive fields of the model.
    pub sensitive_fields: &'a [String],
    /// Unix seconds.
    pub now: i64,
}

impl<'a> From<&'a Request> for ReqRef<'a> {
    fn from(r: &'a Request) -> Self {
        ReqRef {
            api: r.api,
            action: r.action.as_str(),
            environment_id: r.environment_id.as_deref(),
            model: r.model.as_deref(),
            stage: r.stage.as_deref(),
            locale: r.locale.as_deref(),
            document: r.document.as_ref(),
            sensitive_fields: &r.sensitive_fields,
            now: r.now,
        }
    }
}

/// `parse` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParseResult {
    /// Variant 0: the header parsed; look this tokenId (8 raw bytes) up.
    Parsed([u8; 8]),
    /// Variant 1: refused for this reason.
    Refused(Reason),
}

/// `verify` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerifyResult {
    /// Variant 0: the decision.
    Decision(WireDecision),
    /// Variant 1: the input could not be read; deny.
    BadInput(String),
}

/// `verify` output as the module writes it: serializes to exactly the bytes
/// of the [`VerifyResult`] with the same values (a map is written as its
/// length and its pairs, as a list of pairs is), from the decision as made.
#[derive(Debug, Serialize)]
pub(crate) enum VerifyResultRef<'a> {
    Decision(WireDecisionRef<'a>),
    BadInput(&'a str),
}

/// A decision, borrowed (see [`VerifyResultRef`]).
#[derive(Debug, Serialize)]
pub(crate) struct WireDecisionRef<'a> {
    allow: bool,
    reason: Reason,
    principal: Option<&'a str>,
    filter: Option<&'a [Condition]>,
    masked: &'a [String],
}

impl<'a> From<&'a Result<Verdict<'_>, &'static str>> for VerifyResultRef<'a> {
    fn from(result: &'a Result<Verdict<'_>, &'static str>) -> Self {
        match result {
            Ok(v) => VerifyResultRef::Decision(WireDecisionRef {
                allow: v.allow,
                reason: v.reason,
                principal: v.principal.as_deref(),
                filter: v.filter.as_deref(),
                masked: &v.masked,
            }),
            Err(message) => VerifyResultRef::BadInput(message),
        }
    }
}

impl From<&Result<Verdict<'_>, &'static str>> for VerifyResult {
    fn from(result: &Result<Verdict<'_>, &'static str>) -> Self {
        match result {
            Ok(v) => VerifyResult::Decision(WireDecision {
                allow: v.allow,
                reason: v.reason,
                principal: v.principal.as_deref().map(String::from),
                filter: v
                    .filter
                    .as_ref()
                    .map(|alts| alts.iter().map(pairs).collect()),
                masked: v.masked.clone(),
            }),
            Err(message) => VerifyResult::BadInput(String::from(*message)),
        }
    }
}

/// `verify` output as postcard reads it in place: the layout of
/// [`VerifyResult`], its names borrowed from the output bytes. Drivers use
/// the hand-written reader held to it by test (`decision_reader.rs`).
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Deserialize)]
pub(crate) enum VerifyResultIn<'a> {
    #[serde(borrow)]
    Decision(DecisionView<'a>),
    BadInput(&'a str),
}

/// A decision read in place from a module's `verify` output: the layout of
/// [`WireDecision`], every name borrowed from the output bytes, so reading
/// one allocates nothing unless it carries a filter or masked fields
/// ([`abi::decode_verify_view`](super::decode_verify_view)). A driver that
/// turns the decision straight into something else (the host's response
/// headers) reads it this way; [`DecisionView::to_decision`] makes the owned
/// [`Decision`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DecisionView<'a> {
    /// Whether to let the request through.
    pub allow: bool,
    /// Why.
    pub reason: Reason,
    /// Who is asking (allowed token requests only).
    #[serde(borrow)]
    pub principal: Option<&'a str>,
    /// The rows the request is limited to (any of these alternatives, each
    /// a list of name/value pairs); `None` = not limited.
    #[serde(borrow)]
    pub filter: Option<Vec<Vec<(&'a str, &'a str)>>>,
    /// Sensitive fields the caller must mask.
    #[serde(borrow)]
    pub masked: Vec<&'a str>,
}

impl DecisionView<'_> {
    /// The owned decision, as [`abi::decode_verify`](super::decode_verify)
    /// returns it (a filter's pairs become a [`Condition`] each).
    pub fn to_decision(&self) -> Decision {
        Decision {
            allow: self.allow,
            reason: self.reason,
            principal: self.principal.map(String::from),
            filter: self.filter_conditions(),
            masked: self.masked.iter().map(|&name| String::from(name)).collect(),
        }
    }

    /// The filter as [`Decision::filter`] holds it: each alternative's
    /// pairs as a [`Condition`] (a name given twice keeps its last value).
    pub fn filter_conditions(&self) -> Option<Vec<Condition>> {
        self.filter.as_ref().map(|alternatives| {
            alternatives
                .iter()
                .map(|pairs| {
                    pairs
                        .iter()
                        .map(|&(name, value)| (String::from(name), String::from(value)))
                        .collect()
                })
                .collect()
        })
    }
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDecision {
    /// Allow.
    pub allow: bool,
    /// Reason.
    pub reason: Reason,
    /// Principal.
    pub principal: Option<String>,
    /// Filter alternatives.
    pub filter: Option<Vec<Pairs>>,
    /// Masked fields.
    pub masked: Vec<String>,
}

// Conversions from the wire (the module's side) ------------------------------

impl TryFrom<Input> for (Option<TokenRecord>, Option<Environment>, Request) {
    type Error = GrantError;
    fn try_from(input: Input) -> Result<Self, GrantError> {
        Ok((
            input.record.map(TryInto::try_into).transpose()?,
            input.environment.map(TryInto::try_into).transpose()?,
            input.request.try_into()?,
        ))
    }
}

impl TryFrom<Record> for TokenRecord {
    type Error = GrantError;
    fn try_from(r: Record) -> Result<Self, GrantError> {
        Ok(TokenRecord {
            token_id: TokenId::from_bytes(r.token_id),
            secret_hash: SecretHash::from_bytes(r.secret_hash),
            kind: r.kind,
            name: r.name,
            project_id: r.project_id,
            environment_id: r.environment_id,
            installation_id: r.installation_id,
            principal: r.principal,
            grants: Arc::new(grants_from_wire(r.grants)?),
            expires_at: r.expires_at,
            revoked: r.revoked,
        })
    }
}

impl TryFrom<WireGrant> for Grant {
    type Error = GrantError;
    fn try_from(g: WireGrant) -> Result<Self, GrantError> {
        Ok(Grant {
            api: g.api,
            action: Action::new(g.action)?,
            models: g.models.into(),
            stages: g.stages.into(),
            locales: g.locales.into(),
            environments: g.environments.into(),
            condition: g.condition.map(condition),
            unmask: g.unmask,
        })
    }
}

impl From<WireScope> for Scope {
    fn from(s: WireScope) -> Self {
        match s {
            WireScope::Any => Scope::Any,
            WireScope::Only(list) => Scope::Only(list),
        }
    }
}

impl TryFrom<Env> for Environment {
    type Error = GrantError;
    fn try_from(e: Env) -> Result<Self, GrantError> {
        Ok(Environment {
            id: e.id,
            default_stage: e.default_stage,
            public_grants: grants_from_wire(e.public_grants)?,
            models: e
                .models
                .into_iter()
                .map(|m| Model {
                    api_id: m.api_id,
                    api_id_plural: m.api_id_plural,
                    owner_field: m.owner_field,
                    sensitive_fields: m.sensitive_fields,
                })
                .collect(),
        })
    }
}

impl TryFrom<Req> for Request {
    type Error = GrantError;
    fn try_from(r: Req) -> Result<Self, GrantError> {
        Ok(Request {
            api: r.api,
            action: Action::new(r.action)?,
            environment_id: r.environment_id,
            model: r.model,
            stage: r.stage,
            locale: r.locale,
            document: r.document.map(|pairs| pairs.into_iter().collect()),
            sensitive_fields: r.sensitive_fields,
            now: r.now,
        })
    }
}

/// Pairs into a [`Condition`], a repeated name keeping its last value (as
/// `collect` would). Inserted one by one rather than collected: `collect`
/// into a `BTreeMap` sorts first, which put a stable sort (4.5 KB) into the
/// module for conditions of a handful of fields.
fn condition(pairs: Pairs) -> Condition {
    let mut map = Condition::new();
    for (name, value) in pairs {
        map.insert(name, value);
    }
    map
}

fn grants_from_wire<C: FromIterator<Grant>>(grants: Vec<WireGrant>) -> Result<C, GrantError> {
    grants.into_iter().map(Grant::try_from).collect()
}

impl From<Decision> for WireDecision {
    fn from(d: Decision) -> Self {
        WireDecision {
            allow: d.allow,
            reason: d.reason,
            principal: d.principal,
            filter: d.filter.map(|alternatives| {
                alternatives
                    .into_iter()
                    .map(|c| c.into_iter().collect())
                    .collect()
            }),
            masked: d.masked,
        }
    }
}

// Conversions to the wire (a driver's side, e.g. the host) -------------------

impl From<&TokenRecord> for Record {
    fn from(r: &TokenRecord) -> Self {
        Record {
            token_id: *r.token_id.as_bytes(),
            secret_hash: *r.secret_hash.as_bytes(),
            kind: r.kind,
            name: r.name.clone(),
            project_id: r.project_id.clone(),
            environment_id: r.environment_id.clone(),
            installation_id: r.installation_id.clone(),
            principal: r.principal.clone(),
            grants: r.grants.iter().map(WireGrant::from).collect(),
            expires_at: r.expires_at,
            revoked: r.revoked,
        }
    }
}

impl From<&Grant> for WireGrant {
    fn from(g: &Grant) -> Self {
        WireGrant {
            api: g.api,
            action: String::from(g.action.as_str()),
            models: (&g.models).into(),
            stages: (&g.stages).into(),
            locales: (&g.locales).into(),
            environments: (&g.environments).into(),
            condition: g.condition.as_ref().map(pairs),
            unmask: g.unmask.clone(),
        }
    }
}

impl From<&Scope> for WireScope {
    fn from(s: &Scope) -> Self {
        match s {
            Scope::Any => WireScope::Any,
            Scope::Only(list) => WireScope::Only(list.clone()),
        }
    }
}

impl From<&Environment> for Env {
    fn from(e: &Environment) -> Self {
        Env {
            id: e.id.clone(),
            default_stage: e.default_stage.clone(),
            public_grants: e.public_grants.iter().map(WireGrant::from).collect(),
            models: e
                .models
                .iter()
                .map(|m| WireModel {
                    api_id: m.api_id.clone(),
                    api_id_plural: m.api_id_plural.clone(),
                    owner_field: m.owner_field.clone(),
                    sensitive_fields: m.sensitive_fields.clone(),
                })
                .collect(),
        }
    }
}

impl From<&Request> for Req {
    fn from(r: &Request) -> Self {
        Req {
            api: r.api,
            action: String::from(r.action.as_str()),
            environment_id: r.environment_id.clone(),
            model: r.model.clone(),
            stage: r.stage.clone(),
            locale: r.locale.clone(),
            document: r.document.as_ref().map(pairs),
            sensitive_fields: r.sensitive_fields.clone(),
            now: r.now,
        }
    }
}

impl From<WireDecision> for Decision {
    fn from(d: WireDecision) -> Self {
        Decision {
            allow: d.allow,
            reason: d.reason,
            principal: d.principal,
            filter: d.filter.map(|alternatives| {
                alternatives
                    .into_iter()
                    .map(|pairs| pairs.into_iter().collect::<Condition>())
                    .collect()
            }),
            masked: d.masked,
        }
    }
}

fn pairs(map: &alloc::collections::BTreeMap<String, String>) -> Pairs {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
