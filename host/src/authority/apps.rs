//! Apps: registering one (name, setup page, frame origins, the grants its
//! app tokens get) and listing them. The client secret appears once, in the
//! answer that creates it; only its hash is stored.

use serde::Deserialize;
use serde_json::json;
use verifier_core::{Grant, OpaqueSecret, validate_grants};

use super::Authority;
use super::caller::Actor;
use super::error::AuthorityError;
use super::validation::{MAX_ORIGINS, check_origins, check_text, check_url, is_whole_service};
use super::views::{AppCreated, AppView};
use crate::random;
use crate::storage::AppRow;

/// Body of `POST /v1/apps`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApp {
    /// Name.
    #[schema(schema_with = crate::authority::schema::text)]
    pub name: String,
    /// The app's setup page.
    #[schema(schema_with = crate::authority::schema::setup_url)]
    pub setup_url: String,
    /// The app's main page, opened once it is installed (optional: without
    /// it the setup page is opened then too).
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::optional_url)]
    pub url: Option<String>,
    /// Origins its frames come from.
    #[schema(schema_with = crate::authority::schema::origins)]
    pub origins: Vec<String>,
    /// What its app tokens may do.
    #[schema(schema_with = crate::authority::schema::app_grants)]
    pub grants: Vec<Grant>,
}

impl Authority {
    /// `POST /v1/apps`: the client secret is in the answer, this once.
    pub fn create_app(&self, actor: &Actor, body: NewApp) -> Result<AppCreated, AuthorityError> {
        check_text("name", &body.name)?;
        check_url("setupUrl", &body.setup_url)?;
        if let Some(url) = &body.url {
            check_url("url", url)?;
        }
        if body.origins.is_empty() || body.origins.len() > MAX_ORIGINS {
            return Err(AuthorityError::BadRequest(format!(
                "origins must list 1 to {MAX_ORIGINS} origins"
            )));
        }
        let mut origins = check_origins(&body.origins)?;
        origins.dedup();
        // The studio frames only the app's origins: a main page elsewhere
        // could never be opened.
        if let Some(url) = &body.url {
            let origin = url::Url::parse(url).map(|u| u.origin().ascii_serialization());
            if !origin.is_ok_and(|o| origins.contains(&o)) {
                return Err(AuthorityError::BadRequest(
                    "url must be served from one of the app's origins".into(),
                ));
            }
        }
        validate_grants(&body.grants).map_err(|e| AuthorityError::BadRequest(e.to_string()))?;
        if body.grants.iter().any(is_whole_service) {
            return Err(AuthorityError::BadRequest(
                "an app's grants cannot include the management admin or replica grant".into(),
            ));
        }
        let secret = OpaqueSecret::from_random(random::secret_bytes()?);
        let app = AppRow {
            id: random::id("app_")?,
            name: body.name,
            client_id: random::id("cl_")?,
            client_secret_hash: secret.hash(),
            setup_url: body.setup_url,
            url: body.url,
            origins,
            grants: body.grants,
            created_at: self.now(),
        };
        let audit = self.audit(
            actor,
            "app.create",
            &app.id,
            json!({"name": app.name, "clientId": app.client_id}),
        );
        self.change(|s| s.create_app(&app, &audit))?;
        Ok(AppCreated {
            id: app.id,
            client_id: app.client_id,
            client_secret: secret.text().into(),
        })
    }

    /// `GET /v1/apps`: every app, without secrets.
    pub fn apps(&self) -> Result<Vec<AppView>, AuthorityError> {
        Ok(self
            .store()?
            .apps()?
            .into_iter()
            .map(AppView::from)
            .collect())
    }
}
