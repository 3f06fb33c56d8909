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
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::GrantError;

/// Most grants one token (or one environment's public access) may carry.
pub const MAX_GRANTS: usize = 64;
/// Most entries in one grant list (models, stages, locales, environments,
/// unmask) and in one condition.
pub const MAX_LIST: usize = 256;
/// Longest name (model, stage, locale, environment, field, action), in
/// characters (Unicode scalar values, as JSON Schema's `maxLength` counts;
/// action names are ASCII, so bytes there).
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

impl Api {
    /// Every API.
    pub const ALL: [Api; 2] = [Api::Content, Api::Management];
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
        if let Some(action) = Action::known(&name) {
            return Ok(action);
        }
        Action::check(&name)?;
        Ok(Action(ActionName::Other(name.into_boxed_str())))
    }

    /// A well-known name as its tag (no allocation).
    fn known(name: &str) -> Option<Action> {
        match name {
            "read" => Some(Action::READ),
            "create" => Some(Action::CREATE),
            "update" => Some(Action::UPDATE),
            "delete" => Some(Action::DELETE),
            "publish" => Some(Action::PUBLISH),
            "unpublish" => Some(Action::UNPUBLISH),
            "admin" => Some(Action::ADMIN),
            _ => None,
        }
    }

    fn check(name: &str) -> Result<(), GrantError> {
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if ok { Ok(()) } else { Err(GrantError::Action) }
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

/// Parses a name like [`Action::new`]; a well-known name allocates nothing.
impl core::str::FromStr for Action {
    type Err = GrantError;
    fn from_str(name: &str) -> Result<Self, GrantError> {
        if let Some(action) = Action::known(name) {
            return Ok(action);
        }
        Action::check(name)?;
        Ok(Action(ActionName::Other(name.into())))
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
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
            (Scope::Only(list), Some(v)) => list.iter().any(|x| same_name(x, v)),
            (Scope::Only(_), None) => false,
        }
    }

    /// Whether every value `other` covers, this covers too.
    pub fn includes(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Any, _) => true,
            (Scope::Only(_), Scope::Any) => false,
            (Scope::Only(mine), Scope::Only(theirs)) => {
                theirs.iter().all(|v| mine.iter().any(|m| same_name(m, v)))
            }
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    /// Whether everything `self` allows, `wider` allows too: the same api,
    /// an action `wider` covers, every scope inside `wider`'s, at least
    /// `wider`'s row condition (more conditions cover fewer rows), and no
    /// field unmasked that `wider` keeps masked.
    pub fn within(&self, wider: &Grant) -> bool {
        self.api == wider.api
            && (wider.action.is_admin() || wider.action == self.action)
            && wider.models.includes(&self.models)
            && wider.stages.includes(&self.stages)
            && wider.locales.includes(&self.locales)
            && wider.environments.includes(&self.environments)
            && wider.condition.as_ref().is_none_or(|theirs| {
                self.condition
                    .as_ref()
                    .is_some_and(|mine| theirs.iter().all(|(k, v)| mine.get(k) == Some(v)))
            })
            && self
                .unmask
                .iter()
                .all(|f| wider.unmask.iter().any(|w| same_name(w, f)))
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

/// A token's grants, with the index by model a scan uses to pass over those
/// that cannot cover a request's model (a 64-bit mask per grant, one bit
/// per model name it lists), built once when the list is made (records are
/// made once and checked many times). Reads as a slice of [`Grant`]s;
/// compares, hashes and serializes as the list alone.
#[derive(Clone, Default)]
pub struct Grants {
    list: Vec<Grant>,
    index: ModelIndex,
}

impl Grants {
    /// `list`, indexed.
    pub fn new(list: Vec<Grant>) -> Self {
        let index = ModelIndex::new(&list);
        Grants { list, index }
    }

    /// `list`, indexed, to be shared by records
    /// ([`crate::TokenRecord::grants`]).
    pub fn shared(list: Vec<Grant>) -> Arc<Self> {
        Arc::new(Grants::new(list))
    }

    /// The index of the list by model.
    pub(crate) fn index(&self) -> &ModelIndex {
        &self.index
    }
}

impl From<Vec<Grant>> for Grants {
    fn from(list: Vec<Grant>) -> Self {
        Grants::new(list)
    }
}

impl FromIterator<Grant> for Grants {
    fn from_iter<I: IntoIterator<Item = Grant>>(iter: I) -> Self {
        Grants::new(iter.into_iter().collect())
    }
}

impl core::ops::Deref for Grants {
    type Target = [Grant];
    fn deref(&self) -> &[Grant] {
        &self.list
    }
}

impl PartialEq for Grants {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

impl Eq for Grants {}

impl core::hash::Hash for Grants {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.list.hash(state);
    }
}

impl fmt::Debug for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.list.fmt(f)
    }
}

impl Serialize for Grants {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Grants {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Grant>::deserialize(d).map(Grants::new)
    }
}

/// Which of a token's grants may cover a request's model, one AND per grant.
///
/// Built once for a list of grants ([`Grants`], which every record holds):
/// each grant gets a 64-bit mask with one bit per model name it lists (a
/// hash of the name picks the bit), all bits for `"*"`. A request's model
/// picks its bit the same way; a grant whose mask lacks that bit does not
/// list the model, so it cannot cover the request and the scan skips it
/// without comparing a name. A set bit proves nothing (two names may share
/// a bit): such a grant is checked in full as before. A request naming no
/// model skips nothing. So decisions are exactly those of the full scan;
/// only grants that could not apply are passed over.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelIndex {
    masks: Vec<u64>,
}

impl ModelIndex {
    /// The index of `grants` (in their order).
    pub(crate) fn new(grants: &[Grant]) -> Self {
        let masks = grants
            .iter()
            .map(|grant| match &grant.models {
                Scope::Any => u64::MAX,
                Scope::Only(list) => list.iter().fold(0, |m, name| m | model_bit(name)),
            })
            .collect();
        ModelIndex { masks }
    }

    /// The mask a request naming `model` is checked against.
    pub(crate) fn wanted(model: Option<&str>) -> u64 {
        model.map_or(u64::MAX, model_bit)
    }

    /// Whether grant `i` may cover a request whose mask is `wanted` (a grant
    /// the index does not know may).
    #[inline]
    pub(crate) fn may_cover(&self, i: usize, wanted: u64) -> bool {
        self.masks.get(i).is_none_or(|mask| mask & wanted != 0)
    }
}

/// One of 64 bits for a model name: FNV-1a of its bytes, folded.
fn model_bit(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    1 << ((hash ^ (hash >> 32)) & 63)
}

/// Whether two names are equal: `a == b`, written for the grant scan.
///
/// The scan compares the request's names with every listed name of every
/// grant. `==` on `str` calls `memcmp`, which in the wasm module is
/// compiler-builtins' byte-at-a-time loop behind a call, a visible share
/// of a prepared verify under wasmtime. Names are short, so this
/// compares the lengths, then whole 8-byte words, then the last (overlapping)
/// word or half-word: two or three loads for a typical name, inline. Names
/// are not secrets, so an early exit is fine.
#[inline]
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            if word8(a, i) != word8(b, i) {
                return false;
            }
            i += 8;
        }
        // The last 8 bytes, overlapping what was compared (n >= 8).
        return i == n || word8(a, n - 8) == word8(b, n - 8);
    }
    if n >= 4 {
        return word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4);
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// The 8 bytes at `at` (caller guarantees `at + 8 <= bytes.len()`; out of
/// range reads as 0, which never happens).
#[inline(always)]
fn word8(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(0, u64::from_le_bytes)
}

/// The 4 bytes at `at` (as [`word8`]).
#[inline(always)]
fn word4(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_le_bytes)
}

/// Whether a holder of `narrower` can do nothing a holder of `wider` cannot:
/// each grant of `narrower` is [`Grant::within`] one grant of `wider`. A
/// grant covered only by several of `wider`'s together counts as wider
/// (the answer errs towards asking for consent).
pub fn grants_within(narrower: &[Grant], wider: &[Grant]) -> bool {
    narrower.iter().all(|g| wider.iter().any(|w| g.within(w)))
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
                    .all(|(k, v)| name_ok(k) && v.chars().count() <= MAX_NAME);
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
    !name.is_empty() && name.chars().count() <= MAX_NAME
}

fn check_names(list: &[String], index: usize, field: &'static str) -> Result<(), GrantError> {
    if list.len() <= MAX_LIST && list.iter().all(|n| name_ok(n)) {
        Ok(())
    } else {
        Err(GrantError::OutOfBounds { index, field })
    }
}

// proptest is a native dev-dependency (the browser tests are tests/browser.rs).
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{Grant, grants_within, same_name};
    use proptest::prelude::*;

    fn grant(json: &str) -> Grant {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn narrower_grants_are_within_wider_ones() {
        let wide = grant(r#"{"api":"content","action":"read","models":["Post","Author"]}"#);
        for (g, within) in [
            (
                r#"{"api":"content","action":"read","models":["Post"]}"#,
                true,
            ),
            (
                r#"{"api":"content","action":"read","models":["Post","Author"],"stages":["DRAFT"]}"#,
                true,
            ),
            (
                r#"{"api":"content","action":"read","models":["Post"],"condition":{"author":"$principal"}}"#,
                true,
            ),
            (
                r#"{"api":"content","action":"read","models":["Post","Tag"]}"#,
                false,
            ),
            (r#"{"api":"content","action":"read"}"#, false),
            (
                r#"{"api":"content","action":"create","models":["Post"]}"#,
                false,
            ),
            (
                r#"{"api":"content","action":"admin","models":["Post"]}"#,
                false,
            ),
            (
                r#"{"api":"management","action":"read","models":["Post"]}"#,
                false,
            ),
            (
                r#"{"api":"content","action":"read","models":["Post"],"unmask":["email"]}"#,
                false,
            ),
        ] {
            assert_eq!(grant(g).within(&wide), within, "{g}");
        }
        // An admin action covers every action; a condition narrows rows.
        let admin = grant(r#"{"api":"content","action":"admin"}"#);
        assert!(grant(r#"{"api":"content","action":"delete"}"#).within(&admin));
        let own = grant(r#"{"api":"content","action":"read","condition":{"author":"$principal"}}"#);
        assert!(!grant(r#"{"api":"content","action":"read"}"#).within(&own));
        assert!(grant(r#"{"api":"content","action":"read","condition":{"author":"$principal","lang":"en"}}"#).within(&own));
        assert!(
            !grant(r#"{"api":"content","action":"read","condition":{"author":"x"}}"#).within(&own)
        );
        let unmasked = grant(r#"{"api":"content","action":"read","unmask":["email"]}"#);
        assert!(grant(r#"{"api":"content","action":"read","unmask":["email"]}"#).within(&unmasked));
        // Lists: each grant needs one grant that holds it whole.
        let reads = [
            wide.clone(),
            grant(r#"{"api":"content","action":"create"}"#),
        ];
        assert!(grants_within(&[], &reads));
        assert!(grants_within(&reads[..1], &reads));
        assert!(!grants_within(&reads, &reads[..1]));
        let split = [
            grant(r#"{"api":"content","action":"read","models":["Post"]}"#),
            grant(r#"{"api":"content","action":"read","models":["Author"]}"#),
        ];
        assert!(
            !grants_within(&[wide], &split),
            "covered only together: asks"
        );
    }

    #[test]
    fn same_name_agrees_with_eq_at_every_length_and_position() {
        // Every length up to three words, a difference at every position.
        for n in 0..=24 {
            let a: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert!(same_name(&a, &a.clone()), "{a:?}");
            for at in 0..n {
                let mut b = a.clone().into_bytes();
                b[at] = b'Z';
                let b = String::from_utf8(b).unwrap();
                assert!(!same_name(&a, &b), "{a:?} vs {b:?}");
            }
            assert!(!same_name(&a, &format!("{a}x")));
        }
    }

    #[test]
    fn model_index_skips_only_grants_that_do_not_list_the_model() {
        use super::{Action, Api, Grant, ModelIndex, Scope};
        // 200 names over 64 bits: many share a bit, none may be skipped.
        let names: Vec<String> = (0..200).map(|i| format!("Model{i}")).collect();
        let grants: Vec<Grant> = names
            .chunks(3)
            .map(|list| Grant {
                models: Scope::Only(list.to_vec()),
                ..Grant::new(Api::Content, Action::READ)
            })
            .chain([
                Grant::new(Api::Content, Action::READ),
                Grant {
                    models: Scope::Only(Vec::new()),
                    ..Grant::new(Api::Content, Action::READ)
                },
            ])
            .collect();
        let index = ModelIndex::new(&grants);
        let any = grants.len() - 2;
        let mut skipped = 0;
        for name in &names {
            let wanted = ModelIndex::wanted(Some(name));
            for (i, grant) in grants.iter().enumerate() {
                if grant.models.covers(Some(name)) {
                    assert!(index.may_cover(i, wanted), "{name} in grant {i}");
                } else if !index.may_cover(i, wanted) {
                    skipped += 1;
                }
            }
            assert!(index.may_cover(any, wanted), "\"*\" always");
            assert!(!index.may_cover(any + 1, wanted), "an empty list never");
        }
        // It does skip (most grants do not list a given model).
        assert!(skipped > names.len() * 50, "{skipped}");
        // No model named: only the empty list is skipped (it covers nothing);
        // a grant the index does not know is not skipped.
        let none = ModelIndex::wanted(None);
        assert!((0..=any).all(|i| index.may_cover(i, none)));
        assert!(!index.may_cover(any + 1, none) && !grants[any + 1].models.covers(None));
        assert!(index.may_cover(grants.len(), 1));
    }

    proptest! {
        #[test]
        fn same_name_is_eq(a in "[a-cé]{0,20}", b in "[a-cé]{0,20}") {
            prop_assert_eq!(same_name(&a, &b), a == b);
            prop_assert!(same_name(&a, &a));
        }
    }
}
