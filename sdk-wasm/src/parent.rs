//! The platform side: `createAppFrame`, the bridge that answers an app frame.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{HtmlIFrameElement, MessageEvent, Window};

use crate::context::{self, Context};
use crate::error::{SdkError, describe};
use crate::js;
use crate::protocol::{self, Envelope, Kind, Link, RemoteError};

/// Largest frame size `resize` accepts, in CSS pixels.
const MAX_FRAME_PX: u32 = 100_000;

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

struct Inner {
    window: Window,
    iframe: HtmlIFrameElement,
    link: Link,
    context: RefCell<JsValue>,
    handlers: JsValue,
    on_message: RefCell<Option<MessageListener>>,
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
/// height itself). `getContext` is answered by the bridge. A handler may
/// return a value or a promise; if it throws, the app's call rejects with the
/// thrown `code` (or `"handler_failed"`) and message.
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
    Context::check(&context, "createAppFrame")?;
    let handlers = get("handlers");
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
        on_message: RefCell::new(None),
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
    pub fn set_context(&self, context: JsValue) -> Result<(), JsValue> {
        Context::check(&context, "setContext")?;
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
            Kind::Hello => {
                this.link.set_conn(envelope.conn);
                let mut welcome = Envelope::new(Kind::Welcome, &this.link.conn());
                welcome.payload = this.context.borrow().clone();
                let _ = this.link.post(&welcome);
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

    async fn dispatch(&self, method: &str, params: JsValue) -> Result<JsValue, RemoteError> {
        match method {
            "getContext" => Ok(self.context.borrow().clone()),
            "updateInstallation" => {
                context::check_update(&params, method).map_err(invalid)?;
                let installation = self.run("updateInstallation", &params).await?;
                context::check_installation(&installation, "updateInstallation handler").map_err(
                    |e| RemoteError {
                        code: String::from("handler_failed"),
                        message: e.to_string(),
                    },
                )?;
                let context = self.context.borrow().clone();
                let _ = js_sys::Reflect::set(&context, &"installation".into(), &installation);
                let _ = self.push_context();
                Ok(installation)
            }
            "showToast" => {
                check_toast(&params).map_err(invalid)?;
                self.run("showToast", &params).await
            }
            "resize" => {
                let (height, width) = check_size(&params).map_err(invalid)?;
                if self.handler("resize").is_some() {
                    return self.run("resize", &params).await;
                }
                let _ = self
                    .iframe
                    .style()
                    .set_property("height", &format!("{height}px"));
                if let Some(width) = width {
                    let _ = self
                        .iframe
                        .style()
                        .set_property("width", &format!("{width}px"));
                }
                Ok(JsValue::NULL)
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
    let outcome = inner.dispatch(&method, params).await;
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
