//! The verifier plugin runtime: the verifier module (or an operator's own
//! policy module speaking the same ABI, `verifier-core/ABI.md`) run under
//! wasmtime as a sandbox.
//!
//! - One [`wasmtime::Engine`] per [`Runtime`], with epoch interruption; a
//!   ticker thread advances the epoch every millisecond, so every call has a
//!   deadline ([`Limits::deadline`]).
//! - A [`Plugin`] is compiled once and keeps a pool of instances: a call takes
//!   an idle instance (or makes one), runs, and gives it back. A call costs no
//!   instantiation once the pool is warm. Each thread first keeps one idle
//!   instance of its own: a worker's checks then run on the same instance,
//!   whose memory stays in that core's caches, and take no lock (with one
//!   shared pool, two workers took turns on the same instances and pulled
//!   their memory from each other's caches on every check).
//! - Each instance has a memory limit ([`Limits::memory_bytes`], through
//!   `StoreLimits`) and no imports at all.
//! - Every failure — a trap, the deadline, a limit, an allocation failure,
//!   output that does not decode — is a [`PluginError`], which callers turn
//!   into a denial (fail closed). An instance that failed is dropped, never
//!   reused.
//! - A check is a [`Call`]: parse, the record lookup, then verify on one
//!   instance. The host parses and hashes a well-formed `Authorization`
//!   value itself and hands the module only the secret's hash
//!   ([`Limits::host_parses`]; ABI.md, `tally_verify_credentials`), so a
//!   plugin never sees a token's secret, and the hash runs on the CPU's
//!   SHA instructions rather than in wasm. Records and environments cross
//!   into an instance once, as [`Prepared`] values the module decodes and
//!   keeps under a handle
//!   (ABI.md, "Prepared values"); later checks with the same value send only
//!   the request (~100 bytes) and skip the decoding that used to dominate a
//!   call. Instances keep at most [`Limits::prepared_values`] each.
//! - [`Verifier`] holds the current plugin behind a lock that swaps it whole:
//!   a reload lets calls in flight finish on the old plugin.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use verifier_core::abi::wire::ReqRef;
use verifier_core::abi::{self, ABI_VERSION, DecisionView};
use verifier_core::{Credentials, Decision, Reason, Request, TokenId};
use wasmtime::{Config, Engine, Module};

mod slot;

pub use slot::Prepared;
use slot::{Presented, Slot};

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
    /// Most idle instances kept in the shared pool (default 64); besides
    /// these, each thread that has made a call keeps one idle instance of
    /// its own (of the newest plugin it has used), dropped with the thread.
    pub idle_instances: usize,
    /// Most values (records, environments) one instance keeps prepared
    /// (default 256); past it the oldest is released.
    pub prepared_values: usize,
    /// How long after a call ran past its deadline the plugin counts as
    /// slow ([`Plugin::timed_out_recently`], default 60 s). The deadline is
    /// wall time, so an overloaded host can make a sound plugin miss it
    /// once; the plugin is then trusted again after this long.
    pub timeout_window: Duration,
    /// Whether the host parses and hashes each `Authorization` value itself
    /// (natively, with the CPU's SHA instructions) and hands the module only
    /// the secret's hash (`tally_verify_credentials`, ABI.md), when the
    /// module exports it (default on). The module then never sees a
    /// well-formed token's secret and skips its largest cost; a value that
    /// does not parse still goes to the module as it came, which denies it
    /// (or applies public grants to a missing one). Off, or with a module
    /// built before the export: the module parses every header.
    pub host_parses: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(20),
            memory_bytes: 16 << 20,
            idle_instances: 64,
            prepared_values: 256,
            timeout_window: Duration::from_secs(60),
            host_parses: true,
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
    /// `abi_version() == ABI_VERSION`.
    pub fn load(&self, wasm: &[u8], limits: Limits) -> Result<Plugin, PluginError> {
        let module =
            Module::new(&self.engine, wasm).map_err(|e| PluginError::Compile(e.to_string()))?;
        let ticks = u64::try_from(limits.deadline.as_millis() / EPOCH_TICK.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let plugin = Plugin {
            id: NEXT_PLUGIN.fetch_add(1, Ordering::Relaxed),
            engine: self.engine.clone(),
            module,
            limits,
            deadline_ticks: ticks,
            pool: Mutex::new(Vec::new()),
            loaded: Instant::now(),
            last_timeout: AtomicU64::new(0),
        };
        // Into the shared pool, not this thread's own: the loading thread
        // is seldom the one that makes calls.
        let slot = plugin.instantiate()?;
        if plugin.limits.idle_instances > 0 {
            plugin
                .pool
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(slot);
        }
        Ok(plugin)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Plugin ids: a plugin loaded later has a larger one.
static NEXT_PLUGIN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's own idle instance, with the id of its plugin.
    static OWN: Cell<Option<(u64, Box<Slot>)>> = const { Cell::new(None) };
}

/// A compiled plugin with its instance pool.
pub struct Plugin {
    /// This process's id of this plugin (see `NEXT_PLUGIN`).
    id: u64,
    engine: Engine,
    module: Module,
    limits: Limits,
    deadline_ticks: u64,
    /// Idle instances, boxed: a `Slot` is several hundred bytes (a
    /// `TypedFunc` per export), and a check moves its slot out of the pool
    /// and back; boxed, that is a pointer copy rather than a large move on
    /// every check.
    #[allow(clippy::vec_box)] // see above
    pool: Mutex<Vec<Box<Slot>>>,
    /// When the plugin was loaded: the origin of `last_timeout`.
    loaded: Instant,
    /// Milliseconds after `loaded` when a call last ran past its deadline,
    /// plus one; 0 if none ever did.
    last_timeout: AtomicU64,
}

impl Plugin {
    /// This plugin's id, unique in the process: a reloaded plugin has a new
    /// one (what remembers a plugin's answers keys them by it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether a call of this plugin ran past its deadline within the last
    /// [`Limits::timeout_window`]. Callers that run calls on an async worker
    /// (fine for a call of microseconds) move calls to a blocking pool
    /// meanwhile.
    pub fn timed_out_recently(&self) -> bool {
        match self.last_timeout.load(Ordering::Relaxed) {
            0 => false,
            at => {
                let since = self.millis().saturating_sub(at - 1);
                u128::from(since) < self.limits.timeout_window.as_millis()
            }
        }
    }

    /// Milliseconds since the plugin was loaded.
    fn millis(&self) -> u64 {
        u64::try_from(self.loaded.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Takes an instance for one check and writes what it presents into it:
    /// parse, then verify, with the lookup in between, on one instance. A
    /// header the host parses ([`Limits::host_parses`]) is parsed here, and
    /// only its credentials are written. The instance goes back to the pool
    /// when the [`Call`] is dropped, unless a call on it failed.
    pub fn call(&self, header: &[u8]) -> Result<Call<'_>, PluginError> {
        self.call_with(header, self.limits.host_parses)
    }

    /// [`Plugin::call`], the host parsing the header only if `host_parses`
    /// and the module takes credentials; a header that does not parse is
    /// written as it came.
    fn call_with(&self, header: &[u8], host_parses: bool) -> Result<Call<'_>, PluginError> {
        let mut slot = match self.take_idle() {
            Some(slot) => slot,
            None => self.instantiate()?,
        };
        slot.set_deadline(self.deadline_ticks);
        let hashed = (host_parses && slot.takes_credentials())
            .then(|| Credentials::from_header_bytes(header).ok())
            .flatten()
            .map(|c| (abi::encode_credentials(&c), c.token_id()));
        let presented: &[u8] = match &hashed {
            Some((credentials, _)) => credentials,
            None => header,
        };
        // A failed instance is dropped here.
        let input = slot.write(0, presented).inspect_err(|e| self.note(e))?;
        Ok(Call {
            plugin: self,
            slot: Some(slot),
            presented: Presented {
                input,
                hashed: hashed.is_some(),
            },
            token_id: hashed.map(|(_, id)| id),
        })
    }

    /// `parse`: the tokenId to look up, or the reason to deny.
    pub fn parse(&self, header: &[u8]) -> Result<Result<TokenId, Reason>, PluginError> {
        self.call(header)?.parse()
    }

    /// One-shot `verify`: a decision for an `Authorization` value and a whole
    /// encoded input (`verifier_core::abi::encode_input`). Nothing is kept in
    /// the instance; the prepared path ([`Call::verify`]) is the fast one.
    pub fn verify(&self, header: &[u8], input: &[u8]) -> Result<Decision, PluginError> {
        self.call_with(header, false)?.verify_input(input)
    }

    fn note(&self, error: &PluginError) {
        if *error == PluginError::Timeout {
            self.last_timeout
                .store(self.millis().saturating_add(1), Ordering::Relaxed);
        }
    }

    /// An idle instance: this thread's own if it is of this plugin, else
    /// one from the shared pool.
    fn take_idle(&self) -> Option<Box<Slot>> {
        let own = OWN
            .try_with(|own| match own.take() {
                Some((id, slot)) if id == self.id => Some(slot),
                other => {
                    own.set(other);
                    None
                }
            })
            .ok()
            .flatten();
        own.or_else(|| self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop())
    }

    /// Keeps an instance that is fit for reuse: as this thread's own if the
    /// thread holds none, or holds one of an older plugin (which is then
    /// dropped: after a reload, the old plugin's instances go as threads
    /// move on); otherwise in the shared pool, up to
    /// [`Limits::idle_instances`].
    fn give_back(&self, slot: Box<Slot>) {
        let mut dropped = None;
        // Err: the thread is exiting (its thread-locals are gone), and the
        // instance is dropped with it.
        let rest = OWN
            .try_with(|own| match own.take() {
                None => {
                    own.set(Some((self.id, slot)));
                    None
                }
                Some((id, older)) if id < self.id => {
                    own.set(Some((self.id, slot)));
                    dropped = Some(older);
                    None
                }
                held => {
                    own.set(held);
                    Some(slot)
                }
            })
            .unwrap_or_default();
        // Dropped outside the thread-local's access.
        drop(dropped);
        if let Some(slot) = rest {
            let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < self.limits.idle_instances {
                pool.push(slot);
            }
        }
    }

    fn instantiate(&self) -> Result<Box<Slot>, PluginError> {
        Slot::new(
            &self.engine,
            &self.module,
            &self.limits,
            self.deadline_ticks,
        )
        .map(Box::new)
    }
}

/// One check on one pooled instance, with its `Authorization` value already
/// in the instance's memory. Each method sets the deadline afresh, so time
/// spent between calls (the record lookup) does not count against the
/// plugin.
pub struct Call<'p> {
    plugin: &'p Plugin,
    /// `None` once a call failed: the instance is dropped, never reused.
    slot: Option<Box<Slot>>,
    presented: Presented,
    /// The tokenId, when the host parsed the header.
    token_id: Option<TokenId>,
}

impl Call<'_> {
    /// `parse`: the tokenId to look up, or the reason to deny. Answered
    /// without the module when the host parsed the header.
    pub fn parse(&mut self) -> Result<Result<TokenId, Reason>, PluginError> {
        if let Some(id) = self.token_id {
            return Ok(Ok(id));
        }
        let header = self.presented.input;
        self.run(|slot| {
            slot.parse(header, |out| {
                abi::decode_parse(out).map_err(|_| PluginError::BadOutput)
            })
        })
    }

    /// `verify_prepared`: decides with the record and environment prepared
    /// in this instance (each prepared once per instance and kept, see
    /// [`Limits::prepared_values`]) and the request, which is encoded
    /// straight into the instance's memory.
    pub fn verify(
        &mut self,
        record: Option<&Prepared>,
        environment: Option<&Prepared>,
        request: &Request,
    ) -> Result<Decision, PluginError> {
        self.decide(record, environment, request, |view| view.to_decision())
    }

    /// [`Call::verify`], with the decision read in place in the instance's
    /// memory and handed to `read`, which turns it into what the caller
    /// needs (the gateway: its response headers) without an owned
    /// [`Decision`] in between. The request is a [`Request`] or a
    /// [`ReqRef`] of names borrowed from elsewhere (the gateway: from the
    /// HTTP request's headers, so a check copies none of them).
    pub fn decide<'r, T>(
        &mut self,
        record: Option<&Prepared>,
        environment: Option<&Prepared>,
        request: impl Into<ReqRef<'r>>,
        read: impl FnOnce(DecisionView<'_>) -> T,
    ) -> Result<T, PluginError> {
        let presented = self.presented;
        let request = request.into();
        self.run(|slot| {
            slot.verify_prepared(presented, record, environment, &request, |out| {
                read_decision(out).map(read)
            })
        })
    }

    /// One-shot `verify` with a whole encoded input (a call made with the
    /// header in the instance, [`Plugin::verify`]).
    fn verify_input(&mut self, input: &[u8]) -> Result<Decision, PluginError> {
        let header = self.presented.input;
        self.run(|slot| {
            slot.verify(header, input, |out| {
                read_decision(out).map(|v| v.to_decision())
            })
        })
    }

    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut Slot) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let slot = self
            .slot
            .as_mut()
            .ok_or_else(|| PluginError::Trap("the instance failed earlier in this call".into()))?;
        slot.set_deadline(self.plugin.deadline_ticks);
        let out = f(slot);
        if let Err(e) = &out {
            self.plugin.note(e);
            self.slot = None;
        }
        out
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        if let Some(mut slot) = self.slot.take() {
            slot.set_deadline(self.plugin.deadline_ticks);
            if slot.done(self.presented.input).is_ok() {
                self.plugin.give_back(slot);
            }
        }
    }
}

fn read_decision(out: &[u8]) -> Result<DecisionView<'_>, PluginError> {
    match abi::decode_verify_view(out) {
        Ok(view) => Ok(view),
        Err(abi::AbiError::BadInput(message)) => Err(PluginError::BadInput(message)),
        Err(_) => Err(PluginError::BadOutput),
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

    /// Whether the current plugin answers: an instance parses an empty
    /// header (what `/readyz` asks).
    pub fn is_loaded(&self) -> bool {
        let plugin = self.plugin();
        plugin
            .call(b"")
            .and_then(|mut call| call.parse().map(|_| ()))
            .is_ok()
    }

    /// Loads `wasm` and makes it current. A plugin that does not load leaves
    /// the current one in place.
    pub fn reload(&self, wasm: &[u8]) -> Result<(), PluginError> {
        let plugin = Arc::new(self.runtime.load(wasm, self.limits.clone())?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = plugin;
        Ok(())
    }
}
