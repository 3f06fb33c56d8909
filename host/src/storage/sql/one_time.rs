//! The one-time credentials of a connection, an authorization code or a
//! refresh token: redeemed once under the connection's lock, and a second
//! presentation ends the connection.

use super::rows::*;
use super::statements::*;
use super::{Conn, Param};
use crate::storage::{
    AuditEntry, ConnectionRow, NewTokens, Redeemed, RefreshTokenRow, StoreError, TokenRow,
};

/// A one-time credential of a connection (an authorization code or a
/// refresh token) as read under its row lock.
pub(super) struct OneTime<'a> {
    pub(super) connection_id: &'a str,
    pub(super) used_at: Option<i64>,
    pub(super) expires_at: i64,
    /// The statement that marks it used, by hash and time.
    pub(super) spend: &'static str,
    /// Whether the access token it replaces ends with it (a refresh).
    pub(super) ends_old_token: bool,
}

/// Redeems `once` (its row locked by the caller) under its connection's
/// lock: an ended connection is `Invalid`; a second presentation ends the
/// connection and its token (`Replayed`); an expired one is `Invalid`;
/// otherwise it is spent and the grant's tokens are issued.
pub(super) fn redeem_once(
    c: &mut dyn Conn,
    once: &OneTime<'_>,
    hash: &[u8],
    now: i64,
    grant: &NewTokens<'_>,
) -> Result<Redeemed, StoreError> {
    let found = one(
        c,
        CONNECTION_FOR_UPDATE,
        params![once.connection_id],
        connection_from,
    )?;
    let Some(connection) = found.filter(|n| n.revoked_at.is_none()) else {
        return Ok(Redeemed::Invalid);
    };
    if once.used_at.is_some() {
        end_connection(c, &connection, now)?;
        insert_audit(c, grant.replayed)?;
        return Ok(Redeemed::Replayed(connection));
    }
    if once.expires_at <= now {
        return Ok(Redeemed::Invalid);
    }
    c.execute(once.spend, params![hash, now])?;
    if once.ends_old_token
        && let Some(old) = &connection.token_id
    {
        c.execute(REVOKE_TOKEN, params![&old.as_bytes()[..]])?;
        token_changed(c, old)?;
    }
    issue(c, connection, grant.token, grant.refresh, grant.issued).map(Redeemed::Issued)
}

/// Stores a connection's new access and refresh tokens, and `audit`.
fn issue(
    c: &mut dyn Conn,
    mut connection: ConnectionRow,
    token: &TokenRow,
    refresh: &RefreshTokenRow,
    audit: &AuditEntry,
) -> Result<ConnectionRow, StoreError> {
    insert_token(c, token)?;
    insert_refresh(c, refresh)?;
    let id = token.record.token_id;
    c.execute(
        SET_CONNECTION_TOKEN,
        params![&connection.id, &id.as_bytes()[..]],
    )?;
    insert_audit(c, audit)?;
    connection.token_id = Some(id);
    Ok(connection)
}
