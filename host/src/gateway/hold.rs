//! The content proxy's answers held to the decision: a decision that
//! limits rows (a grant's condition) or masks fields is enforced on what
//! the upstream sends back and on what the caller writes, not only handed
//! to the upstream in `X-Tally-Filter` / `X-Tally-Masked`. The rules are
//! `content_gate::rest`'s, which edges run too (`tally-sdk/gate`); the
//! proxy (`proxy.rs`) does the reading and the preflight read of one-row
//! writes. Answers that are not JSON cannot be held to anything: 502
//! `unreadable_answer`, never passed through.

pub(crate) use content_gate::rest::Limits;
use verifier_core::abi::DecisionView;

use crate::reason::Reason as HostReason;

/// The limits of an allowed decision read in place, if it has any.
pub(crate) fn limits_of(view: &DecisionView<'_>) -> Option<Limits> {
    let filter = view.filter_conditions();
    (filter.is_some() || !view.masked.is_empty()).then(|| Limits {
        filter,
        masked: view.masked.iter().map(|m| String::from(*m)).collect(),
    })
}

/// A write refused by the limits, as the host answers it.
pub(crate) fn write(
    limits: &Limits,
    body: &serde_json::Value,
    create: bool,
) -> Result<(), (HostReason, String)> {
    limits.write(body, create).map_err(|refused| {
        let reason = HostReason::from_wire(refused.reason)
            .unwrap_or(HostReason::Decision(verifier_core::Reason::NotGranted));
        (reason, refused.message)
    })
}
