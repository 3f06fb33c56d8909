//! The platform side: `createAppFrame`, the bridge that answers an app frame.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{HtmlIFrameElement, MessageEvent, Window};

use crate::context::{self, Context};
use crate::element::{self, Element};
use crate::error::{SdkError, describe};
use crate::js;
use crate::protocol::{self, Envelope, Kind, Link, RemoteError};

/// Largest frame size `resize` accepts, in CSS pixels.
const MAX_FRAME_PX: u32 = 100_000;
/// A session token is refreshed once this share of its lifetime has passed.
const REFRESH_AT: f64 = 0.8;

type MessageListener = Closure<dyn FnMut(MessageEvent)>;

/// Checks a `showToast` argument: `{ message, variant? }`.
fn check_toast(toast: &JsValue) -> Result<(), SdkError> {
    const VARIANTS: [&str; 4] = ["info", "success", "warning", "error"];
    js::only_keys(toast, &["message", "variant"], "showToast")?;
    js::string(toast, "message", "showToast")?;
    match js::opt_string(toast, "variant", "showToast")? {
        Some(v) if !VARIANTS.contains(&v.as_str()) => Err(SdkError::InvalidArgument(format!(
            "showToast: variant must be one of {}",
            VARIANTS.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Checks a `resize` argument, `{ height, width? }`, and returns the sizes in
/// whole CSS pixels.
fn check_size(size: &JsValue) -> Result<(u32, Option<u32>), SdkError> {
    js::only_keys(size, &["height", "width"], "resize")?;
    let pixels = |key: &str| -> Result<Option<u32>, SdkError> {
        match js::opt_number(size, key, "resize")? {
            None => Ok(None),
            Some(v) if v.is_finite() && (0.0..=f64::from(MAX_FRAME_PX)).contains(&v) => {
                Ok(Some(v.round() as u32))
            }
            Some(_) => Err(SdkError::InvalidArgument(format!(
                "resize: {key} must be a number from 0 to {MAX_FRAME_PX}"
            ))),
        }
    };
    let height = pixels("height")?
        .ok_or_else(|| SdkError::InvalidArgument(String::from("resize: height is required")))?;
    Ok((height, pixels("width")?))
}

/// Checks a field element's `setValue` params, `{ value }` and nothing
/// else (a field element names no field: it writes its own), against its
/// field's type, and returns the value. A read-only field takes nothing.
fn check_set_value(element: Option<&Element>, params: &JsValue) -> Result<JsValue, SdkError> {
    js::only_keys(params, &["value"], "setValue")?;
    let value = js::get(params, "value");
    if value.is_undefined() {
        let message = "setValue: value is required (null to empty the field)";
        return Err(SdkError::InvalidArgument(String::from(message)));
    }
    let field_type = element.and_then(|e| e.field_type.as_deref()).unwrap_or("");
    element::check_value(field_type, &value)?;
    Ok(value)
}

/// Checks `openDialog` params, `{ url, options? }`: the dialog is a page of
/// the same app, so `url` must be on the frame's pinned origin; `options`
/// (the platform's: `title`, `width`, `height`; the dialog's own in
/// `config`) an object.
fn check_dialog(params: &JsValue, link: &Link) -> Result<(), SdkError> {
    js::only_keys(params, &["url", "options"], "openDialog")?;
    let url = js::string(params, "url", "openDialog")?;
    let on_origin = web_sys::Url::new(&url).is_ok_and(|u| u.origin() == link.peer_origin());
    if !on_origin {
        let message = format!(
            "openDialog: url must be on the app's origin {}",
            link.peer_origin()
        );
        return Err(SdkError::InvalidArgument(message));
    }
    let options = js::get(params, "options");
    if !options.is_undefined() {
        js::only_keys(
            &options,
            &["title", "width", "height", "config"],
            "openDialog options",
        )?;
    }
    Ok(())
}

struct Inner {
    window: Window,
    iframe: HtmlIFrameElement,
    link: Link,
    context: RefCell<JsValue>,
    handlers: JsValue,
    /// The element this frame is (fixed at `createAppFrame`).
    element: Option<Element>,
    on_message: RefCell<Option<MessageListener>>,
    session: RefCell<Session>,
}

/// The session token the bridge keeps, when the platform gave it a
/// `getSessionToken` handler.
#[derive(Default)]
struct Session {
    /// `Date.now()` after which the token is refreshed; 0: never fetched.
    fresh_until: f64,
    /// Bumped on every new token, so an older refresh timer does nothing.
    generation: u32,
    /// The handler's answer while a refresh is in flight, shared by every
    /// caller that needs a token meanwhile.
    in_flight: Option<js_sys::Promise>,
}

/// Checks a `getSessionToken` handler's answer, `{ token, expiresIn }`
/// (`expiresIn` in seconds, as OAuth's `expires_in`), and returns both.
fn check_session(value: &JsValue) -> Result<(String, f64), SdkError> {
    const WHAT: &str = "getSessionToken handler";
    let token = js::string(value, "token", WHAT)?;
    match js::opt_number(value, "expiresIn", WHAT)? {
        Some(s) if !token.is_empty() && s.is_finite() && s > 0.0 => Ok((token, s)),
        _ => Err(SdkError::InvalidArgument(format!(
            "{WHAT}: must resolve with {{ token, expiresIn }} (a token and its lifetime in seconds)"
        ))),
    }
}

/// The parent's end of one app frame.
///
/// Made by [`create_app_frame`]; lives until [`AppFrame::destroy`].
#[wasm_bindgen]
pub struct AppFrame {
    inner: Rc<Inner>,
}

/// Hosts an app in `iframe`.
///
/// `options`: `{ iframe, appOrigin, context, handlers? }`. Only messages from
/// `iframe.contentWindow` at `appOrigin` are accepted, and everything sent
/// is addressed to `appOrigin`. `handlers` may have `updateInstallation(update)`
/// (resolves with the updated installation; the bridge then pushes the new
/// context to the app), `showToast({ message, variant })` and
/// `resize({ height, width })` (without a handler the bridge sets the iframe's
/// height itself) and `getSessionToken()`. `getContext` is answered by the
/// bridge. A handler may return a value or a promise; if it throws, the app's
/// call rejects with the thrown `code` (or `"handler_failed"`) and message.
///
/// With `getSessionToken` (resolving `{ token, expiresIn }`, seconds) the
/// bridge owns `context.environment.authToken`, which the context may then
/// leave out: it fetches a token when the app connects, fetches the next
/// once 80 % of its lifetime has passed and pushes the new context,
/// and answers the app's `getSessionToken` with a token that is not due for
/// refresh. Without the handler the app's `getSessionToken` gets the
/// context's token as it is.
#[wasm_bindgen(js_name = createAppFrame)]
pub fn create_app_frame(options: JsValue) -> Result<AppFrame, JsValue> {
    js::only_keys(
        &options,
        &["iframe", "appOrigin", "context", "handlers"],
        "createAppFrame",
    )?;
    let get = |key: &str| js::get(&options, key);
    let iframe: HtmlIFrameElement = get("iframe").dyn_into().map_err(|_| {
        SdkError::InvalidArgument(String::from(
            "createAppFrame: iframe must be an <iframe> element",
        ))
    })?;
    let app_origin = get("appOrigin").as_string().ok_or_else(|| {
        SdkError::InvalidArgument(String::from("createAppFrame: appOrigin is required"))
    })?;
    let app_origin = protocol::check_origin(&app_origin, "appOrigin")?;
    let context = get("context");
    let handlers = get("handlers");
    let owns_token = js::get(&handlers, "getSessionToken").is_function();
    let element = Context::check_with(&context, "createAppFrame", !owns_token)?.element;
    let window = protocol::window()?;
    let target = iframe.content_window().ok_or_else(|| {
        SdkError::InvalidArgument(String::from(
            "createAppFrame: the iframe must be in the document (it has no contentWindow)",
        ))
    })?;
    let inner = Rc::new(Inner {
        window,
        iframe,
        link: Link::new(target, app_origin, String::new()),
        context: RefCell::new(context),
        handlers,
        element,
        on_message: RefCell::new(None),
        session: RefCell::new(Session::default()),
    });
    let weak = Rc::downgrade(&inner);
    let listener: MessageListener = Closure::new(move |event: MessageEvent| {
        if let Some(inner) = weak.upgrade() {
            Inner::on_message(&inner, &event);
        }
    });
    inner
        .window
        .add_event_listener_with_callback("message", listener.as_ref().unchecked_ref())
        .map_err(|e| SdkError::browser("addEventListener", &e))?;
    *inner.on_message.borrow_mut() = Some(listener);
    Ok(AppFrame { inner })
}

#[wasm_bindgen]
impl AppFrame {
    /// Replaces the context and pushes it to the app (if connected).
    #[wasm_bindgen(js_name = setContext)]
    /// With a `getSessionToken` handler the bridge's token is kept (the
    /// context given may leave `environment.authToken` out).
    pub fn set_context(&self, context: JsValue) -> Result<(), JsValue> {
        let owned = self
            .inner
            .handler("getSessionToken")
            .and(self.inner.token());
        let checked = Context::check_with(&context, "setContext", owned.is_none())?;
        if checked.element != self.inner.element {
            let message = "setContext: a frame stays the element it was created as";
            return Err(SdkError::InvalidArgument(String::from(message)).into());
        }
        let context = match owned {
            Some(token) => with_token(&context, &token),
            None => context,
        };
        *self.inner.context.borrow_mut() = context;
        self.inner.push_context()?;
        Ok(())
    }

    /// The context the app sees now.
    #[wasm_bindgen(getter)]
    pub fn context(&self) -> JsValue {
        self.inner.context.borrow().clone()
    }

    /// Whether an app has completed the handshake.
    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        !self.inner.link.conn().is_empty() && !self.inner.link.is_closed()
    }

    /// Stops answering the frame and removes the listener.
    pub fn destroy(&self) {
        self.inner.link.close();
        if let Some(listener) = self.inner.on_message.borrow_mut().take() {
            let _ = self
                .inner
                .window
                .remove_event_listener_with_callback("message", listener.as_ref().unchecked_ref());
        }
    }
}

impl Inner {
    fn on_message(this: &Rc<Inner>, event: &MessageEvent) {
        let Some(envelope) = this.link.accept(event) else {
            return;
        };
        match envelope.kind {
            // A hello opens a connection, or re-opens it after the app
            // reloaded or navigated (same window, same origin, new id).
            // With a session-token handler the welcome waits for a fresh
            // token (a failed fetch welcomes with what the context has).
            Kind::Hello => {
                this.link.set_conn(envelope.conn);
                let weak = Rc::downgrade(this);
                spawn_local(async move {
                    let Some(inner) = weak.upgrade() else { return };
                    if inner.handler("getSessionToken").is_some() {
                        let _ = Inner::session_token(&inner, false).await;
                    }
                    let mut welcome = Envelope::new(Kind::Welcome, &inner.link.conn());
                    welcome.payload = inner.context.borrow().clone();
                    let _ = inner.link.post(&welcome);
                });
            }
            Kind::Call if envelope.conn == this.link.conn() => {
                let Some(id) = envelope.id else { return };
                let weak = Rc::downgrade(this);
                spawn_local(answer(
                    weak,
                    id,
                    envelope.method.unwrap_or_default(),
                    envelope.payload,
                ));
            }
            _ => {}
        }
    }

    fn push_context(&self) -> Result<(), SdkError> {
        if self.link.conn().is_empty() {
            return Ok(());
        }
        let mut push = Envelope::new(Kind::Context, &self.link.conn());
        push.payload = self.context.borrow().clone();
        self.link.post(&push)
    }

    /// `context.environment.authToken` now, if it is a string.
    fn token(&self) -> Option<String> {
        js::get(&js::get(&self.context.borrow(), "environment"), "authToken").as_string()
    }

    /// A session token not due for refresh: the context's (without a
    /// handler, or while fresh), else the handler's next one, which replaces
    /// the context's and is pushed to the app. `force` refreshes anyway (the
    /// timer's call, which may fire a hair before `fresh_until`).
    async fn session_token(this: &Rc<Inner>, force: bool) -> Result<String, RemoteError> {
        let current = this.token();
        let Some(handler) = this.handler("getSessionToken") else {
            return current.ok_or_else(|| RemoteError {
                code: String::from("not_handled"),
                message: String::from("the context has no authToken"),
            });
        };
        let fresh = js_sys::Date::now() < this.session.borrow().fresh_until;
        if let (Some(token), true, false) = (&current, fresh, force) {
            return Ok(token.clone());
        }
        let pending = this.session.borrow().in_flight.clone();
        let promise = match pending {
            Some(promise) => promise,
            None => {
                let value = handler.call0(&this.handlers).map_err(handler_failed)?;
                let promise = js_sys::Promise::resolve(&value);
                this.session.borrow_mut().in_flight = Some(promise.clone());
                promise
            }
        };
        let answer = JsFuture::from(promise).await;
        this.session.borrow_mut().in_flight = None;
        let (token, expires_in) =
            check_session(&answer.map_err(handler_failed)?).map_err(|e| RemoteError {
                code: String::from("handler_failed"),
                message: e.to_string(),
            })?;
        if this.token().as_deref() != Some(token.as_str()) {
            let lifetime_ms = expires_in * 1000.0 * REFRESH_AT;
            let generation = {
                let mut session = this.session.borrow_mut();
                session.fresh_until = js_sys::Date::now() + lifetime_ms;
                session.generation = session.generation.wrapping_add(1);
                session.generation
            };
            let context = with_token(&this.context.borrow(), &token);
            *this.context.borrow_mut() = context;
            let _ = this.push_context();
            Inner::refresh_later(this, generation, lifetime_ms);
        }
        Ok(token)
    }

    /// Refreshes the token after `ms`, if no newer token came meanwhile, the
    /// frame is still there and an app is connected (a later hello fetches
    /// one anyway).
    fn refresh_later(this: &Rc<Inner>, generation: u32, ms: f64) {
        let weak = Rc::downgrade(this);
        let ms = ms.clamp(250.0, f64::from(i32::MAX)) as u32;
        let _ = protocol::after(ms, move || {
            let Some(inner) = weak.upgrade() else { return };
            let live = !inner.link.is_closed() && !inner.link.conn().is_empty();
            if live && inner.session.borrow().generation == generation {
                spawn_local(async move {
                    let _ = Inner::session_token(&inner, true).await;
                });
            }
        });
    }

    fn handler(&self, name: &str) -> Option<js_sys::Function> {
        js_sys::Reflect::get(&self.handlers, &name.into())
            .ok()?
            .dyn_into()
            .ok()
    }

    /// Calls handler `name` and awaits it if it returned a promise.
    async fn run(&self, name: &str, params: &JsValue) -> Result<JsValue, RemoteError> {
        let handler = self.handler(name).ok_or_else(|| RemoteError {
            code: String::from("not_handled"),
            message: format!("the platform does not handle {name}"),
        })?;
        let value = handler
            .call1(&self.handlers, params)
            .map_err(handler_failed)?;
        match value.dyn_into::<js_sys::Promise>() {
            Ok(promise) => JsFuture::from(promise).await.map_err(handler_failed),
            Err(value) => Ok(value),
        }
    }

    async fn dispatch(
        this: &Rc<Inner>,
        method: &str,
        params: JsValue,
    ) -> Result<JsValue, RemoteError> {
        if !element::allows(this.element.as_ref(), method) {
            let what = this.element.as_ref().map_or("app page", Element::name);
            return Err(RemoteError {
                code: String::from("not_allowed"),
                message: format!("a {what} frame cannot call {method}"),
            });
        }
        match method {
            "getContext" => Ok(this.context.borrow().clone()),
            "getSessionToken" => Ok(JsValue::from(Inner::session_token(this, false).await?)),
            "updateInstallation" => {
                context::check_update(&params, method).map_err(invalid)?;
                let installation = this.run("updateInstallation", &params).await?;
                context::check_installation(&installation, "updateInstallation handler").map_err(
                    |e| RemoteError {
                        code: String::from("handler_failed"),
                        message: e.to_string(),
                    },
                )?;
                let context = this.context.borrow().clone();
                let _ = js_sys::Reflect::set(&context, &"installation".into(), &installation);
                let _ = this.push_context();
                Ok(installation)
            }
            "showToast" => {
                check_toast(&params).map_err(invalid)?;
                this.run("showToast", &params).await
            }
            "resize" => {
                let (height, width) = check_size(&params).map_err(invalid)?;
                if this.handler("resize").is_some() {
                    return this.run("resize", &params).await;
                }
                let _ = this
                    .iframe
                    .style()
                    .set_property("height", &format!("{height}px"));
                if let Some(width) = width {
                    let _ = this
                        .iframe
                        .style()
                        .set_property("width", &format!("{width}px"));
                }
                Ok(JsValue::NULL)
            }
            "setValue" => {
                let value = check_set_value(this.element.as_ref(), &params).map_err(invalid)?;
                let result = this.run("setValue", &value).await?;
                // The bridge's context follows, so a later push or
                // getContext carries the value the platform took.
                let element = js::get(&this.context.borrow(), "element");
                let _ = js_sys::Reflect::set(&element, &"value".into(), &value);
                Ok(result)
            }
            "setInvalid" => {
                js::only_keys(&params, &["message"], method).map_err(invalid)?;
                let message = js::opt_string(&params, "message", method).map_err(invalid)?;
                this.run("setInvalid", &message.map_or(JsValue::NULL, JsValue::from))
                    .await
            }
            "openDialog" => {
                check_dialog(&params, &this.link).map_err(invalid)?;
                this.run("openDialog", &params).await
            }
            "closeDialog" => {
                js::only_keys(&params, &["value"], method).map_err(invalid)?;
                this.run("closeDialog", &js::get(&params, "value")).await
            }
            "navigate" => {
                js::only_keys(&params, &["to"], method).map_err(invalid)?;
                let to = js::string(&params, "to", method).map_err(invalid)?;
                if !to.starts_with('/') || to.starts_with("//") {
                    let message = "navigate: to must be a path within the platform, like /content";
                    return Err(invalid(SdkError::InvalidArgument(String::from(message))));
                }
                this.run("navigate", &params).await
            }
            "confirm" => {
                js::only_keys(&params, &["message", "title"], method).map_err(invalid)?;
                js::string(&params, "message", method).map_err(invalid)?;
                js::opt_string(&params, "title", method).map_err(invalid)?;
                let answer = this.run("confirm", &params).await?;
                answer
                    .as_bool()
                    .map(JsValue::from)
                    .ok_or_else(|| RemoteError {
                        code: String::from("handler_failed"),
                        message: String::from("confirm handler: must resolve with true or false"),
                    })
            }
            other => Err(RemoteError {
                code: String::from("unknown_method"),
                message: format!("no method \"{other}\""),
            }),
        }
    }
}

/// Answers call `id` once its handler has run.
async fn answer(weak: Weak<Inner>, id: u32, method: String, params: JsValue) {
    let Some(inner) = weak.upgrade() else { return };
    let outcome = Inner::dispatch(&inner, &method, params).await;
    let mut reply = match outcome {
        Ok(result) => {
            let mut e = Envelope::new(Kind::Result, &inner.link.conn());
            e.payload = result;
            e
        }
        Err(error) => {
            let mut e = Envelope::new(Kind::Error, &inner.link.conn());
            e.error = Some(error);
            e
        }
    };
    reply.id = Some(id);
    let _ = inner.link.post(&reply);
}

/// A copy of `context` whose `environment.authToken` is `token` (the
/// platform's objects are not changed).
fn with_token(context: &JsValue, token: &str) -> JsValue {
    let copy = |value: &JsValue| -> js_sys::Object {
        js_sys::Object::assign(&js_sys::Object::new(), value.unchecked_ref())
    };
    let environment = copy(&js::get(context, "environment"));
    let _ = js_sys::Reflect::set(&environment, &"authToken".into(), &token.into());
    let context = copy(context);
    let _ = js_sys::Reflect::set(&context, &"environment".into(), &environment);
    context.into()
}

fn invalid(err: SdkError) -> RemoteError {
    RemoteError {
        code: String::from(err.code()),
        message: err.to_string(),
    }
}

fn handler_failed(thrown: JsValue) -> RemoteError {
    let code = js_sys::Reflect::get(&thrown, &"code".into())
        .ok()
        .and_then(|c| c.as_string())
        .unwrap_or_else(|| String::from("handler_failed"));
    RemoteError {
        code,
        message: describe(&thrown),
    }
}
