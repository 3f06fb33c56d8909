//! Token records: what a verifier needs to know about a stored token.
//!
//! JSON shape (`camelCase`, unknown fields rejected):
//!
//! ```json
//! { "tokenId": "630dcd2966c43366",
//!   "secretHash": "630dcd29…(64 hex)",
//!   "kind": "APP",                 // APP | PAT | SYSTEM | SESSION
//!   "name": "My app",
//!   "projectId": "p1",             // optional (SYSTEM tokens have none)
//!   "environmentId": "master",     // optional: absent = not bound to one
//!   "installationId": "in1",       // optional
//!   "principal": "user:42",        // optional, see TokenRecord::principal
//!   "grants": [ … ],
//!   "expiresAt": 1767225600,       // optional, unix seconds
//!   "revoked": false }             // optional, default false
//! ```

use alloc::string::String;
use alloc::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::UnknownName;
use crate::grant::Grants;
use crate::token::{SecretHash, TokenId};

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TokenKind {
    /// Held by an app's backend, bound to one installation.
    App,
    /// A permanent auth token made by an admin.
    Pat,
    /// A system token (the authority's admin token is one).
    System,
    /// A short-lived token minted for one app frame.
    Session,
}

impl TokenKind {
    /// Every kind.
    pub const ALL: [TokenKind; 4] = [
        TokenKind::App,
        TokenKind::Pat,
        TokenKind::System,
        TokenKind::Session,
    ];

    /// The wire name (`APP`, `PAT`, `SYSTEM`, `SESSION`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::App => "APP",
            TokenKind::Pat => "PAT",
            TokenKind::System => "SYSTEM",
            TokenKind::Session => "SESSION",
        }
    }
}

impl core::str::FromStr for TokenKind {
    type Err = UnknownName;
    /// Parses a wire name (`APP`, `PAT`, `SYSTEM`, `SESSION`).
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        TokenKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownName)
    }
}

/// A stored token, as the verifier sees it. It never holds the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRecord {
    /// The public id (hash prefix).
    pub token_id: TokenId,
    /// SHA-256 of the secret.
    pub secret_hash: SecretHash,
    /// What the token is for.
    pub kind: TokenKind,
    /// A human name.
    pub name: String,
    /// The project it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The one environment it may act in; `None` = not bound to one (its
    /// grants' `environments` still apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    /// The installation an APP or SESSION token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<String>,
    /// An explicit principal; see [`TokenRecord::principal`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The authorities of the token, shared: a clone of the record copies
    /// no grant, and a store holding many records of one app (a replica of
    /// millions) keeps one list for all of them (see `ReplicaStore`).
    /// Indexed by model when made ([`Grants`]), so a check skips the grants
    /// that do not list its model.
    pub grants: Arc<Grants>,
    /// Expiry, unix seconds: valid while `now < expiresAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Revoked tokens are denied.
    #[serde(default)]
    pub revoked: bool,
}

impl TokenRecord {
    /// The identity the token acts as, stable across rotation where it can
    /// be: the explicit `principal` if set, else `installation:<id>` for
    /// installation tokens, else `token:<tokenId>`. It replaces `$principal`
    /// in conditions and is reported in decisions.
    pub fn principal(&self) -> String {
        if let Some(p) = &self.principal {
            return p.clone();
        }
        // Plain pushes, not `format!`: this runs on every allowed request.
        let mut principal = String::with_capacity(32);
        match &self.installation_id {
            Some(id) => {
                principal.push_str("installation:");
                principal.push_str(id);
            }
            None => {
                let mut hex = [0u8; crate::token::TOKEN_ID_CHARS];
                let _ = hex::encode_to_slice(self.token_id.as_bytes(), &mut hex);
                principal.push_str("token:");
                principal.extend(hex.iter().map(|&b| char::from(b)));
            }
        }
        principal
    }
}
