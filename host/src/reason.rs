//! [`Reason`]: every stable machine-readable reason the host answers with,
//! in an error's JSON (`reason`) and its `X-Tally-Reason` header.
//!
//! A verifier's decision reasons come from `verifier-core` unchanged
//! ([`Reason::Decision`]); the host adds its own for what only a server
//! meets (bad input, the setup-code exchange, rotation, the gateway's
//! upstream). Wire names are stable: a client may branch on them, so a
//! name is never reused for another meaning. [`Reason::HOST`] lists the
//! host's own; `verifier_core::Reason::ALL` lists the decisions'.

use core::fmt;

/// A stable reason. See the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// A verifier decision's reason (`missing_credentials`, `not_granted`, …).
    Decision(verifier_core::Reason),
    /// The request is not what the endpoint takes (400).
    BadRequest,
    /// A content request an upstream could read otherwise than the gateway
    /// did (400).
    AmbiguousRequest,
    /// No such thing or route (404).
    NotFound,
    /// The route exists, not with this method (405).
    MethodNotAllowed,
    /// The request body is over the limit (413).
    TooLarge,
    /// The body is not JSON (415).
    UnsupportedMediaType,
    /// The request's headers are over the limit (431).
    HeadersTooLarge,
    /// The request body stalled past the body timeout (408).
    Timeout,
    /// Too many failed credential checks from one address (429).
    Throttled,
    /// The server failed; details are logged, never answered (500).
    Internal,
    /// This node is a read-only replica (503).
    ReadOnlyReplica,
    /// Conflicts with the current state (409).
    Conflict,
    /// A setup code already redeemed (410).
    CodeUsed,
    /// A setup code past its lifetime (410).
    CodeExpired,
    /// A setup code of an installation no longer PENDING (410).
    InstallationNotPending,
    /// Rotating a revoked token (409).
    TokenRevoked,
    /// Rotating an expired token (409).
    TokenExpired,
    /// Rotating a token already rotated (409).
    TokenRotated,
    /// Deleting an app that has installations not yet uninstalled (409;
    /// the message lists them).
    AppInstalled,
    /// Changing an installation that is UNINSTALLED (409).
    InstallationUninstalled,
    /// The exchange's client id and secret do not match (401).
    BadClientCredentials,
    /// The verifier module failed; the request is denied (503).
    VerifierFailed,
    /// The gateway's upstream could not be reached or addressed (502).
    BadGateway,
    /// Not an executable GraphQL document, or no single operation (400).
    InvalidDocument,
    /// A GraphQL document over the size limit (400).
    DocumentTooLarge,
    /// A GraphQL document nested over the depth limit (400).
    DocumentTooDeep,
    /// A GraphQL operation with more root fields than the limit (400).
    TooManyRootFields,
    /// No upstream is configured for what was allowed (501).
    NoUpstream,
    /// A GraphQL document with more aliases than the limit (400).
    TooManyAliases,
    /// A GraphQL root field that addresses no registered model (403).
    UnknownField,
    /// A write of a field masked for the caller (403).
    MaskedField,
    /// Rows limited by a condition the gateway cannot write into the
    /// request (403).
    UnenforceableFilter,
    /// A one-row write outside the caller's rows, or of no row (403).
    NotYourRow,
    /// The upstream's answer cannot be held to the decisions (not JSON)
    /// (502).
    UnreadableAnswer,
}

impl Reason {
    /// Every reason the host adds to the decisions' own.
    pub const HOST: [Reason; 34] = [
        Reason::BadRequest,
        Reason::AmbiguousRequest,
        Reason::NotFound,
        Reason::MethodNotAllowed,
        Reason::TooLarge,
        Reason::UnsupportedMediaType,
        Reason::HeadersTooLarge,
        Reason::Timeout,
        Reason::Throttled,
        Reason::Internal,
        Reason::ReadOnlyReplica,
        Reason::Conflict,
        Reason::CodeUsed,
        Reason::CodeExpired,
        Reason::InstallationNotPending,
        Reason::TokenRevoked,
        Reason::TokenExpired,
        Reason::TokenRotated,
        Reason::AppInstalled,
        Reason::InstallationUninstalled,
        Reason::BadClientCredentials,
        Reason::VerifierFailed,
        Reason::BadGateway,
        Reason::InvalidDocument,
        Reason::DocumentTooLarge,
        Reason::DocumentTooDeep,
        Reason::TooManyRootFields,
        Reason::NoUpstream,
        Reason::TooManyAliases,
        Reason::UnknownField,
        Reason::MaskedField,
        Reason::UnenforceableFilter,
        Reason::NotYourRow,
        Reason::UnreadableAnswer,
    ];

    /// The stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Decision(reason) => reason.as_str(),
            Reason::BadRequest => "bad_request",
            Reason::AmbiguousRequest => "ambiguous_request",
            Reason::NotFound => "not_found",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::TooLarge => "too_large",
            Reason::UnsupportedMediaType => "unsupported_media_type",
            Reason::HeadersTooLarge => "headers_too_large",
            Reason::Timeout => "timeout",
            Reason::Throttled => "throttled",
            Reason::Internal => "internal",
            Reason::ReadOnlyReplica => "read_only_replica",
            Reason::Conflict => "conflict",
            Reason::CodeUsed => "code_used",
            Reason::CodeExpired => "code_expired",
            Reason::InstallationNotPending => "installation_not_pending",
            Reason::TokenRevoked => "token_revoked",
            Reason::TokenExpired => "token_expired",
            Reason::TokenRotated => "token_rotated",
            Reason::AppInstalled => "app_installed",
            Reason::InstallationUninstalled => "installation_uninstalled",
            Reason::BadClientCredentials => "bad_client_credentials",
            Reason::VerifierFailed => "verifier_failed",
            Reason::BadGateway => "bad_gateway",
            Reason::InvalidDocument => "invalid_document",
            Reason::DocumentTooLarge => "document_too_large",
            Reason::DocumentTooDeep => "document_too_deep",
            Reason::TooManyRootFields => "too_many_root_fields",
            Reason::NoUpstream => "no_upstream",
            Reason::TooManyAliases => "too_many_aliases",
            Reason::UnknownField => "unknown_field",
            Reason::MaskedField => "masked_field",
            Reason::UnenforceableFilter => "unenforceable_filter",
            Reason::NotYourRow => "not_your_row",
            Reason::UnreadableAnswer => "unreadable_answer",
        }
    }
}

impl Reason {
    /// The reason named `name` on the wire, if any (the content gate names
    /// its reasons by their wire names).
    pub fn from_wire(name: &str) -> Option<Reason> {
        Reason::HOST
            .into_iter()
            .chain(verifier_core::Reason::ALL.map(Reason::Decision))
            .find(|r| r.as_str() == name)
    }
}

impl From<verifier_core::Reason> for Reason {
    fn from(reason: verifier_core::Reason) -> Self {
        Reason::Decision(reason)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn wire_names_are_snake_case_and_never_shared() {
        let decisions = verifier_core::Reason::ALL.map(Reason::Decision);
        let mut names: Vec<&str> = Reason::HOST
            .iter()
            .chain(decisions.iter())
            .map(|r| r.as_str())
            .collect();
        for name in &names {
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
        }
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a wire name is used twice");
    }

    #[test]
    fn the_content_gates_reasons_are_host_reasons() {
        for name in [
            "unknown_field",
            "masked_field",
            "unenforceable_filter",
            "not_your_row",
            "too_many_aliases",
            "invalid_document",
            "document_too_large",
            "document_too_deep",
            "too_many_root_fields",
        ] {
            assert_eq!(Reason::from_wire(name).map(Reason::as_str), Some(name));
        }
        assert_eq!(
            Reason::from_wire("not_granted"),
            Some(Reason::Decision(verifier_core::Reason::NotGranted))
        );
    }
}
