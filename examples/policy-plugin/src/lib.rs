//! An example verifier plugin: a module that decides exactly as Tally's
//! own and then applies a policy of its operator's, loaded with
//! `tally serve --plugin`.
//!
//! The policy: **published content is read-only**. Apps and people edit
//! drafts; publishing is a workflow of its own. A write (any action but
//! `read`) is let through only when the request names a stage other than
//! `PUBLISHED`; a write that names no stage is refused too, since it would
//! fall to the environment's default stage, which the module cannot see
//! (and is `PUBLISHED` by default). Reads are the grants' business alone.
//! A refusal reads `not_granted`, like any request the grants do not cover.
//!
//! Build it and load it (README.md):
//!
//! ```text
//! cargo build -p tally-policy-plugin --target wasm32-unknown-unknown --profile wasm-release
//! tally serve --plugin target/wasm32-unknown-unknown/wasm-release/tally_policy_plugin.wasm
//! ```
//!
//! The rule is an ordinary function of the request ([`DraftsOnly`]); the
//! one line `verifier_core::export_verifier_module!` turns it into the
//! module's exports, with every `unsafe` block kept inside verifier-core.

use verifier_core::abi::policy::{Allowed, Policy};
use verifier_core::{Action, DEFAULT_STAGE};

/// Writes only to a named stage that is not `PUBLISHED`.
#[derive(Debug, Clone, Copy)]
pub struct DraftsOnly;

impl Policy for DraftsOnly {
    fn permits(request: &Allowed<'_>) -> bool {
        if *request.action == Action::READ {
            return true;
        }
        matches!(request.stage, Some(stage) if stage != DEFAULT_STAGE)
    }
}

#[cfg(target_arch = "wasm32")]
verifier_core::export_verifier_module!(crate::DraftsOnly);

#[cfg(test)]
mod tests {
    use verifier_core::abi::policy::AsGranted;
    use verifier_core::abi::wire::VerifyResult;
    use verifier_core::abi::{encode_input, verify_input_under};
    use verifier_core::{
        Action, Api, Grant, Grants, IssuedToken, Reason, Request, TokenKind, TokenRecord,
    };

    use super::DraftsOnly;

    /// What a module deciding under `P` answers for a PAT that may read
    /// and write content, asking `action` in `stage`: allowed, and why.
    fn decide<P: verifier_core::abi::Policy>(
        action: Action,
        stage: Option<&str>,
    ) -> (bool, Reason) {
        let issued = IssuedToken::from_random([7; 32]);
        let record = TokenRecord {
            token_id: issued.token_id(),
            secret_hash: issued.secret_hash(),
            kind: TokenKind::Pat,
            name: "editor".into(),
            project_id: None,
            environment_id: None,
            installation_id: None,
            principal: Some("user:ada".into()),
            grants: Grants::shared(vec![
                Grant::new(Api::Content, Action::READ),
                Grant::new(Api::Content, Action::UPDATE),
            ]),
            expires_at: None,
            revoked: false,
        };
        let mut request = Request::new(Api::Content, action, 1_000);
        request.stage = stage.map(Into::into);
        let input = encode_input(Some(&record), None, &request);
        let header = format!("AppToken {}", issued.token());
        match verify_input_under::<P>(header.as_bytes(), &input) {
            VerifyResult::Decision(d) => (d.allow, d.reason),
            VerifyResult::BadInput(e) => panic!("input refused: {e}"),
        }
    }

    #[test]
    fn writes_only_to_a_named_stage_that_is_not_published() {
        assert_eq!(
            decide::<DraftsOnly>(Action::UPDATE, Some("DRAFT")),
            (true, Reason::Allowed)
        );
        assert_eq!(
            decide::<DraftsOnly>(Action::UPDATE, Some("PUBLISHED")),
            (false, Reason::NotGranted)
        );
        assert_eq!(
            decide::<DraftsOnly>(Action::UPDATE, None),
            (false, Reason::NotGranted)
        );
    }

    #[test]
    fn reads_are_the_grants_business() {
        assert_eq!(
            decide::<DraftsOnly>(Action::READ, Some("PUBLISHED")),
            (true, Reason::Allowed)
        );
        assert_eq!(
            decide::<DraftsOnly>(Action::READ, None),
            (true, Reason::Allowed)
        );
        // What the grants refuse stays refused, for the grants' reason.
        assert_eq!(
            decide::<DraftsOnly>(Action::DELETE, Some("DRAFT")),
            (false, Reason::NotGranted)
        );
    }

    #[test]
    fn without_the_policy_the_grants_allow_the_write() {
        assert_eq!(
            decide::<AsGranted>(Action::UPDATE, Some("PUBLISHED")),
            (true, Reason::Allowed)
        );
    }
}
