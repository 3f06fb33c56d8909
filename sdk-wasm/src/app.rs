//! The app side: `init` and the `App` handle an app's frontend uses.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use verifier_core::exchange::{SetupCodeExchange, management_api_base_url};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Window};

use crate::context::{self, Context};
use crate::error::SdkError;
use crate::protocol::{self, Calls, Envelope, Kind, Link};
use crate::{exchange, js};

/// How long `init` and each call wait for the parent unless told otherwise.
const DEFAULT_TIMEOUT_MS: u32 = 10_000;
/// How often `hello` is repeated until the parent answers (the parent may
/// attach its bridge after the frame has loaded).
const HELLO_EVERY_MS: u32 = 200;

type MessageListener = Closure<dyn FnMut(MessageEvent)>;

struct Inner {
    window: Window,
    link: Link,
    calls: Calls,
    timeout_ms: u32,
    /// The context as the parent sent it, and the fields the SDK reads.
    context: RefCell<Option<(JsValue, Context)>>,
    setup_code: RefCell<Option<String>>,
    listeners: RefCell<Vec<(u32, js_sys::Function)>>,
    next_listener: Cell<u32>,
    /// Settles `init`'s handshake: (resolve, reject).
    handshake: RefCell<Option<(js_sys::Function, js_sys::Function)>>,
    on_message: RefCell<Option<MessageListener>>,
}

/// A connected app: its context, installation and the parent's methods.
///
/// Made by [`init`]; lives until [`App::close`].
#[wasm_bindgen]
pub struct App {
    inner: Rc<Inner>,
}

/// Connects the app frame to its parent.
///
/// `options` (optional): `{ parentOrigin?, parentOrigins?, timeoutMs? }`.
/// `parentOrigin` pins the one origin the platform is served from (no `*`);
/// `parentOrigins` pins a list of them. Without either, the origin is learned
/// from the browser (`crate::parent_origin`). Either way the handshake is
/// addressed to that origin only and only its messages from `window.parent`
/// are accepted. Captures and scrubs `?code=` first, then resolves with an
/// [`App`] once the parent has answered with the context, or rejects with
/// `code: "timeout"` after `timeoutMs` (default 10 000), `"not_in_frame"`
/// outside an iframe, `"no_parent_origin"` when the origin can be neither
/// learned nor picked from the pins, `"parent_not_pinned"` when the browser
/// names a parent outside the pins, `"invalid_argument"` for bad options.
#[wasm_bindgen]
pub async fn init(options: JsValue) -> Result<App, JsValue> {
    App::connect(options).await
}

/// The pinned origins in `options`: `parentOrigin` or `parentOrigins`, not
/// both (none: learn it from the browser).
fn pins(options: &JsValue) -> Result<Vec<String>, SdkError> {
    let one = js::get(options, "parentOrigin");
    let list = js::get(options, "parentOrigins");
    let list: js_sys::Array = match (one.is_undefined(), list.is_undefined()) {
        (true, true) => return Ok(Vec::new()),
        (false, true) => js_sys::Array::of1(&one),
        (true, false)
            if js_sys::Array::is_array(&list) && js_sys::Array::from(&list).length() > 0 =>
        {
            list.unchecked_into()
        }
        _ => {
            return Err(SdkError::InvalidArgument(String::from(
                "init options: give parentOrigin (an origin) or parentOrigins (a non-empty array of origins), not both",
            )));
        }
    };
    list.iter()
        .map(|o| protocol::check_origin(&o.as_string().unwrap_or_default(), "parentOrigin"))
        .collect()
}

impl App {
    async fn connect(options: JsValue) -> Result<App, JsValue> {
        let options = if options.is_undefined() || options.is_null() {
            JsValue::from(js_sys::Object::new())
        } else {
            options
        };
        js::only_keys(
            &options,
            &["parentOrigin", "parentOrigins", "timeoutMs"],
            "init options",
        )?;
        let pins = pins(&options)?;
        let timeout_ms = match js::opt_number(&options, "timeoutMs", "init options")? {
            None => DEFAULT_TIMEOUT_MS,
            Some(ms) if ms >= 1.0 && ms <= f64::from(u32::MAX) => ms as u32,
            Some(_) => {
                let message = "init options: timeoutMs must be a positive number of milliseconds";
                return Err(SdkError::InvalidArgument(String::from(message)).into());
            }
        };
        let window = protocol::window()?;
        let parent = window
            .parent()
            .map_err(|e| SdkError::browser("window.parent", &e))?
            .filter(|p| !js_sys::Object::is(p.as_ref(), window.as_ref()))
            .ok_or(SdkError::NotInFrame)?;
        let parent_origin = crate::parent_origin::resolve(&window, &parent, &pins)?;
        let setup_code = crate::setup_code::take(&window)?;
        let conn = protocol::connection_id(&window)?;
        let inner = Rc::new(Inner {
            window,
            link: Link::new(parent, parent_origin, conn),
            calls: Calls::default(),
            timeout_ms,
            context: RefCell::new(None),
            setup_code: RefCell::new(setup_code),
            listeners: RefCell::new(Vec::new()),
            next_listener: Cell::new(0),
            handshake: RefCell::new(None),
            on_message: RefCell::new(None),
        });
        let app = App { inner };
        app.listen()?;
        let mut slot = None;
        let welcomed = js_sys::Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        *app.inner.handshake.borrow_mut() = slot;
        say_hello(Rc::downgrade(&app.inner));
        let weak = Rc::downgrade(&app.inner);
        protocol::after(timeout_ms, move || {
            if let Some(inner) = weak.upgrade() {
                inner.settle_handshake(Err(SdkError::Timeout {
                    what: String::from("handshake"),
                    ms: timeout_ms,
                }));
            }
        })?;
        match JsFuture::from(welcomed).await {
            Ok(_) => Ok(app),
            Err(err) => {
                app.close();
                Err(err)
            }
        }
    }

    fn listen(&self) -> Result<(), SdkError> {
        let weak = Rc::downgrade(&self.inner);
        let listener: MessageListener = Closure::new(move |event: MessageEvent| {
            if let Some(inner) = weak.upgrade() {
                inner.on_message(&event);
            }
        });
        self.inner
            .window
            .add_event_listener_with_callback("message", listener.as_ref().unchecked_ref())
            .map_err(|e| SdkError::browser("addEventListener", &e))?;
        *self.inner.on_message.borrow_mut() = Some(listener);
        Ok(())
    }

    /// Calls `method` on the parent; rejections are TallyErrors already.
    async fn call(&self, method: &str, params: JsValue) -> Result<JsValue, JsValue> {
        let inner = &self.inner;
        if inner.link.is_closed() {
            return Err(SdkError::Closed.into());
        }
        let (id, answer) = inner.calls.start(method);
        let mut envelope = Envelope::new(Kind::Call, &inner.link.conn());
        envelope.id = Some(id);
        envelope.method = Some(String::from(method));
        envelope.payload = params;
        if let Err(err) = inner.link.post(&envelope) {
            inner.calls.fail(id, |_| err.clone());
        }
        let weak = Rc::downgrade(inner);
        let ms = inner.timeout_ms;
        protocol::after(ms, move || {
            if let Some(inner) = weak.upgrade() {
                inner.calls.fail(id, |what| SdkError::Timeout { what, ms });
            }
        })?;
        JsFuture::from(answer).await
    }

    fn context_fields(&self) -> Result<Context, SdkError> {
        self.inner
            .context
            .borrow()
            .as_ref()
            .map(|(_, c)| c.clone())
            .ok_or_else(|| SdkError::Protocol(String::from("no context yet")))
    }
}

#[wasm_bindgen]
impl App {
    /// The context the parent gave: `{ project, environment, installation, user? }`.
    /// `environment.authToken` is a short-lived session token for this frame.
    #[wasm_bindgen(getter)]
    pub fn context(&self) -> JsValue {
        self.inner
            .context
            .borrow()
            .as_ref()
            .map_or(JsValue::NULL, |(v, _)| v.clone())
    }

    /// The installation: `{ id, status, config }` (the context's).
    #[wasm_bindgen(getter)]
    pub fn installation(&self) -> JsValue {
        let context = self.context();
        js_sys::Reflect::get(&context, &"installation".into()).unwrap_or(JsValue::NULL)
    }

    /// The setup code captured from `?code=` at `init`, or `null` when the page
    /// was opened without one or it has been exchanged.
    #[wasm_bindgen(js_name = setupCode)]
    pub fn setup_code(&self) -> Option<String> {
        self.inner.setup_code.borrow().clone()
    }

    /// `context.project.mgmtApi` without its last path segment: where the
    /// authority's `/app-exchange-token` lives.
    #[wasm_bindgen(js_name = managementApiBaseUrl)]
    pub fn management_api_base_url(&self) -> Result<String, JsValue> {
        let context = self.context_fields()?;
        management_api_base_url(&context.mgmt_api)
            // verifier-core's message is not carried: its formatting would
            // pull list joining into the module for one error.
            .map_err(|_| {
                let message = "context.project.mgmtApi is not an http(s) URL with a path";
                SdkError::Protocol(String::from(message)).into()
            })
    }

    /// Asks the parent to change the installation (`{ status?, config? }`) and
    /// resolves with the updated installation.
    #[wasm_bindgen(js_name = updateInstallation)]
    pub async fn update_installation(&self, update: JsValue) -> Result<JsValue, JsValue> {
        context::check_update(&update, "updateInstallation")?;
        let updated = self.call("updateInstallation", update).await?;
        context::check_installation(&updated, "updateInstallation result")?;
        Ok(updated)
    }

    /// Exchanges the setup code through the app backend: posts `{ code,
    /// environmentId, managementApiBaseUrl }` to `options.endpoint` (default
    /// `/api/exchangeSetupCode`) and resolves with the backend's JSON answer.
    /// On success the code is forgotten (it is single use). Rejects with
    /// `"no_setup_code"`, `"exchange_failed"` (with `status` and the backend's
    /// `message`) or `"network"`.
    #[wasm_bindgen(js_name = exchangeSetupCode)]
    pub async fn exchange_setup_code(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let endpoint = if options.is_undefined() || options.is_null() {
            None
        } else {
            js::only_keys(&options, &["endpoint"], "exchangeSetupCode options")?;
            js::opt_string(&options, "endpoint", "exchangeSetupCode options")?
        };

        let code = self.setup_code().ok_or(SdkError::NoSetupCode)?;
        let body = SetupCodeExchange {
            code,
            environment_id: self.context_fields()?.environment_id,
            management_api_base_url: self.management_api_base_url()?,
        };
        let endpoint = endpoint.as_deref().unwrap_or(exchange::DEFAULT_ENDPOINT);
        let answer = exchange::post(endpoint, &body).await?;
        *self.inner.setup_code.borrow_mut() = None;
        Ok(answer)
    }

    /// Calls one of the parent's methods whose params the bridge checks:
    /// `showToast` (`{ message, variant? }`), `resize` (`{ height, width? }`
    /// in CSS pixels), `getSessionToken` (no params; resolves with a
    /// session token that is not due for refresh — when the parent fetched a
    /// new one it pushes the new context first, so `context` and
    /// `onContextChange` already carry it), and the element methods
    /// `setValue` (`{ value }`; the npm package sends a burst of them as
    /// one), `setInvalid` (`{ message }`, `null` clears), `openDialog`
    /// (`{ url, options? }`, resolves with what the dialog closes with),
    /// `closeDialog` (`{ value }`), `navigate` (`{ to }`) and `confirm`
    /// (`{ message, title? }`, resolves with a boolean). One export for
    /// these keeps the module small; the npm package gives each its own
    /// method. What an element may call is decided by the bridge.
    pub async fn request(&self, method: String, params: JsValue) -> Result<JsValue, JsValue> {
        const METHODS: [&str; 9] = [
            "showToast",
            "setValue",
            "resize",
            "getSessionToken",
            "setInvalid",
            "openDialog",
            "closeDialog",
            "navigate",
            "confirm",
        ];
        if !METHODS.contains(&method.as_str()) {
            return Err(SdkError::InvalidArgument(format!("no method \"{method}\"")).into());
        }
        let answer = self.call(&method, params).await?;
        if method == "getSessionToken" && answer.as_string().is_none_or(|t| t.is_empty()) {
            return Err(SdkError::Protocol(String::from("getSessionToken: no token")).into());
        }
        Ok(answer)
    }

    /// Calls `callback(context)` whenever the parent pushes a new context
    /// (including after `updateInstallation`). Returns an id for
    /// [`App::off_context_change`].
    #[wasm_bindgen(js_name = onContextChange)]
    pub fn on_context_change(&self, callback: js_sys::Function) -> u32 {
        let id = self.inner.next_listener.get().wrapping_add(1);
        self.inner.next_listener.set(id);
        self.inner.listeners.borrow_mut().push((id, callback));
        id
    }

    /// Stops calling the callback registered as `id`.
    #[wasm_bindgen(js_name = offContextChange)]
    pub fn off_context_change(&self, id: u32) {
        self.inner.listeners.borrow_mut().retain(|(i, _)| *i != id);
    }

    /// Disconnects: stops listening, fails calls in flight with `"closed"`.
    pub fn close(&self) {
        self.inner.close();
    }
}

impl Inner {
    fn on_message(&self, event: &MessageEvent) {
        let Some(envelope) = self.link.accept(event) else {
            return;
        };
        if envelope.conn != self.link.conn() {
            return;
        }
        match envelope.kind {
            Kind::Welcome => match Context::check(&envelope.payload, "parent") {
                Ok(fields) => {
                    *self.context.borrow_mut() = Some((envelope.payload, fields));
                    self.settle_handshake(Ok(()));
                }
                Err(err) => self.settle_handshake(Err(err)),
            },
            Kind::Context => {
                // A context that fails the check is dropped: the app keeps
                // the last good one rather than fields it relies on vanishing.
                if let Ok(fields) = Context::check(&envelope.payload, "parent") {
                    *self.context.borrow_mut() = Some((envelope.payload.clone(), fields));
                    self.notify(&envelope.payload);
                }
            }
            Kind::Result => {
                if let Some(id) = envelope.id {
                    self.calls.resolve(id, &envelope.payload);
                }
            }
            Kind::Error => {
                if let (Some(id), Some(error)) = (envelope.id, envelope.error) {
                    self.calls.reject_remote(id, error);
                }
            }
            // The app never answers hellos or calls: it is not a parent.
            Kind::Hello | Kind::Call => {}
        }
    }

    fn notify(&self, context: &JsValue) {
        let listeners: Vec<js_sys::Function> = self
            .listeners
            .borrow()
            .iter()
            .map(|(_, f)| f.clone())
            .collect();
        for listener in listeners {
            // A listener that throws must not stop the others.
            let _ = listener.call1(&JsValue::UNDEFINED, context);
        }
    }

    fn settle_handshake(&self, outcome: Result<(), SdkError>) {
        let Some((resolve, reject)) = self.handshake.borrow_mut().take() else {
            return;
        };
        let _ = match outcome {
            Ok(()) => resolve.call0(&JsValue::UNDEFINED),
            Err(err) => reject.call1(&JsValue::UNDEFINED, &err.into()),
        };
    }

    fn close(&self) {
        if self.link.is_closed() {
            return;
        }
        self.link.close();
        if let Some(listener) = self.on_message.borrow_mut().take() {
            let _ = self
                .window
                .remove_event_listener_with_callback("message", listener.as_ref().unchecked_ref());
        }
        self.settle_handshake(Err(SdkError::Closed));
        self.calls.fail_all(|| SdkError::Closed);
    }
}

/// Posts `hello` now and again every [`HELLO_EVERY_MS`] until the handshake
/// is settled (welcomed, timed out or closed).
fn say_hello(weak: Weak<Inner>) {
    let Some(inner) = weak.upgrade() else { return };
    if inner.handshake.borrow().is_none() {
        return;
    }
    let hello = Envelope::new(Kind::Hello, &inner.link.conn());
    if let Err(err) = inner.link.post(&hello) {
        inner.settle_handshake(Err(err));
        return;
    }
    if let Err(err) = protocol::after(HELLO_EVERY_MS, move || say_hello(weak)) {
        inner.settle_handshake(Err(err));
    }
}
