//! Installations: an app installed into an environment, its one-time setup
//! code (and a new one for a PENDING installation whose code expired), its
//! status and config, readable and writable by its own tokens, and its
//! uninstall: tokens revoked, codes spent, config erased, the row kept as
//! UNINSTALLED for the audit, never changed again; and the consent its
//! environment gives (or refuses) to the app's wider grants.
//!
//! Grants are versioned per app (`apps.rs` publishes them). An
//! installation approves the version current when it is made; a later
//! version no wider than that applies at once, a wider one is "update
//! requested" until an admin approves it (the installation and its live
//! tokens move in one transaction, through the feed to replicas and edges)
//! or declines it (nothing moves; a later version asks again).

use serde::Deserialize;
use serde_json::json;
use verifier_core::{Installation, InstallationStatus, InstallationUpdate, OpaqueSecret};

use super::Authority;
use super::caller::{Actor, Caller};
use super::error::{AuthorityError, conflict, uninstalled};
use super::roles::Need;
use super::views::{InstallationView, Installed, SetupCodeView};
use crate::random;
use crate::storage::{InstallationRow, SetupCodeRow};

/// Body of `POST /v1/installations/{i}/grants/approve` and `…/decline`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantsDecision {
    /// The requested version decided on; when given and no longer the one
    /// requested (a newer one was published meanwhile), 409 and nothing
    /// changes.
    #[serde(default, deserialize_with = "super::validation::optional_whole_number")]
    pub version: Option<i64>,
}

/// Body of `POST /v1/environments/{e}/installations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewInstallation {
    /// The app to install.
    pub app_id: String,
}

fn setup_url(base: &str, code: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}code={code}")
}

impl Authority {
    /// `POST /v1/environments/{e}/installations`: PENDING, with a setup code.
    pub fn install(
        &self,
        actor: &Actor,
        env_id: &str,
        body: NewInstallation,
    ) -> Result<Installed, AuthorityError> {
        self.store()?
            .environment(env_id)?
            .ok_or(AuthorityError::NotFound("environment"))?;
        let app = self
            .store()?
            .app(&body.app_id)?
            .ok_or(AuthorityError::NotFound("app"))?;
        let installation = Installation {
            id: random::id("in_")?,
            app_id: app.id.clone(),
            environment_id: env_id.into(),
            status: InstallationStatus::Pending,
            config: json!({}),
        };
        let (code, row) = self.new_setup_code(&installation)?;
        let audit = self.audit(
            actor,
            "installation.create",
            &installation.id,
            json!({"app": app.id, "environment": env_id}),
        );
        self.change(|s| s.create_installation(&installation, &row, &audit))?;
        Ok(Installed {
            setup_url: setup_url(&app.setup_url, code.text()),
            setup_code: code.text().into(),
            expires_at: row.expires_at,
            installation: self.stored(&installation.id)?.into(),
        })
    }

    fn new_setup_code(
        &self,
        installation: &Installation,
    ) -> Result<(OpaqueSecret, SetupCodeRow), AuthorityError> {
        let code = OpaqueSecret::from_random(random::secret_bytes()?);
        let row = SetupCodeRow {
            code_hash: code.hash(),
            installation_id: installation.id.clone(),
            app_id: installation.app_id.clone(),
            expires_at: self.now() + self.config.setup_code_ttl,
        };
        Ok((code, row))
    }

    /// `POST /v1/installations/{i}/setup-code`: a fresh code for a PENDING
    /// installation (the old one stays valid until it expires).
    pub fn new_code(&self, actor: &Actor, id: &str) -> Result<SetupCodeView, AuthorityError> {
        let installation = self.stored(id)?.installation;
        if installation.status != InstallationStatus::Pending {
            return Err(conflict("only a PENDING installation takes a setup code"));
        }
        let app = self
            .store()?
            .app(&installation.app_id)?
            .ok_or(AuthorityError::NotFound("app"))?;
        let (code, row) = self.new_setup_code(&installation)?;
        let audit = self.audit(actor, "installation.setup_code", id, json!({}));
        self.change(|s| {
            s.update_installation(
                &installation,
                installation.status,
                false,
                Some(&row),
                &audit,
            )
        })?;
        Ok(SetupCodeView {
            setup_url: setup_url(&app.setup_url, code.text()),
            setup_code: code.text().into(),
            expires_at: row.expires_at,
        })
    }

    /// An installation as stored.
    pub(super) fn stored(&self, id: &str) -> Result<InstallationRow, AuthorityError> {
        self.store()?
            .installation(id)?
            .ok_or(AuthorityError::NotFound("installation"))
    }

    /// `GET /v1/installations/{i}`.
    pub fn installation(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<InstallationView, AuthorityError> {
        self.require_installation_access(caller, id, Need::View)?;
        Ok(self.stored(id)?.into())
    }

    /// `PATCH /v1/installations/{i}`. DISABLED revokes the installation's
    /// tokens and unredeemed codes in the same transaction.
    pub fn update_installation(
        &self,
        caller: &Caller,
        id: &str,
        update: InstallationUpdate,
    ) -> Result<InstallationView, AuthorityError> {
        self.require_installation_access(caller, id, Need::Develop)?;
        let mut installation = self.stored(id)?.installation;
        let before = installation.status;
        if before == InstallationStatus::Uninstalled {
            return Err(uninstalled());
        }
        if update.status == Some(InstallationStatus::Uninstalled) {
            return Err(AuthorityError::BadRequest(
                "uninstalling is DELETE /v1/installations/{id}".into(),
            ));
        }
        if let Some(status) = update.status {
            installation.status = before
                .transition(status)
                .map_err(|e| conflict(e.to_string()))?;
        }
        if let Some(config) = update.config {
            if !config.is_object() {
                return Err(AuthorityError::BadRequest(
                    "config must be a JSON object".into(),
                ));
            }
            if config.to_string().len() > 64 * 1024 {
                return Err(AuthorityError::BadRequest(
                    "config is larger than 64 KiB".into(),
                ));
            }
            installation.config = config;
        }
        let disabling = before != InstallationStatus::Disabled
            && installation.status == InstallationStatus::Disabled;
        let audit = self.audit(
            &caller.actor,
            "installation.update",
            id,
            json!({"from": before.as_str(), "to": installation.status.as_str()}),
        );
        self.change(|s| s.update_installation(&installation, before, disabling, None, &audit))?;
        Ok(self.stored(id)?.into())
    }

    /// `DELETE /v1/installations/{i}`: uninstalls, in one transaction —
    /// every token of the installation revoked (in the feed, so replicas
    /// and edges refuse them within the revocation bound), every
    /// outstanding setup code spent, the config erased, the status
    /// UNINSTALLED. Uninstalling an uninstalled installation changes
    /// nothing.
    pub fn uninstall(&self, actor: &Actor, id: &str) -> Result<InstallationView, AuthorityError> {
        let row = self.stored(id)?;
        let mut installation = row.installation.clone();
        let before = installation.status;
        if before == InstallationStatus::Uninstalled {
            return Ok(row.into());
        }
        installation.status = InstallationStatus::Uninstalled;
        installation.config = json!({});
        let audit = self.audit(
            actor,
            "installation.uninstall",
            id,
            json!({"from": before.as_str(), "app": installation.app_id}),
        );
        self.change(|s| s.update_installation(&installation, before, true, None, &audit))?;
        Ok(self.stored(id)?.into())
    }

    /// `GET /v1/installations`: every installation.
    pub fn installations(&self, caller: &Caller) -> Result<Vec<InstallationView>, AuthorityError> {
        let environments = self.environment_projects()?;
        Ok(self
            .store()?
            .installations()?
            .into_iter()
            .filter(|i| {
                let project = environments.get(&i.installation.environment_id);
                caller.sees(project.map(String::as_str))
            })
            .map(InstallationView::from)
            .collect())
    }

    /// The origins of the apps installed somewhere (an installation that is
    /// not UNINSTALLED): what the studio may frame (its CSP `frame-src`).
    pub fn installed_app_origins(&self) -> Result<Vec<String>, AuthorityError> {
        let store = self.store()?;
        let installed: std::collections::BTreeSet<String> = store
            .installations()?
            .into_iter()
            .filter(|i| i.installation.status != InstallationStatus::Uninstalled)
            .map(|i| i.installation.app_id)
            .collect();
        let mut origins: Vec<String> = store
            .apps()?
            .into_iter()
            .filter(|a| installed.contains(&a.id))
            .flat_map(|a| a.origins)
            .collect();
        origins.sort();
        origins.dedup();
        Ok(origins)
    }

    /// `POST /v1/installations/{i}/grants/approve`: the installation and its
    /// live tokens move to the app's requested grants at once. `version`,
    /// when given, must be the version requested (what the approver saw).
    pub fn approve_grants(
        &self,
        actor: &Actor,
        id: &str,
        body: GrantsDecision,
    ) -> Result<InstallationView, AuthorityError> {
        self.decide_grants(actor, id, body, true)
    }

    /// `POST /v1/installations/{i}/grants/decline`: the installation keeps
    /// its grants; the requested version stops being requested.
    pub fn decline_grants(
        &self,
        actor: &Actor,
        id: &str,
        body: GrantsDecision,
    ) -> Result<InstallationView, AuthorityError> {
        self.decide_grants(actor, id, body, false)
    }

    fn decide_grants(
        &self,
        actor: &Actor,
        id: &str,
        body: GrantsDecision,
        approve: bool,
    ) -> Result<InstallationView, AuthorityError> {
        let row = self.stored(id)?;
        if row.installation.status == InstallationStatus::Uninstalled {
            return Err(uninstalled());
        }
        let Some(requested) = row.requested else {
            return Err(conflict("no grant update is requested"));
        };
        if body.version.is_some_and(|v| v != requested.version) {
            return Err(conflict(format!(
                "version {} is requested, not {}",
                requested.version,
                body.version.unwrap_or_default()
            )));
        }
        let (action, detail) = if approve {
            (
                "installation.grants_approve",
                json!({"from": row.grants, "to": requested.grants,
                       "fromVersion": row.grants_version, "version": requested.version}),
            )
        } else {
            (
                "installation.grants_decline",
                json!({"kept": row.grants, "declined": requested.grants,
                       "keptVersion": row.grants_version, "version": requested.version}),
            )
        };
        let audit = self.audit(actor, action, id, detail);
        self.change(|s| {
            if approve {
                s.approve_grants(id, requested.version, &audit)
            } else {
                s.decline_grants(id, requested.version, &audit)
            }
        })?;
        Ok(self.stored(id)?.into())
    }
}
