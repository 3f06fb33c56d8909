//! The frame protocol's envelope, origin pinning and the pending-call table
//! (specified in `sdk-wasm/PROTOCOL.md`).
//!
//! Both sides listen to `message` events on their own window and accept an
//! event only when all of these hold; anything else is dropped without an
//! answer, so a third page learns nothing by probing:
//! - `event.origin` is the pinned origin of the other side;
//! - `event.source` is the other side's window (the parent, or the iframe's
//!   `contentWindow`);
//! - `event.data` is an envelope of this protocol version;
//! - after the handshake, `conn` is the connection id of the handshake.

use std::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Window};

use crate::error::SdkError;
use crate::js;

/// The protocol version carried in every envelope's `tally` field.
pub const PROTOCOL_VERSION: u32 = 1;

/// What an envelope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// App → parent: open (or re-open) connection `conn`.
    Hello,
    /// Parent → app: connection `conn` accepted; `payload` is the context.
    Welcome,
    /// App → parent: call `method` with `payload` as params, answer to `id`.
    Call,
    /// Parent → app: call `id` succeeded with `payload`.
    Result,
    /// Parent → app: call `id` failed with `error`.
    Error,
    /// Parent → app: the context changed; `payload` is the new context.
    Context,
}

const KINDS: [(Kind, &str); 6] = [
    (Kind::Hello, "hello"),
    (Kind::Welcome, "welcome"),
    (Kind::Call, "call"),
    (Kind::Result, "result"),
    (Kind::Error, "error"),
    (Kind::Context, "context"),
];

impl Kind {
    fn as_str(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, name)| name)
    }

    fn parse(name: &str) -> Option<Kind> {
        KINDS.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }
}

/// An error answered to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteError {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// One message of the protocol.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) kind: Kind,
    pub(crate) conn: String,
    pub(crate) id: Option<u32>,
    pub(crate) method: Option<String>,
    pub(crate) payload: JsValue,
    pub(crate) error: Option<RemoteError>,
}

impl Envelope {
    pub(crate) fn new(kind: Kind, conn: &str) -> Envelope {
        Envelope {
            kind,
            conn: String::from(conn),
            id: None,
            method: None,
            payload: JsValue::UNDEFINED,
            error: None,
        }
    }

    /// Reads `event.data`; `None` for anything that is not an envelope of
    /// this version (other libraries use `postMessage` too). Fields beyond
    /// the protocol's are ignored, so a later minor revision can add some.
    pub(crate) fn read(data: &JsValue) -> Option<Envelope> {
        if js::get(data, "tally").as_f64() != Some(f64::from(PROTOCOL_VERSION)) {
            return None;
        }
        let kind = Kind::parse(&js::get(data, "kind").as_string()?)?;
        let conn = js::get(data, "conn")
            .as_string()
            .filter(|c| !c.is_empty())?;
        let id = match js::get(data, "id").as_f64() {
            Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => {
                Some(n as u32)
            }
            Some(_) => return None,
            None => None,
        };
        let error = js::get(data, "error");
        let error = if error.is_undefined() {
            None
        } else {
            Some(RemoteError {
                code: js::get(&error, "code").as_string()?,
                message: js::get(&error, "message").as_string()?,
            })
        };
        Some(Envelope {
            kind,
            conn,
            id,
            method: js::get(data, "method").as_string(),
            payload: js::get(data, "payload"),
            error,
        })
    }

    pub(crate) fn to_js(&self) -> JsValue {
        let tally = JsValue::from(PROTOCOL_VERSION);
        let kind = JsValue::from_str(self.kind.as_str());
        let conn = JsValue::from_str(&self.conn);
        let message = js::object(&[("tally", &tally), ("kind", &kind), ("conn", &conn)]);
        let set = |key: &str, value: &JsValue| {
            let _ = js_sys::Reflect::set(&message, &JsValue::from_str(key), value);
        };
        if let Some(id) = self.id {
            set("id", &JsValue::from(id));
        }
        if let Some(method) = &self.method {
            set("method", &JsValue::from_str(method));
        }
        if !self.payload.is_undefined() {
            set("payload", &self.payload);
        }
        if let Some(error) = &self.error {
            let code = JsValue::from_str(&error.code);
            let text = JsValue::from_str(&error.message);
            set("error", &js::object(&[("code", &code), ("message", &text)]));
        }
        message
    }
}

/// The browser window, or a typed error where there is none (a worker).
pub(crate) fn window() -> Result<Window, SdkError> {
    web_sys::window().ok_or_else(|| SdkError::Browser(String::from("no window")))
}

/// Checks that `origin` is exactly an origin (`scheme://host[:port]`, http or
/// https) and returns it as the browser serializes it. `*`, `null`, paths,
/// queries and credentials are refused: pinning means naming one origin.
pub(crate) fn check_origin(origin: &str, field: &str) -> Result<String, SdkError> {
    let bad = || {
        SdkError::InvalidArgument(format!(
            "{field} must be an origin such as https://app.example.com, got \"{origin}\""
        ))
    };
    let url = web_sys::Url::new(origin).map_err(|_| bad())?;
    let serialized = url.origin();
    let scheme_ok = matches!(url.protocol().as_str(), "http:" | "https:");
    if scheme_ok && serialized.eq_ignore_ascii_case(origin.trim_end_matches('/')) {
        Ok(serialized)
    } else {
        Err(bad())
    }
}

#[cfg(feature = "app")]
/// A fresh connection id: 16 random bytes from `crypto.getRandomValues`, hex.
pub(crate) fn connection_id(window: &Window) -> Result<String, SdkError> {
    let mut bytes = [0u8; 16];
    window
        .crypto()
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes))
        .map_err(|e| SdkError::browser("crypto.getRandomValues", &e))?;
    Ok(hex::encode(bytes))
}

/// Runs `f` once after `ms` milliseconds. The callback frees itself when it
/// runs; timers are never cancelled (a late timer finds nothing to do).
pub(crate) fn after(ms: u32, f: impl FnOnce() + 'static) -> Result<(), SdkError> {
    use wasm_bindgen::JsCast;
    let callback = Closure::once_into_js(f);
    window()?
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.unchecked_ref(),
            i32::try_from(ms).unwrap_or(i32::MAX),
        )
        .map_err(|e| SdkError::browser("setTimeout", &e))?;
    Ok(())
}

/// One side's end of a connection: where to post, whom to accept.
pub(crate) struct Link {
    /// The other side's window.
    peer: Window,
    /// The other side's pinned origin.
    peer_origin: String,
    /// The connection id; empty on the parent side until a `hello`.
    conn: RefCell<String>,
    closed: Cell<bool>,
}

impl Link {
    pub(crate) fn new(peer: Window, peer_origin: String, conn: String) -> Link {
        Link {
            peer,
            peer_origin,
            conn: RefCell::new(conn),
            closed: Cell::new(false),
        }
    }

    pub(crate) fn conn(&self) -> String {
        self.conn.borrow().clone()
    }

    /// The other side's pinned origin.
    #[cfg(feature = "parent")]
    pub(crate) fn peer_origin(&self) -> &str {
        &self.peer_origin
    }

    #[cfg(feature = "parent")]
    pub(crate) fn set_conn(&self, conn: String) {
        *self.conn.borrow_mut() = conn;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub(crate) fn close(&self) {
        self.closed.set(true);
    }

    /// The envelope in `event`, if the event comes from the pinned window
    /// and origin. The connection id is checked by the caller, which knows
    /// whether a new one may start here (`hello`).
    pub(crate) fn accept(&self, event: &MessageEvent) -> Option<Envelope> {
        if self.closed.get() || event.origin() != self.peer_origin {
            return None;
        }
        let from_peer = event
            .source()
            .is_some_and(|source| js_sys::Object::is(&source, self.peer.as_ref()));
        if !from_peer {
            return None;
        }
        Envelope::read(&event.data())
    }

    /// Posts `envelope` to the other side, addressed to its pinned origin
    /// only (the browser drops it if the other window is elsewhere).
    pub(crate) fn post(&self, envelope: &Envelope) -> Result<(), SdkError> {
        if self.closed.get() {
            return Err(SdkError::Closed);
        }
        self.peer
            .post_message(&envelope.to_js(), &self.peer_origin)
            .map_err(|e| SdkError::browser("postMessage", &e))
    }
}

/// A call waiting for its answer.
#[cfg(feature = "app")]
struct Pending {
    method: String,
    resolve: js_sys::Function,
    reject: js_sys::Function,
}

/// Calls in flight, by request id (the app side makes calls; the parent
/// only answers).
#[cfg(feature = "app")]
#[derive(Default)]
pub(crate) struct Calls {
    next_id: Cell<u32>,
    pending: RefCell<Vec<(u32, Pending)>>,
}

#[cfg(feature = "app")]
impl Calls {
    /// Registers a call and returns its id and the promise of its answer.
    pub(crate) fn start(&self, method: &str) -> (u32, js_sys::Promise) {
        let id = self.next_id.get().wrapping_add(1);
        self.next_id.set(id);
        let mut slot = None;
        let promise = js_sys::Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        if let Some((resolve, reject)) = slot {
            let call = Pending {
                method: String::from(method),
                resolve,
                reject,
            };
            self.pending.borrow_mut().push((id, call));
        }
        (id, promise)
    }

    /// Settles call `id` with a result; an unknown id (answered twice, timed
    /// out, never asked) is ignored.
    pub(crate) fn resolve(&self, id: u32, value: &JsValue) {
        if let Some(p) = self.take(id) {
            let _ = p.resolve.call1(&JsValue::UNDEFINED, value);
        }
    }

    /// Settles call `id` with the other side's error.
    pub(crate) fn reject_remote(&self, id: u32, error: RemoteError) {
        if let Some(p) = self.take(id) {
            let err = SdkError::Remote {
                method: p.method,
                code: error.code,
                message: error.message,
            };
            let _ = p.reject.call1(&JsValue::UNDEFINED, &err.into());
        }
    }

    /// Fails call `id` with `make(method)` if it is still waiting.
    pub(crate) fn fail(&self, id: u32, make: impl FnOnce(String) -> SdkError) {
        if let Some(p) = self.take(id) {
            let _ = p.reject.call1(&JsValue::UNDEFINED, &make(p.method).into());
        }
    }

    /// Fails every waiting call (on close).
    pub(crate) fn fail_all(&self, make: impl Fn() -> SdkError) {
        let drained: Vec<Pending> = self
            .pending
            .borrow_mut()
            .drain(..)
            .map(|(_, p)| p)
            .collect();
        for p in drained {
            let _ = p.reject.call1(&JsValue::UNDEFINED, &make().into());
        }
    }

    fn take(&self, id: u32) -> Option<Pending> {
        let mut pending = self.pending.borrow_mut();
        let at = pending.iter().position(|(i, _)| *i == id)?;
        Some(pending.swap_remove(at).1)
    }
}
