//! A verifier module's own rule on top of the grants: the hook a plugin
//! crate uses to build a module that decides as this one does and then
//! applies a policy of its operator's (writes only to drafts, a locale
//! required, a model closed).
//!
//! A [`Policy`] sees every request the core allowed, and may only narrow:
//! it turns an allow into a denial whose reason is `not_granted` (the
//! request asks for more than the policy grants), and never turns a denial
//! into anything else. A policy is a pure function of the request, as the
//! ABI requires of a module (a driver may reuse an answer for the same
//! inputs): no clock of its own (`now` is the request's), no state.
//!
//! A plugin crate names its policy once, with
//! `verifier_core::export_verifier_module!` (wasm32 only), which defines
//! the module's exports; `examples/policy-plugin` is one. It tests its
//! policy natively with [`verify_input_under`](super::verify_input_under).

use crate::decision::{Reason, Verdict};
use crate::grant::{Action, Api};
use crate::request::RequestView;

/// What a policy reads of a request the core allowed.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Allowed<'a> {
    /// The api.
    pub api: Api,
    /// The action.
    pub action: &'a Action,
    /// The environment the request names, if any.
    pub environment_id: Option<&'a str>,
    /// The model, if any.
    pub model: Option<&'a str>,
    /// The stage the request names; `None`: the environment's default.
    pub stage: Option<&'a str>,
    /// The locale, if any.
    pub locale: Option<&'a str>,
    /// Who is asking; `None` for public access.
    pub principal: Option<&'a str>,
    /// The request's clock, unix seconds.
    pub now: i64,
}

/// A module's rule on top of the grants.
pub trait Policy {
    /// Whether the module lets an allowed request through; `false` denies
    /// it as `not_granted`.
    fn permits(request: &Allowed<'_>) -> bool;
}

/// No rule of its own: the grants decide (the module `tally` embeds).
#[derive(Debug, Clone, Copy, Default)]
pub struct AsGranted;

impl Policy for AsGranted {
    fn permits(_: &Allowed<'_>) -> bool {
        true
    }
}

/// `verdict`, narrowed by `P` when it allows.
pub(crate) fn apply<'v, P: Policy>(verdict: Verdict<'v>, request: &RequestView<'_>) -> Verdict<'v> {
    if !verdict.allow {
        return verdict;
    }
    let allowed = Allowed {
        api: request.api,
        action: request.action,
        environment_id: request.environment_id,
        model: request.model,
        stage: request.stage,
        locale: request.locale,
        principal: verdict.principal.as_deref(),
        now: request.now,
    };
    if P::permits(&allowed) {
        verdict
    } else {
        Verdict::deny(Reason::NotGranted)
    }
}
