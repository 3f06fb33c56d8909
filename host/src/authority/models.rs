//! The content models an environment registers
//! (`/v1/environments/{e}/models`): names, the owner field and the sensitive
//! fields every check of that model masks. They travel in the environment's
//! record, so replicas and edges fed by the record feed know them too.

use serde::Deserialize;
use serde_json::json;
use verifier_core::{Model, ModelError, validate_models};

use super::Authority;
use super::caller::Actor;
use super::error::{AuthorityError, conflict};
use crate::storage::StoreError;

/// Body of `PUT /v1/environments/{e}/models/{apiId}`: the model without its
/// name, which the path gives (an `apiId` in the body must be the path's,
/// so a model read with `GET` can be written back as it is).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelBody {
    /// The path's `apiId`, if given.
    #[serde(default)]
    pub api_id: Option<String>,
    /// The plural, e.g. `Posts`.
    pub api_id_plural: String,
    /// The field holding a row's owner.
    #[serde(default)]
    pub owner_field: Option<String>,
    /// Fields masked unless a grant unmasks them.
    #[serde(default)]
    pub sensitive_fields: Vec<String>,
}

impl Authority {
    /// `GET /v1/environments/{e}/models`: the registry, in the order models
    /// were first registered.
    pub fn models(&self, env_id: &str) -> Result<Vec<Model>, AuthorityError> {
        Ok(self
            .records
            .environment(env_id)?
            .ok_or(AuthorityError::NotFound("environment"))?
            .models
            .clone())
    }

    /// `GET /v1/environments/{e}/models/{apiId}`.
    pub fn model(&self, env_id: &str, api_id: &str) -> Result<Model, AuthorityError> {
        self.models(env_id)?
            .into_iter()
            .find(|m| m.api_id == api_id)
            .ok_or(AuthorityError::NotFound("model"))
    }

    /// `PUT /v1/environments/{e}/models/{apiId}`: registers the model or
    /// replaces it. Returns it and whether it is new. 400 for names that are
    /// not GraphQL names (or a body `apiId` other than the path's), 409 when
    /// its singular or plural is another model's.
    pub fn put_model(
        &self,
        actor: &Actor,
        env_id: &str,
        api_id: &str,
        body: ModelBody,
    ) -> Result<(Model, bool), AuthorityError> {
        if body.api_id.as_deref().is_some_and(|given| given != api_id) {
            return Err(AuthorityError::BadRequest(
                "apiId in the body must be the path's".into(),
            ));
        }
        let model = Model {
            api_id: api_id.into(),
            api_id_plural: body.api_id_plural,
            owner_field: body.owner_field,
            sensitive_fields: body.sensitive_fields,
        };
        model.validate().map_err(bad_model)?;
        let audit = self.audit(
            actor,
            "model.put",
            &format!("{env_id}/{api_id}"),
            json!({"apiIdPlural": model.api_id_plural, "sensitiveFields": model.sensitive_fields.len()}),
        );
        let mut created = false;
        let mut refused = None;
        self.change_registry(env_id, &audit, &mut refused, |mut models| {
            match models.iter_mut().find(|m| m.api_id == model.api_id) {
                Some(existing) => *existing = model.clone(),
                None => {
                    created = true;
                    models.push(model.clone());
                }
            }
            Ok(models)
        })?;
        Ok((model, created))
    }

    /// `DELETE /v1/environments/{e}/models/{apiId}`.
    pub fn delete_model(
        &self,
        actor: &Actor,
        env_id: &str,
        api_id: &str,
    ) -> Result<(), AuthorityError> {
        let audit = self.audit(
            actor,
            "model.delete",
            &format!("{env_id}/{api_id}"),
            json!({}),
        );
        let mut refused = None;
        self.change_registry(env_id, &audit, &mut refused, |mut models| {
            let before = models.len();
            models.retain(|m| m.api_id != api_id);
            if models.len() == before {
                return Err(StoreError::NotFound("model"));
            }
            Ok(models)
        })?;
        Ok(())
    }

    /// Applies `change` to the stored registry and checks the result as a
    /// whole before it is written (a name clash stores nothing: 409).
    fn change_registry(
        &self,
        env_id: &str,
        audit: &crate::storage::AuditEntry,
        refused: &mut Option<ModelError>,
        mut change: impl FnMut(Vec<Model>) -> Result<Vec<Model>, StoreError>,
    ) -> Result<Vec<Model>, AuthorityError> {
        let outcome = self.change(|s| {
            s.change_models(
                env_id,
                &mut |models| {
                    let models = change(models)?;
                    validate_models(&models).map_err(|e| {
                        *refused = Some(e);
                        StoreError::Conflict("model")
                    })?;
                    Ok(models)
                },
                audit,
            )
        });
        match (outcome, refused.take()) {
            (Ok(models), _) => Ok(models),
            (Err(_), Some(ModelError::TooMany { max })) => Err(AuthorityError::BadRequest(
                format!("an environment holds at most {max} models"),
            )),
            (Err(_), Some(error)) => Err(conflict(format!(
                "{error}: another model of this environment has that name"
            ))),
            (Err(error), None) => Err(error),
        }
    }
}

fn bad_model(error: ModelError) -> AuthorityError {
    AuthorityError::BadRequest(error.to_string())
}
