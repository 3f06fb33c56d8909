//! Projects and their environments, and an environment's public grants
//! (what a request without credentials may do there).

use serde::Deserialize;
use serde_json::json;
use verifier_core::{Api, Grant, validate_grants};

use super::Authority;
use super::caller::{Actor, Caller};
use super::error::AuthorityError;
use super::validation::{check_id, check_text};
use super::views::{EnvironmentView, ProjectListing, ProjectView};
use crate::storage::{EnvironmentRow, Project};

/// Body of `POST /v1/projects`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Id.
    #[schema(schema_with = crate::authority::schema::id)]
    pub id: String,
    /// Name.
    #[schema(schema_with = crate::authority::schema::text)]
    pub name: String,
}

/// Body of `POST /v1/projects/{p}/environments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEnvironment {
    /// Id, unique across projects.
    #[schema(schema_with = crate::authority::schema::id)]
    pub id: String,
    /// Name.
    #[schema(schema_with = crate::authority::schema::text)]
    pub name: String,
    /// Default stage (`PUBLISHED` if absent).
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::optional_id)]
    pub default_stage: Option<String>,
}

impl Authority {
    /// `POST /v1/projects`.
    pub fn create_project(
        &self,
        actor: &Actor,
        body: NewProject,
    ) -> Result<ProjectView, AuthorityError> {
        check_id("id", &body.id)?;
        check_text("name", &body.name)?;
        let project = Project {
            id: body.id,
            name: body.name,
            created_at: self.now(),
        };
        let audit = self.audit(
            actor,
            "project.create",
            &project.id,
            json!({"name": project.name}),
        );
        self.change(|s| s.create_project(&project, &audit))?;
        Ok(ProjectView::new(project, &self.config.public_url))
    }

    /// `POST /v1/projects/{p}/environments`.
    pub fn create_environment(
        &self,
        actor: &Actor,
        project_id: &str,
        body: NewEnvironment,
    ) -> Result<EnvironmentView, AuthorityError> {
        check_id("id", &body.id)?;
        check_text("name", &body.name)?;
        let default_stage = body
            .default_stage
            .unwrap_or_else(|| verifier_core::DEFAULT_STAGE.into());
        check_id("defaultStage", &default_stage)?;
        let env = EnvironmentRow {
            id: body.id,
            project_id: project_id.into(),
            name: body.name,
            default_stage,
            public_grants: Vec::new(),
            models: Vec::new(),
            created_at: self.now(),
        };
        let audit = self.audit(
            actor,
            "environment.create",
            &env.id,
            json!({"project": project_id}),
        );
        self.change(|s| s.create_environment(&env, &audit))?;
        Ok(env.into())
    }

    /// `PUT /v1/environments/{e}/public-grants`.
    pub fn set_public_grants(
        &self,
        actor: &Actor,
        env_id: &str,
        grants: Vec<Grant>,
    ) -> Result<Vec<Grant>, AuthorityError> {
        validate_grants(&grants).map_err(|e| AuthorityError::BadRequest(e.to_string()))?;
        if grants.iter().any(|g| g.api == Api::Management) {
            return Err(AuthorityError::BadRequest(
                "public grants cannot include management grants".into(),
            ));
        }
        let audit = self.audit(
            actor,
            "environment.public_grants",
            env_id,
            json!({"grants": grants.len()}),
        );
        self.change(|s| s.set_public_grants(env_id, &grants, &audit))?;
        Ok(grants)
    }

    /// `GET /v1/projects`: every project with its environments.
    pub fn projects(&self, caller: &Caller) -> Result<Vec<ProjectListing>, AuthorityError> {
        let mut environments = self.store()?.environments()?;
        Ok(self
            .store()?
            .projects()?
            .into_iter()
            .filter(|p| caller.sees(Some(&p.id)))
            .map(|p| {
                let (mine, rest) = environments.drain(..).partition(|e| e.project_id == p.id);
                environments = rest;
                ProjectListing {
                    project: ProjectView::new(p, &self.config.public_url),
                    environments: mine
                        .into_iter()
                        .map(EnvironmentView::from)
                        .collect::<Vec<_>>(),
                }
            })
            .collect())
    }

    /// The project of environment `id`, read through the record cache: an
    /// environment never moves to another project nor goes away, so a
    /// cached row answers as well as the store. One the cache does not
    /// know (made on another node a moment ago) is looked up in the store.
    pub(super) fn environment_project(&self, id: &str) -> Result<String, AuthorityError> {
        if let Some(env) = self.records.environment(id)? {
            return Ok(env.project_id.clone());
        }
        Ok(self
            .store()?
            .environment(id)?
            .ok_or(AuthorityError::NotFound("environment"))?
            .project_id
            .clone())
    }

    /// Each environment's project, by environment id.
    pub(super) fn environment_projects(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, AuthorityError> {
        Ok(self
            .store()?
            .environments()?
            .into_iter()
            .map(|e| (e.id, e.project_id))
            .collect())
    }
}
