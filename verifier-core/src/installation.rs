//! Installations of an app into an environment, and their status changes.
//!
//! Allowed transitions (anything else is a [`TransitionError`]; staying in
//! the same status is always allowed and changes nothing):
//!
//! | from      | to                     | meaning                                   |
//! |-----------|------------------------|-------------------------------------------|
//! | PENDING   | COMPLETED              | the app finished its setup                |
//! | PENDING   | DISABLED               | abandoned before it completed             |
//! | COMPLETED | DISABLED               | switched off: its tokens are revoked      |
//! | DISABLED  | PENDING                | set up again (a new setup code is needed) |
//! | any       | UNINSTALLED            | removed: tokens revoked, config erased    |
//!
//! DISABLED never goes straight back to COMPLETED: its tokens were revoked,
//! so the app must run its setup (and exchange a new code) again.
//! UNINSTALLED is the end: nothing leaves it (installing the app again
//! makes a new installation); the row stays for the audit.

use alloc::string::String;
use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{TransitionError, UnknownName};

/// Where an installation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InstallationStatus {
    /// Installed, setup not finished.
    Pending,
    /// Setup finished; the app is live.
    Completed,
    /// Switched off.
    Disabled,
    /// Removed; kept for the audit, never changed again.
    Uninstalled,
}

impl InstallationStatus {
    /// Every status, in the order an installation usually passes them.
    pub const ALL: [InstallationStatus; 4] = [
        InstallationStatus::Pending,
        InstallationStatus::Completed,
        InstallationStatus::Disabled,
        InstallationStatus::Uninstalled,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InstallationStatus::Pending => "PENDING",
            InstallationStatus::Completed => "COMPLETED",
            InstallationStatus::Disabled => "DISABLED",
            InstallationStatus::Uninstalled => "UNINSTALLED",
        }
    }

    /// Checks a change of status (see the module docs for the table).
    pub fn transition(self, to: InstallationStatus) -> Result<InstallationStatus, TransitionError> {
        use InstallationStatus::*;
        match (self, to) {
            (a, b) if a == b => Ok(to),
            (Pending | Completed | Disabled, Uninstalled)
            | (Pending, Completed)
            | (Pending, Disabled)
            | (Completed, Disabled)
            | (Disabled, Pending) => Ok(to),
            (from, to) => Err(TransitionError { from, to }),
        }
    }
}

impl core::str::FromStr for InstallationStatus {
    type Err = UnknownName;
    /// Parses a wire name (`PENDING`, `COMPLETED`, `DISABLED`, `UNINSTALLED`).
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        InstallationStatus::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownName)
    }
}

impl fmt::Display for InstallationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An installation as the host stores it and the app sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Installation {
    /// Its id.
    pub id: String,
    /// The app installed.
    pub app_id: String,
    /// The environment it is installed in.
    pub environment_id: String,
    /// Where it stands.
    pub status: InstallationStatus,
    /// The app's own configuration (a JSON object; `{}` at first).
    pub config: Value,
}

/// What `updateInstallation` / `PATCH /v1/installations/{i}` may change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallationUpdate {
    /// A new status (checked with [`InstallationStatus::transition`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<InstallationStatus>,
    /// A new configuration, replacing the old one; must be a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
}
