//! Installations: an app installed into an environment, its one-time setup
//! code (and a new one for a PENDING installation whose code expired), its
//! status and config, readable and writable by its own tokens, and its
//! uninstall: tokens revoked, codes spent, config erased, the row kept as
//! UNINSTALLED for the audit, never changed again.

use serde::Deserialize;
use serde_json::json;
use verifier_core::{Installation, InstallationStatus, InstallationUpdate, OpaqueSecret};

use super::Authority;
use super::caller::{Actor, Caller};
use super::error::{AuthorityError, conflict, uninstalled};
use super::views::{Installed, SetupCodeView};
use crate::random;
use crate::storage::SetupCodeRow;

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
            installation,
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
        let installation = self
            .store()?
            .installation(id)?
            .ok_or(AuthorityError::NotFound("installation"))?;
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

    /// `GET /v1/installations/{i}`.
    pub fn installation(&self, caller: &Caller, id: &str) -> Result<Installation, AuthorityError> {
        self.require_installation_access(caller, id)?;
        self.store()?
            .installation(id)?
            .ok_or(AuthorityError::NotFound("installation"))
    }

    /// `PATCH /v1/installations/{i}`. DISABLED revokes the installation's
    /// tokens and unredeemed codes in the same transaction.
    pub fn update_installation(
        &self,
        caller: &Caller,
        id: &str,
        update: InstallationUpdate,
    ) -> Result<Installation, AuthorityError> {
        self.require_installation_access(caller, id)?;
        let mut installation = self
            .store()?
            .installation(id)?
            .ok_or(AuthorityError::NotFound("installation"))?;
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
        Ok(installation)
    }

    /// `DELETE /v1/installations/{i}`: uninstalls, in one transaction —
    /// every token of the installation revoked (in the feed, so replicas
    /// and edges refuse them within the revocation bound), every
    /// outstanding setup code spent, the config erased, the status
    /// UNINSTALLED. Uninstalling an uninstalled installation changes
    /// nothing.
    pub fn uninstall(&self, actor: &Actor, id: &str) -> Result<Installation, AuthorityError> {
        let mut installation = self
            .store()?
            .installation(id)?
            .ok_or(AuthorityError::NotFound("installation"))?;
        let before = installation.status;
        if before == InstallationStatus::Uninstalled {
            return Ok(installation);
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
        Ok(installation)
    }

    /// `GET /v1/installations`: every installation.
    pub fn installations(&self) -> Result<Vec<Installation>, AuthorityError> {
        Ok(self.store()?.installations()?)
    }
}
