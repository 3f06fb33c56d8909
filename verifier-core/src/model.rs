//! The content models an environment registers: what every check of that
//! environment knows about a model besides its name.
//!
//! JSON (`camelCase`, unknown fields rejected):
//!
//! ```json
//! { "apiId": "Post", "apiIdPlural": "Posts",
//!   "ownerField": "ownerId",                 // optional
//!   "sensitiveFields": ["internalNotes"] }    // optional, default none
//! ```
//!
//! - `apiId` / `apiIdPlural` name the model as a GraphQL content API does
//!   (`post`, `posts`, `createPost`, …; see the host's gateway). Both are
//!   GraphQL names (`[A-Za-z][A-Za-z0-9_]*`), and they differ.
//! - `ownerField` is the field that holds who owns a row, so a grant
//!   condition on it can be enforced on creates.
//! - `sensitiveFields` are masked for callers whose grants do not `unmask`
//!   them: [`verify`](crate::verify) adds them to the request's own, so every
//!   verifier that has the environment's record masks them — natively, in
//!   the module and at the edge.
//!
//! [`validate_models`] checks a registry before the authority stores it.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::grant::{MAX_LIST, MAX_NAME, same_name};

/// Most models one environment registers.
pub const MAX_MODELS: usize = 256;

/// The names of the field types a content field can have, as the host's
/// API spells them (an app's field element names one as its `fieldType`;
/// the SDK's bridge checks a field element's values by it). One table for
/// the host's `FieldType`, its JSON Schema and the SDK.
pub const FIELD_TYPES: [&str; 8] = [
    "string", "text", "number", "boolean", "json", "date", "dateTime", "color",
];

/// One registered content model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Model {
    /// The model's name, e.g. `Post`.
    pub api_id: String,
    /// Its plural, e.g. `Posts`.
    pub api_id_plural: String,
    /// The field holding a row's owner, if rows have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_field: Option<String>,
    /// Fields masked unless a grant unmasks them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_fields: Vec<String>,
}

impl Model {
    /// Checks one model's names and limits.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (field, name) in [
            ("apiId", &self.api_id),
            ("apiIdPlural", &self.api_id_plural),
        ] {
            if !graphql_name(name) {
                return Err(ModelError::Name { field });
            }
        }
        if self.api_id.eq_ignore_ascii_case(&self.api_id_plural) {
            return Err(ModelError::PluralIsSingular);
        }
        if let Some(owner) = &self.owner_field
            && !graphql_name(owner)
        {
            return Err(ModelError::Name {
                field: "ownerField",
            });
        }
        if self.sensitive_fields.len() > MAX_LIST
            || !self.sensitive_fields.iter().all(|f| graphql_name(f))
        {
            return Err(ModelError::Name {
                field: "sensitiveFields",
            });
        }
        let fields = &self.sensitive_fields;
        let repeated = fields
            .iter()
            .enumerate()
            .find(|(i, f)| fields.iter().take(*i).any(|g| g == *f));
        if let Some((_, field)) = repeated {
            return Err(ModelError::Duplicate(field.clone()));
        }
        Ok(())
    }

    /// Whether this model is `name` (its `apiId`, exactly).
    pub fn is(&self, name: &str) -> bool {
        same_name(&self.api_id, name)
    }
}

/// Checks a registry: each model, at most [`MAX_MODELS`], and no name used
/// twice — an `apiId` or `apiIdPlural` equal (ignoring ASCII case, as the
/// GraphQL field names derived from them would collide) to another model's
/// `apiId` or `apiIdPlural`.
pub fn validate_models(models: &[Model]) -> Result<(), ModelError> {
    if models.len() > MAX_MODELS {
        return Err(ModelError::TooMany { max: MAX_MODELS });
    }
    let mut names: Vec<&str> = Vec::with_capacity(models.len() * 2);
    for model in models {
        model.validate()?;
        for name in [model.api_id.as_str(), model.api_id_plural.as_str()] {
            if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(ModelError::Duplicate(String::from(name)));
            }
            names.push(name);
        }
    }
    Ok(())
}

/// A GraphQL name that fits the limits: `[A-Za-z][A-Za-z0-9_]*`, at most
/// [`MAX_NAME`] bytes.
fn graphql_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() <= MAX_NAME
        && bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::vec;

    fn post() -> Model {
        Model {
            api_id: "Post".into(),
            api_id_plural: "Posts".into(),
            owner_field: Some("ownerId".into()),
            sensitive_fields: vec!["internalNotes".into()],
        }
    }

    #[test]
    fn a_model_is_graphql_names_and_distinct_forms() {
        assert_eq!(post().validate(), Ok(()));
        let bad = |f: fn(&mut Model)| {
            let mut m = post();
            f(&mut m);
            m.validate().unwrap_err()
        };
        assert_eq!(
            bad(|m| m.api_id = "1Post".into()),
            ModelError::Name { field: "apiId" }
        );
        assert_eq!(
            bad(|m| m.api_id_plural = "Po-sts".into()),
            ModelError::Name {
                field: "apiIdPlural"
            }
        );
        assert_eq!(
            bad(|m| m.api_id_plural = "post".into()),
            ModelError::PluralIsSingular
        );
        assert_eq!(
            bad(|m| m.owner_field = Some(String::new())),
            ModelError::Name {
                field: "ownerField"
            }
        );
        assert_eq!(
            bad(|m| m.sensitive_fields = vec!["a".into(), "a".into()]),
            ModelError::Duplicate("a".into())
        );
        assert_eq!(
            bad(|m| m.sensitive_fields = vec!["a b".into()]),
            ModelError::Name {
                field: "sensitiveFields"
            }
        );
    }

    #[test]
    fn a_registry_uses_each_name_once() {
        let author = Model {
            api_id: "Author".into(),
            api_id_plural: "Authors".into(),
            owner_field: None,
            sensitive_fields: Vec::new(),
        };
        assert_eq!(validate_models(&[post(), author.clone()]), Ok(()));
        let clash = Model {
            api_id: "Posts".into(),
            api_id_plural: "PostsMany".into(),
            ..author
        };
        assert_eq!(
            validate_models(&[post(), clash]),
            Err(ModelError::Duplicate("Posts".into()))
        );
    }

    #[test]
    fn json_is_camel_case_and_strict() {
        let m: Model = serde_json::from_str(
            r#"{"apiId":"Post","apiIdPlural":"Posts","sensitiveFields":["internalNotes"]}"#,
        )
        .unwrap();
        assert_eq!(m.owner_field, None);
        assert!(
            serde_json::from_str::<Model>(r#"{"apiId":"P","apiIdPlural":"Ps","x":1}"#).is_err()
        );
    }
}
