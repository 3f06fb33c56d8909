//! The rules of the data, above the SQL.

use verifier_core::InstallationStatus;

use verifier_core::Grant;

use crate::storage::{AuditEntry, GrantsVersion, Redeem};

/// A setup code as a redeem finds it.
pub(super) struct FoundCode {
    pub(super) app_id: String,
    pub(super) expires_at: i64,
    pub(super) used: bool,
    pub(super) installation_status: String,
}

/// How redeeming `found` for `app_id` at `now` ends.
pub(super) fn redeem_outcome(found: Option<&FoundCode>, app_id: &str, now: i64) -> Redeem {
    match found {
        None => Redeem::Unknown,
        // A code presented by another app is as good as unknown to it.
        Some(code) if code.app_id != app_id => Redeem::Unknown,
        Some(code) if code.installation_status != InstallationStatus::Pending.as_str() => {
            Redeem::NotPending
        }
        Some(code) if code.used => Redeem::Used,
        Some(code) if now >= code.expires_at => Redeem::Expired,
        Some(_) => Redeem::Redeemed,
    }
}

/// The app's newest grants as an installation sees them: requested while
/// they are newer than those it approved, unless it declined that very
/// version (a later one asks again).
pub(super) fn requested(
    approved: i64,
    declined: Option<i64>,
    newest: GrantsVersion,
) -> Option<GrantsVersion> {
    (newest.version > approved && declined != Some(newest.version)).then_some(newest)
}

/// Whether an app's newly published grants apply to an installation at
/// once: when they allow nothing beyond what it approved. Anything wider
/// waits for the environment's consent.
pub(super) fn applies_without_consent(published: &[Grant], approved: &[Grant]) -> bool {
    verifier_core::grants_within(published, approved)
}

/// The audit entry of an installation moved to narrower grants by a
/// publication (`publish`, by its actor, at its time).
pub(super) fn narrowed_audit(
    publish: &AuditEntry,
    installation: &str,
    from: &[Grant],
    to: &[Grant],
    version: i64,
) -> AuditEntry {
    AuditEntry {
        action: "installation.grants_update".into(),
        target: installation.into(),
        detail: serde_json::json!({
            "from": from,
            "to": to,
            "version": version,
            "approval": "none needed: no wider than approved",
        }),
        ..publish.clone()
    }
}

/// Whether an installation change spends the installation's unused codes:
/// codes live only while their installation is PENDING.
pub(super) fn spends_codes(status: InstallationStatus, revoke_tokens: bool) -> bool {
    revoke_tokens || status != InstallationStatus::Pending
}

#[cfg(test)]
mod tests {
    use verifier_core::InstallationStatus;

    use super::{FoundCode, Redeem, redeem_outcome, spends_codes};

    fn code(used: bool, status: &str) -> FoundCode {
        FoundCode {
            app_id: "app".into(),
            expires_at: 100,
            used,
            installation_status: status.into(),
        }
    }

    #[test]
    fn redeem_outcomes_in_order_of_precedence() {
        let pending = code(false, "PENDING");
        assert_eq!(redeem_outcome(None, "app", 0), Redeem::Unknown);
        assert_eq!(redeem_outcome(Some(&pending), "other", 0), Redeem::Unknown);
        assert_eq!(redeem_outcome(Some(&pending), "app", 99), Redeem::Redeemed);
        assert_eq!(redeem_outcome(Some(&pending), "app", 100), Redeem::Expired);
        // A spent code reads as used even past its expiry; a code whose
        // installation moved on reads as that, used or not.
        assert_eq!(
            redeem_outcome(Some(&code(true, "PENDING")), "app", 500),
            Redeem::Used
        );
        assert_eq!(
            redeem_outcome(Some(&code(true, "COMPLETED")), "app", 0),
            Redeem::NotPending
        );
    }

    #[test]
    fn codes_live_only_while_pending() {
        assert!(!spends_codes(InstallationStatus::Pending, false));
        assert!(spends_codes(InstallationStatus::Pending, true));
        assert!(spends_codes(InstallationStatus::Completed, false));
        assert!(spends_codes(InstallationStatus::Disabled, false));
    }
}
