//! From header, record and request to a decision.
//!
//! The order of checks is part of the contract, because it decides which
//! reason a request gets:
//!
//! 1. empty header → public grants of the environment (`public`) or
//!    `missing_credentials`;
//! 2. header parse → `malformed`, or `bad_secret` when the tokenId is not the
//!    hash prefix of the secret (before any lookup);
//! 3. no record (or one for another tokenId) → `unknown_token`;
//! 4. constant-time compare of the stored hash → `bad_secret`;
//! 5. `revoked`, then `expired` (valid while `now < expiresAt`);
//! 6. token bound to an environment, and the request names another one or
//!    none at all → `wrong_environment` (a bound token is good only where
//!    its environment is named: a check that leaves the environment out
//!    must not turn it into a token for every environment);
//! 7. grants → `allowed` with principal, filter and masked fields, or
//!    `not_granted`.
//!
//! An [`Environment`] whose id is not the request's `environmentId` is not
//! used (no public grants, default stage `PUBLISHED`): a caller cannot apply
//! one environment's public access to another by mistake.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use crate::decision::{Decision, Reason, Verdict};
use crate::error::ParseError;
use crate::grant::{Condition, Grant, ModelIndex, PRINCIPAL_PLACEHOLDER, same_name};
use crate::record::TokenRecord;
use crate::request::{DEFAULT_STAGE, Environment, Names, Request, RequestView};
use crate::token::Credentials;

/// Decides one request. `header` is the `Authorization` value (`""` when the
/// request has none); `record` is what the lookup by
/// [`Credentials::token_id`] found; `environment` is the policy of the
/// request's environment, if known. Never panics: every failure is a
/// [`Decision`].
pub fn verify(
    header: &str,
    record: Option<&TokenRecord>,
    environment: Option<&Environment>,
    request: &Request,
) -> Decision {
    verify_parsed(
        Credentials::from_header(header),
        record.map(Found::from),
        environment,
        &request.view(),
    )
    .into()
}

/// Decides several requests made with one header, such as a GraphQL
/// operation's root fields at each of their stages and locales: the header
/// is parsed and its secret hashed once, and each decision is the one
/// [`verify`] gives for that request.
pub fn verify_all<'q>(
    header: &str,
    record: Option<&TokenRecord>,
    environment: Option<&Environment>,
    requests: impl IntoIterator<Item = &'q Request>,
) -> Vec<Decision> {
    let parsed = Credentials::from_header(header);
    let found = record.map(Found::from);
    requests
        .into_iter()
        .map(|request| verify_parsed(parsed, found, environment, &request.view()).into())
        .collect()
}

/// A looked-up record, with what a caller that keeps records prepared
/// computed once for it (its grants carry their own index by model).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found<'r> {
    pub(crate) record: &'r TokenRecord,
    /// Its principal ([`TokenRecord::principal`]).
    pub(crate) principal: Option<&'r str>,
}

impl<'r> From<&'r TokenRecord> for Found<'r> {
    fn from(record: &'r TokenRecord) -> Self {
        Found {
            record,
            principal: None,
        }
    }
}

/// [`verify`] for a header already parsed (the module reuses `tally_parse`'s
/// work for the `verify` of the same check) and a record with what the
/// caller keeps prepared for it.
pub(crate) fn verify_parsed<'r>(
    parsed: Result<Credentials, ParseError>,
    found: Option<Found<'r>>,
    environment: Option<&Environment>,
    request: &RequestView<'_>,
) -> Verdict<'r> {
    let environment = environment.filter(|e| {
        request
            .environment_id
            .is_some_and(|id| same_name(id, &e.id))
    });
    // The registry's sensitive fields of the addressed model join the
    // request's own, so a caller that passes none still masks them.
    let merged: Vec<&str>;
    let widened: RequestView<'_>;
    let request = match registered_sensitive(environment, request) {
        Some(fields) => {
            merged = with_sensitive(request, fields);
            widened = RequestView {
                sensitive_fields: Names::Borrowed(&merged),
                ..*request
            };
            &widened
        }
        None => request,
    };
    let credentials = match parsed {
        Ok(credentials) => credentials,
        Err(ParseError::Missing) => return authorize_public(environment, request),
        Err(error) => return Verdict::deny(error.reason()),
    };
    let Some(found) = found else {
        return Verdict::deny(Reason::UnknownToken);
    };
    match credentials.authenticate(found.record, request.now) {
        Ok(token) => token.authorize_view(environment, request, found),
        Err(reason) => Verdict::deny(reason),
    }
}

/// The request's sensitive fields and then `registered`'s that it lacks.
/// Out of line: in the module, inlined into each export it costs kilobytes
/// for what only requests of registered models run.
#[inline(never)]
fn with_sensitive<'a>(request: &RequestView<'a>, registered: &'a [String]) -> Vec<&'a str> {
    let own = request.sensitive_fields;
    own.iter()
        .chain(
            registered
                .iter()
                .map(String::as_str)
                .filter(|f| !own.iter().any(|g| g == *f)),
        )
        .collect()
}

/// The sensitive fields `environment` registers for the request's model,
/// when it registers any.
#[inline(never)]
fn registered_sensitive<'e>(
    environment: Option<&'e Environment>,
    request: &RequestView<'_>,
) -> Option<&'e [String]> {
    let model = request.model?;
    let fields = &environment?.model(model)?.sensitive_fields;
    (!fields.is_empty()).then_some(&fields[..])
}

/// A token whose secret matched its record, which is neither revoked nor
/// expired. Only this type exposes a token's grants.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated<'r> {
    record: &'r TokenRecord,
}

impl Credentials {
    /// Checks the presented secret against the looked-up record (constant
    /// time), then revocation and expiry at `now` (unix seconds).
    pub fn authenticate<'r>(
        &self,
        record: &'r TokenRecord,
        now: i64,
    ) -> Result<Authenticated<'r>, Reason> {
        if record.token_id != self.token_id() {
            return Err(Reason::UnknownToken);
        }
        if !record.secret_hash.ct_eq(self.secret_hash()) {
            return Err(Reason::BadSecret);
        }
        if record.revoked {
            return Err(Reason::Revoked);
        }
        if record.expires_at.is_some_and(|at| now >= at) {
            return Err(Reason::Expired);
        }
        Ok(Authenticated { record })
    }
}

impl<'r> Authenticated<'r> {
    /// The token's record.
    pub fn record(&self) -> &'r TokenRecord {
        self.record
    }

    /// The token's grants.
    pub fn grants(&self) -> &'r [Grant] {
        &self.record.grants
    }

    /// Decides the request with this token's grants. `environment` supplies
    /// the default stage (its public grants do not apply to tokens).
    ///
    /// It is [`verify`]'s decision for this token, made by the same code:
    /// the environment counts only if it is the request's, its registered
    /// sensitive fields are masked, and the token is checked again at the
    /// request's `now`.
    pub fn authorize(&self, environment: Option<&Environment>, request: &Request) -> Decision {
        let credentials = Credentials::from_hash(self.record.secret_hash);
        verify_parsed(
            Ok(credentials),
            Some(Found::from(self.record)),
            environment,
            &request.view(),
        )
        .into()
    }

    /// `found` is this token's record with what is prepared for it.
    fn authorize_view(
        &self,
        environment: Option<&Environment>,
        request: &RequestView<'_>,
        found: Found<'r>,
    ) -> Verdict<'r> {
        if let Some(bound) = &self.record.environment_id
            && !request
                .environment_id
                .is_some_and(|asked| same_name(bound, asked))
        {
            return Verdict::deny(Reason::WrongEnvironment);
        }
        let principal = match (found.principal, &self.record.principal) {
            (Some(prepared), _) => Cow::Borrowed(prepared),
            (None, Some(explicit)) => Cow::Borrowed(explicit.as_str()),
            (None, None) => Cow::Owned(self.record.principal()),
        };
        match evaluate(
            self.grants(),
            Some(self.record.grants.index()),
            Some(&principal),
            environment,
            request,
        ) {
            Some((filter, masked)) => Verdict {
                allow: true,
                reason: Reason::Allowed,
                principal: Some(principal),
                filter,
                masked,
            },
            None => Verdict::deny(Reason::NotGranted),
        }
    }
}

fn authorize_public<'r>(
    environment: Option<&Environment>,
    request: &RequestView<'_>,
) -> Verdict<'r> {
    let grants = environment.map_or(&[][..], |e| &e.public_grants[..]);
    match evaluate(grants, None, None, environment, request) {
        Some((filter, masked)) => Verdict {
            allow: true,
            reason: Reason::Public,
            principal: None,
            filter,
            masked,
        },
        None => Verdict::deny(Reason::MissingCredentials),
    }
}

/// How one grant applies to a request.
enum Applies {
    /// To every row.
    Always,
    /// Only to rows matching this (resolved) condition.
    When(Condition),
}

type Allowed = (Option<Vec<Condition>>, Vec<String>);

/// The grants that apply, folded into a filter and the masked fields; `None`
/// when none applies. `index`, if given, is `grants`' own and lets the scan
/// skip grants that do not list the request's model.
fn evaluate(
    grants: &[Grant],
    index: Option<&ModelIndex>,
    principal: Option<&str>,
    environment: Option<&Environment>,
    request: &RequestView<'_>,
) -> Option<Allowed> {
    let stage = request
        .stage
        .or(environment.map(|e| e.default_stage.as_str()))
        .unwrap_or(DEFAULT_STAGE);
    // The model's bit only for an index to test it against (it hashes the
    // name).
    let wanted = index.map_or(u64::MAX, |_| ModelIndex::wanted(request.model));
    // Checked in the loop itself rather than inside `applies`: in the
    // module a skipped grant then costs an AND, not a call.
    let may_cover = |i: usize| index.is_none_or(|index| index.may_cover(i, wanted));

    let mut any = false;
    let mut unconditional = false;
    let mut alternatives: Vec<Condition> = Vec::new();
    for (i, grant) in grants.iter().enumerate() {
        if !may_cover(i) {
            continue;
        }
        match applies(grant, principal, stage, request) {
            None => {}
            Some(Applies::Always) => {
                any = true;
                unconditional = true;
                if request.sensitive_fields.is_empty() {
                    break; // nothing more to learn: not limited, nothing masked
                }
            }
            Some(Applies::When(condition)) => {
                any = true;
                if !unconditional && !alternatives.contains(&condition) {
                    alternatives.push(condition);
                }
            }
        }
    }
    if !any {
        return None;
    }
    let filter = (!unconditional).then_some(alternatives);
    let masked = if request.sensitive_fields.is_empty() {
        Vec::new()
    } else {
        let applies_at = |i: usize, grant: &Grant| {
            may_cover(i)
                .then(|| applies(grant, principal, stage, request))
                .flatten()
        };
        masked_fields(grants, &applies_at, request)
    };
    Some((filter, masked))
}

/// How `grant` applies to the request, if it does. The scope check is
/// inlined into the scan; only a grant that covers the request pays a call
/// (most grants of a token do not cover a given request).
#[inline(always)]
fn applies(
    grant: &Grant,
    principal: Option<&str>,
    stage: &str,
    request: &RequestView<'_>,
) -> Option<Applies> {
    if !grant.covers(
        request.api,
        request.action,
        request.model,
        stage,
        request.locale,
        request.environment_id,
    ) {
        return None;
    }
    applies_covering(grant, principal, request)
}

/// [`applies`] for a grant that covers the request: its condition, resolved
/// for `principal` and checked against the request's document.
#[inline(never)]
fn applies_covering(
    grant: &Grant,
    principal: Option<&str>,
    request: &RequestView<'_>,
) -> Option<Applies> {
    let Some(condition) = &grant.condition else {
        return Some(Applies::Always);
    };
    let mut resolved = Condition::new();
    for (field, value) in condition {
        let value = if value == PRINCIPAL_PLACEHOLDER {
            principal?
        } else {
            value.as_str()
        };
        if let Some(document) = request.document
            && !document.get(field).is_some_and(|v| same_name(v, value))
        {
            return None;
        }
        resolved.insert(field.clone(), String::from(value));
    }
    Some(Applies::When(resolved))
}

/// Sensitive fields to mask. With a `document` (one row, every applying
/// grant's condition checked against it) a field is visible if any applying
/// grant unmasks it. Without one, a conditional grant's unmask covers only
/// its own rows, which the verifier cannot tell apart, so a field is visible
/// only if an unconditional applying grant unmasks it, or every applying
/// grant does. Never more visible than some grant says for that row.
fn masked_fields(
    grants: &[Grant],
    applies: &dyn Fn(usize, &Grant) -> Option<Applies>,
    request: &RequestView<'_>,
) -> Vec<String> {
    let applying: Vec<(&Grant, bool)> = grants
        .iter()
        .enumerate()
        .filter_map(|(i, g)| applies(i, g).map(|a| (g, matches!(a, Applies::Always))))
        .collect();
    let unmasks = |g: &Grant, field: &str| g.unmask.iter().any(|u| same_name(u, field));
    request
        .sensitive_fields
        .iter()
        .filter(|field| {
            let visible = if request.document.is_some() {
                applying.iter().any(|(g, _)| unmasks(g, field))
            } else {
                applying
                    .iter()
                    .any(|(g, always)| *always && unmasks(g, field))
                    || applying.iter().all(|(g, _)| unmasks(g, field))
            };
            !visible
        })
        .map(String::from)
        .collect()
}
