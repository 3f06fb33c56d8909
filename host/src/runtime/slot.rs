//! One plugin instance: its store, its exports, the bytes moved in and out
//! of its linear memory, and the values prepared in it.
//!
//! Prepared values: a [`Prepared`] (a record or an environment encoded for
//! the module) has a process-unique id; each instance remembers which ids it
//! has prepared under which handle, up to [`Limits::prepared_values`] of
//! them, releasing the oldest first. A changed record is a new `Prepared`
//! with a new id, so an instance never answers from a stale value; the old
//! one ages out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;
use verifier_core::abi::wire::ReqRef;
use verifier_core::abi::{self, ABI_VERSION, PREPARE_ENVIRONMENT, PREPARE_RECORD};
use verifier_core::{Environment, TokenRecord};
use wasmtime::TypedFunc;
use wasmtime::{Engine, Instance, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, Trap};

use super::{Limits, PluginError};

/// A record or an environment, encoded once for `tally_prepare`, shared by
/// every instance that prepares it.
#[derive(Debug)]
pub struct Prepared {
    id: u64,
    kind: u32,
    bytes: Box<[u8]>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Prepared {
    /// A token record, for [`Call::verify`](super::Call::verify).
    pub fn record(record: &TokenRecord) -> Self {
        Prepared::new(PREPARE_RECORD, abi::encode_record(record))
    }

    /// An environment's policy, for [`Call::verify`](super::Call::verify).
    pub fn environment(environment: &Environment) -> Self {
        Prepared::new(PREPARE_ENVIRONMENT, abi::encode_environment(environment))
    }

    fn new(kind: u32, bytes: Vec<u8>) -> Self {
        Prepared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            kind,
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// The encoded size, bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the encoding is empty (never, for a real value).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Bytes of the block each instance keeps for a check's header and request,
/// so that a check allocates nothing in the instance for its inputs
/// (ABI.md: inputs are the driver's to free or reuse). Larger inputs get
/// blocks of their own.
const SCRATCH_BYTES: usize = 1024;

/// An input written into an instance: where, how long, and whether it has a
/// block of its own to free (else it lies in the scratch block).
#[derive(Debug, Clone, Copy)]
pub(super) struct Input {
    ptr: i32,
    len: i32,
    owned: bool,
}

impl Input {
    /// The offset in the scratch block after this input (0 if it is not in
    /// the scratch block).
    pub(super) fn scratch_end(&self) -> usize {
        if self.owned { 0 } else { self.len as usize }
    }
}

/// What a check presents to the module: the `Authorization` value as it
/// came, or (`hashed`) the credentials the host parsed and hashed from it
/// (`abi::encode_credentials`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Presented {
    pub(super) input: Input,
    pub(super) hashed: bool,
}

/// Which [`Prepared`] ids an instance holds, under which handles; oldest
/// first. The ids are this process's own counter, not input, so the map
/// uses the fast non-keyed Fx hash (two lookups per check; SipHash was a
/// measurable part of a call).
#[derive(Default)]
struct Handles {
    by_id: FxHashMap<u64, i32>,
    order: VecDeque<u64>,
}

/// `tally_verify_prepared`'s signature, and `tally_verify_credentials`':
/// (presented, record, environment, request) → result block.
type PreparedEntry = TypedFunc<(i32, i32, i32, i32, i32, i32), i32>;

/// One instance and its exports.
pub(super) struct Slot {
    store: Store<StoreLimits>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    dealloc: TypedFunc<(i32, i32), ()>,
    parse: TypedFunc<(i32, i32), i32>,
    verify: TypedFunc<(i32, i32, i32, i32), i32>,
    prepare: TypedFunc<(i32, i32, i32), i32>,
    release: TypedFunc<i32, ()>,
    verify_prepared: PreparedEntry,
    /// `tally_verify_credentials`, which modules built before it lack.
    verify_credentials: Option<PreparedEntry>,
    handles: Handles,
    max_prepared: usize,
    /// The scratch block (0 until first used).
    scratch: i32,
}

impl Slot {
    /// Instantiates `module` with no imports under `limits`, and checks its
    /// ABI version and exports.
    pub(super) fn new(
        engine: &Engine,
        module: &Module,
        limits: &Limits,
        deadline_ticks: u64,
    ) -> Result<Self, PluginError> {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(1)
            .tables(4)
            .memories(1)
            .build();
        let mut store = Store::new(engine, store_limits);
        store.limiter(|limits| limits);
        store.set_epoch_deadline(deadline_ticks);
        let instance = Instance::new(&mut store, module, &[])
            .map_err(|e| PluginError::Instantiate(e.to_string()))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or(PluginError::MissingExport("memory"))?;
        macro_rules! export {
            ($name:literal) => {
                instance
                    .get_typed_func(&mut store, $name)
                    .map_err(|_| PluginError::MissingExport($name))?
            };
        }
        // The version first: a module of another version is refused as such,
        // not for the exports this version added.
        let version: TypedFunc<(), i32> = export!("abi_version");
        let speaks = version.call(&mut store, ()).map_err(classify)?;
        let speaks = u32::try_from(speaks).unwrap_or(u32::MAX);
        if speaks != ABI_VERSION {
            return Err(PluginError::AbiVersion(speaks));
        }
        Ok(Slot {
            alloc: export!("tally_alloc"),
            dealloc: export!("tally_dealloc"),
            parse: export!("tally_parse"),
            verify: export!("tally_verify"),
            prepare: export!("tally_prepare"),
            release: export!("tally_release"),
            verify_prepared: export!("tally_verify_prepared"),
            verify_credentials: instance
                .get_typed_func(&mut store, "tally_verify_credentials")
                .ok(),
            memory,
            store,
            handles: Handles::default(),
            max_prepared: limits.prepared_values,
            scratch: 0,
        })
    }

    /// Whether the module takes credentials the host parsed and hashed
    /// (`tally_verify_credentials`).
    pub(super) fn takes_credentials(&self) -> bool {
        self.verify_credentials.is_some()
    }

    pub(super) fn set_deadline(&mut self, ticks: u64) {
        self.store.set_epoch_deadline(ticks);
    }

    /// `parse`; `read` decodes the result block where it lies.
    pub(super) fn parse<T>(
        &mut self,
        header: Input,
        read: impl FnOnce(&[u8]) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let ptr = self
            .parse
            .call(&mut self.store, (header.ptr, header.len))
            .map_err(classify)?;
        self.read(ptr, read)
    }

    /// One-shot `verify`; `read` decodes the result block where it lies.
    pub(super) fn verify<T>(
        &mut self,
        header: Input,
        input: &[u8],
        read: impl FnOnce(&[u8]) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let i = self.write(header.scratch_end(), input)?;
        let ptr = self
            .verify
            .call(&mut self.store, (header.ptr, header.len, i.ptr, i.len))
            .map_err(classify)?;
        let out = self.read(ptr, read)?;
        self.done(i)?;
        Ok(out)
    }

    /// `verify_prepared` (or `verify_credentials`, when `presented` holds
    /// the credentials the host parsed, not the header), preparing the
    /// values first if this instance does not hold them; `read` decodes the
    /// result block where it lies.
    pub(super) fn verify_prepared<T>(
        &mut self,
        presented: Presented,
        record: Option<&Prepared>,
        environment: Option<&Prepared>,
        request: &ReqRef<'_>,
        read: impl FnOnce(&[u8]) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let record = self.handle(record)?;
        let environment = self.handle(environment)?;
        let header = presented.input;
        let r = self.write_request(header.scratch_end(), request)?;
        let entry = match (presented.hashed, &self.verify_credentials) {
            (false, _) => &self.verify_prepared,
            (true, Some(entry)) => entry,
            (true, None) => return Err(PluginError::MissingExport("tally_verify_credentials")),
        };
        let ptr = entry
            .call(
                &mut self.store,
                (header.ptr, header.len, record, environment, r.ptr, r.len),
            )
            .map_err(classify)?;
        let out = self.read(ptr, read)?;
        self.done(r)?;
        Ok(out)
    }

    /// Writes an input at `at` in the scratch block if it fits there, else
    /// into a block of its own.
    pub(super) fn write(&mut self, at: usize, bytes: &[u8]) -> Result<Input, PluginError> {
        if bytes.is_empty() {
            return Ok(Input {
                ptr: 0,
                len: 0,
                owned: false,
            });
        }
        if at + bytes.len() > SCRATCH_BYTES {
            let (ptr, len) = self.put(bytes)?;
            return Ok(Input {
                ptr,
                len,
                owned: true,
            });
        }
        let start = self.scratch()? + at;
        self.memory
            .write(&mut self.store, start, bytes)
            .map_err(|_| PluginError::BadOutput)?;
        scratch_input(start, bytes.len())
    }

    /// Encodes `request` at `at` in the scratch block, straight into the
    /// instance's memory; a request too large for the block gets a block of
    /// its own.
    pub(super) fn write_request(
        &mut self,
        at: usize,
        request: &ReqRef<'_>,
    ) -> Result<Input, PluginError> {
        let block = self.scratch()?;
        let start = block + at;
        let written = self
            .memory
            .data_mut(&mut self.store)
            .get_mut(start..block + SCRATCH_BYTES)
            .and_then(|room| abi::encode_request_into(*request, room));
        match written {
            Some(len) => scratch_input(start, len),
            None => self.write(at, &abi::encode_request(*request)),
        }
    }

    /// The scratch block's offset, allocating it on first use.
    fn scratch(&mut self) -> Result<usize, PluginError> {
        if self.scratch == 0 {
            let (ptr, _) = self.put(&[0; SCRATCH_BYTES])?;
            self.scratch = ptr;
        }
        Ok(offset(self.scratch))
    }

    /// Frees an input's own block, if it has one; an input in the scratch
    /// block is zeroed instead (a header holds a secret, which should not
    /// outlive its check in the instance's memory).
    pub(super) fn done(&mut self, input: Input) -> Result<(), PluginError> {
        if input.owned {
            return self.free((input.ptr, input.len));
        }
        let start = offset(input.ptr);
        let end = start + input.len as usize;
        if let Some(bytes) = self.memory.data_mut(&mut self.store).get_mut(start..end) {
            bytes.fill(0);
        }
        Ok(())
    }

    /// The handle of `value` in this instance, preparing it on first use;
    /// 0 for none.
    fn handle(&mut self, value: Option<&Prepared>) -> Result<i32, PluginError> {
        let Some(value) = value else {
            return Ok(0);
        };
        if let Some(&handle) = self.handles.by_id.get(&value.id) {
            return Ok(handle);
        }
        while self.handles.order.len() >= self.max_prepared.max(1) {
            self.release_oldest()?;
        }
        let mut handle = self.prepare_bytes(value)?;
        // 0: the module could not keep it (memory, its own table, or the
        // bytes). Release what this instance holds and try once more.
        if handle == 0 && !self.handles.order.is_empty() {
            while !self.handles.order.is_empty() {
                self.release_oldest()?;
            }
            handle = self.prepare_bytes(value)?;
        }
        if handle == 0 {
            return Err(PluginError::BadInput(
                "the plugin did not prepare a value".into(),
            ));
        }
        self.handles.by_id.insert(value.id, handle);
        self.handles.order.push_back(value.id);
        Ok(handle)
    }

    fn prepare_bytes(&mut self, value: &Prepared) -> Result<i32, PluginError> {
        let v = self.put(&value.bytes)?;
        let kind = i32::try_from(value.kind).unwrap_or(i32::MAX);
        let handle = self
            .prepare
            .call(&mut self.store, (kind, v.0, v.1))
            .map_err(classify)?;
        self.free(v)?;
        Ok(handle)
    }

    fn release_oldest(&mut self) -> Result<(), PluginError> {
        if let Some(id) = self.handles.order.pop_front()
            && let Some(handle) = self.handles.by_id.remove(&id)
        {
            self.release
                .call(&mut self.store, handle)
                .map_err(classify)?;
        }
        Ok(())
    }

    /// Copies `bytes` into a fresh allocation; `(0, 0)` for none.
    pub(super) fn put(&mut self, bytes: &[u8]) -> Result<(i32, i32), PluginError> {
        if bytes.is_empty() {
            return Ok((0, 0));
        }
        let len = i32::try_from(bytes.len())
            .map_err(|_| PluginError::BadInput("input too large".into()))?;
        let ptr = self.alloc.call(&mut self.store, len).map_err(classify)?;
        if ptr == 0 {
            return Err(PluginError::Alloc);
        }
        self.memory
            .write(&mut self.store, offset(ptr), bytes)
            .map_err(|_| PluginError::BadOutput)?;
        Ok((ptr, len))
    }

    pub(super) fn free(&mut self, (ptr, len): (i32, i32)) -> Result<(), PluginError> {
        if ptr != 0 {
            self.dealloc
                .call(&mut self.store, (ptr, len))
                .map_err(classify)?;
        }
        Ok(())
    }

    /// Decodes the result block at `ptr` in place with `read` (the block
    /// is the module's and stays valid until the next call; ABI.md).
    fn read<T>(
        &self,
        ptr: i32,
        read: impl FnOnce(&[u8]) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        if ptr == 0 {
            return Err(PluginError::Alloc);
        }
        let memory = self.memory.data(&self.store);
        let at = offset(ptr);
        let len = memory
            .get(at..at.saturating_add(4))
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u32::from_le_bytes(b) as usize)
            .ok_or(PluginError::BadOutput)?;
        if len > abi::MAX_INPUT_BYTES {
            return Err(PluginError::BadOutput);
        }
        let block = memory
            .get(at + 4..at + 4 + len)
            .ok_or(PluginError::BadOutput)?;
        read(block)
    }
}

/// An input at `start` in the scratch block.
fn scratch_input(start: usize, len: usize) -> Result<Input, PluginError> {
    // Pointers are unsigned 32-bit offsets carried in an i32 (see `offset`).
    let ptr = u32::try_from(start).map_err(|_| PluginError::BadOutput)? as i32;
    let len = i32::try_from(len).map_err(|_| PluginError::BadOutput)?;
    Ok(Input {
        ptr,
        len,
        owned: false,
    })
}

/// A pointer from the module: an unsigned 32-bit offset.
fn offset(ptr: i32) -> usize {
    ptr as u32 as usize
}

pub(super) fn classify(error: wasmtime::Error) -> PluginError {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::Timeout,
        Some(trap) => PluginError::Trap(trap.to_string()),
        None => PluginError::Trap(error.to_string()),
    }
}
