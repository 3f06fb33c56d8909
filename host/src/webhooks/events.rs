//! Which changes an app's backend hears of, and what it is told: each
//! event is the projection of an audit entry (the audit log already names
//! every change, in the transaction that makes it), so the outbox row is
//! written in that same transaction, by the same code path, for every
//! change that has one. Nothing here does I/O.

use serde_json::{Value, json};

use crate::storage::AuditEntry;

/// Every event type, as its `type` says.
pub const EVENT_TYPES: [&str; 7] = [
    "installation.created",
    "installation.completed",
    "installation.disabled",
    "installation.uninstalled",
    "installation.grants_updated",
    "token.revoked",
    "client_secret.rotated",
];

/// What an event is about, as the audit entry's target names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// An installation, by id.
    Installation(&'a str),
    /// A token, by its id in hex (an event only for an installation's token).
    Token(&'a str),
    /// An app, by id.
    App(&'a str),
}

/// An event an audit entry stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// One of [`EVENT_TYPES`].
    pub kind: &'static str,
    /// What it is about.
    pub subject: Subject<'a>,
    /// Fields of the entry's detail the event carries.
    pub data: Value,
}

/// The event `entry` stands for, if any.
pub fn of_audit(entry: &AuditEntry) -> Option<Event<'_>> {
    let target = entry.target.as_str();
    let detail = &entry.detail;
    let installation = |kind| {
        Some(Event {
            kind,
            subject: Subject::Installation(target),
            data: json!({}),
        })
    };
    match entry.action.as_str() {
        "installation.create" => installation("installation.created"),
        "installation.update" => match detail["to"].as_str() {
            Some("COMPLETED") if detail["from"] != "COMPLETED" => {
                installation("installation.completed")
            }
            Some("DISABLED") if detail["from"] != "DISABLED" => {
                installation("installation.disabled")
            }
            _ => None,
        },
        "installation.uninstall" => installation("installation.uninstalled"),
        "installation.grants_approve" | "installation.grants_update" => Some(Event {
            kind: "installation.grants_updated",
            subject: Subject::Installation(target),
            data: json!({"grants": detail["to"], "grantsVersion": detail["version"]}),
        }),
        "token.revoke" => Some(Event {
            kind: "token.revoked",
            subject: Subject::Token(target),
            data: json!({}),
        }),
        "app.client_secret.rotate" => Some(Event {
            kind: "client_secret.rotated",
            subject: Subject::App(target),
            data: json!({"previousValidUntil": detail["previousValidUntil"]}),
        }),
        _ => None,
    }
}

/// The body delivered: `{ type, timestamp, data }` (the Standard Webhooks
/// payload shape), `timestamp` in RFC 3339.
pub fn payload(kind: &str, at: i64, data: Value) -> String {
    let timestamp = time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    json!({"type": kind, "timestamp": timestamp, "data": data}).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{EVENT_TYPES, Subject, of_audit, payload};
    use crate::storage::AuditEntry;

    fn entry(action: &str, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            at: 0,
            actor: "cli".into(),
            action: action.into(),
            target: "in_1".into(),
            detail,
        }
    }

    #[test]
    fn each_change_with_an_event_and_none_other() {
        let kind = |action, detail| of_audit(&entry(action, detail)).map(|e| e.kind);
        assert_eq!(
            kind("installation.create", json!({})),
            Some("installation.created")
        );
        assert_eq!(
            kind(
                "installation.update",
                json!({"from": "PENDING", "to": "COMPLETED"})
            ),
            Some("installation.completed")
        );
        assert_eq!(
            kind(
                "installation.update",
                json!({"from": "COMPLETED", "to": "DISABLED"})
            ),
            Some("installation.disabled")
        );
        // A config change that moves no status is no event.
        assert_eq!(
            kind(
                "installation.update",
                json!({"from": "COMPLETED", "to": "COMPLETED"})
            ),
            None
        );
        assert_eq!(
            kind("installation.uninstall", json!({})),
            Some("installation.uninstalled")
        );
        assert_eq!(kind("app.update", json!({})), None);
        assert_eq!(kind("token.create", json!({})), None);
        let revoke = entry("token.revoke", json!({}));
        let e = of_audit(&revoke).unwrap();
        assert_eq!(
            (e.kind, e.subject),
            ("token.revoked", Subject::Token("in_1"))
        );
        for action in ["installation.grants_approve", "installation.grants_update"] {
            let granted = entry(action, json!({"to": [], "version": 3}));
            let e = of_audit(&granted).unwrap();
            assert_eq!(e.kind, "installation.grants_updated");
            assert_eq!(e.data, json!({"grants": [], "grantsVersion": 3}));
        }
        let rotate = entry("app.client_secret.rotate", json!({}));
        let e = of_audit(&rotate).unwrap();
        assert_eq!(
            (e.kind, e.subject),
            ("client_secret.rotated", Subject::App("in_1"))
        );
        assert_eq!(EVENT_TYPES.len(), 7);
    }

    #[test]
    fn the_payload_has_the_standard_shape() {
        let body: serde_json::Value =
            serde_json::from_str(&payload("token.revoked", 1_800_000_000, json!({"a": 1})))
                .unwrap();
        assert_eq!(
            body,
            json!({"type": "token.revoked", "timestamp": "2027-01-15T08:00:00Z", "data": {"a": 1}})
        );
    }
}
