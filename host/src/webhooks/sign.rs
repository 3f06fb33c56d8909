//! Signatures per the Standard Webhooks specification: each delivery
//! carries `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
//! keyed with the app's `whsec_` secret (its base64 part, decoded).
//!
//! An app's secret is never stored: it is derived from the deployment's
//! webhook key (32 random bytes in a file, `--webhook-key-file`) and the
//! app's id and secret version — HMAC-SHA256(key, "tally webhook secret"
//! ‖ 0 ‖ app id ‖ 0 ‖ version). Rotating bumps the version. The secret is
//! shown once, in the answer that makes it; whoever holds the key file can
//! sign as any app, so it is kept like the database's credentials (mode
//! 0600, on every node of a PostgreSQL deployment).

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;

use crate::keyed::hmac;

/// The deployment's webhook key.
pub struct WebhookKey([u8; 32]);

/// Why the webhook key could not be had.
#[derive(Debug, thiserror::Error)]
#[error("webhook key file {path}: {cause}")]
pub struct KeyError {
    path: String,
    cause: String,
}

impl WebhookKey {
    /// The key in `path`, made there (32 random bytes, mode 0600) when the
    /// file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let error = |cause: String| KeyError {
            path: path.display().to_string(),
            cause,
        };
        match std::fs::read(path) {
            Ok(bytes) => Self::from_file(&bytes).map_err(error),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = crate::random::secret_bytes().map_err(|e| error(e.to_string()))?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(|e| error(e.to_string()))?;
                file.write_all(STANDARD.encode(key).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| error(e.to_string()))?;
                Ok(WebhookKey(key))
            }
            Err(e) => Err(error(e.to_string())),
        }
    }

    /// The key in `path`, which must exist.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|e| KeyError {
            path: path.display().to_string(),
            cause: e.to_string(),
        })?;
        Self::from_file(&bytes).map_err(|cause| KeyError {
            path: path.display().to_string(),
            cause,
        })
    }

    fn from_file(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "is not base64 text".to_owned())?;
        let key = STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64 text".to_owned())?;
        <[u8; 32]>::try_from(key)
            .map(WebhookKey)
            .map_err(|_| "must hold 32 bytes, base64".to_owned())
    }

    /// A key from bytes (tests).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        WebhookKey(bytes)
    }

    /// `app`'s signing secret at `version`.
    pub fn secret(&self, app: &str, version: i64) -> WebhookSecret {
        let mut mac = hmac(&self.0);
        mac.update(b"tally webhook secret\0");
        mac.update(app.as_bytes());
        mac.update(b"\0");
        mac.update(version.to_string().as_bytes());
        WebhookSecret(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookKey(…)")
    }
}

/// An app's signing secret.
pub struct WebhookSecret([u8; 32]);

impl WebhookSecret {
    /// As the app is given it: `whsec_` and the base64 of its bytes.
    pub fn text(&self) -> String {
        format!("whsec_{}", STANDARD.encode(self.0))
    }

    /// The `webhook-signature` value of a delivery.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = hmac(&self.0);
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::{WebhookKey, WebhookSecret};

    #[test]
    fn signs_id_timestamp_and_body_as_the_specification_says() {
        // The signed content is "id.timestamp.body"; whatever changes, the
        // signature does. (The npm Standard Webhooks library verifies real
        // deliveries in tests/webhooks.)
        let secret = WebhookSecret([3; 32]);
        let base = secret.sign("msg_1", 1_800_000_000, "{}");
        assert!(base.starts_with("v1,"));
        assert_eq!(base.len(), 3 + 44);
        assert_eq!(base, secret.sign("msg_1", 1_800_000_000, "{}"));
        for other in [
            secret.sign("msg_2", 1_800_000_000, "{}"),
            secret.sign("msg_1", 1_800_000_001, "{}"),
            secret.sign("msg_1", 1_800_000_000, "{ }"),
            WebhookSecret([4; 32]).sign("msg_1", 1_800_000_000, "{}"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn secrets_differ_by_app_and_version_and_never_print() {
        let key = WebhookKey::from_bytes([7; 32]);
        let a1 = key.secret("app_a", 1).text();
        assert!(a1.starts_with("whsec_"));
        assert_eq!(a1, key.secret("app_a", 1).text());
        assert_ne!(a1, key.secret("app_a", 2).text());
        assert_ne!(a1, key.secret("app_b", 1).text());
        assert_ne!(
            a1,
            WebhookKey::from_bytes([8; 32]).secret("app_a", 1).text()
        );
        assert_eq!(format!("{:?}", key.secret("app_a", 1)), "WebhookSecret(…)");
        assert_eq!(format!("{key:?}"), "WebhookKey(…)");
    }

    #[test]
    fn the_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhook.key");
        let made = WebhookKey::load_or_create(&path).unwrap();
        let read = WebhookKey::load(&path).unwrap();
        assert_eq!(made.secret("a", 1).text(), read.secret("a", 1).text());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(WebhookKey::load(&path).is_err());
    }
}
