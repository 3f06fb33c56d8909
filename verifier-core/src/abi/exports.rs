//! The `extern "C"` surface of the verifier module: the only code in
//! verifier-core that touches raw memory. Layout: `verifier-core/ABI.md`.
//!
//! The exports are defined by [`export_verifier_module!`], with the
//! module's [`Policy`]: the `module` feature defines them here with
//! [`AsGranted`](super::AsGranted) (the module `tally` embeds); a plugin crate
//! defines them in its own cdylib with its own policy
//! (`examples/policy-plugin`), and leaves the feature off. Each export is a
//! one-line call into the functions below, which hold every `unsafe` block
//! and its SAFETY note; they are public for the macro only.
//!
//! Results are written to the module's one result block: a little-endian
//! `u32` length `n`, then `n` bytes of postcard, valid until the next call.
//! The driver copies it out and does not free it. A returned pointer of 0
//! means the module could not write it; drivers deny.
#![allow(unsafe_code)]

use alloc::alloc::{Layout, alloc, dealloc};
use alloc::vec::Vec;
use core::cell::UnsafeCell;

use super::{Instance, Policy};

/// Defines the verifier module's exports (`abi_version`, `tally_alloc`,
/// `tally_dealloc`, `tally_parse`, `tally_verify`, `tally_prepare`,
/// `tally_release`, `tally_verify_prepared`, `tally_verify_credentials`;
/// ABI.md) in the crate that
/// names it, deciding with `$policy` (a [`Policy`](crate::abi::Policy)).
/// Name it once, in a `cdylib` built for `wasm32-unknown-unknown`.
#[macro_export]
macro_rules! export_verifier_module {
    ($policy:ty) => {
        /// The ABI version (ABI.md).
        #[unsafe(no_mangle)]
        pub extern "C" fn abi_version() -> u32 {
            $crate::abi::ABI_VERSION
        }

        /// `alloc(len)` (ABI.md).
        #[unsafe(no_mangle)]
        pub extern "C" fn tally_alloc(len: usize) -> *mut u8 {
            $crate::abi::exports::alloc_block(len)
        }

        /// `dealloc(ptr, len)` (ABI.md).
        ///
        /// # Safety
        /// `ptr` must come from `tally_alloc(len)` and not have been freed.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn tally_dealloc(ptr: *mut u8, len: usize) {
            // SAFETY: forwarded caller contract.
            unsafe { $crate::abi::exports::dealloc_block(ptr, len) }
        }

        /// `parse(header)` (ABI.md).
        ///
        /// # Safety
        /// The range must be readable memory of this module (or empty).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn tally_parse(ptr: *const u8, len: usize) -> *mut u8 {
            // SAFETY: forwarded caller contract.
            unsafe { $crate::abi::exports::parse(ptr, len) }
        }

        /// `verify(header, input)` (ABI.md).
        ///
        /// # Safety
        /// Both ranges must be readable memory of this module (or empty).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn tally_verify(
            header_ptr: *const u8,
            header_len: usize,
            input_ptr: *const u8,
            input_len: usize,
        ) -> *mut u8 {
            // SAFETY: forwarded caller contract.
            unsafe {
                $crate::abi::exports::verify::<$policy>(
                    header_ptr, header_len, input_ptr, input_len,
                )
            }
        }

        /// `prepare(kind, value)` (ABI.md).
        ///
        /// # Safety
        /// The range must be readable memory of this module (or empty).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn tally_prepare(kind: u32, ptr: *const u8, len: usize) -> u32 {
            // SAFETY: forwarded caller contract.
            unsafe { $crate::abi::exports::prepare(kind, ptr, len) }
        }

        /// `release(handle)` (ABI.md).
        #[unsafe(no_mangle)]
        pub extern "C" fn tally_release(handle: u32) {
            $crate::abi::exports::release(handle)
        }

        /// `verify_prepared(header, record, environment, request)` (ABI.md).
        ///
        /// # Safety
        /// Both ranges must be readable memory of this module (or empty).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn tally_verify_prepared(
            header_ptr: *const u8,
            header_len: usize,
            record: u32,
            environment: u32,
            request_ptr: *const u8,
            request_len: usize,
        ) -> *mut u8 {
            // SAFETY: forwarded caller contract.
            unsafe {
                $crate::abi::exports::verify_prepared::<$policy>(
                    header_ptr,
                    header_len,
                    record,
                    environment,
                    request_ptr,
                    request_len,
                )
            }
        }

        /// `verify_credentials(credentials, record, environment, request)`
        /// (ABI.md): `verify_prepared` for a header the driver parsed and
        /// hashed.
        ///
        /// # Safety
        /// Both ranges must be readable memory of this module (or empty).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn tally_verify_credentials(
            credentials_ptr: *const u8,
            credentials_len: usize,
            record: u32,
            environment: u32,
            request_ptr: *const u8,
            request_len: usize,
        ) -> *mut u8 {
            // SAFETY: forwarded caller contract.
            unsafe {
                $crate::abi::exports::verify_credentials::<$policy>(
                    credentials_ptr,
                    credentials_len,
                    record,
                    environment,
                    request_ptr,
                    request_len,
                )
            }
        }
    };
}

#[cfg(feature = "module")]
export_verifier_module!(super::AsGranted);

/// Allocates `len` bytes for the driver to write an input into; 0 when `len`
/// is 0 or memory is exhausted.
pub fn alloc_block(len: usize) -> *mut u8 {
    match Layout::from_size_align(len, 1) {
        // SAFETY: the layout has a non-zero size (checked in the guard).
        Ok(layout) if len > 0 => unsafe { alloc(layout) },
        _ => core::ptr::null_mut(),
    }
}

/// Frees a block from `tally_alloc`. (Result blocks belong to the module and
/// are never freed by the driver.)
///
/// # Safety
/// `ptr` must come from `tally_alloc(len)` and not have been freed yet.
pub unsafe fn dealloc_block(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len, 1) {
        // SAFETY: the caller passes a live block allocated with this layout.
        unsafe { dealloc(ptr, layout) }
    }
}

/// `parse(header) -> result block` (see ABI.md).
///
/// # Safety
/// `header_ptr..header_ptr+header_len` must be readable memory of this module
/// (`header_len` may be 0, then the pointer is not read).
pub unsafe fn parse(header_ptr: *const u8, header_len: usize) -> *mut u8 {
    // SAFETY: forwarded caller contract.
    let header = unsafe { input(header_ptr, header_len) };
    write_result(&instance().parse(header))
}

/// `verify(header, input) -> result block` (see ABI.md).
///
/// # Safety
/// Both ranges must be readable memory of this module (a length of 0 means
/// the pointer is not read).
pub unsafe fn verify<P: Policy>(
    header_ptr: *const u8,
    header_len: usize,
    input_ptr: *const u8,
    input_len: usize,
) -> *mut u8 {
    // SAFETY: forwarded caller contract.
    let (header, input) = unsafe { (input(header_ptr, header_len), input(input_ptr, input_len)) };
    instance().verify_input_then::<P, _>(header, input, write_decision)
}

/// What the instance keeps between calls: prepared values and this check's
/// parse (`abi::Instance`).
///
/// The module is built for `wasm32-unknown-unknown` without the `atomics`
/// target feature: one thread, and no export calls another, so at most one
/// reference to the table exists at any time.
struct State(UnsafeCell<Instance>);

// SAFETY: single-threaded target (see above); the cell is never shared
// across threads because there are none.
unsafe impl Sync for State {}

static STATE: State = State(UnsafeCell::new(Instance::new()));

fn instance() -> &'static mut Instance {
    // SAFETY: single-threaded and not re-entrant (see `State`): each
    // export takes this reference once and drops it before returning.
    unsafe { &mut *STATE.0.get() }
}

/// `prepare(kind, value) -> handle` (see ABI.md); 0 when the value is not
/// kept.
///
/// # Safety
/// `ptr..ptr+len` must be readable memory of this module (or `len` 0).
pub unsafe fn prepare(kind: u32, ptr: *const u8, len: usize) -> u32 {
    // SAFETY: forwarded caller contract.
    let value = unsafe { input(ptr, len) };
    instance().prepare(kind, value)
}

/// `release(handle)`: drops a prepared value; unknown handles are ignored.
pub fn release(handle: u32) {
    instance().release(handle);
}

/// `verify_prepared(header, record, environment, request) -> result block`
/// (see ABI.md).
///
/// # Safety
/// Both ranges must be readable memory of this module (a length of 0 means
/// the pointer is not read).
pub unsafe fn verify_prepared<P: Policy>(
    header_ptr: *const u8,
    header_len: usize,
    record: u32,
    environment: u32,
    request_ptr: *const u8,
    request_len: usize,
) -> *mut u8 {
    // SAFETY: forwarded caller contract.
    let (header, request) = unsafe {
        (
            input(header_ptr, header_len),
            input(request_ptr, request_len),
        )
    };
    write_decision(&instance().decide::<P>(header, record, environment, request))
}

/// `verify_credentials(credentials, record, environment, request) -> result
/// block` (see ABI.md).
///
/// # Safety
/// Both ranges must be readable memory of this module (a length of 0 means
/// the pointer is not read).
pub unsafe fn verify_credentials<P: Policy>(
    credentials_ptr: *const u8,
    credentials_len: usize,
    record: u32,
    environment: u32,
    request_ptr: *const u8,
    request_len: usize,
) -> *mut u8 {
    // SAFETY: forwarded caller contract.
    let (credentials, request) = unsafe {
        (
            input(credentials_ptr, credentials_len),
            input(request_ptr, request_len),
        )
    };
    write_decision(&instance().decide_credentials::<P>(credentials, record, environment, request))
}

/// # Safety
/// `ptr..ptr+len` readable, or `len == 0`.
unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller guarantees the range is readable for the call.
    unsafe { core::slice::from_raw_parts(ptr, len) }
}

/// The result block: reused by every call, so answering allocates nothing
/// once it has grown to the largest result so far.
struct ResultBlock(UnsafeCell<Vec<u8>>);

// SAFETY: as for `State`: one thread, no re-entrant export.
unsafe impl Sync for ResultBlock {}

static RESULT: ResultBlock = ResultBlock(UnsafeCell::new(Vec::new()));

/// A decision (or why the input was refused) written as a `VerifyResult`:
/// one copy of the encoder for the three verify entries.
#[inline(never)]
fn write_decision(result: &Result<crate::decision::Verdict<'_>, &'static str>) -> *mut u8 {
    write_result(&super::wire::VerifyResultRef::from(result))
}

/// Writes `value` into the result block and returns the block: its length as
/// a little-endian `u32`, then its encoding. The block stays valid until the
/// next call into the module; the driver does not free it. 0 when the
/// encoding does not fit (a u32 length, or memory).
fn write_result<T: serde::Serialize>(value: &T) -> *mut u8 {
    // SAFETY: single-threaded and not re-entrant (see `State`); this is
    // the only reference to the block while the export runs.
    let block = unsafe { &mut *RESULT.0.get() };
    let mut buffer = core::mem::take(block);
    buffer.clear();
    buffer.extend_from_slice(&[0; 4]);
    let Ok(mut buffer) = postcard::to_extend(value, buffer) else {
        return core::ptr::null_mut();
    };
    let Ok(len) = u32::try_from(buffer.len() - 4) else {
        return core::ptr::null_mut();
    };
    buffer[..4].copy_from_slice(&len.to_le_bytes());
    *block = buffer;
    block.as_mut_ptr()
}
