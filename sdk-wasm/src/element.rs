//! Elements: which part of the platform a frame is, what it may ask of
//! the parent, and what a field element may write (`PROTOCOL.md`,
//! "Elements").
//!
//! A frame is an element when its context has `element`: a `page` of its
//! own in the platform's navigation, a `sidebar` panel beside an entry, a
//! `field` editor in place of one field's input, or a `dialog` another
//! frame of the same app opened. A frame without `element` is the app's
//! setup or main page. The bridge reads the element once, at
//! `createAppFrame`; a later context may change its values, never its type
//! or field, so a frame cannot become another element. The same checks
//! run on both sides: the bridge before it sends a context, the app on
//! receipt.

use wasm_bindgen::JsValue;

use crate::error::SdkError;
use crate::js;

/// What kind of element a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A page of its own in the platform's navigation.
    Page,
    /// A panel beside an entry in the content editor.
    Sidebar,
    /// The editor of one field of an entry.
    Field,
    /// A dialog another frame of the app opened.
    Dialog,
}

const KINDS: [(Kind, &str); 4] = [
    (Kind::Page, "page"),
    (Kind::Sidebar, "sidebar"),
    (Kind::Field, "field"),
    (Kind::Dialog, "dialog"),
];

/// The element a context describes: its kind and, for a field element,
/// the field it edits and that field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) kind: Kind,
    /// `element.field.apiId` (field elements).
    pub(crate) field: Option<String>,
    /// `element.field.type` (field elements), one of [`verifier_core::FIELD_TYPES`].
    pub(crate) field_type: Option<String>,
}

#[cfg(feature = "parent")]
impl Element {
    /// The kind's name, as the context spells it.
    pub(crate) fn name(&self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self.kind)
            .map_or("", |(_, n)| n)
    }
}

/// Reads and checks `context.element`: `None` when the frame is no element.
///
/// Every element has `type` and `apiId` (strings) and `config` (an object,
/// the app's settings for it); the bridge also checks what each kind adds:
/// a field element has `field: { apiId, type }`
/// with `type` one of [`verifier_core::FIELD_TYPES`], `model` and `value` (any JSON value,
/// `null` when empty) and `isReadOnly` (boolean); a sidebar `model` and
/// `values` (an object); a page `route` (a string).
pub(crate) fn read(context: &JsValue) -> Result<Option<Element>, SdkError> {
    let element = js::get(context, "element");
    if element.is_undefined() {
        return Ok(None);
    }
    const WHAT: &str = "context.element";
    if !js::is_plain_object(&element) {
        return Err(invalid("must be an object"));
    }
    let name = js::string(&element, "type", WHAT)?;
    let kind = KINDS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(k, _)| *k)
        .ok_or_else(|| invalid("type must be page, sidebar, field or dialog"))?;
    js::string(&element, "apiId", WHAT)?;
    if !js::is_plain_object(&js::get(&element, "config")) {
        return Err(invalid("config must be an object"));
    }
    #[cfg(feature = "parent")]
    let (field, field_type) = read_kind(&element, kind)?;
    #[cfg(not(feature = "parent"))]
    let (field, field_type) = (None, None);
    Ok(Some(Element {
        kind,
        field,
        field_type,
    }))
}

/// The fields each kind adds, checked (the bridge's side: an app trusts a
/// context its pinned parent sent once the common fields hold, which keeps
/// the app's module small); a field element's field and its type.
#[cfg(feature = "parent")]
fn read_kind(element: &JsValue, kind: Kind) -> Result<(Option<String>, Option<String>), SdkError> {
    const WHAT: &str = "context.element";
    let (mut field, mut field_type) = (None, None);
    match kind {
        Kind::Field => {
            let f = js::get(element, "field");
            field = Some(js::string(&f, "apiId", "context.element.field")?);
            let t = js::string(&f, "type", "context.element.field")?;
            if !verifier_core::FIELD_TYPES.contains(&t.as_str()) {
                return Err(invalid("field.type is not a field type"));
            }
            field_type = Some(t);
            js::string(element, "model", WHAT)?;
            if js::get(element, "value").is_undefined() {
                return Err(invalid("value is missing (null when empty)"));
            }
            if js::get(element, "isReadOnly").as_bool().is_none() {
                return Err(invalid("isReadOnly must be a boolean"));
            }
        }
        Kind::Sidebar => {
            js::string(element, "model", WHAT)?;
            if !js::is_plain_object(&js::get(element, "values")) {
                return Err(invalid("values must be an object"));
            }
        }
        Kind::Page => {
            js::string(element, "route", WHAT)?;
        }
        Kind::Dialog => {}
    }
    Ok((field, field_type))
}

/// Whether a frame that is `element` may call `method`: `setValue` and
/// `setInvalid` are a field element's, `closeDialog` a dialog's,
/// `updateInstallation` the app's own pages' (no element, or a page);
/// the rest (`getContext`, `getSessionToken`, `showToast`, `resize`,
/// `openDialog`, `navigate`, `confirm`) every frame's.
#[cfg(feature = "parent")]
pub(crate) fn allows(element: Option<&Element>, method: &str) -> bool {
    let kind = element.map(|e| e.kind);
    match method {
        "setValue" | "setInvalid" => kind == Some(Kind::Field),
        "closeDialog" => kind == Some(Kind::Dialog),
        "updateInstallation" => matches!(kind, None | Some(Kind::Page)),
        _ => true,
    }
}

/// Checks that `value` is a value of field type `field_type`: `string` and
/// `text` a string, `number` a finite number, `boolean`, `json` anything
/// `JSON.stringify` writes, `date` `YYYY-MM-DD`, `dateTime` a date, `T` and
/// a time that `Date.parse` reads, `color` `#rrggbb`. `null` empties any
/// field.
#[cfg(feature = "parent")]
pub(crate) fn check_value(field_type: &str, value: &JsValue) -> Result<(), SdkError> {
    if value.is_null() {
        return Ok(());
    }
    let text = value.as_string();
    let ok = match field_type {
        "string" | "text" => text.is_some(),
        "number" => value.as_f64().is_some_and(f64::is_finite),
        "boolean" => value.as_bool().is_some(),
        "json" => js_sys::JSON::stringify(value).is_ok_and(|s| !s.is_undefined()),
        "date" => text.is_some_and(|t| is_date(&t)),
        "dateTime" => text.is_some_and(|t| {
            t.get(..10).is_some_and(is_date)
                && t.as_bytes().get(10) == Some(&b'T')
                && !js_sys::Date::parse(&t).is_nan()
        }),
        "color" => text.is_some_and(|t| {
            t.len() == 7 && t.starts_with('#') && t[1..].bytes().all(|b| b.is_ascii_hexdigit())
        }),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(SdkError::InvalidArgument(format!(
            "setValue: the value is not a {field_type}"
        )))
    }
}

/// `YYYY-MM-DD` with a month 01–12 and a day 01–31.
#[cfg(feature = "parent")]
fn is_date(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) {
        return false;
    }
    if !digits(5..7) || !digits(8..10) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn invalid(message: &str) -> SdkError {
    SdkError::InvalidArgument(format!("context.element: {message}"))
}
