//! The context a platform gives an app frame, checked on both sides.
//!
//! DESIGN.md fixes its shape: `{ project: { id, name, mgmtApi }, environment:
//! { id, name, endpoint, authToken }, installation: { id, status, config },
//! user? }`, and an element's frame has `element` (`crate::element`). The bridge checks it before sending (a platform bug surfaces in
//! the platform) and the SDK checks it on receipt (an app never sees a context
//! without the fields it relies on). Fields beyond these are kept as they are:
//! the context travels as the JavaScript value the platform gave, and this
//! module only reads it. `installation.status` is parsed by verifier-core's
//! [`InstallationStatus`], the same type the host stores.

use verifier_core::InstallationStatus;
use wasm_bindgen::JsValue;

use crate::element::{self, Element};
use crate::error::SdkError;
use crate::js;

/// The fields of a context that the SDK itself uses (the app side; the
/// bridge only checks).
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "app"), allow(dead_code))]
pub(crate) struct Context {
    /// `project.mgmtApi`.
    pub(crate) mgmt_api: String,
    /// `environment.id`.
    pub(crate) environment_id: String,
    /// `element`, when the frame is one of the app's elements (the
    /// bridge's; the app side only checks it).
    #[cfg_attr(not(feature = "parent"), allow(dead_code))]
    pub(crate) element: Option<Element>,
}

impl Context {
    /// Reads and checks a context value; `who` names the side for the message.
    #[cfg(feature = "app")]
    pub(crate) fn check(value: &JsValue, who: &str) -> Result<Context, SdkError> {
        Context::check_with(value, who, true)
    }

    /// As [`Context::check`]; `environment.authToken` may be absent unless
    /// `token` (a bridge that fetches session tokens itself fills it in).
    pub(crate) fn check_with(value: &JsValue, who: &str, token: bool) -> Result<Context, SdkError> {
        let fields = Context::read(value, token);
        fields.map_err(|e| SdkError::InvalidArgument(format!("{who}: {e}")))
    }

    fn read(value: &JsValue, token: bool) -> Result<Context, SdkError> {
        let project = section(value, "project")?;
        let environment = section(value, "environment")?;
        js::string(&project, "id", "context.project")?;
        js::string(&project, "name", "context.project")?;
        let mgmt_api = js::string(&project, "mgmtApi", "context.project")?;
        let environment_id = js::string(&environment, "id", "context.environment")?;
        js::string(&environment, "name", "context.environment")?;
        js::string(&environment, "endpoint", "context.environment")?;
        if token || !js::get(&environment, "authToken").is_undefined() {
            js::string(&environment, "authToken", "context.environment")?;
        }
        check_installation(&js::get(value, "installation"), "context.installation")?;
        Ok(Context {
            mgmt_api,
            environment_id,
            element: element::read(value)?,
        })
    }
}

/// Checks an installation value: `{ id, status, config }` (more fields, such
/// as `appId`, may come along and are kept).
pub(crate) fn check_installation(
    value: &JsValue,
    what: &str,
) -> Result<InstallationStatus, SdkError> {
    if !js::is_plain_object(value) {
        return Err(SdkError::InvalidArgument(format!(
            "{what} must be an object"
        )));
    }
    js::string(value, "id", what)?;
    let status = status(&js::string(value, "status", what)?, what)?;
    if !js::is_plain_object(&js::get(value, "config")) {
        return Err(SdkError::InvalidArgument(format!(
            "{what}: config must be an object"
        )));
    }
    Ok(status)
}

/// Parses a status with verifier-core's names.
pub(crate) fn status(name: &str, what: &str) -> Result<InstallationStatus, SdkError> {
    name.parse().map_err(|_| {
        SdkError::InvalidArgument(format!(
            "{what}: status \"{name}\" is not PENDING, COMPLETED, DISABLED or UNINSTALLED"
        ))
    })
}

fn section(value: &JsValue, key: &'static str) -> Result<JsValue, SdkError> {
    let section = js::get(value, key);
    if js::is_plain_object(&section) {
        Ok(section)
    } else {
        Err(SdkError::InvalidArgument(format!(
            "context.{key} must be an object"
        )))
    }
}

/// Checks an `updateInstallation` argument: the fields of verifier-core's
/// [`verifier_core::InstallationUpdate`], `{ status?, config? }`, no others;
/// `status` one of its names, `config` an object.
pub(crate) fn check_update(value: &JsValue, what: &str) -> Result<(), SdkError> {
    js::only_keys(value, &["status", "config"], what)?;
    if let Some(name) = js::opt_string(value, "status", what)? {
        status(&name, what)?;
    }
    let config = js::get(value, "config");
    if !config.is_undefined() && !js::is_plain_object(&config) {
        return Err(SdkError::InvalidArgument(format!(
            "{what}: config must be an object"
        )));
    }
    Ok(())
}
