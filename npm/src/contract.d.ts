// Generated from the Rust sources (verifier-core's wire enums, tally::reason,
// tally::gateway::action_of) by host/tests/it/contract.rs; do not edit.
// Rewrite: TALLY_BLESS=1 cargo test -p tally --test it contract

/** Why a check ended as it did (verifier-core's `Reason`), in wire order. */
export type DecisionReason =
  | "allowed"
  | "public"
  | "missing_credentials"
  | "malformed"
  | "unknown_token"
  | "bad_secret"
  | "expired"
  | "revoked"
  | "wrong_environment"
  | "not_granted";

/** Decision reasons that mean "no valid credentials" (HTTP 401). */
export type UnauthenticatedReason =
  | "missing_credentials"
  | "malformed"
  | "unknown_token"
  | "bad_secret"
  | "expired"
  | "revoked";

/** Reasons the host adds to the decisions' own (errors' `reason`, `X-Tally-Reason`). */
export type HostReason =
  | "bad_request"
  | "ambiguous_request"
  | "not_found"
  | "method_not_allowed"
  | "too_large"
  | "unsupported_media_type"
  | "headers_too_large"
  | "timeout"
  | "throttled"
  | "internal"
  | "read_only_replica"
  | "conflict"
  | "code_used"
  | "code_expired"
  | "installation_not_pending"
  | "token_revoked"
  | "token_expired"
  | "token_rotated"
  | "app_installed"
  | "installation_uninstalled"
  | "bad_client_credentials"
  | "verifier_failed"
  | "bad_gateway"
  | "invalid_document"
  | "document_too_large"
  | "document_too_deep"
  | "too_many_root_fields"
  | "no_upstream"
  | "too_many_aliases"
  | "unknown_field"
  | "masked_field"
  | "unenforceable_filter"
  | "not_your_row"
  | "unreadable_answer";

/** Which of the platform's APIs a grant or request is about. */
export type Api = "content" | "management";

/** What a token is for. */
export type TokenKind = "APP" | "PAT" | "SYSTEM" | "SESSION";

/** Where an installation stands. */
export type InstallationStatus = "PENDING" | "COMPLETED" | "DISABLED" | "UNINSTALLED";

/** The field types a field element edits (the host's `fieldType`). */
export type FieldType =
  | "string"
  | "text"
  | "number"
  | "boolean"
  | "json"
  | "date"
  | "dateTime"
  | "color";

/** Decision reasons, in wire order (the ABI's variant index). */
export declare const DECISION_REASONS: readonly DecisionReason[];
/** Decision reasons that mean "no valid credentials" (HTTP 401); other denials are 403.
 * Typed as every decision reason, so that `includes(decision.reason)` type-checks. */
export declare const UNAUTHENTICATED_REASONS: readonly DecisionReason[];
/** Reasons the host adds to the decisions' own. */
export declare const HOST_REASONS: readonly HostReason[];

/** The action the gateway checks for each method it forwards; any other is 405. */
export declare const METHOD_ACTIONS: Readonly<{
  GET: "read";
  HEAD: "read";
  POST: "create";
  PUT: "update";
  PATCH: "update";
  DELETE: "delete";
}>;
