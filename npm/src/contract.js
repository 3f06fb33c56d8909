// Generated from the Rust sources (verifier-core's Reason, tally::reason,
// tally::gateway::action_of) by host/tests/it/contract.rs; do not edit.
// Rewrite: TALLY_BLESS=1 cargo test -p tally --test it contract

/** Decision reasons, in wire order (the ABI's variant index). */
export const DECISION_REASONS = Object.freeze([
  "allowed",
  "public",
  "missing_credentials",
  "malformed",
  "unknown_token",
  "bad_secret",
  "expired",
  "revoked",
  "wrong_environment",
  "not_granted",
]);

/** Decision reasons that mean "no valid credentials" (HTTP 401); other denials are 403. */
export const UNAUTHENTICATED_REASONS = Object.freeze([
  "missing_credentials",
  "malformed",
  "unknown_token",
  "bad_secret",
  "expired",
  "revoked",
]);

/** Reasons the host adds to the decisions' own (errors' `reason`, `X-Tally-Reason`). */
export const HOST_REASONS = Object.freeze([
  "bad_request",
  "ambiguous_request",
  "not_found",
  "method_not_allowed",
  "too_large",
  "unsupported_media_type",
  "headers_too_large",
  "timeout",
  "throttled",
  "internal",
  "read_only_replica",
  "conflict",
  "code_used",
  "code_expired",
  "installation_not_pending",
  "token_revoked",
  "token_expired",
  "token_rotated",
  "app_installed",
  "installation_uninstalled",
  "bad_client_credentials",
  "verifier_failed",
  "bad_gateway",
  "invalid_document",
  "document_too_large",
  "document_too_deep",
  "too_many_root_fields",
  "no_upstream",
  "too_many_aliases",
  "unknown_field",
  "masked_field",
  "unenforceable_filter",
  "not_your_row",
  "unreadable_answer",
]);

/** The action the gateway checks for each method it forwards; any other is 405. */
export const METHOD_ACTIONS = Object.freeze({
  GET: "read",
  HEAD: "read",
  POST: "create",
  PUT: "update",
  PATCH: "update",
  DELETE: "delete",
});
