//! Tally's app SDK and parent bridge, compiled with wasm-bindgen.
//!
//! Two sides of one frame protocol (`PROTOCOL.md` next to this crate):
//!
//! - **App side** ([`init`] → [`App`]): runs in the app's page inside the
//!   platform's iframe. It pins the parent's origin (given, or learned from
//!   the browser: `parent_origin`), captures and scrubs the one-time
//!   `?code=`, receives the context (project, environment with a short-lived
//!   session token, installation, user), exchanges the setup code through the
//!   app's own backend, and calls the parent's `updateInstallation`,
//!   `getSessionToken`, `showToast` and `resize`, and an element's
//!   `setValue`, `setInvalid`, `openDialog`, `closeDialog`, `navigate` and
//!   `confirm`.
//! - **Parent side** ([`create_app_frame`] → [`AppFrame`]): runs in the
//!   platform's page. It pins the app's origin and frame window, answers the
//!   app's calls with the platform's handlers, keeps the frame's session
//!   token fresh when given a `getSessionToken` handler, and pushes context
//!   changes. A frame that is one of the app's elements (`element`: page,
//!   sidebar, field, dialog) may call only what its kind may, and a field
//!   element write only its own field, with a value of its type.
//!
//! Every rejection is a JavaScript `Error` named `TallyError` with a stable
//! `code` ([`SdkError::code`]); nothing waits forever: the handshake and every
//! call time out. The npm package (`npm/`) wraps this module with ESM entry
//! points and TypeScript declarations; apps use it, not this crate directly.
//!
//! The two sides are cargo features, `app` and `parent` (both on by default):
//! the npm package builds one module for each, so an app does not ship the
//! bridge and a platform does not ship the app side.
//!
//! The installation and exchange types are verifier-core's
//! ([`verifier_core::InstallationUpdate`],
//! [`verifier_core::exchange::SetupCodeExchange`]), so the SDK, the host and
//! the example backend agree on one definition.

/// Talc instead of the default dlmalloc: the SDK's allocations are few and
/// small, and talc is about 6 KB smaller in the module.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(feature = "app")]
mod app;
mod context;
mod element;
mod error;
#[cfg(feature = "app")]
mod exchange;
mod js;
#[cfg(feature = "parent")]
mod parent;
#[cfg(feature = "app")]
mod parent_origin;
mod protocol;
#[cfg(feature = "app")]
mod setup_code;

#[cfg(all(test, target_arch = "wasm32", feature = "app", feature = "parent"))]
mod browser_tests;

#[cfg(feature = "app")]
pub use crate::app::{App, init};
pub use crate::error::SdkError;
#[cfg(feature = "parent")]
pub use crate::parent::{AppFrame, create_app_frame};
pub use crate::protocol::PROTOCOL_VERSION;
