//! The SDK's one error type, and how it reaches JavaScript.
//!
//! Every promise the SDK returns rejects with a JavaScript `Error` whose
//! `name` is `"TallyError"` and whose `code` is one of [`SdkError::code`]'s
//! stable strings, so an app can branch on `err.code` without parsing
//! messages. Errors about HTTP responses also carry `status`.

use wasm_bindgen::JsValue;

/// What went wrong, with a stable machine-readable [`code`](SdkError::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdkError {
    /// An argument the app or platform passed is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `init` was called in a page that is not inside a frame.
    #[error("not running inside a frame: the app must be opened by its platform")]
    NotInFrame,
    /// The app named no `parentOrigin` and the browser does not say which
    /// page frames it (or, with several `parentOrigins`, which of them).
    #[error(
        "could not learn which page frames this app (the browser gives no location.ancestorOrigins and no usable document.referrer): pass init({{ parentOrigin: \"https://your-platform.example\" }}), or <Wrapper parentOrigin=...>"
    )]
    NoParentOrigin,
    /// The browser says the page framing the app is at this origin, which is
    /// not one the app pinned.
    #[error("this app is framed by {0}, which is not one of its parentOrigins")]
    ParentNotPinned(String),
    /// The other side did not answer in time.
    #[error("{what} got no answer within {} ms", number(f64::from(*.ms)))]
    Timeout {
        /// What was waiting (`"handshake"` or the method called).
        what: String,
        /// The timeout that elapsed.
        ms: u32,
    },
    /// The other side answered with an error.
    #[error("{method} failed: {message}")]
    Remote {
        /// The method that failed.
        method: String,
        /// The other side's code (e.g. `"unknown_method"`, `"handler_failed"`).
        code: String,
        /// The other side's message.
        message: String,
    },
    /// A message that should have followed the protocol did not.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The connection was closed by `close()` / `destroy()`.
    #[error("the connection is closed")]
    Closed,
    /// There is no setup code: the page was not opened with `?code=`, or the
    /// code was already exchanged.
    #[error("no setup code: the page was not opened with ?code=, or it was already exchanged")]
    NoSetupCode,
    /// The app backend's exchange route answered with an error status.
    #[error("setup code exchange failed ({}): {message}", number(f64::from(*.status)))]
    Exchange {
        /// HTTP status from the app backend.
        status: u16,
        /// The backend's `message` (or the status text).
        message: String,
    },
    /// The app backend could not be reached.
    #[error("setup code exchange could not reach the app backend: {0}")]
    Network(String),
    /// A browser API the SDK needs is missing or failed.
    #[error("browser API failed: {0}")]
    Browser(String),
}

impl SdkError {
    /// The stable machine-readable reason, set as `err.code` in JavaScript.
    pub fn code(&self) -> &str {
        match self {
            SdkError::InvalidArgument(_) => "invalid_argument",
            SdkError::NotInFrame => "not_in_frame",
            SdkError::NoParentOrigin => "no_parent_origin",
            SdkError::ParentNotPinned(_) => "parent_not_pinned",
            SdkError::Timeout { .. } => "timeout",
            SdkError::Remote { code, .. } => code,
            SdkError::Protocol(_) => "protocol",
            SdkError::Closed => "closed",
            SdkError::NoSetupCode => "no_setup_code",
            SdkError::Exchange { .. } => "exchange_failed",
            SdkError::Network(_) => "network",
            SdkError::Browser(_) => "browser",
        }
    }

    /// A browser call that threw; keeps the thrown value's text.
    pub(crate) fn browser(what: &str, thrown: &JsValue) -> SdkError {
        SdkError::Browser(format!("{what}: {}", describe(thrown)))
    }
}

/// A number as JavaScript prints it. In the module Rust's integer
/// formatting would add about 1.5 KB for the two numbers messages carry.
#[cfg(target_arch = "wasm32")]
pub(crate) fn number(n: f64) -> String {
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// A number as JavaScript prints it (natively, where there is no JavaScript).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn number(n: f64) -> String {
    format!("{n}")
}

/// The `message` of a thrown value, or its string form.
pub(crate) fn describe(thrown: &JsValue) -> String {
    use wasm_bindgen::JsCast;
    match thrown.dyn_ref::<js_sys::Error>() {
        Some(e) => String::from(e.message()),
        None => thrown
            .as_string()
            .unwrap_or_else(|| String::from("unknown error")),
    }
}

impl From<SdkError> for JsValue {
    fn from(err: SdkError) -> JsValue {
        let js = js_sys::Error::new(&err.to_string());
        js.set_name("TallyError");
        // Setting plain data properties on a fresh Error cannot fail.
        let _ = js_sys::Reflect::set(&js, &"code".into(), &err.code().into());
        if let SdkError::Exchange { status, .. } = &err {
            let _ = js_sys::Reflect::set(&js, &"status".into(), &(*status).into());
        }
        js.into()
    }
}

#[cfg(test)]
mod tests {
    use super::SdkError;

    #[test]
    fn codes_are_stable_strings() {
        assert_eq!(SdkError::NotInFrame.code(), "not_in_frame");
        assert_eq!(
            SdkError::Timeout {
                what: "x".into(),
                ms: 5
            }
            .code(),
            "timeout"
        );
        let remote = SdkError::Remote {
            method: "resize".into(),
            code: "unknown_method".into(),
            message: "no".into(),
        };
        assert_eq!(remote.code(), "unknown_method");
        let exchange = SdkError::Exchange {
            status: 502,
            message: "down".into(),
        };
        assert_eq!(exchange.code(), "exchange_failed");
        assert_eq!(
            exchange.to_string(),
            "setup code exchange failed (502): down"
        );
    }
}
