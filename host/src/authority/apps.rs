//! Apps: registering one (name, setup page, frame origins, the grants its
//! app tokens get), listing, editing and deleting them, and rotating their
//! client secret. A client secret appears once, in the answer that makes
//! it; only its hash is stored.
//!
//! Rotation keeps one previous secret: the one just replaced, accepted until
//! its grace period ends ([`MAX_GRACE_SECONDS`] at most). Rotating again
//! within a grace period ends the older secret at once, so at most two
//! secrets ever work. Deleting an app keeps its row (its uninstalled
//! installations and the audit log name it) and removes it from every
//! read: listings, lookups, the exchange.

use serde::{Deserialize, Deserializer};
use serde_json::json;
use verifier_core::{Grant, OpaqueSecret, SecretHash, validate_grants};

use super::Authority;
use super::caller::{Actor, Caller};
use super::elements::check_elements;
use super::error::AuthorityError;
use super::roles::{Need, On};
use super::validation::{
    MAX_ORIGINS, MAX_REDIRECT_URIS, check_origins, check_redirect_uri, check_text, check_url,
    is_whole_service,
};
use super::views::{AppCreated, AppView, ClientSecretView, PublishedView, WebhookSecretView};
use crate::random;
use crate::reason::Reason;
use crate::storage::{AppRow, DeliveryRow, Element, PreviousSecret, StoreError};

/// Longest grace period of a rotated client secret: seven days.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;

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
    /// Where its backend takes webhooks (optional).
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::optional_url)]
    pub webhook_url: Option<String>,
    /// The project it belongs to: people with the developer role there
    /// manage it. Absent: the whole instance's (only a role on every
    /// project manages it).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Where people are sent back with an authorization code when it
    /// connects as a third-party app (absent: it does not).
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::redirect_uris)]
    pub redirect_uris: Vec<String>,
    /// Its pages, sidebar panels and field editors (`authority::elements`).
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::elements)]
    pub elements: Vec<Element>,
}

/// Body of `PATCH /v1/apps/{id}`: each field given replaces the stored one
/// (absent or `null`: unchanged), except `url`, where `null` removes the
/// main page (the setup page is opened instead). The result is checked as
/// a new app is. Grants change through their own call.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppUpdate {
    /// Name.
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::optional_text)]
    pub name: Option<String>,
    /// The app's setup page.
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::optional_url)]
    pub setup_url: Option<String>,
    /// The app's main page; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = crate::authority::schema::optional_url)]
    pub url: Option<Option<String>>,
    /// Origins its frames come from.
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::optional_origins)]
    pub origins: Option<Vec<String>>,
    /// Where its backend takes webhooks; `null` stops them.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = crate::authority::schema::optional_url)]
    pub webhook_url: Option<Option<String>>,
    /// Its redirect URIs as a connected app (`[]`: none).
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::optional_redirect_uris)]
    pub redirect_uris: Option<Vec<String>>,
    /// Its elements, all of them (`[]`: none).
    #[serde(default)]
    #[schema(schema_with = crate::authority::schema::optional_elements)]
    pub elements: Option<Vec<Element>>,
}

/// A field that is present, `null` or not: absent stays `None` (serde's
/// default), present is `Some(value)`, `null` included.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Body of `POST /v1/apps/{id}/client-secret/rotate`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRotation {
    /// How long the replaced secret keeps working, seconds: 0 (the
    /// default) ends it now; at most 604800 (seven days).
    #[serde(default, deserialize_with = "super::validation::whole_number")]
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_seconds: i64,
}

/// What a stored app must be: checked when it is made and after each edit.
fn check_app(app: &AppRow) -> Result<(), AuthorityError> {
    check_text("name", &app.name)?;
    check_url("setupUrl", &app.setup_url)?;
    if let Some(url) = &app.url {
        check_url("url", url)?;
    }
    if let Some(url) = &app.webhook_url {
        check_url("webhookUrl", url)?;
    }
    if app.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(AuthorityError::BadRequest(format!(
            "redirectUris lists at most {MAX_REDIRECT_URIS}"
        )));
    }
    app.redirect_uris
        .iter()
        .try_for_each(|uri| check_redirect_uri(uri))?;
    check_elements(app)?;
    // The studio frames only the app's origins: a main page elsewhere
    // could never be opened.
    if let Some(url) = &app.url {
        let origin = url::Url::parse(url).map(|u| u.origin().ascii_serialization());
        if !origin.is_ok_and(|o| app.origins.contains(&o)) {
            return Err(AuthorityError::BadRequest(
                "url must be served from one of the app's origins".into(),
            ));
        }
    }
    Ok(())
}

/// What an app's grants may be: within the limits, never the management
/// admin or replica grant.
fn check_app_grants(grants: &[Grant]) -> Result<(), AuthorityError> {
    validate_grants(grants).map_err(|e| AuthorityError::BadRequest(e.to_string()))?;
    if grants.iter().any(is_whole_service) {
        return Err(AuthorityError::BadRequest(
            "an app's grants cannot include the management admin or replica grant".into(),
        ));
    }
    Ok(())
}

/// Origins as stored: 1 to [`MAX_ORIGINS`], canonical, without repeats.
fn app_origins(origins: &[String]) -> Result<Vec<String>, AuthorityError> {
    if origins.is_empty() || origins.len() > MAX_ORIGINS {
        return Err(AuthorityError::BadRequest(format!(
            "origins must list 1 to {MAX_ORIGINS} origins"
        )));
    }
    let mut origins = check_origins(origins)?;
    origins.dedup();
    Ok(origins)
}

impl Authority {
    /// `POST /v1/apps`: the client secret is in the answer, this once.
    pub fn create_app(&self, caller: &Caller, body: NewApp) -> Result<AppCreated, AuthorityError> {
        let on = body.project_id.clone().map_or(On::Instance, On::Project);
        self.require(caller, Need::Develop, &on)?;
        if let Some(project) = &body.project_id
            && self.store()?.project(project)?.is_none()
        {
            return Err(AuthorityError::NotFound("project"));
        }
        let actor = &caller.actor;
        let origins = app_origins(&body.origins)?;
        check_app_grants(&body.grants)?;
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
            previous_secret: None,
            webhook_url: body.webhook_url,
            webhook_secret_version: 1,
            project_id: body.project_id,
            redirect_uris: body.redirect_uris,
            elements: body.elements,
        };
        check_app(&app)?;
        self.check_webhooks_on(&app)?;
        let audit = self.audit(
            actor,
            "app.create",
            &app.id,
            json!({"name": app.name, "clientId": app.client_id}),
        );
        self.change(|s| s.create_app(&app, &audit))?;
        Ok(AppCreated {
            webhook_secret: self.webhook_secret(&app),
            id: app.id,
            client_id: app.client_id,
            client_secret: secret.text().into(),
        })
    }

    /// `GET /v1/apps`: every app, without secrets.
    pub fn apps(&self) -> Result<Vec<AppView>, AuthorityError> {
        let now = self.now();
        Ok(self
            .store()?
            .apps()?
            .into_iter()
            .map(|a| AppView::new(a, now))
            .collect())
    }

    /// `GET /v1/apps/{id}`.
    pub fn app(&self, id: &str) -> Result<AppView, AuthorityError> {
        let app = self
            .store()?
            .app(id)?
            .ok_or(AuthorityError::NotFound("app"))?;
        Ok(AppView::new(app, self.now()))
    }

    /// `PATCH /v1/apps/{id}`: name, pages and origins; audited with each
    /// changed field before and after.
    pub fn edit_app(
        &self,
        actor: &Actor,
        id: &str,
        update: AppUpdate,
    ) -> Result<AppView, AuthorityError> {
        let origins = update.origins.as_deref().map(app_origins).transpose()?;
        let mut edit = |before: AppRow| {
            let mut app = before.clone();
            if let Some(name) = &update.name {
                app.name.clone_from(name);
            }
            if let Some(setup_url) = &update.setup_url {
                app.setup_url.clone_from(setup_url);
            }
            if let Some(url) = &update.url {
                app.url.clone_from(url);
            }
            if let Some(origins) = &origins {
                app.origins.clone_from(origins);
            }
            if let Some(webhook_url) = &update.webhook_url {
                app.webhook_url.clone_from(webhook_url);
            }
            if let Some(uris) = &update.redirect_uris {
                app.redirect_uris.clone_from(uris);
            }
            if let Some(elements) = &update.elements {
                app.elements.clone_from(elements);
            }
            check_app(&app)
                .and_then(|()| self.check_webhooks_on(&app))
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let audit = self.audit(actor, "app.update", id, edits(&before, &app));
            Ok((app, audit))
        };
        let stored = self.change(|s| s.change_app(id, &mut edit))?;
        Ok(AppView::new(stored, self.now()))
    }

    /// `POST /v1/apps/{id}/client-secret/rotate`: a new client secret, in
    /// the answer this once; the replaced one works `graceSeconds` more.
    pub fn rotate_client_secret(
        &self,
        actor: &Actor,
        id: &str,
        body: SecretRotation,
    ) -> Result<ClientSecretView, AuthorityError> {
        let grace = body.grace_seconds;
        if !(0..=MAX_GRACE_SECONDS).contains(&grace) {
            return Err(AuthorityError::BadRequest(format!(
                "graceSeconds must be 0 to {MAX_GRACE_SECONDS}"
            )));
        }
        let now = self.now();
        let secret = OpaqueSecret::from_random(random::secret_bytes()?);
        let mut rotate = |mut app: AppRow| {
            app.previous_secret = (grace > 0).then_some(PreviousSecret {
                hash: app.client_secret_hash,
                expires_at: now + grace,
            });
            app.client_secret_hash = secret.hash();
            let audit = self.audit(
                actor,
                "app.client_secret.rotate",
                id,
                json!({"graceSeconds": grace, "previousValidUntil": app.previous_secret.map(|p| p.expires_at)}),
            );
            Ok((app, audit))
        };
        let app = self.change(|s| s.change_app(id, &mut rotate))?;
        Ok(ClientSecretView {
            client_id: app.client_id,
            client_secret: secret.text().into(),
            previous_secret_expires_at: app.previous_secret.map(|p| p.expires_at),
        })
    }

    /// `PUT /v1/apps/{id}/grants`: the app's grants, next version. Where
    /// they are no wider than an installation approved they apply at once
    /// (narrowing needs no consent); elsewhere they wait for an admin of
    /// the environment to approve. Audited with before and after.
    pub fn publish_grants(
        &self,
        actor: &Actor,
        id: &str,
        grants: Vec<Grant>,
    ) -> Result<PublishedView, AuthorityError> {
        check_app_grants(&grants)?;
        let before = self
            .store()?
            .app(id)?
            .ok_or(AuthorityError::NotFound("app"))?
            .grants;
        let audit = self.audit(
            actor,
            "app.grants_publish",
            id,
            json!({"from": before, "to": grants}),
        );
        let published = self.change(|s| s.publish_grants(id, &grants, &audit))?;
        Ok(PublishedView {
            version: published.version,
            grants,
            applied: published.applied,
            requested: published.requested,
        })
    }

    /// `POST /v1/apps/{id}/webhook-secret/rotate`: the app's next webhook
    /// signing secret, in the answer this once; deliveries are signed with
    /// it from now on (those in flight too).
    pub fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<WebhookSecretView, AuthorityError> {
        if self.config.webhook_key.is_none() {
            return Err(webhooks_off());
        }
        let mut rotate = |mut app: AppRow| {
            app.webhook_secret_version += 1;
            let audit = self.audit(
                actor,
                "app.webhook_secret.rotate",
                id,
                json!({"version": app.webhook_secret_version}),
            );
            Ok((app, audit))
        };
        let app = self.change(|s| s.change_app(id, &mut rotate))?;
        Ok(WebhookSecretView {
            webhook_secret: self.webhook_secret(&app).unwrap_or_default(),
        })
    }

    /// `GET /v1/apps/{id}/deliveries`: the app's webhook deliveries,
    /// newest first.
    pub fn deliveries(
        &self,
        id: &str,
        limit: Option<u32>,
    ) -> Result<Vec<DeliveryRow>, AuthorityError> {
        let store = self.store()?;
        store.app(id)?.ok_or(AuthorityError::NotFound("app"))?;
        Ok(store.deliveries(id, limit.unwrap_or(100).clamp(1, 1000))?)
    }

    /// `POST /v1/apps/{id}/deliveries/{d}/retry`: sends a delivery again
    /// (whatever its status) as soon as a worker takes it, with a fresh
    /// 24 hours of retries.
    pub fn retry_delivery(
        &self,
        actor: &Actor,
        id: &str,
        delivery: &str,
    ) -> Result<DeliveryRow, AuthorityError> {
        self.store()?
            .app(id)?
            .ok_or(AuthorityError::NotFound("app"))?;
        let audit = self.audit(
            actor,
            "app.delivery.retry",
            id,
            json!({"delivery": delivery}),
        );
        self.change(|s| s.retry_delivery(id, delivery, &audit))
    }

    /// The app's signing secret, if webhooks are on.
    fn webhook_secret(&self, app: &AppRow) -> Option<String> {
        let key = self.config.webhook_key.as_ref()?;
        Some(key.secret(&app.id, app.webhook_secret_version).text())
    }

    /// A webhook URL needs webhooks on.
    fn check_webhooks_on(&self, app: &AppRow) -> Result<(), AuthorityError> {
        if app.webhook_url.is_some() && self.config.webhook_key.is_none() {
            return Err(webhooks_off());
        }
        Ok(())
    }

    /// `DELETE /v1/apps/{id}`: only an app whose installations are all
    /// UNINSTALLED (409 `app_installed` naming them otherwise).
    pub fn delete_app(&self, actor: &Actor, id: &str) -> Result<(), AuthorityError> {
        let audit = self.audit(actor, "app.delete", id, json!({}));
        let live = self.change(|s| s.delete_app(id, audit.at, &audit))?;
        if live.is_empty() {
            return Ok(());
        }
        Err(AuthorityError::Conflict {
            reason: Reason::AppInstalled,
            message: format!(
                "the app is installed ({}); uninstall it first",
                live.join(", ")
            ),
        })
    }
}

fn webhooks_off() -> AuthorityError {
    AuthorityError::BadRequest(
        "webhooks are off on this server: give every node the same --webhook-key-file".into(),
    )
}

/// Whether `presented` is one of `app`'s client secrets at `now`: its
/// current one, or the one a rotation replaced while its grace lasts. Both
/// are compared, in constant time, whatever the first comparison says.
pub(super) fn client_secret_matches(app: &AppRow, presented: &SecretHash, now: i64) -> bool {
    let current = app.client_secret_hash.ct_eq(presented);
    let previous = app
        .previous_secret
        .map_or(SecretHash::from_bytes([0; 32]), |p| p.hash)
        .ct_eq(presented);
    let previous_live = app.previous_secret.is_some_and(|p| now < p.expires_at);
    current | (previous & previous_live)
}

/// The audit detail of an edit: each field that changed, `{from, to}`.
fn edits(before: &AppRow, after: &AppRow) -> serde_json::Value {
    let mut changed = serde_json::Map::new();
    let mut field = |name: &str, from: serde_json::Value, to: serde_json::Value| {
        if from != to {
            changed.insert(name.into(), json!({"from": from, "to": to}));
        }
    };
    field("name", json!(before.name), json!(after.name));
    field("setupUrl", json!(before.setup_url), json!(after.setup_url));
    field("url", json!(before.url), json!(after.url));
    field("origins", json!(before.origins), json!(after.origins));
    field(
        "webhookUrl",
        json!(before.webhook_url),
        json!(after.webhook_url),
    );
    field(
        "redirectUris",
        json!(before.redirect_uris),
        json!(after.redirect_uris),
    );
    field("elements", json!(before.elements), json!(after.elements));
    serde_json::Value::Object(changed)
}
