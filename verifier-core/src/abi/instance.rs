//! What one module instance keeps between calls, and the safe half of the
//! exports that use it (ABI.md):
//!
//! - **Prepared values** (`tally_prepare`, `tally_release`,
//!   `tally_verify_prepared`): records and environments decoded once and
//!   kept under a handle, so that a driver verifying the same token many
//!   times sends only the request. The driver owns every handle it was given
//!   and releases it when the value changes or it no longer wants it kept.
//!   A released handle is refused like an unknown one until it is handed out
//!   again for a new value.
//! - **This check's parse**: `tally_parse` keeps its result for the verify
//!   call that follows it, which then skips decoding and hashing the secret
//!   a second time. It is used only if the verify gets byte-for-byte the same
//!   header, and it is dropped (the header copy zeroed) by that next verify
//!   call whatever its header. The compare is constant-time: a driver that
//!   interleaves checks on one instance (the npm driver across an `await`)
//!   may compare one client's header with another's, which then tells
//!   nothing but "not the same" and costs one parse. `tally` holds an
//!   instance from a check's parse to its verify.

use alloc::string::String;
use alloc::vec::Vec;

use super::policy::{self, AsGranted, Policy};
use super::{MAX_INPUT_BYTES, credentials, decode, encode, parse_result, wire};
use crate::decision::Verdict;
use crate::error::ParseError;
use crate::grant::Action;
use crate::record::TokenRecord;
use crate::request::Environment;
use crate::token::{Credentials, MAX_HEADER_BYTES, ct_eq_bytes};
use crate::verify::{Found, verify_parsed};

/// `tally_prepare` kind of an encoded [`wire::Record`].
pub const PREPARE_RECORD: u32 = 0;
/// `tally_prepare` kind of an encoded [`wire::Env`].
pub const PREPARE_ENVIRONMENT: u32 = 1;
/// Most values prepared at once; past it `tally_prepare` answers 0 until the
/// driver releases some.
pub const MAX_PREPARED: usize = 1 << 16;

/// A decoded record (with its principal, computed once; its grants carry
/// their index) or environment.
#[derive(Debug, Clone)]
enum Prepared {
    Record(TokenRecord, String),
    Environment(Environment),
}

/// A module instance's state: its prepared values and this check's parse.
/// Handle `h` is slot `h - 1`; 0 is never a handle (it means "none" in
/// `tally_verify_prepared` and "failed" from `tally_prepare`).
#[derive(Default)]
pub struct Instance {
    slots: Vec<Option<Prepared>>,
    free: Vec<u32>,
    /// The header of the last `parse`, if not yet consumed (else empty).
    parsed_header: Vec<u8>,
    parsed: Option<Result<Credentials, ParseError>>,
}

impl core::fmt::Debug for Instance {
    /// Counts only: the remembered header holds a secret.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Instance")
            .field("prepared", &self.len())
            .field("parse_pending", &self.parsed.is_some())
            .finish()
    }
}

impl Instance {
    /// An empty instance (no allocation until first used).
    pub const fn new() -> Self {
        Instance {
            slots: Vec::new(),
            free: Vec::new(),
            parsed_header: Vec::new(),
            parsed: None,
        }
    }

    /// `parse`, remembered for the verify call that follows.
    pub fn parse(&mut self, header: &[u8]) -> wire::ParseResult {
        let parsed = credentials(header);
        self.forget_parse();
        // Longer headers are refused before any work: nothing to save.
        if header.len() <= MAX_HEADER_BYTES {
            self.parsed_header.extend_from_slice(header);
            self.parsed = Some(parsed);
        }
        parse_result(parsed)
    }

    /// The credentials of `header`: this check's parse if it was of the
    /// same bytes, else parsed now. The remembered parse is dropped either
    /// way.
    fn credentials(&mut self, header: &[u8]) -> Result<Credentials, ParseError> {
        let same = self.parsed.is_some() && ct_eq_bytes(&self.parsed_header, header);
        let remembered = self.parsed.take().filter(|_| same);
        self.forget_parse();
        remembered.unwrap_or_else(|| credentials(header))
    }

    fn forget_parse(&mut self) {
        self.parsed = None;
        self.parsed_header.fill(0);
        self.parsed_header.clear();
    }

    /// One-shot `verify` of a whole [`wire::Input`] (using this check's
    /// parse when the header is the same).
    pub fn verify_input(&mut self, header: &[u8], input: &[u8]) -> wire::VerifyResult {
        self.verify_input_then::<AsGranted, _>(header, input, |r| wire::VerifyResult::from(r))
    }

    /// [`Instance::verify_input`], encoded as the module writes it.
    pub fn verify_input_bytes(&mut self, header: &[u8], input: &[u8]) -> Vec<u8> {
        self.verify_input_then::<AsGranted, _>(header, input, |result| {
            encode(&wire::VerifyResultRef::from(result))
        })
    }

    /// [`Instance::verify_input`] under the policy `P`, the decision or
    /// refusal handed to `then`.
    pub(crate) fn verify_input_then<P: Policy, R>(
        &mut self,
        header: &[u8],
        input: &[u8],
        then: impl FnOnce(&Result<Verdict<'_>, &'static str>) -> R,
    ) -> R {
        let parsed = self.credentials(header);
        super::verify_input_with::<P, R>(|| parsed, input, then)
    }

    /// Decodes `bytes` as a value of `kind` ([`PREPARE_RECORD`] or
    /// [`PREPARE_ENVIRONMENT`]) and keeps it: its handle, or 0 when the bytes
    /// do not decode, hold an invalid action name, the kind is unknown or the
    /// table is full.
    pub fn prepare(&mut self, kind: u32, bytes: &[u8]) -> u32 {
        if bytes.len() > MAX_INPUT_BYTES {
            return 0;
        }
        let value = match kind {
            PREPARE_RECORD => decode::<wire::Record>(bytes)
                .and_then(|r| TokenRecord::try_from(r).ok())
                .map(|r| {
                    let principal = r.principal();
                    Prepared::Record(r, principal)
                }),
            PREPARE_ENVIRONMENT => decode::<wire::Env>(bytes)
                .and_then(|e| Environment::try_from(e).ok())
                .map(Prepared::Environment),
            _ => None,
        };
        let Some(value) = value else {
            return 0;
        };
        if let Some(handle) = self.free.pop()
            && let Some(slot) = self.slots.get_mut((handle as usize).wrapping_sub(1))
        {
            *slot = Some(value);
            return handle;
        }
        if self.slots.len() >= MAX_PREPARED {
            return 0;
        }
        self.slots.push(Some(value));
        // At most MAX_PREPARED (2^16) slots, so the length fits a u32.
        u32::try_from(self.slots.len()).unwrap_or(0)
    }

    /// Drops the value of `handle`; unknown handles (and 0) are ignored.
    pub fn release(&mut self, handle: u32) {
        let index = (handle as usize).wrapping_sub(1);
        if let Some(slot @ Some(_)) = self.slots.get_mut(index) {
            *slot = None;
            self.free.push(handle);
        }
    }

    /// How many values are prepared now.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether no value is prepared.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `verify` with a prepared record and environment (0 = none) and an
    /// encoded [`wire::Req`]. The decision is [`verify`](crate::verify)'s for
    /// the same values; a handle that is not live, or of the other kind, is
    /// `BadInput`.
    pub fn verify(
        &mut self,
        header: &[u8],
        record: u32,
        environment: u32,
        request: &[u8],
    ) -> wire::VerifyResult {
        wire::VerifyResult::from(&self.decide::<AsGranted>(header, record, environment, request))
    }

    /// [`Instance::verify`], encoded as the module writes it (straight from
    /// the decision as made: nothing is copied to be encoded).
    pub fn verify_bytes(
        &mut self,
        header: &[u8],
        record: u32,
        environment: u32,
        request: &[u8],
    ) -> Vec<u8> {
        encode(&wire::VerifyResultRef::from(&self.decide::<AsGranted>(
            header,
            record,
            environment,
            request,
        )))
    }

    /// [`Instance::verify`] for credentials the driver parsed and hashed
    /// itself ([`super::encode_credentials`]) instead of a header: the same
    /// decision as for the header they came from.
    pub fn verify_credentials(
        &mut self,
        credentials: &[u8],
        record: u32,
        environment: u32,
        request: &[u8],
    ) -> wire::VerifyResult {
        wire::VerifyResult::from(&self.decide_credentials::<AsGranted>(
            credentials,
            record,
            environment,
            request,
        ))
    }

    /// [`Instance::verify`] under the policy `P`, before it is put on the
    /// wire: the decision, or why the input was refused.
    pub(crate) fn decide<P: Policy>(
        &mut self,
        header: &[u8],
        record: u32,
        environment: u32,
        request: &[u8],
    ) -> Result<Verdict<'_>, &'static str> {
        let parsed = self.credentials(header);
        self.decide_parsed::<P>(parsed, record, environment, request)
    }

    /// [`Instance::verify_credentials`] under the policy `P`, before it is
    /// put on the wire.
    pub(crate) fn decide_credentials<P: Policy>(
        &mut self,
        credentials: &[u8],
        record: u32,
        environment: u32,
        request: &[u8],
    ) -> Result<Verdict<'_>, &'static str> {
        let parsed = super::decode_credentials(credentials)
            .ok_or("credentials are not CREDENTIALS_BYTES long")?;
        self.forget_parse();
        self.decide_parsed::<P>(Ok(parsed), record, environment, request)
    }

    /// Shared by both entries, out of line: inlined into each it costs the
    /// module about 2 KB.
    #[inline(never)]
    fn decide_parsed<P: Policy>(
        &mut self,
        parsed: Result<Credentials, ParseError>,
        record: u32,
        environment: u32,
        request: &[u8],
    ) -> Result<Verdict<'_>, &'static str> {
        let found = match self.get(record) {
            Ok(None) => None,
            Ok(Some(Prepared::Record(record, principal))) => Some(Found {
                record,
                principal: Some(principal),
            }),
            _ => return Err("record handle is not a prepared record"),
        };
        let environment = match self.get(environment) {
            Ok(None) => None,
            Ok(Some(Prepared::Environment(e))) => Some(e),
            _ => return Err("environment handle is not a prepared environment"),
        };
        if request.len() > MAX_INPUT_BYTES {
            return Err("input larger than MAX_INPUT_BYTES");
        }
        let request = decode::<wire::ReqIn>(request).ok_or("input is not an encoded request")?;
        let action = request
            .action
            .parse::<Action>()
            .map_err(|_| "input holds an invalid action name")?;
        let request = request.view(&action);
        let verdict = verify_parsed(parsed, found, environment, &request);
        Ok(policy::apply::<P>(verdict, &request))
    }

    /// `Ok(None)` for handle 0, the value for a live handle, `Err` otherwise.
    fn get(&self, handle: u32) -> Result<Option<&Prepared>, ()> {
        if handle == 0 {
            return Ok(None);
        }
        match self.slots.get((handle as usize).wrapping_sub(1)) {
            Some(Some(value)) => Ok(Some(value)),
            _ => Err(()),
        }
    }
}
