//! The context a platform gives an app frame, checked on both sides.
//!
//! DESIGN.md fixes its shape: `{ project: { id, name, mgmtApi }, environment:
//! { id, name, endpoint, authToken }, installation: { id, status, config },
//! user? }`. The bridge checks it before sending (a platform bug surfaces in
//! the platform) and the SDK checks it on receipt (an app never sees a context
//! without the fields it relies on). Fields beyond these are kept as they are:
//! the context travels as the JavaScript value the platform gave, and this
//! module only reads it.

use serde::Deserialize;
use verifier_core::InstallationStatus;
use wasm_bindgen::JsValue;

use crate::error::SdkError;

/// The fields of a context that the SDK itself uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Context {
    pub(crate) project: Project,
    pub(crate) environment: Environment,
    pub(crate) installation: Installation,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Project {
    #[allow(dead_code)] // checked for presence only
    pub(crate) id: String,
    #[allow(dead_code)]
    pub(crate) name: String,
    pub(crate) mgmt_api: String,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Environment {
    pub(crate) id: String,
    #[allow(dead_code)]
    pub(crate) name: String,
    #[allow(dead_code)]
    pub(crate) endpoint: String,
    #[allow(dead_code)]
    pub(crate) auth_token: String,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("id", &self.id)
            .field("auth_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// An installation as the frame protocol carries it: `{ id, status, config }`
/// (more fields, such as `appId`, may come along and are kept).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Installation {
    #[allow(dead_code)]
    pub(crate) id: String,
    #[allow(dead_code)]
    pub(crate) status: InstallationStatus,
    pub(crate) config: serde_json::Value,
}

impl Context {
    /// Reads and checks a context value; `who` names the side for the message.
    pub(crate) fn check(value: &JsValue, who: &str) -> Result<Context, SdkError> {
        let context: Context = serde_wasm_bindgen::from_value(value.clone())
            .map_err(|e| SdkError::InvalidArgument(format!("{who} context: {e}")))?;
        context.installation.check(who)?;
        Ok(context)
    }
}

impl Installation {
    /// Reads and checks an installation value.
    pub(crate) fn read(value: &JsValue, who: &str) -> Result<Installation, SdkError> {
        let installation: Installation = serde_wasm_bindgen::from_value(value.clone())
            .map_err(|e| SdkError::Protocol(format!("{who} installation: {e}")))?;
        installation.check(who)?;
        Ok(installation)
    }

    fn check(&self, who: &str) -> Result<(), SdkError> {
        if self.config.is_object() {
            Ok(())
        } else {
            Err(SdkError::InvalidArgument(format!(
                "{who} installation: config must be an object"
            )))
        }
    }
}
