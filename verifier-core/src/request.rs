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
//! "publicGrants": [] }`; both optional fields default as shown (a new
//! environment has public access off).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::grant::{Action, Api, Grant};

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

/// The policy of the environment a request addresses.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
}

impl Environment {
    /// An environment with the default stage and public access off.
    pub fn new(id: impl Into<String>) -> Self {
        Environment {
            id: id.into(),
            default_stage: default_stage(),
            public_grants: Vec::new(),
        }
    }
}

fn default_stage() -> String {
    String::from(DEFAULT_STAGE)
}
