//! Which origin the platform page framing the app is served from: pinned by
//! the app, or learned from the browser.
//!
//! Whatever the source, the handshake is then pinned to that one origin and
//! to `window.parent`, exactly as with an explicit `parentOrigin`: messages
//! are posted to it only and accepted from it only.
//!
//! What the browser says, most certain first:
//! 1. a same-origin parent's own `location.origin` (readable only when the
//!    parent is same-origin, so it is exact);
//! 2. `location.ancestorOrigins[0]` (Chromium, Safari): the browser's record
//!    of the parent's origin, which the parent cannot forge;
//! 3. the origin of `document.referrer`: the page that opened this frame,
//!    as far as its referrer policy tells. Not certain — the referrer is the
//!    app's own origin after a navigation inside the frame (ignored, since a
//!    same-origin parent is caught by 1), and absent under `no-referrer`.
//!
//! With pins (`parentOrigin`, or the list `parentOrigins`) the learned origin
//! picks among them; a certain origin outside the pins is refused at once
//! (`parent_not_pinned`) instead of timing out. Without pins the learned
//! origin is used, and with nothing learned `init` rejects with
//! `no_parent_origin`, saying what to pass.

use web_sys::Window;

use crate::error::SdkError;
use crate::js;
use crate::protocol::check_origin;

/// An origin the browser gave, and whether the parent could have forged it.
struct Learned {
    origin: String,
    certain: bool,
}

/// The origin to pin the handshake to, given the app's `pins` (checked
/// origins, possibly none).
pub(crate) fn resolve(
    window: &Window,
    parent: &Window,
    pins: &[String],
) -> Result<String, SdkError> {
    let learned = learn(window, parent);
    match (learned, pins) {
        (Some(l), []) => Ok(l.origin),
        (Some(l), _) if pins.contains(&l.origin) => Ok(l.origin),
        (Some(l), _) if l.certain => Err(SdkError::ParentNotPinned(l.origin)),
        (_, [only]) => Ok(only.clone()),
        _ => Err(SdkError::NoParentOrigin),
    }
}

fn learn(window: &Window, parent: &Window) -> Option<Learned> {
    let certain = |origin: String| Learned {
        origin,
        certain: true,
    };
    if let Ok(origin) = parent.location().origin() {
        return checked(origin).map(certain);
    }
    let location = js::get(window.as_ref(), "location");
    let ancestors = js::get(&location, "ancestorOrigins");
    if !ancestors.is_undefined() {
        // The list exists: its first entry is the parent; an opaque parent
        // ("null") cannot be pinned.
        let first = js_sys::Reflect::get_u32(&ancestors, 0).ok()?.as_string()?;
        return checked(first).map(certain);
    }
    let own = js::get(&location, "origin").as_string();
    let referrer = js::get(&js::get(window.as_ref(), "document"), "referrer").as_string()?;
    let origin = web_sys::Url::new(&referrer).ok()?.origin();
    if Some(&origin) == own.as_ref() {
        return None;
    }
    checked(origin).map(|origin| Learned {
        origin,
        certain: false,
    })
}

fn checked(origin: String) -> Option<String> {
    check_origin(&origin, "parent origin").ok()
}
