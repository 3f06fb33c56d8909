//! Reading and writing plain JavaScript objects, strictly.
//!
//! The SDK reads every argument and message field by field with
//! `Reflect`, instead of through serde: an options object with a key the SDK
//! does not know (`timeout` for `timeoutMs`) is refused rather than ignored,
//! and the module stays small (serde_json + serde-wasm-bindgen were about
//! 40 KB of the first build's 90 KB gzipped; see BENCHMARKS.md).

use wasm_bindgen::{JsCast, JsValue};

use crate::error::SdkError;

/// Property `key` of `object` (`undefined` when absent or not an object).
pub(crate) fn get(object: &JsValue, key: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    js_sys::Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Whether `value` is a plain object (not `null`, not an array, not a function).
pub(crate) fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !js_sys::Array::is_array(value) && !value.is_function()
}

/// Checks that `value` is a plain object whose keys are all in `allowed`.
pub(crate) fn only_keys(value: &JsValue, allowed: &[&str], what: &str) -> Result<(), SdkError> {
    if !is_plain_object(value) {
        return Err(invalid(what, "must be an object"));
    }
    let keys = js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>());
    for key in keys.iter() {
        let key = key.as_string().unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            return Err(invalid(what, &format!("unknown field \"{key}\"")));
        }
    }
    Ok(())
}

/// Required string property.
pub(crate) fn string(object: &JsValue, key: &str, what: &str) -> Result<String, SdkError> {
    get(object, key)
        .as_string()
        .ok_or_else(|| invalid(what, &format!("{key} must be a string")))
}

/// Optional string property (`undefined` and `null` are absent).
pub(crate) fn opt_string(
    object: &JsValue,
    key: &str,
    what: &str,
) -> Result<Option<String>, SdkError> {
    let value = get(object, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| invalid(what, &format!("{key} must be a string")))
}

/// Optional number property.
pub(crate) fn opt_number(object: &JsValue, key: &str, what: &str) -> Result<Option<f64>, SdkError> {
    let value = get(object, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_f64()
        .map(Some)
        .ok_or_else(|| invalid(what, &format!("{key} must be a number")))
}

/// A new plain object with these properties.
pub(crate) fn object(properties: &[(&str, &JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in properties {
        // Defining a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

fn invalid(what: &str, message: &str) -> SdkError {
    SdkError::InvalidArgument(format!("{what}: {message}"))
}
