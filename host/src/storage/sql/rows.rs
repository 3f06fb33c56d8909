//! Rows read and written: decoders of each table's columns, and the
//! writes several operations share.

use std::sync::Arc;

use verifier_core::{Grants, Installation, InstallationStatus, SecretHash, TokenId, TokenRecord};

use super::rules::requested;
use super::statements::*;
use super::{Conn, Param, Row};
use crate::storage::{
    AppRow, AuditEntry, Change, Changed, ConnectionRow, DeliveryRow, EnvironmentRow, GrantsVersion,
    InstallationRow, InvitationRow, OAuthCodeRow, PreviousSecret, Project, RefreshTokenRow,
    SetupCodeRow, StoreError, TokenRow, Touched, UserRow,
};
use crate::webhooks::events::{self, Subject};

pub(super) fn hash_from(bytes: Vec<u8>) -> Result<SecretHash, StoreError> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Database("stored hash is not 32 bytes".into()))?;
    Ok(SecretHash::from_bytes(bytes))
}

/// A token from the columns of `statements::token_columns!` starting at column `at`.
pub(super) fn token_from(row: &dyn Row, at: usize) -> Result<TokenRow, StoreError> {
    token_with(row, at, |text| {
        Ok(Arc::new(serde_json::from_str::<Grants>(&text)?))
    })
}

/// [`token_from`], its grants made by `grants` from their stored JSON.
pub(super) fn token_with(
    row: &dyn Row,
    at: usize,
    grants: impl FnOnce(String) -> Result<Arc<Grants>, StoreError>,
) -> Result<TokenRow, StoreError> {
    let kind = row.text(at + 2)?;
    Ok(TokenRow {
        record: TokenRecord {
            token_id: crate::storage::stored_token_id(&row.bytes(at)?)?,
            secret_hash: hash_from(row.bytes(at + 1)?)?,
            kind: kind
                .parse()
                .map_err(|_| StoreError::Database(format!("unknown token kind {kind}")))?,
            name: row.text(at + 3)?,
            project_id: row.opt_text(at + 4)?,
            environment_id: row.opt_text(at + 5)?,
            installation_id: row.opt_text(at + 6)?,
            principal: row.opt_text(at + 7)?,
            grants: grants(row.text(at + 8)?)?,
            expires_at: row.opt_int(at + 9)?,
            revoked: row.bool(at + 10)?,
        },
        created_at: row.int(at + 11)?,
        user_id: row.opt_text(at + 12)?,
    })
}

pub(super) fn insert_token(c: &mut dyn Conn, t: &TokenRow) -> Result<(), StoreError> {
    let r = &t.record;
    c.insert(
        INSERT_TOKEN,
        params![
            &r.token_id.as_bytes()[..],
            &r.secret_hash.as_bytes()[..],
            r.kind.as_str(),
            &r.name,
            &r.project_id,
            &r.environment_id,
            &r.installation_id,
            &r.principal,
            serde_json::to_string(&r.grants)?.as_str(),
            r.expires_at,
            r.revoked,
            t.created_at,
            &t.user_id,
        ],
        "token",
    )?;
    token_changed(c, &r.token_id)
}

/// An environment from the columns of `statements::environment_columns!` starting at
/// column `at`.
pub(super) fn environment_from(row: &dyn Row, at: usize) -> Result<EnvironmentRow, StoreError> {
    Ok(EnvironmentRow {
        id: row.text(at)?,
        project_id: row.text(at + 1)?,
        name: row.text(at + 2)?,
        default_stage: row.text(at + 3)?,
        public_grants: serde_json::from_str(&row.text(at + 4)?)?,
        created_at: row.int(at + 5)?,
        models: serde_json::from_str(&row.text(at + 6)?)?,
    })
}

pub(super) fn project_from(row: &dyn Row) -> Result<Project, StoreError> {
    Ok(Project {
        id: row.text(0)?,
        name: row.text(1)?,
        created_at: row.int(2)?,
    })
}

pub(super) fn app_from(row: &dyn Row) -> Result<AppRow, StoreError> {
    Ok(AppRow {
        id: row.text(0)?,
        name: row.text(1)?,
        client_id: row.text(2)?,
        client_secret_hash: hash_from(row.bytes(3)?)?,
        setup_url: row.text(4)?,
        origins: serde_json::from_str(&row.text(5)?)?,
        grants: serde_json::from_str(&row.text(6)?)?,
        created_at: row.int(7)?,
        url: row.opt_text(8)?,
        previous_secret: match (row.opt_bytes(9)?, row.opt_int(10)?) {
            (Some(hash), Some(expires_at)) => Some(PreviousSecret {
                hash: hash_from(hash)?,
                expires_at,
            }),
            _ => None,
        },
        webhook_url: row.opt_text(11)?,
        webhook_secret_version: row.int(12)?,
        project_id: row.opt_text(13)?,
        redirect_uris: json_list(row.opt_text(14)?)?,
        elements: json_list(row.opt_text(15)?)?,
    })
}

/// Runs `write` with an app's columns as parameters, in `app_columns!`'s
/// order from `$1` (for [`INSERT_APP`] and [`UPDATE_APP`]).
pub(super) fn with_app<T>(
    a: &AppRow,
    write: impl FnOnce(&[Param<'_>]) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let origins = serde_json::to_string(&a.origins)?;
    let grants = serde_json::to_string(&a.grants)?;
    let previous = a.previous_secret.map(|p| p.hash);
    let redirect_uris = list_json(&a.redirect_uris)?;
    let elements = list_json(&a.elements)?;
    write(params![
        &a.id,
        &a.name,
        &a.client_id,
        &a.client_secret_hash.as_bytes()[..],
        &a.setup_url,
        origins.as_str(),
        grants.as_str(),
        a.created_at,
        &a.url,
        previous.as_ref().map(|h| &h.as_bytes()[..]),
        a.previous_secret.map(|p| p.expires_at),
        &a.webhook_url,
        a.webhook_secret_version,
        &a.project_id,
        &redirect_uris,
        &elements,
    ])
}

/// A delivery from the columns of `statements::delivery_columns!`
/// starting at column `at`.
pub(super) fn delivery_from(row: &dyn Row, at: usize) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        id: row.text(at)?,
        app_id: row.text(at + 1)?,
        event_type: row.text(at + 2)?,
        payload: row.text(at + 3)?,
        created_at: row.int(at + 4)?,
        status: row.text(at + 5)?,
        attempts: row.int(at + 6)?,
        next_attempt_ms: row.int(at + 7)?,
        give_up_ms: row.opt_int(at + 8)?,
        last_status: row.opt_int(at + 9)?,
        last_error: row.opt_text(at + 10)?,
        delivered_ms: row.opt_int(at + 11)?,
    })
}

pub(super) fn installation_from(row: &dyn Row) -> Result<InstallationRow, StoreError> {
    let status = row.text(3)?;
    let grants_version = row.int(6)?;
    let newest = GrantsVersion {
        version: row.int(9)?,
        grants: serde_json::from_str(&row.text(8)?)?,
    };
    Ok(InstallationRow {
        installation: Installation {
            id: row.text(0)?,
            app_id: row.text(1)?,
            environment_id: row.text(2)?,
            status: status_from(&status)?,
            config: serde_json::from_str(&row.text(4)?)?,
        },
        grants: serde_json::from_str(&row.text(5)?)?,
        grants_version,
        requested: requested(grants_version, row.opt_int(7)?, newest),
        disabled_elements: json_list(row.opt_text(10)?)?,
    })
}

/// A JSON list column: NULL is empty.
pub(super) fn json_list<T: serde::de::DeserializeOwned>(
    text: Option<String>,
) -> Result<Vec<T>, StoreError> {
    Ok(match text {
        Some(json) => serde_json::from_str(&json)?,
        None => Vec::new(),
    })
}

/// A list as its JSON column holds it: empty is NULL.
pub(super) fn list_json<T: serde::Serialize>(list: &[T]) -> Result<Option<String>, StoreError> {
    Ok(match list {
        [] => None,
        items => Some(serde_json::to_string(items)?),
    })
}

pub(super) fn status_from(status: &str) -> Result<InstallationStatus, StoreError> {
    status
        .parse()
        .map_err(|_| StoreError::Database(format!("unknown installation status {status}")))
}

pub(super) fn insert_code(c: &mut dyn Conn, code: &SetupCodeRow) -> Result<(), StoreError> {
    c.insert(
        INSERT_CODE,
        params![
            &code.code_hash.as_bytes()[..],
            &code.installation_id,
            &code.app_id,
            code.expires_at
        ],
        "setup code",
    )
}

/// Writes an audit entry and, when the change it records is a webhook
/// event ([`events::of_audit`]) of an app with a webhook URL, the event's
/// delivery into the outbox: same transaction, so an event is sent for
/// exactly the changes that happened. Its id is `msg_<audit seq>`.
pub(super) fn insert_audit(c: &mut dyn Conn, e: &AuditEntry) -> Result<(), StoreError> {
    let detail = e.detail.to_string();
    let params = params![e.at, &e.actor, &e.action, &e.target, detail.as_str()];
    let Some(event) = events::of_audit(e) else {
        return c.send(INSERT_AUDIT, params);
    };
    let seq = one(c, INSERT_AUDIT_SEQ, params, |r| r.int(0))?
        .ok_or_else(|| StoreError::Database("the audit insert answered no seq".into()))?;
    let mut data = event.data;
    let app = match event.subject {
        Subject::App(app) => {
            data["appId"] = app.into();
            app.to_owned()
        }
        Subject::Installation(id) => {
            let Some((app, env)) = one(c, EVENT_INSTALLATION, params![id], |r| {
                Ok((r.text(0)?, r.text(1)?))
            })?
            else {
                return Ok(());
            };
            data["installationId"] = id.into();
            data["appId"] = app.as_str().into();
            data["environmentId"] = env.into();
            app
        }
        Subject::Token(hex_id) => {
            let Ok(bytes) = hex::decode(hex_id) else {
                return Ok(());
            };
            let Some((kind, installation, app, env)) =
                one(c, EVENT_TOKEN, params![bytes.as_slice()], |r| {
                    Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.text(3)?))
                })?
            else {
                // Not an installation's token: no app to tell.
                return Ok(());
            };
            data["tokenId"] = hex_id.into();
            data["kind"] = kind.into();
            data["installationId"] = installation.into();
            data["appId"] = app.as_str().into();
            data["environmentId"] = env.into();
            app
        }
    };
    let id = format!("msg_{seq}");
    let body = events::payload(event.kind, e.at, data);
    c.send(
        ENQUEUE_DELIVERY,
        params![
            id.as_str(),
            app.as_str(),
            event.kind,
            body.as_str(),
            e.at,
            seq
        ],
    )
}

pub(super) fn token_changed(c: &mut dyn Conn, id: &TokenId) -> Result<(), StoreError> {
    c.send(TOKEN_CHANGED, params![&id.as_bytes()[..]])?;
    c.appended_to_feed()?;
    Ok(())
}

pub(super) fn environment_changed(c: &mut dyn Conn, id: &str) -> Result<(), StoreError> {
    c.send(ENVIRONMENT_CHANGED, params![id])?;
    c.appended_to_feed()?;
    Ok(())
}

/// The first row of `sql`, decoded.
pub(super) fn one<T>(
    c: &mut dyn Conn,
    sql: &'static str,
    params: &[Param<'_>],
    decode: impl Fn(&dyn Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut found = None;
    c.query(sql, params, &mut |row| {
        if found.is_none() {
            found = Some(decode(row)?);
        }
        Ok(())
    })?;
    Ok(found)
}

/// Every row of `sql`, decoded.
pub(super) fn all<T>(
    c: &mut dyn Conn,
    sql: &'static str,
    params: &[Param<'_>],
    mut decode: impl FnMut(&dyn Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    c.query(sql, params, &mut |row| {
        out.push(decode(row)?);
        Ok(())
    })?;
    Ok(out)
}

pub(super) fn invitation_from(row: &dyn Row) -> Result<InvitationRow, StoreError> {
    Ok(InvitationRow {
        id: row.text(0)?,
        email: row.text(1)?,
        project_id: row.text(2)?,
        role: row.text(3)?,
        invited_by: row.text(4)?,
        created_at: row.int(5)?,
        expires_at: row.int(6)?,
        accepted_by: row.opt_text(7)?,
        accepted_at: row.opt_int(8)?,
        revoked_at: row.opt_int(9)?,
    })
}

pub(super) fn user_from(row: &dyn Row) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: row.text(0)?,
        issuer: row.text(1)?,
        subject: row.text(2)?,
        email: row.opt_text(3)?,
        name: row.opt_text(4)?,
        created_at: row.int(5)?,
    })
}

pub(super) fn connection_from(row: &dyn Row) -> Result<ConnectionRow, StoreError> {
    Ok(ConnectionRow {
        id: row.text(0)?,
        app_id: row.text(1)?,
        user_id: row.text(2)?,
        environment_id: row.text(3)?,
        grants: serde_json::from_str(&row.text(4)?)?,
        created_at: row.int(5)?,
        revoked_at: row.opt_int(6)?,
        token_id: match row.opt_bytes(7)? {
            Some(bytes) => Some(crate::storage::stored_token_id(&bytes)?),
            None => None,
        },
    })
}

pub(super) fn oauth_code_from(row: &dyn Row) -> Result<OAuthCodeRow, StoreError> {
    Ok(OAuthCodeRow {
        code_hash: hash_from(row.bytes(0)?)?,
        connection_id: row.text(1)?,
        redirect_uri: row.text(2)?,
        code_challenge: row.text(3)?,
        expires_at: row.int(4)?,
        used_at: row.opt_int(5)?,
    })
}

pub(super) fn refresh_from(row: &dyn Row) -> Result<RefreshTokenRow, StoreError> {
    Ok(RefreshTokenRow {
        token_hash: hash_from(row.bytes(0)?)?,
        connection_id: row.text(1)?,
        created_at: row.int(2)?,
        expires_at: row.int(3)?,
        used_at: row.opt_int(4)?,
    })
}

pub(super) fn insert_refresh(c: &mut dyn Conn, r: &RefreshTokenRow) -> Result<(), StoreError> {
    c.insert(
        INSERT_REFRESH_TOKEN,
        params![
            &r.token_hash.as_bytes()[..],
            &r.connection_id,
            r.created_at,
            r.expires_at
        ],
        "refresh token",
    )
}

/// Ends a connection and its live access token (in the change feed).
pub(super) fn end_connection(
    c: &mut dyn Conn,
    connection: &ConnectionRow,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(REVOKE_CONNECTION, params![&connection.id, now])?;
    if let Some(token) = &connection.token_id {
        c.execute(REVOKE_TOKEN, params![&token.as_bytes()[..]])?;
        token_changed(c, token)?;
    }
    Ok(())
}

/// A row of [`CHANGES_AFTER`].
pub(super) fn change_from(r: &dyn Row) -> Result<Change, StoreError> {
    Ok(Change {
        seq: r.int(0)?,
        changed: changed_from(r)?,
    })
}

/// What a row of [`CHANGES_AFTER`] names, as it is now.
pub(super) fn changed_from(r: &dyn Row) -> Result<Changed, StoreError> {
    Ok(if r.bool(1)? {
        Changed::Token(token_from(r, 2)?.record)
    } else {
        Changed::Environment(environment_from(r, 2 + TOKEN_WIDTH)?)
    })
}

/// What a change touched, from its `token_id, environment_id` at `at`.
pub(super) fn touched_from(r: &dyn Row, at: usize) -> Result<Touched, StoreError> {
    match r.opt_bytes(at)? {
        Some(id) => Ok(Touched::Token(crate::storage::stored_token_id(&id)?)),
        None => Ok(Touched::Environment(r.text(at + 1)?)),
    }
}
