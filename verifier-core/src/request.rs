//! What is being asked: the request descriptor and its environment's policy.
//!
//! Request JSON (`camelCase`, unknown fields rejected):
//!
//! ```json
//! { "api": "content", "action": "read",
//!   "environmentId": "master",          // optional
//!   "model": "Post", "stage": "DRAFT", "locale": "en",   // optional
//!   "document": { "ownerId": "user:1" }, // optional: fields of the one row addressed
//!   "sensitiveFields": ["email"],         // optional: sensitive fields of the model
//!   "now": 1767225600 }                   // unix seconds, from the caller's clock
//! ```
//!
//! Environment JSON: `{ "id": "master", "defaultStage": "PUBLISHED",
//! "publicGrants": [], "models": [] }`; the optional fields default as shown
//! (a new environment has public access off and registers no
//! [`Model`](crate::Model)).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::grant::{Action, Api, Grant};
use crate::model::Model;

/// The stage a request without one is read at, unless the environment says
/// otherwise.
pub const DEFAULT_STAGE: &str = "PUBLISHED";

/// One request to decide on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Request {
    /// Which api.
    pub api: Api,
    /// Which action.
    pub action: Action,
    /// The environment addressed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    /// The model addressed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The stage; `None` = the environment's default stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The locale, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The fields of the single row addressed, when there is one: conditions
    /// are then checked against it. Without it, conditions come back as the
    /// decision's `filter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<BTreeMap<String, String>>,
    /// The model's sensitive fields; those the grants do not unmask come back
    /// in the decision's `masked`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_fields: Vec<String>,
    /// The caller's clock, unix seconds.
    pub now: i64,
}

impl Request {
    /// A request for `action` on `api` at time `now`, naming nothing else.
    pub fn new(api: Api, action: Action, now: i64) -> Self {
        Request {
            api,
            action,
            environment_id: None,
            model: None,
            stage: None,
            locale: None,
            document: None,
            sensitive_fields: Vec::new(),
            now,
        }
    }
}

impl Request {
    /// The fields the decision reads, borrowed.
    pub(crate) fn view(&self) -> RequestView<'_> {
        RequestView {
            api: self.api,
            action: &self.action,
            environment_id: self.environment_id.as_deref(),
            model: self.model.as_deref(),
            stage: self.stage.as_deref(),
            locale: self.locale.as_deref(),
            document: self.document.as_ref().map(Document::Map),
            sensitive_fields: Names::Owned(&self.sensitive_fields),
            now: self.now,
        }
    }
}

/// A request's fields, borrowed: what a decision reads. A [`Request`] lends
/// one ([`Request::view`]); the module builds one over its input bytes
/// (`abi::wire::ReqIn`), so deciding copies no name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestView<'a> {
    pub(crate) api: Api,
    pub(crate) action: &'a Action,
    pub(crate) environment_id: Option<&'a str>,
    pub(crate) model: Option<&'a str>,
    pub(crate) stage: Option<&'a str>,
    pub(crate) locale: Option<&'a str>,
    pub(crate) document: Option<Document<'a>>,
    pub(crate) sensitive_fields: Names<'a>,
    pub(crate) now: i64,
}

/// The addressed row's fields: a map, or name/value pairs as the ABI
/// carries them (where a repeated name means its last value, as when the
/// pairs are collected into a map).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Document<'a> {
    Map(&'a BTreeMap<String, String>),
    Pairs(&'a [(&'a str, &'a str)]),
}

impl<'a> Document<'a> {
    /// The value of `field`, if the row has it.
    pub(crate) fn get(self, field: &str) -> Option<&'a str> {
        match self {
            Document::Map(map) => map.get(field).map(String::as_str),
            Document::Pairs(pairs) => pairs.iter().rev().find(|(k, _)| *k == field).map(|p| p.1),
        }
    }
}

/// A list of names, owned or borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Names<'a> {
    Owned(&'a [String]),
    Borrowed(&'a [&'a str]),
}

impl<'a> Names<'a> {
    pub(crate) fn is_empty(self) -> bool {
        match self {
            Names::Owned(list) => list.is_empty(),
            Names::Borrowed(list) => list.is_empty(),
        }
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = &'a str> + Clone {
        let (owned, borrowed): (&[String], &[&str]) = match self {
            Names::Owned(list) => (list, &[]),
            Names::Borrowed(list) => (&[], list),
        };
        owned
            .iter()
            .map(String::as_str)
            .chain(borrowed.iter().copied())
    }
}

/// The policy of the environment a request addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Environment {
    /// The environment's id.
    pub id: String,
    /// Stage of requests that name none.
    #[serde(default = "default_stage")]
    pub default_stage: String,
    /// Grants that apply to requests without credentials (none = public
    /// access off).
    #[serde(default)]
    pub public_grants: Vec<Grant>,
    /// The content models the environment registers: their names and
    /// sensitive fields, which every check of a model adds to the request's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<Model>,
}

impl Environment {
    /// An environment with the default stage, public access off and no
    /// models.
    pub fn new(id: impl Into<String>) -> Self {
        Environment {
            id: id.into(),
            default_stage: default_stage(),
            public_grants: Vec::new(),
            models: Vec::new(),
        }
    }

    /// The registered model named `api_id`, if any.
    pub fn model(&self, api_id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.api_id == api_id)
    }
}

fn default_stage() -> String {
    String::from(DEFAULT_STAGE)
}
