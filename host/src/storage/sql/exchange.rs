//! Redeeming a setup code and making a token, each in two steps
//! ([`TwoSteps`]: reads, then writes decided from them) so that PostgreSQL
//! can commit many at once: [`CodeRead`] and [`Exchange`] for
//! [`Store::exchange_setup_code`] ([`redeem_read`] is its write, shared
//! with [`Store::redeem_setup_code`]), [`NewToken`] for
//! [`Store::insert_token`]; and the grants a new token carries, its
//! installation's approved ones.

use std::sync::Arc;

use verifier_core::Grant;

use super::rows::*;
use super::rules::{FoundCode, redeem_outcome};
use super::statements::*;
use super::{Conn, Param, Row, TwoSteps, Written};
#[cfg(doc)]
use crate::storage::Store;
use crate::storage::{AuditEntry, ExchangeContext, Exchanged, Redeem, StoreError, TokenRow};

/// What redeeming a setup code reads, in one round trip where the database
/// can: the app of the client presenting it (when one does), the code's
/// context with the code's and its installation's rows locked, then the
/// installation's live APP tokens.
#[derive(Default)]
pub(super) struct CodeRead {
    /// The app and the code's installation and environment.
    context: ExchangeContext,
    /// The code, if it exists.
    code: Option<FoundCode>,
    /// Its installation's live APP tokens, which a new one replaces.
    live: Vec<Vec<u8>>,
}

impl CodeRead {
    /// The reads, in the order [`CodeRead::row`] numbers them: the app of
    /// the client `app` (`[Param::OptText]`), then the context of the code
    /// `code` (`[Param::Bytes]` of its hash) and its installation's live
    /// APP tokens.
    pub(super) fn queries<'p>(
        app: &'p [Param<'p>],
        code: &'p [Param<'p>],
    ) -> [(&'static str, &'p [Param<'p>]); 3] {
        [
            (APP_BY_CLIENT_ID, app),
            (CODE_CONTEXT_FOR_REDEEM, code),
            (LIVE_APP_TOKENS_OF_CODE, code),
        ]
    }

    /// Reads them on `c`; the app's only when a client presents the code.
    pub(super) fn read(
        c: &mut dyn Conn,
        client_id: Option<&str>,
        hash: &[u8],
    ) -> Result<Self, StoreError> {
        let mut read = CodeRead::default();
        let (app, code) = ([Param::OptText(client_id)], [Param::Bytes(hash)]);
        let queries = CodeRead::queries(&app, &code);
        let skip = usize::from(client_id.is_none());
        c.query_each(&queries[skip..], &mut |query, r| read.row(query + skip, r))?;
        Ok(read)
    }

    /// Takes a row of the `query`th of [`CodeRead::queries`].
    fn row(&mut self, query: usize, r: &dyn Row) -> Result<(), StoreError> {
        match query {
            0 if self.context.app.is_none() => self.context.app = Some(app_from(r)?),
            1 if self.context.code.is_none() => {
                let environment = match r.opt_text(INSTALLATION_WIDTH)? {
                    Some(_) => Some(environment_from(r, INSTALLATION_WIDTH)?),
                    None => None,
                };
                let installation = installation_from(r)?;
                let at = INSTALLATION_WIDTH + ENVIRONMENT_WIDTH;
                self.code = Some(FoundCode {
                    app_id: r.text(at)?,
                    expires_at: r.int(at + 1)?,
                    used: r.opt_int(at + 2)?.is_some(),
                    installation_status: installation.installation.status.as_str().to_owned(),
                });
                self.context.code = Some((installation, environment));
            }
            2 => self.live.push(r.bytes(0)?),
            _ => {}
        }
        Ok(())
    }
}

/// An exchange of the code `hash` at `now` ([`Store::exchange_setup_code`])
/// in two steps: [`CodeRead`], then `decide` and [`redeem_read`]. Its
/// writes claim the code's installation: one exchange at a time may
/// replace its APP token.
pub(super) struct Exchange<'d> {
    hash: &'d [u8],
    now: i64,
    decide: &'d mut dyn FnMut(&ExchangeContext) -> Option<(TokenRow, AuditEntry)>,
    read: CodeRead,
}

impl<'d> Exchange<'d> {
    /// The exchange of the code `hash` at `now`, whose token `decide`
    /// makes from what it read (or declines with `None`).
    pub(super) fn new(
        hash: &'d [u8],
        now: i64,
        decide: &'d mut dyn FnMut(&ExchangeContext) -> Option<(TokenRow, AuditEntry)>,
    ) -> Self {
        Exchange {
            hash,
            now,
            decide,
            read: CodeRead::default(),
        }
    }
}

impl TwoSteps for Exchange<'_> {
    type Out = Exchanged;

    fn restart(&mut self) {
        self.read = CodeRead::default();
    }

    fn row(&mut self, query: usize, row: &dyn Row) -> Result<(), StoreError> {
        self.read.row(query, row)
    }

    fn write(&mut self, c: &mut dyn Conn) -> Result<Written<Exchanged>, StoreError> {
        let declined = Written {
            out: Exchanged::Declined,
            claim: None,
        };
        let Some((token, audit)) = (self.decide)(&self.read.context) else {
            return Ok(declined);
        };
        let Some(app) = &self.read.context.app else {
            return Ok(declined);
        };
        let outcome = redeem_read(c, self.hash, &self.read, &app.id, self.now, &token, &audit)?;
        Ok(Written {
            out: Exchanged::Ended {
                outcome,
                replaced: outcome == Redeem::Redeemed && !self.read.live.is_empty(),
            },
            claim: self
                .read
                .context
                .code
                .as_ref()
                .map(|(installation, _)| installation.installation.id.clone()),
        })
    }
}

/// Redeems the code `hash` (`read` under its lock) for `app_id` at `now`,
/// in the transaction `c`: when it is redeemable, spends it, revokes the
/// installation's live APP tokens (each with an audit entry) and stores
/// `token` with the installation's approved grants.
pub(super) fn redeem_read(
    c: &mut dyn Conn,
    hash: &[u8],
    read: &CodeRead,
    app_id: &str,
    now: i64,
    token: &TokenRow,
    audit: &AuditEntry,
) -> Result<Redeem, StoreError> {
    let outcome = redeem_outcome(read.code.as_ref(), app_id, now);
    if outcome != Redeem::Redeemed {
        return Ok(outcome);
    }
    c.send(SPEND_CODE, params![hash, now])?;
    // One live APP token an installation: this one replaces the rest.
    for id in &read.live {
        c.send(REVOKE_TOKEN, params![id.as_slice()])?;
        token_changed(c, &crate::storage::stored_token_id(id)?)?;
        insert_audit(c, &crate::storage::replaced_audit(audit, id, token))?;
    }
    // The code's installation, locked with it, is the token's.
    let token = match &read.context.code {
        Some((installation, _))
            if token.record.installation_id.as_ref() == Some(&installation.installation.id) =>
        {
            with_approved(token, &installation.grants)
        }
        _ => with_installation_grants(c, token)?,
    };
    insert_token(c, &token)?;
    insert_audit(c, audit)?;
    Ok(Redeem::Redeemed)
}

/// A new token ([`Store::insert_token`]) in two steps: its installation's
/// approved grants (none for a token of no installation), then the token
/// with them ([`with_approved`]) and its audit entry.
pub(super) struct NewToken<'t> {
    token: &'t TokenRow,
    audit: &'t AuditEntry,
    /// The installation's approved grants, as stored.
    approved: Option<String>,
}

impl<'t> NewToken<'t> {
    /// The token `token`, written with `audit`.
    pub(super) fn new(token: &'t TokenRow, audit: &'t AuditEntry) -> Self {
        NewToken {
            token,
            audit,
            approved: None,
        }
    }
}

impl TwoSteps for NewToken<'_> {
    type Out = ();

    fn restart(&mut self) {
        self.approved = None;
    }

    fn row(&mut self, _: usize, row: &dyn Row) -> Result<(), StoreError> {
        self.approved = Some(row.text(0)?);
        Ok(())
    }

    fn write(&mut self, c: &mut dyn Conn) -> Result<Written<()>, StoreError> {
        let token = match (&self.token.record.installation_id, &self.approved) {
            (None, _) => self.token.clone(),
            (Some(_), Some(approved)) => {
                with_approved(self.token, &serde_json::from_str::<Vec<Grant>>(approved)?)
            }
            (Some(_), None) => return Err(StoreError::NotFound("installation")),
        };
        insert_token(c, &token)?;
        insert_audit(c, self.audit)?;
        Ok(Written {
            out: (),
            claim: None,
        })
    }
}

/// `token` with the grants its installation approved (read with the row
/// locked), or as it is for a token of no installation. A token acting
/// for a person ([`acts_for_user`]) keeps only those of its grants that lie
/// within what the installation approved.
fn with_installation_grants(c: &mut dyn Conn, token: &TokenRow) -> Result<TokenRow, StoreError> {
    let Some(installation) = &token.record.installation_id else {
        return Ok(token.clone());
    };
    let grants = one(c, INSTALLATION_TOKEN_GRANTS, params![installation], |r| {
        r.text(0)
    })?
    .ok_or(StoreError::NotFound("installation"))?;
    let approved: Vec<Grant> = serde_json::from_str(&grants)?;
    Ok(with_approved(token, &approved))
}

/// `token` with `approved`, its installation's approved grants, narrowed
/// to its own where it acts for a person.
fn with_approved(token: &TokenRow, approved: &[Grant]) -> TokenRow {
    let mut token = token.clone();
    token.record.grants = Arc::new(if acts_for_user(&token.record) {
        token
            .record
            .grants
            .iter()
            .filter(|g| approved.iter().any(|a| g.within(a)))
            .cloned()
            .collect()
    } else {
        approved.to_vec().into()
    });
    token
}

/// Whether a token acts for a person (its principal is `user:<id>`): made
/// by token exchange, with grants narrowed to that person's role.
fn acts_for_user(record: &verifier_core::TokenRecord) -> bool {
    record
        .principal
        .as_deref()
        .is_some_and(|p| p.starts_with("user:"))
}
