//! [`Records`] and [`Store`] over a [`Database`]: each operation's
//! statements, in one transaction where it writes.

use std::collections::HashMap;
use std::sync::Arc;

use verifier_core::{
    Grant, Grants, Installation, InstallationStatus, Model, SecretHash, TokenId, TokenRecord,
};

use super::exchange::{CodeRead, Exchange, NewToken, redeem_read};
use super::one_time::{OneTime, redeem_once};
use super::rows::*;
use super::rules::{applies_without_consent, narrowed_audit, spends_codes};
use super::statements::*;
use super::{Conn, Database, Param, SqlStore};
use crate::storage::{
    AppRow, Attempt, AuditEntry, AuditEvent, AuditFilter, Change, ConnectionRow, DeliveryRow,
    DueDelivery, EnvironmentRow, ExchangeContext, Exchanged, InstallationRow, InvitationRow,
    NewTokens, OAuthCodeRow, Project, Published, Records, Redeem, Redeemed, RefreshTokenRow,
    RoleGrant, SetupCodeRow, SignInRow, Store, StoreError, StudioSessionRow, TokenRow, Touched,
    UserRow,
};

impl<D: Database> Records for SqlStore<D> {
    fn is_empty(&self) -> Result<bool, StoreError> {
        let n = self
            .db
            .read(|c| one(c, COUNT_TOKENS, params![], |r| r.int(0)))?;
        Ok(n.unwrap_or(0) == 0)
    }

    fn token(&self, id: &TokenId) -> Result<Option<Arc<TokenRow>>, StoreError> {
        self.db.read(|c| {
            one(c, TOKEN_BY_ID, params![&id.as_bytes()[..]], |r| {
                token_from(r, 0).map(Arc::new)
            })
        })
    }

    fn environment(&self, id: &str) -> Result<Option<Arc<EnvironmentRow>>, StoreError> {
        self.db.read(|c| {
            one(c, ENVIRONMENT_BY_ID, params![id], |r| {
                environment_from(r, 0).map(Arc::new)
            })
        })
    }

    fn last_change(&self) -> Result<i64, StoreError> {
        self.db.place_changes()?;
        let seq = self
            .db
            .read(|c| one(c, LAST_CHANGE, params![], |r| r.int(0)))?;
        Ok(seq.unwrap_or(0))
    }
}

impl<D: Database> Store for SqlStore<D> {
    fn create_project(&self, p: &Project, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            c.insert(
                INSERT_PROJECT,
                params![&p.id, &p.name, p.created_at],
                "project",
            )
        })
    }

    fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        self.db
            .read(|c| one(c, PROJECT_BY_ID, params![id], project_from))
    }

    fn create_environment(&self, e: &EnvironmentRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            if one(c, PROJECT_BY_ID, params![&e.project_id], project_from)?.is_none() {
                return Err(StoreError::NotFound("project"));
            }
            c.insert(
                INSERT_ENVIRONMENT,
                params![
                    &e.id,
                    &e.project_id,
                    &e.name,
                    &e.default_stage,
                    serde_json::to_string(&e.public_grants)?.as_str(),
                    e.created_at,
                    serde_json::to_string(&e.models)?.as_str()
                ],
                "environment",
            )?;
            environment_changed(c, &e.id)
        })
    }

    fn set_public_grants(
        &self,
        id: &str,
        grants: &[Grant],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            let grants = serde_json::to_string(grants)?;
            if c.execute(SET_PUBLIC_GRANTS, params![id, grants.as_str()])? == 0 {
                return Err(StoreError::NotFound("environment"));
            }
            environment_changed(c, id)
        })
    }

    fn change_models(
        &self,
        id: &str,
        change: &mut dyn FnMut(Vec<Model>) -> Result<Vec<Model>, StoreError>,
        audit: &AuditEntry,
    ) -> Result<Vec<Model>, StoreError> {
        self.write(audit, |c| {
            let stored = one(c, MODELS_FOR_UPDATE, params![id], |row| row.text(0))?
                .ok_or(StoreError::NotFound("environment"))?;
            let models = change(serde_json::from_str(&stored)?)?;
            c.execute(
                SET_MODELS,
                params![id, serde_json::to_string(&models)?.as_str()],
            )?;
            environment_changed(c, id)?;
            Ok(models)
        })
    }

    fn create_app(&self, a: &AppRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| with_app(a, |p| c.insert(INSERT_APP, p, "app")))
    }

    fn app(&self, id: &str) -> Result<Option<AppRow>, StoreError> {
        self.db.read(|c| one(c, APP_BY_ID, params![id], app_from))
    }

    fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRow>, StoreError> {
        self.db
            .read(|c| one(c, APP_BY_CLIENT_ID, params![client_id], app_from))
    }

    fn change_app(
        &self,
        id: &str,
        change: &mut dyn FnMut(AppRow) -> Result<(AppRow, AuditEntry), StoreError>,
    ) -> Result<AppRow, StoreError> {
        self.db.write(|c| {
            let stored = one(c, APP_FOR_UPDATE, params![id], app_from)?
                .ok_or(StoreError::NotFound("app"))?;
            let kept = (
                stored.id.clone(),
                stored.client_id.clone(),
                stored.created_at,
            );
            let (mut app, audit) = change(stored)?;
            (app.id, app.client_id, app.created_at) = kept;
            with_app(&app, |p| c.execute(UPDATE_APP, p))?;
            insert_audit(c, &audit)?;
            Ok(app)
        })
    }

    fn delete_app(&self, id: &str, at: i64, audit: &AuditEntry) -> Result<Vec<String>, StoreError> {
        self.db.write(|c| {
            if one(c, APP_FOR_UPDATE, params![id], app_from)?.is_none() {
                return Err(StoreError::NotFound("app"));
            }
            let live = all(c, LIVE_INSTALLATIONS_OF_APP, params![id], |r| r.text(0))?;
            if live.is_empty() {
                c.execute(DELETE_APP, params![id, at])?;
                insert_audit(c, audit)?;
            }
            Ok(live)
        })
    }

    fn create_installation(
        &self,
        i: &Installation,
        code: &SetupCodeRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            // The app's row locked: a concurrent delete waits for this
            // installation (and then sees it), or this finds the app gone.
            if one(c, APP_FOR_UPDATE, params![&i.app_id], |r| r.text(0))?.is_none() {
                return Err(StoreError::NotFound("app"));
            }
            c.insert(
                INSERT_INSTALLATION,
                params![
                    &i.id,
                    &i.app_id,
                    &i.environment_id,
                    i.status.as_str(),
                    i.config.to_string().as_str(),
                    audit.at
                ],
                "installation",
            )?;
            insert_code(c, code)
        })
    }

    fn installation(&self, id: &str) -> Result<Option<InstallationRow>, StoreError> {
        self.db
            .read(|c| one(c, INSTALLATION_BY_ID, params![id], installation_from))
    }

    fn update_installation(
        &self,
        i: &Installation,
        from: InstallationStatus,
        revoke_tokens: bool,
        new_code: Option<&SetupCodeRow>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            let config = i.config.to_string();
            let changed = c.execute(
                UPDATE_INSTALLATION,
                params![
                    &i.id,
                    i.status.as_str(),
                    config.as_str(),
                    audit.at,
                    from.as_str()
                ],
            )?;
            if changed == 0 {
                let exists = one(c, INSTALLATION_EXISTS, params![&i.id], |r| r.int(0))?;
                return Err(match exists {
                    Some(n) if n > 0 => {
                        StoreError::Conflict("a concurrent change of this installation")
                    }
                    _ => StoreError::NotFound("installation"),
                });
            }
            if revoke_tokens {
                c.execute(REVOKE_INSTALLATION_TOKENS, params![&i.id])?;
                c.execute(INSTALLATION_TOKENS_CHANGED, params![&i.id])?;
                c.appended_to_feed()?;
            }
            if spends_codes(i.status, revoke_tokens) {
                c.execute(SPEND_INSTALLATION_CODES, params![&i.id, audit.at])?;
            }
            if let Some(code) = new_code {
                insert_code(c, code)?;
            }
            Ok(())
        })
    }

    fn exchange_setup_code(
        &self,
        client_id: &str,
        code_hash: &SecretHash,
        now: i64,
        decide: &mut dyn FnMut(&ExchangeContext) -> Option<(TokenRow, AuditEntry)>,
    ) -> Result<Exchanged, StoreError> {
        let hash = &code_hash.as_bytes()[..];
        let (app, code) = ([Param::OptText(Some(client_id))], [Param::Bytes(hash)]);
        let reads = CodeRead::queries(&app, &code);
        // Codes are locked in the order of their hashes, where exchanges
        // share a transaction.
        self.db
            .write_in_two(hash, &reads, &mut Exchange::new(hash, now, decide))
    }

    fn redeem_setup_code(
        &self,
        code_hash: &SecretHash,
        app_id: &str,
        now: i64,
        token: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<Redeem, StoreError> {
        let hash = &code_hash.as_bytes()[..];
        self.db.write(|c| {
            let read = CodeRead::read(c, None, hash)?;
            redeem_read(c, hash, &read, app_id, now, token, audit)
        })
    }

    fn insert_token(&self, token: &TokenRow, audit: &AuditEntry) -> Result<(), StoreError> {
        // A token of an installation reads the installation's grants under
        // its lock; tokens of one installation queue in its order.
        let installation = token.record.installation_id.as_deref().unwrap_or("");
        let param = [Param::Text(installation)];
        let reads = [(INSTALLATION_TOKEN_GRANTS, &param[..])];
        let reads = if installation.is_empty() {
            &reads[..0]
        } else {
            &reads[..]
        };
        self.db.write_in_two(
            installation.as_bytes(),
            reads,
            &mut NewToken::new(token, audit),
        )
    }

    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.db
            .read(|c| all(c, TOKENS_NEWEST_FIRST, params![], |r| token_from(r, 0)))
    }

    fn token_records_after(
        &self,
        after: Option<&TokenId>,
        limit: u32,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let after: &[u8] = after.map_or(&[], |id| &id.as_bytes()[..]);
        self.db.read(|c| {
            // The tokens of one app carry one grant list: parse each
            // distinct list once and share it. Neighbours mostly carry the
            // same one, so the last is compared before the table is hashed.
            let mut lists: HashMap<String, Arc<Grants>> = HashMap::new();
            let mut last: Option<(String, Arc<Grants>)> = None;
            all(c, TOKENS_AFTER_ID, params![after, i64::from(limit)], |r| {
                let row = token_with(r, 0, |text| {
                    if let Some((last_text, list)) = &last
                        && *last_text == text
                    {
                        return Ok(Arc::clone(list));
                    }
                    let list = match lists.get(&text) {
                        Some(list) => Arc::clone(list),
                        None => {
                            let list = Arc::new(serde_json::from_str::<Grants>(&text)?);
                            lists.insert(text.clone(), Arc::clone(&list));
                            list
                        }
                    };
                    last = Some((text, Arc::clone(&list)));
                    Ok(list)
                })?;
                Ok(row.record)
            })
        })
    }

    fn revoke_token(&self, id: &TokenId, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            if c.execute(REVOKE_TOKEN, params![&id.as_bytes()[..]])? == 0 {
                return Err(StoreError::NotFound("token"));
            }
            token_changed(c, id)
        })
    }

    fn rotate_token(
        &self,
        old: &TokenId,
        old_expires_at: Option<i64>,
        new: &TokenRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            let (old_id, new_id) = (&old.as_bytes()[..], &new.record.token_id.as_bytes()[..]);
            let changed = match old_expires_at {
                None => c.execute(ROTATE_NOW, params![old_id, new_id])?,
                Some(at) => c.execute(ROTATE_WITH_GRACE, params![old_id, at, new_id])?,
            };
            if changed == 0 {
                // A token is rotated once: a second rotation is a conflict,
                // not a missing token.
                let rotated = one(c, ROTATED_BEFORE, params![old_id], |r| r.int(0))?;
                return Err(match rotated {
                    Some(n) if n > 0 => StoreError::Conflict("a successor of this token"),
                    _ => StoreError::NotFound("token"),
                });
            }
            token_changed(c, old)?;
            insert_token(c, new)
        })
    }

    fn audit_matching(
        &self,
        after: i64,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let params = params![
            after,
            i64::from(limit),
            filter.action.as_deref(),
            filter.actor.as_deref(),
            filter.target.as_deref(),
            filter.user.as_deref()
        ];
        self.db.read(|c| {
            all(c, AUDIT_MATCHING, params, |r| {
                Ok(AuditEvent {
                    seq: r.int(0)?,
                    entry: AuditEntry {
                        at: r.int(1)?,
                        actor: r.text(2)?,
                        action: r.text(3)?,
                        target: r.text(4)?,
                        detail: serde_json::from_str(&r.text(5)?)?,
                    },
                })
            })
        })
    }

    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.db
            .read(|c| all(c, PROJECTS_OLDEST_FIRST, params![], project_from))
    }

    fn environments(&self) -> Result<Vec<EnvironmentRow>, StoreError> {
        self.db.read(|c| {
            all(c, ENVIRONMENTS_OLDEST_FIRST, params![], |r| {
                environment_from(r, 0)
            })
        })
    }

    fn apps(&self) -> Result<Vec<AppRow>, StoreError> {
        self.db
            .read(|c| all(c, APPS_OLDEST_FIRST, params![], app_from))
    }

    fn installations(&self) -> Result<Vec<InstallationRow>, StoreError> {
        self.db
            .read(|c| all(c, INSTALLATIONS_OLDEST_FIRST, params![], installation_from))
    }

    fn publish_grants(
        &self,
        app_id: &str,
        grants: &[Grant],
        audit: &AuditEntry,
    ) -> Result<Published, StoreError> {
        self.write(audit, |c| {
            if one(c, APP_FOR_UPDATE, params![app_id], |r| r.text(0))?.is_none() {
                return Err(StoreError::NotFound("app"));
            }
            let text = serde_json::to_string(grants)?;
            c.execute(PUBLISH_APP_GRANTS, params![app_id, text.as_str()])?;
            let version = one(c, APP_GRANTS_VERSION, params![app_id], |r| r.int(0))?
                .ok_or(StoreError::NotFound("app"))?;
            let live = all(c, LIVE_INSTALLATION_GRANTS, params![app_id], |r| {
                Ok((r.text(0)?, serde_json::from_str::<Vec<Grant>>(&r.text(1)?)?))
            })?;
            let mut published = Published {
                version,
                applied: Vec::new(),
                requested: Vec::new(),
            };
            for (id, approved) in live {
                if !applies_without_consent(grants, &approved) {
                    published.requested.push(id);
                    continue;
                }
                move_grants(c, &id, grants, version, audit.at)?;
                insert_audit(c, &narrowed_audit(audit, &id, &approved, grants, version))?;
                published.applied.push(id);
            }
            Ok(published)
        })
    }

    fn approve_grants(&self, id: &str, version: i64, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            let grants = pending_grants(c, id, version)?;
            move_grants(c, id, &grants, version, audit.at)
        })
    }

    fn decline_grants(&self, id: &str, version: i64, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            pending_grants(c, id, version)?;
            c.execute(DECLINE_GRANTS, params![id, version, audit.at])?;
            Ok(())
        })
    }

    fn due_deliveries(&self, now_ms: i64, limit: u32) -> Result<Vec<DueDelivery>, StoreError> {
        self.db.read(|c| {
            all(c, DUE_DELIVERIES, params![now_ms, i64::from(limit)], |r| {
                Ok(DueDelivery {
                    delivery: delivery_from(r, 0)?,
                    url: r.opt_text(12)?,
                    secret_version: r.int(13)?,
                })
            })
        })
    }

    fn claim_delivery(&self, id: &str, now_ms: i64, until_ms: i64) -> Result<bool, StoreError> {
        self.db
            .write(|c| Ok(c.execute(CLAIM_DELIVERY, params![id, now_ms, until_ms])? == 1))
    }

    fn record_attempt(
        &self,
        id: &str,
        attempt: &Attempt,
        now_ms: i64,
        give_up_ms: i64,
    ) -> Result<(), StoreError> {
        let (status, answered, error, next, delivered) = match attempt {
            Attempt::Delivered { status } => ("delivered", Some(*status), None, 0, Some(now_ms)),
            Attempt::Failed {
                status,
                error,
                retry_at_ms,
            } => (
                if retry_at_ms.is_some() {
                    "pending"
                } else {
                    "failed"
                },
                *status,
                Some(error.as_str()),
                retry_at_ms.unwrap_or(0),
                None,
            ),
        };
        self.db.write(|c| {
            c.execute(
                RECORD_ATTEMPT,
                params![
                    id,
                    status,
                    answered.map(i64::from),
                    error,
                    next,
                    delivered,
                    give_up_ms
                ],
            )?;
            Ok(())
        })
    }

    fn deliveries(&self, app_id: &str, limit: u32) -> Result<Vec<DeliveryRow>, StoreError> {
        self.db.read(|c| {
            all(
                c,
                DELIVERIES_NEWEST_FIRST,
                params![app_id, i64::from(limit)],
                |r| delivery_from(r, 0),
            )
        })
    }

    fn retry_delivery(
        &self,
        app_id: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<DeliveryRow, StoreError> {
        self.write(audit, |c| {
            if c.execute(RETRY_DELIVERY, params![app_id, id])? == 0 {
                return Err(StoreError::NotFound("delivery"));
            }
            one(c, DELIVERY_OF_APP, params![app_id, id], |r| {
                delivery_from(r, 0)
            })?
            .ok_or(StoreError::NotFound("delivery"))
        })
    }

    fn sign_in_user(&self, new: &UserRow, audit: &AuditEntry) -> Result<UserRow, StoreError> {
        self.db.write(|c| {
            let found = one(
                c,
                USER_BY_SUBJECT,
                params![&new.issuer, &new.subject],
                user_from,
            )?;
            match found {
                Some(mut user) => {
                    if (&user.email, &user.name) != (&new.email, &new.name) {
                        c.execute(
                            UPDATE_USER_PROFILE,
                            params![&user.id, &new.email, &new.name],
                        )?;
                        user.email.clone_from(&new.email);
                        user.name.clone_from(&new.name);
                    }
                    Ok(user)
                }
                None => {
                    c.insert(
                        INSERT_USER,
                        params![
                            &new.id,
                            &new.issuer,
                            &new.subject,
                            &new.email,
                            &new.name,
                            new.created_at
                        ],
                        "user",
                    )?;
                    insert_audit(c, audit)?;
                    Ok(new.clone())
                }
            }
        })
    }

    fn user(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        self.db.read(|c| one(c, USER_BY_ID, params![id], user_from))
    }

    fn user_roles(&self, id: &str) -> Result<Vec<RoleGrant>, StoreError> {
        self.db.read(|c| {
            all(c, USER_ROLES, params![id], |r| {
                Ok(RoleGrant {
                    project_id: r.text(0)?,
                    role: r.text(1)?,
                })
            })
        })
    }

    fn has_owner(&self) -> Result<bool, StoreError> {
        let n = self
            .db
            .read(|c| one(c, OWNER_COUNT, params![], |r| r.int(0)))?;
        Ok(n.unwrap_or(0) > 0)
    }

    fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        self.db
            .read(|c| all(c, USERS_OLDEST_FIRST, params![], user_from))
    }

    fn set_role(
        &self,
        user: &str,
        project: &str,
        role: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            if one(c, USER_BY_ID, params![user], user_from)?.is_none() {
                return Err(StoreError::NotFound("user"));
            }
            if project == "*" {
                let owners = all(c, OWNERS_FOR_UPDATE, params![], |r| r.text(0))?;
                let demotes_last =
                    owners.len() == 1 && owners.iter().any(|o| o == user) && role != Some("owner");
                if demotes_last {
                    return Err(StoreError::Conflict("the last owner"));
                }
            }
            c.execute(DELETE_ROLE, params![user, project])?;
            if let Some(role) = role {
                c.insert(INSERT_ROLE, params![user, project, role], "role")?;
            }
            Ok(())
        })
    }

    fn create_invitation(&self, i: &InvitationRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            c.insert(
                INSERT_INVITATION,
                params![
                    &i.id,
                    &i.email,
                    &i.project_id,
                    &i.role,
                    &i.invited_by,
                    i.created_at,
                    i.expires_at,
                    &i.accepted_by,
                    i.accepted_at,
                    i.revoked_at
                ],
                "invitation",
            )
        })
    }

    fn change_disabled_elements(
        &self,
        id: &str,
        change: &mut dyn FnMut(Vec<String>) -> Result<(Vec<String>, AuditEntry), StoreError>,
    ) -> Result<(), StoreError> {
        self.db.write(|c| {
            let stored = one(c, DISABLED_ELEMENTS_FOR_UPDATE, params![id], |r| {
                json_list(r.opt_text(0)?)
            })?
            .ok_or(StoreError::NotFound("installation"))?;
            let (disabled, audit) = change(stored)?;
            c.execute(SET_DISABLED_ELEMENTS, params![id, &list_json(&disabled)?])?;
            insert_audit(c, &audit)
        })
    }

    fn create_connection(
        &self,
        n: &ConnectionRow,
        code: &OAuthCodeRow,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(audit, |c| {
            c.insert(
                INSERT_CONNECTION,
                params![
                    &n.id,
                    &n.app_id,
                    &n.user_id,
                    &n.environment_id,
                    serde_json::to_string(&n.grants)?.as_str(),
                    n.created_at,
                    n.revoked_at,
                    n.token_id.as_ref().map(|t| &t.as_bytes()[..])
                ],
                "connection",
            )?;
            c.insert(
                INSERT_OAUTH_CODE,
                params![
                    &code.code_hash.as_bytes()[..],
                    &code.connection_id,
                    &code.redirect_uri,
                    &code.code_challenge,
                    code.expires_at
                ],
                "authorization code",
            )
        })
    }

    fn connection(&self, id: &str) -> Result<Option<ConnectionRow>, StoreError> {
        self.db
            .read(|c| one(c, CONNECTION_BY_ID, params![id], connection_from))
    }

    fn connections(&self) -> Result<Vec<ConnectionRow>, StoreError> {
        self.db
            .read(|c| all(c, CONNECTIONS_NEWEST_FIRST, params![], connection_from))
    }

    fn oauth_code(&self, hash: &SecretHash) -> Result<Option<OAuthCodeRow>, StoreError> {
        self.db.read(|c| {
            one(
                c,
                OAUTH_CODE,
                params![&hash.as_bytes()[..]],
                oauth_code_from,
            )
        })
    }

    fn refresh_token(&self, hash: &SecretHash) -> Result<Option<RefreshTokenRow>, StoreError> {
        self.db.read(|c| {
            one(
                c,
                REFRESH_TOKEN,
                params![&hash.as_bytes()[..]],
                refresh_from,
            )
        })
    }

    fn redeem_oauth_code(
        &self,
        hash: &SecretHash,
        now: i64,
        new: &NewTokens<'_>,
    ) -> Result<Redeemed, StoreError> {
        let hash = &hash.as_bytes()[..];
        self.db.write(|c| {
            let Some(code) = one(c, OAUTH_CODE_FOR_UPDATE, params![hash], oauth_code_from)? else {
                return Ok(Redeemed::Invalid);
            };
            let once = OneTime {
                connection_id: &code.connection_id,
                used_at: code.used_at,
                expires_at: code.expires_at,
                spend: SPEND_OAUTH_CODE,
                ends_old_token: false,
            };
            redeem_once(c, &once, hash, now, new)
        })
    }

    fn use_refresh_token(
        &self,
        hash: &SecretHash,
        now: i64,
        new: &NewTokens<'_>,
    ) -> Result<Redeemed, StoreError> {
        let hash = &hash.as_bytes()[..];
        self.db.write(|c| {
            let Some(used) = one(c, REFRESH_TOKEN_FOR_UPDATE, params![hash], refresh_from)? else {
                return Ok(Redeemed::Invalid);
            };
            let once = OneTime {
                connection_id: &used.connection_id,
                used_at: used.used_at,
                expires_at: used.expires_at,
                spend: SPEND_REFRESH_TOKEN,
                ends_old_token: true,
            };
            redeem_once(c, &once, hash, now, new)
        })
    }

    fn revoke_connection(&self, id: &str, now: i64, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            let found = one(c, CONNECTION_FOR_UPDATE, params![id], connection_from)?;
            let Some(connection) = found.filter(|n| n.revoked_at.is_none()) else {
                return Err(StoreError::NotFound("connection"));
            };
            end_connection(c, &connection, now)
        })
    }

    fn invitations(&self) -> Result<Vec<InvitationRow>, StoreError> {
        self.db
            .read(|c| all(c, INVITATIONS_NEWEST_FIRST, params![], invitation_from))
    }

    fn invitation(&self, id: &str) -> Result<Option<InvitationRow>, StoreError> {
        self.db
            .read(|c| one(c, INVITATION_BY_ID, params![id], invitation_from))
    }

    fn revoke_invitation(&self, id: &str, now: i64, audit: &AuditEntry) -> Result<(), StoreError> {
        self.write(audit, |c| {
            if c.execute(REVOKE_INVITATION, params![id, now])? == 0 {
                return Err(StoreError::NotFound("invitation"));
            }
            Ok(())
        })
    }

    fn outstanding_invitations(
        &self,
        email: &str,
        now: i64,
    ) -> Result<Vec<InvitationRow>, StoreError> {
        self.db.read(|c| {
            all(
                c,
                OUTSTANDING_INVITATIONS,
                params![email, now],
                invitation_from,
            )
        })
    }

    fn accept_invitation(
        &self,
        id: &str,
        user: &str,
        role: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.db.write(|c| {
            let Some(invitation) = one(c, INVITATION_BY_ID, params![id], invitation_from)? else {
                return Ok(false);
            };
            if c.execute(ACCEPT_INVITATION, params![id, user, now])? == 0 {
                return Ok(false);
            }
            c.execute(DELETE_ROLE, params![user, &invitation.project_id])?;
            c.insert(
                INSERT_ROLE,
                params![user, &invitation.project_id, role],
                "role",
            )?;
            insert_audit(c, audit)?;
            Ok(true)
        })
    }

    fn set_claim_code(&self, code_hash: &SecretHash, now: i64) -> Result<(), StoreError> {
        self.db.write(|c| {
            c.execute(DROP_CLAIM_CODES, params![])?;
            c.insert(
                INSERT_CLAIM_CODE,
                params![&code_hash.as_bytes()[..], now],
                "claim code",
            )
        })
    }

    fn open_studio_session(&self, session: &StudioSessionRow, now: i64) -> Result<(), StoreError> {
        self.db.write(|c| {
            c.execute(DROP_EXPIRED_SESSIONS, params![now])?;
            c.insert(
                INSERT_SESSION,
                &[
                    Param::Bytes(session.hash.as_bytes()),
                    Param::OptText(session.user_id.as_deref()),
                    Param::OptBytes(session.sealed_token.as_deref()),
                    Param::Int(session.expires_at),
                ],
                "studio session",
            )
        })
    }

    fn studio_session(
        &self,
        hash: &SecretHash,
        now: i64,
    ) -> Result<Option<StudioSessionRow>, StoreError> {
        self.db.read(|c| {
            one(c, SESSION, params![&hash.as_bytes()[..], now], |r| {
                Ok(StudioSessionRow {
                    hash: *hash,
                    user_id: r.opt_text(0)?,
                    sealed_token: r.opt_bytes(1)?,
                    expires_at: r.int(2)?,
                })
            })
        })
    }

    fn close_studio_session(&self, hash: &SecretHash) -> Result<(), StoreError> {
        self.db.write(|c| {
            c.execute(DELETE_SESSION, params![&hash.as_bytes()[..]])
                .map(drop)
        })
    }

    fn start_sign_in(&self, sign_in: &SignInRow, now: i64, keep: u32) -> Result<(), StoreError> {
        self.db.write(|c| {
            c.execute(DROP_EXPIRED_SIGN_INS, params![now])?;
            c.insert(
                INSERT_SIGN_IN,
                params![
                    &sign_in.state_hash.as_bytes()[..],
                    &sign_in.binding_hash.as_bytes()[..],
                    &sign_in.return_to,
                    sign_in.expires_at
                ],
                "sign-in",
            )?;
            c.execute(DROP_OLDEST_SIGN_INS, params![i64::from(keep)])
                .map(drop)
        })
    }

    fn take_sign_in(&self, state_hash: &SecretHash) -> Result<Option<SignInRow>, StoreError> {
        self.db.write(|c| {
            one(c, TAKE_SIGN_IN, params![&state_hash.as_bytes()[..]], |r| {
                Ok(SignInRow {
                    state_hash: *state_hash,
                    binding_hash: hash_from(r.bytes(0)?)?,
                    return_to: r.opt_text(1)?,
                    expires_at: r.int(2)?,
                })
            })
        })
    }

    fn claim_ownership(
        &self,
        code_hash: &SecretHash,
        user: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let hash = &code_hash.as_bytes()[..];
        self.db.write(|c| {
            let found = one(c, CLAIM_CODE_FOR_UPDATE, params![hash], |r| r.opt_int(0))?;
            let owned = one(c, OWNER_COUNT, params![], |r| r.int(0))?.unwrap_or(0) > 0;
            if !matches!(found, Some(None)) || owned {
                return Ok(false);
            }
            c.execute(SPEND_CLAIM_CODE, params![hash, now])?;
            c.insert(INSERT_ROLE, params![user, "*", "owner"], "role")?;
            insert_audit(c, audit)?;
            Ok(true)
        })
    }

    fn changes_after(&self, after: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        self.db.place_changes()?;
        self.db.read(|c| {
            all(
                c,
                CHANGES_AFTER,
                params![after, i64::from(limit)],
                change_from,
            )
        })
    }

    fn changes_to_forget(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<(i64, Touched)>, Vec<Touched>), StoreError> {
        let limit = i64::from(limit);
        self.db.read(|c| {
            if !self.db.places_later() {
                let placed = all(c, TOUCHED_AFTER, params![after, limit], |r| {
                    Ok((r.int(0)?, touched_from(r, 1)?))
                })?;
                return Ok((placed, Vec::new()));
            }
            let (mut placed, mut waiting) = (Vec::new(), Vec::new());
            let rows = all(c, TOUCHED_AFTER_AND_UNPLACED, params![after, limit], |r| {
                Ok((r.opt_int(0)?, touched_from(r, 1)?))
            })?;
            for (pos, touched) in rows {
                match pos {
                    Some(pos) => placed.push((pos, touched)),
                    None => waiting.push(touched),
                }
            }
            Ok((placed, waiting))
        })
    }

    fn place_changes(&self) -> Result<(), StoreError> {
        self.db.place_changes()
    }
}

/// Moves an installation and its live tokens to `grants` (`version`), the
/// tokens into the feed.
fn move_grants(
    c: &mut dyn Conn,
    id: &str,
    grants: &[Grant],
    version: i64,
    at: i64,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(grants)?;
    c.execute(
        SET_INSTALLATION_GRANTS,
        params![id, text.as_str(), version, at],
    )?;
    // Tokens acting for a person were narrowed to their role from the old
    // grants: they end (the app exchanges again), the rest move.
    let ended = c.execute(REVOKE_USER_TOKENS, params![id])?;
    c.execute(MOVE_TOKEN_GRANTS, params![id, text.as_str()])?;
    if ended > 0 {
        c.execute(INSTALLATION_TOKENS_CHANGED, params![id])?;
    } else {
        c.execute(LIVE_INSTALLATION_TOKENS_CHANGED, params![id])?;
    }
    c.appended_to_feed()
}

/// The app's grants `version` an installation may approve or decline now
/// (its row and its app's locked): `Conflict` unless `version` is the
/// app's newest and newer than the installation's, or the installation is
/// UNINSTALLED.
fn pending_grants(c: &mut dyn Conn, id: &str, version: i64) -> Result<Vec<Grant>, StoreError> {
    let found = one(c, INSTALLATION_GRANTS_FOR_UPDATE, params![id], |r| {
        Ok((r.int(1)?, r.text(2)?, r.int(3)?, r.text(4)?))
    })?;
    let (approved, newest, newest_version, status) =
        found.ok_or(StoreError::NotFound("installation"))?;
    if status_from(&status)? == InstallationStatus::Uninstalled
        || newest_version != version
        || approved >= version
    {
        return Err(StoreError::Conflict("a newer decision on these grants"));
    }
    Ok(serde_json::from_str(&newest)?)
}
