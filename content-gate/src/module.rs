//! The `extern "C"` surface of the gate module (feature `module`, built for
//! `wasm32-unknown-unknown`): the only code in this crate that touches raw
//! memory. Edges run the gate from it, so that they decide with the very
//! code the host's gateway runs natively.
//!
//! Exports: `memory`; `gate_abi_version() -> 1`; `gate_alloc(len) -> ptr`
//! (0 for 0 bytes or no memory) and `gate_dealloc(ptr, len)` for the
//! driver's inputs; `gate_call(op, ptr, len) -> result`, one JSON operation
//! of [`crate::session`] on the JSON input at `ptr`. The result block is a
//! little-endian `u32` length `n` then `n` bytes of JSON, the module's,
//! valid until the next call (the driver copies it and does not free it); a
//! pointer of 0 means it could not be written, and the driver denies.
#![allow(unsafe_code)]

use alloc::alloc::{Layout, alloc, dealloc};
use alloc::vec::Vec;
use core::cell::UnsafeCell;

use crate::session::Sessions;

extern crate alloc;

/// The module ABI's version.
pub const GATE_ABI_VERSION: u32 = 1;

/// What the instance keeps between calls. The module has one thread and no
/// export calls another, so at most one reference to either cell exists.
struct Cells {
    sessions: UnsafeCell<Option<Sessions>>,
    result: UnsafeCell<Vec<u8>>,
}

// SAFETY: single-threaded target (wasm32-unknown-unknown without atomics);
// the cells are never shared across threads because there are none.
unsafe impl Sync for Cells {}

static CELLS: Cells = Cells {
    sessions: UnsafeCell::new(None),
    result: UnsafeCell::new(Vec::new()),
};

/// The module ABI's version.
#[unsafe(no_mangle)]
pub extern "C" fn gate_abi_version() -> u32 {
    GATE_ABI_VERSION
}

/// Allocates `len` bytes for the driver to write an input into.
#[unsafe(no_mangle)]
pub extern "C" fn gate_alloc(len: usize) -> *mut u8 {
    match Layout::from_size_align(len, 1) {
        // SAFETY: the layout has a non-zero size (checked in the guard).
        Ok(layout) if len > 0 => unsafe { alloc(layout) },
        _ => core::ptr::null_mut(),
    }
}

/// Frees a block from `gate_alloc(len)`.
///
/// # Safety
/// `ptr` must come from `gate_alloc(len)` and not have been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gate_dealloc(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len, 1) {
        // SAFETY: the caller passes a live block allocated with this layout.
        unsafe { dealloc(ptr, layout) }
    }
}

/// Runs operation `op` on the JSON at `ptr..ptr+len`.
///
/// # Safety
/// The range must be readable memory of this module (or `len` 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gate_call(op: u32, ptr: *const u8, len: usize) -> *mut u8 {
    let input: &[u8] = if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees the range is readable for the call.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    };
    // SAFETY: single-threaded, not re-entrant (see `Cells`).
    let sessions = unsafe { &mut *CELLS.sessions.get() };
    let answer = sessions
        .get_or_insert_with(Sessions::default)
        .call(op, input);
    let Ok(json) = serde_json::to_vec(&answer) else {
        return core::ptr::null_mut();
    };
    let Ok(n) = u32::try_from(json.len()) else {
        return core::ptr::null_mut();
    };
    // SAFETY: as above; the only reference to the block while this runs.
    let block = unsafe { &mut *CELLS.result.get() };
    block.clear();
    block.extend_from_slice(&n.to_le_bytes());
    block.extend_from_slice(&json);
    block.as_mut_ptr()
}
