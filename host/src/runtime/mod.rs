//! The verifier plugin runtime: the verifier module (or an operator's own
//! policy module speaking the same ABI, `verifier-core/ABI.md`) run under
//! wasmtime as a sandbox.
//!
//! - One [`wasmtime::Engine`] per [`Runtime`], with epoch interruption; a
//!   ticker thread advances the epoch every millisecond, so every call has a
//!   deadline ([`Limits::deadline`]).
//! - A [`Plugin`] is compiled once and keeps a pool of instances: a call takes
//!   an idle instance (or makes one), runs, and gives it back. A call costs no
//!   instantiation once the pool is warm.
//! - Each instance has a memory limit ([`Limits::memory_bytes`], through
//!   `StoreLimits`) and no imports at all.
//! - Every failure — a trap, the deadline, a limit, an allocation failure,
//!   output that does not decode — is a [`PluginError`], which callers turn
//!   into a denial (fail closed). An instance that failed is dropped, never
//!   reused.
//! - [`Verifier`] holds the current plugin behind a lock that swaps it whole:
//!   a reload lets calls in flight finish on the old plugin.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use verifier_core::abi::{self, ABI_VERSION};
use verifier_core::{Decision, Reason, TokenId};
use wasmtime::{
    Config, Engine, Instance, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, Trap,
    TypedFunc,
};

/// The verifier module built from `verifier-core` (see `host/build.rs`).
pub static DEFAULT_MODULE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tally-verifier.wasm"));

const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Limits of every plugin call, safe by default.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest a call may run (default 20 ms).
    pub deadline: Duration,
    /// Largest linear memory of an instance (default 16 MiB).
    pub memory_bytes: usize,
    /// Most idle instances kept for reuse (default 64).
    pub idle_instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(20),
            memory_bytes: 16 << 20,
            idle_instances: 64,
        }
    }
}

/// Why a plugin could not be loaded or a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// Not a wasm module wasmtime can compile.
    #[error("the plugin does not compile: {0}")]
    Compile(String),
    /// An export of the ABI is missing or has another signature.
    #[error("the plugin does not export {0} with the ABI's signature")]
    MissingExport(&'static str),
    /// `abi_version` is not the one this host speaks.
    #[error("the plugin speaks ABI version {0}; this host speaks {ABI_VERSION}")]
    AbiVersion(u32),
    /// Instantiation failed (for example, imports it needs).
    #[error("the plugin could not be instantiated: {0}")]
    Instantiate(String),
    /// The call ran past its deadline.
    #[error("the plugin ran past its deadline")]
    Timeout,
    /// The call trapped.
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// The plugin's result block is out of bounds or does not decode.
    #[error("the plugin's output does not decode")]
    BadOutput,
    /// The plugin refused its input.
    #[error("the plugin refused its input: {0}")]
    BadInput(String),
    /// The plugin could not allocate.
    #[error("the plugin could not allocate")]
    Alloc,
}

impl PluginError {
    /// A stable label, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::Compile(_) => "compile",
            PluginError::MissingExport(_) => "missing_export",
            PluginError::AbiVersion(_) => "abi_version",
            PluginError::Instantiate(_) => "instantiate",
            PluginError::Timeout => "timeout",
            PluginError::Trap(_) => "trap",
            PluginError::BadOutput => "bad_output",
            PluginError::BadInput(_) => "bad_input",
            PluginError::Alloc => "alloc",
        }
    }
}

/// The wasmtime engine and its epoch ticker.
pub struct Runtime {
    engine: Engine,
    stop: Arc<AtomicBool>,
}

impl Runtime {
    /// A runtime with its ticker thread.
    pub fn new() -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(512 << 10);
        let engine = Engine::new(&config).map_err(|e| PluginError::Compile(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (ticker, flag) = (engine.clone(), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("tally-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticker.increment_epoch();
                }
            })
            .map_err(|e| PluginError::Compile(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Runtime { engine, stop })
    }

    /// Compiles and checks a plugin: every ABI export with its signature, and
    /// `abi_version() == 1`.
    pub fn load(&self, wasm: &[u8], limits: Limits) -> Result<Plugin, PluginError> {
        let module =
            Module::new(&self.engine, wasm).map_err(|e| PluginError::Compile(e.to_string()))?;
        let ticks = u64::try_from(limits.deadline.as_millis() / EPOCH_TICK.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let plugin = Plugin {
            engine: self.engine.clone(),
            module,
            limits,
            deadline_ticks: ticks,
            pool: Mutex::new(Vec::new()),
        };
        let mut slot = plugin.instantiate()?;
        slot.store.set_epoch_deadline(plugin.deadline_ticks);
        let version = slot.version.call(&mut slot.store, ()).map_err(classify)?;
        let version = u32::try_from(version).unwrap_or(u32::MAX);
        if version != ABI_VERSION {
            return Err(PluginError::AbiVersion(version));
        }
        plugin.give_back(slot);
        Ok(plugin)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One instance and its exports.
struct Slot {
    store: Store<StoreLimits>,
    memory: Memory,
    version: TypedFunc<(), i32>,
    alloc: TypedFunc<i32, i32>,
    dealloc: TypedFunc<(i32, i32), ()>,
    parse: TypedFunc<(i32, i32), i32>,
    verify: TypedFunc<(i32, i32, i32, i32), i32>,
}

/// A compiled plugin with its instance pool.
pub struct Plugin {
    engine: Engine,
    module: Module,
    limits: Limits,
    deadline_ticks: u64,
    pool: Mutex<Vec<Slot>>,
}

impl Plugin {
    /// `parse`: the tokenId to look up, or the reason to deny.
    pub fn parse(&self, header: &[u8]) -> Result<Result<TokenId, Reason>, PluginError> {
        let out = self.with_slot(|slot| {
            let h = slot.put(header)?;
            let ptr = slot
                .parse
                .call(&mut slot.store, (h.0, h.1))
                .map_err(classify)?;
            let out = slot.take(ptr)?;
            slot.free(h)?;
            Ok(out)
        })?;
        abi::decode_parse(&out).map_err(|_| PluginError::BadOutput)
    }

    /// `verify`: a decision for an `Authorization` value and an encoded input
    /// (`verifier_core::abi::encode_input`).
    pub fn verify(&self, header: &[u8], input: &[u8]) -> Result<Decision, PluginError> {
        let out = self.with_slot(|slot| {
            let h = slot.put(header)?;
            let i = slot.put(input)?;
            let ptr = slot
                .verify
                .call(&mut slot.store, (h.0, h.1, i.0, i.1))
                .map_err(classify)?;
            let out = slot.take(ptr)?;
            slot.free(h)?;
            slot.free(i)?;
            Ok(out)
        })?;
        match abi::decode_verify(&out) {
            Ok(decision) => Ok(decision),
            Err(abi::AbiError::BadInput(message)) => Err(PluginError::BadInput(message)),
            Err(_) => Err(PluginError::BadOutput),
        }
    }

    fn with_slot(
        &self,
        f: impl FnOnce(&mut Slot) -> Result<Vec<u8>, PluginError>,
    ) -> Result<Vec<u8>, PluginError> {
        let idle = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut slot = match idle {
            Some(slot) => slot,
            None => self.instantiate()?,
        };
        slot.store.set_epoch_deadline(self.deadline_ticks);
        let out = f(&mut slot)?; // a failed instance is dropped here
        self.give_back(slot);
        Ok(out)
    }

    fn give_back(&self, slot: Slot) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < self.limits.idle_instances {
            pool.push(slot);
        }
    }

    fn instantiate(&self) -> Result<Slot, PluginError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(1)
            .tables(4)
            .memories(1)
            .build();
        let mut store = Store::new(&self.engine, limits);
        store.limiter(|limits| limits);
        store.set_epoch_deadline(self.deadline_ticks);
        let instance = Instance::new(&mut store, &self.module, &[])
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
        Ok(Slot {
            version: export!("abi_version"),
            alloc: export!("tally_alloc"),
            dealloc: export!("tally_dealloc"),
            parse: export!("tally_parse"),
            verify: export!("tally_verify"),
            memory,
            store,
        })
    }
}

impl Slot {
    /// Copies `bytes` into a fresh allocation; `(0, 0)` for none.
    fn put(&mut self, bytes: &[u8]) -> Result<(i32, i32), PluginError> {
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

    fn free(&mut self, (ptr, len): (i32, i32)) -> Result<(), PluginError> {
        if ptr != 0 {
            self.dealloc
                .call(&mut self.store, (ptr, len))
                .map_err(classify)?;
        }
        Ok(())
    }

    /// Reads a result block and frees it.
    fn take(&mut self, ptr: i32) -> Result<Vec<u8>, PluginError> {
        if ptr == 0 {
            return Err(PluginError::Alloc);
        }
        let at = offset(ptr);
        let mut len = [0u8; 4];
        self.memory
            .read(&self.store, at, &mut len)
            .map_err(|_| PluginError::BadOutput)?;
        let n = u32::from_le_bytes(len) as usize;
        if n > abi::MAX_INPUT_BYTES {
            return Err(PluginError::BadOutput);
        }
        let mut out = vec![0u8; n];
        self.memory
            .read(&self.store, at + 4, &mut out)
            .map_err(|_| PluginError::BadOutput)?;
        let block = i32::try_from(n + 4).map_err(|_| PluginError::BadOutput)?;
        self.dealloc
            .call(&mut self.store, (ptr, block))
            .map_err(classify)?;
        Ok(out)
    }
}

/// A pointer from the module: an unsigned 32-bit offset.
fn offset(ptr: i32) -> usize {
    ptr as u32 as usize
}

fn classify(error: wasmtime::Error) -> PluginError {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::Timeout,
        Some(trap) => PluginError::Trap(trap.to_string()),
        None => PluginError::Trap(error.to_string()),
    }
}

/// The current plugin, swappable while calls are in flight.
pub struct Verifier {
    runtime: Runtime,
    current: RwLock<Arc<Plugin>>,
    limits: Limits,
}

impl Verifier {
    /// A verifier running `wasm` (the default module when `None`).
    pub fn new(wasm: Option<&[u8]>, limits: Limits) -> Result<Self, PluginError> {
        let runtime = Runtime::new()?;
        let plugin = runtime.load(wasm.unwrap_or(DEFAULT_MODULE), limits.clone())?;
        Ok(Verifier {
            runtime,
            current: RwLock::new(Arc::new(plugin)),
            limits,
        })
    }

    /// The plugin to run a call with; a reload does not affect it.
    pub fn plugin(&self) -> Arc<Plugin> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Loads `wasm` and makes it current. A plugin that does not load leaves
    /// the current one in place.
    pub fn reload(&self, wasm: &[u8]) -> Result<(), PluginError> {
        let plugin = Arc::new(self.runtime.load(wasm, self.limits.clone())?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = plugin;
        Ok(())
    }
}
