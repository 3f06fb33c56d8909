//! Grants: the authorities assigned directly to a token (and the public grants
//! of an environment).
//!
//! JSON shape (`camelCase`; unknown fields are rejected, so a verifier never
//! silently ignores a restriction it does not know):
//!
//! ```json
//! { "api": "content",            // or "management"
//!   "action": "read",            // any action name; "admin" = every action of that api
//!   "models": "*",               // "*" or a list; omitted = "*"
//!   "stages": ["PUBLISHED"],     // likewise
//!   "locales": "*",              // likewise
//!   "environments": ["master"],  // likewise
//!   "condition": { "ownerId": "$principal" },  // optional, every field must match
//!   "unmask": ["email"] }        // optional, sensitive fields it may see
//! ```
//!
//! Matching rules, written down because the design leaves them open:
//! - a dimension the request does not name (no model, no locale, no
//!   environment) is matched only by `"*"`; an empty list matches nothing;
//! - the stage of a request without one is the environment's default stage;
//! - `"admin"` covers every action of its own api, never the other api;
//! - a condition value `"$principal"` stands for the requesting principal;
//!   where there is none (public access) the grant does not apply.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::GrantError;

/// Most grants one token (or one environment's public access) may carry.
pub const MAX_GRANTS: usize = 64;
/// Most entries in one grant list (models, stages, locales, environments,
/// unmask) and in one condition.
pub const MAX_LIST: usize = 256;
/// Longest name (model, stage, locale, environment, field, action) in bytes.
pub const MAX_NAME: usize = 128;
/// The placeholder in a condition value that stands for the principal.
pub const PRINCIPAL_PLACEHOLDER: &str = "$principal";

/// Which of the platform's APIs a grant or request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// The content API (documents of models).
    Content,
    /// The management API (schema, apps, tokens).
    Management,
}

/// An action name: `read`, `create`, `update`, `delete`, `publish`,
/// `unpublish`, a management action, or `admin`.
///
/// Names are 1 to [`MAX_NAME`] characters of `[A-Za-z0-9_.:-]`. The
/// well-known names are held as an enum so the hot path compares tags, not
/// strings; any other name is kept as written.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Action(ActionName);

#[derive(Clone, PartialEq, Eq, Hash)]
enum ActionName {
    Read,
    Create,
    Update,
    Delete,
    Publish,
    Unpublish,
    Admin,
    Other(Box<str>),
}

impl Action {
    /// Reading documents.
    pub const READ: Action = Action(ActionName::Read);
    /// Creating documents.
    pub const CREATE: Action = Action(ActionName::Create);
    /// Updating documents.
    pub const UPDATE: Action = Action(ActionName::Update);
    /// Deleting documents.
    pub const DELETE: Action = Action(ActionName::Delete);
    /// Publishing documents to a stage.
    pub const PUBLISH: Action = Action(ActionName::Publish);
    /// Unpublishing documents from a stage.
    pub const UNPUBLISH: Action = Action(ActionName::Unpublish);
    /// Every action of the grant's api.
    pub const ADMIN: Action = Action(ActionName::Admin);

    /// Checks and wraps an action name.
    pub fn new(name: impl Into<String>) -> Result<Self, GrantError> {
        let name = name.into();
        let known = match name.as_str() {
            "read" => Some(Action::READ),
            "create" => Some(Action::CREATE),
            "update" => Some(Action::UPDATE),
            "delete" => Some(Action::DELETE),
            "publish" => Some(Action::PUBLISH),
            "unpublish" => Some(Action::UNPUBLISH),
            "admin" => Some(Action::ADMIN),
            _ => None,
        };
        if let Some(action) = known {
            return Ok(action);
        }
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if ok {
            Ok(Action(ActionName::Other(name.into_boxed_str())))
        } else {
            Err(GrantError::Action)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            ActionName::Read => "read",
            ActionName::Create => "create",
            ActionName::Update => "update",
            ActionName::Delete => "delete",
            ActionName::Publish => "publish",
            ActionName::Unpublish => "unpublish",
            ActionName::Admin => "admin",
            ActionName::Other(name) => name,
        }
    }

    /// Whether this is the `admin` action.
    pub fn is_admin(&self) -> bool {
        self.0 == ActionName::Admin
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Action({})", self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Action::new(name).map_err(serde::de::Error::custom)
    }
}

/// `"*"` (anything, including nothing named) or an explicit list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// `"*"`: every value, and requests that name none.
    #[default]
    Any,
    /// Only these values; a request that names none is not covered.
    Only(Vec<String>),
}

impl Scope {
    /// Whether a request naming `value` (or nothing) is covered.
    #[inline]
    pub fn covers(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Scope::Any, _) => true,
            (Scope::Only(list), Some(v)) => list.iter().any(|x| x == v),
            (Scope::Only(_), None) => false,
        }
    }

    fn check(&self, index: usize, field: &'static str) -> Result<(), GrantError> {
        match self {
            Scope::Any => Ok(()),
            Scope::Only(list) => check_names(list, index, field),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Scope::Any => s.serialize_str("*"),
            Scope::Only(list) => list.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than `#[serde(untagged)]`: no buffering of the
        // value, and a smaller verifier module.
        struct ScopeVisitor;
        impl<'de> serde::de::Visitor<'de> for ScopeVisitor {
            type Value = Scope;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""*" or a list of names"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scope, E> {
                if v == "*" {
                    Ok(Scope::Any)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Scope, A::Error> {
                let mut list = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    list.push(name);
                }
                Ok(Scope::Only(list))
            }
        }
        d.deserialize_any(ScopeVisitor)
    }
}

/// A row condition: every field must equal its value. A value of
/// `"$principal"` is replaced by the requesting principal.
pub type Condition = BTreeMap<String, String>;

/// One authority. See the module docs for the JSON shape and matching rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grant {
    /// The api it is about.
    pub api: Api,
    /// The action it allows (`admin`: every action of `api`).
    pub action: Action,
    /// Models covered.
    #[serde(default)]
    pub models: Scope,
    /// Stages covered.
    #[serde(default)]
    pub stages: Scope,
    /// Locales covered.
    #[serde(default)]
    pub locales: Scope,
    /// Environments covered.
    #[serde(default)]
    pub environments: Scope,
    /// Row condition, if the grant only covers some rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// Sensitive fields this grant lets the holder see unmasked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmask: Vec<String>,
}

impl Grant {
    /// A grant of `action` on `api` with every scope `"*"`, no condition and
    /// nothing unmasked.
    pub fn new(api: Api, action: Action) -> Self {
        Grant {
            api,
            action,
            models: Scope::Any,
            stages: Scope::Any,
            locales: Scope::Any,
            environments: Scope::Any,
            condition: None,
            unmask: Vec::new(),
        }
    }

    /// The management `admin` grant that the authority's admin token carries.
    pub fn admin() -> Self {
        Grant::new(Api::Management, Action::ADMIN)
    }

    /// Whether the grant's api, action and scopes cover the request (its
    /// condition is checked separately).
    #[inline]
    pub(crate) fn covers(
        &self,
        api: Api,
        action: &Action,
        model: Option<&str>,
        stage: &str,
        locale: Option<&str>,
        environment: Option<&str>,
    ) -> bool {
        self.api == api
            && (self.action.is_admin() || self.action == *action)
            && self.models.covers(model)
            && self.stages.covers(Some(stage))
            && self.locales.covers(locale)
            && self.environments.covers(environment)
    }
}

/// Checks a grant list against the limits before the authority stores it.
pub fn validate_grants(grants: &[Grant]) -> Result<(), GrantError> {
    if grants.len() > MAX_GRANTS {
        return Err(GrantError::TooMany {
            count: grants.len(),
            max: MAX_GRANTS,
        });
    }
    for (index, grant) in grants.iter().enumerate() {
        grant.models.check(index, "models")?;
        grant.stages.check(index, "stages")?;
        grant.locales.check(index, "locales")?;
        grant.environments.check(index, "environments")?;
        check_names(&grant.unmask, index, "unmask")?;
        if let Some(condition) = &grant.condition {
            let ok = !condition.is_empty()
                && condition.len() <= MAX_LIST
                && condition
                    .iter()
                    .all(|(k, v)| name_ok(k) && v.len() <= MAX_NAME);
            if !ok {
                return Err(GrantError::OutOfBounds {
                    index,
                    field: "condition",
                });
            }
        }
    }
    Ok(())
}

fn name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME
}

fn check_names(list: &[String], index: usize, field: &'static str) -> Result<(), GrantError> {
    if list.len() <= MAX_LIST && list.iter().all(|n| name_ok(n)) {
        Ok(())
    } else {
        Err(GrantError::OutOfBounds { index, field })
    }
}
