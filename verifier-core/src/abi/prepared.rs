//! Prepared values: records and environments decoded once and kept inside
//! the module under a handle, so that a driver verifying the same token many
//! times sends only the request.
//!
//! This is the safe half of `tally_prepare`, `tally_release` and
//! `tally_verify_prepared` (ABI.md, "Prepared values"). A [`Handles`] table
//! is the module's only state besides its allocator; the driver owns every
//! handle it was given and releases it when the value changes or it no longer
//! wants it kept. Handles are never reused while live, and a released handle
//! is refused like an unknown one.

use alloc::vec::Vec;

use super::{MAX_INPUT_BYTES, bad_input, decode, encode, wire};
use crate::decision::{Decision, Reason};
use crate::record::TokenRecord;
use crate::request::{Environment, Request};
use crate::verify::verify;

/// `tally_prepare` kind of an encoded [`wire::Record`].
pub const PREPARE_RECORD: u32 = 0;
/// `tally_prepare` kind of an encoded [`wire::Env`].
pub const PREPARE_ENVIRONMENT: u32 = 1;
/// Most values prepared at once; past it `tally_prepare` answers 0 until the
/// driver releases some.
pub const MAX_PREPARED: usize = 1 << 16;

/// A decoded record or environment.
#[derive(Debug, Clone)]
enum Prepared {
    Record(TokenRecord),
    Environment(Environment),
}

/// The module's table of prepared values. Handle `h` is slot `h - 1`; 0 is
/// never a handle (it means "none" in `tally_verify_prepared` and "failed"
/// from `tally_prepare`).
#[derive(Debug, Default)]
pub struct Handles {
    slots: Vec<Option<Prepared>>,
    free: Vec<u32>,
}

impl Handles {
    /// An empty table (no allocation until the first value).
    pub const fn new() -> Self {
        Handles {
            slots: Vec::new(),
            free: Vec::new(),
        }
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
                .map(Prepared::Record),
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
    /// encoded [`wire::Req`]. The decision is [`verify`]'s for the same
    /// values; a handle that is not live, or of the other kind, is
    /// `BadInput`.
    pub fn verify(
        &self,
        header: &[u8],
        record: u32,
        environment: u32,
        request: &[u8],
    ) -> wire::VerifyResult {
        let record = match self.get(record) {
            Ok(None) => None,
            Ok(Some(Prepared::Record(r))) => Some(r),
            _ => return bad_input("record handle is not a prepared record"),
        };
        let environment = match self.get(environment) {
            Ok(None) => None,
            Ok(Some(Prepared::Environment(e))) => Some(e),
            _ => return bad_input("environment handle is not a prepared environment"),
        };
        if request.len() > MAX_INPUT_BYTES {
            return bad_input("input larger than MAX_INPUT_BYTES");
        }
        let Some(request) = decode::<wire::Req>(request) else {
            return bad_input("input is not an encoded request");
        };
        let Ok(request) = Request::try_from(request) else {
            return bad_input("input holds an invalid action name");
        };
        let decision = match core::str::from_utf8(header) {
            Ok(header) => verify(header, record, environment, &request),
            Err(_) => Decision::deny(Reason::Malformed),
        };
        wire::VerifyResult::Decision(decision.into())
    }

    /// [`Handles::verify`], encoded as the module writes it.
    pub fn verify_bytes(
        &self,
        header: &[u8],
        record: u32,
        environment: u32,
        request: &[u8],
    ) -> Vec<u8> {
        encode(&self.verify(header, record, environment, request))
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
