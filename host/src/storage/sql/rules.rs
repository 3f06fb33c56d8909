//! The rules of the data, above the SQL.

use verifier_core::InstallationStatus;

use crate::storage::Redeem;

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
