export declare const ABI_VERSION: number;
/** Most records and environments one Verifier keeps prepared (oldest released first). */
export declare const MAX_PREPARED: number;

/** Why a call into the module failed: "bad_input", "trap", "abi_version", "missing_export", "bad_output". */
export declare class VerifierError extends Error {
  code: string;
}

import type { Api, DecisionReason, TokenKind } from "./contract.js";

export type { Api, DecisionReason, HostReason, TokenKind, UnauthenticatedReason } from "./contract.js";
export { DECISION_REASONS, HOST_REASONS, METHOD_ACTIONS } from "./contract.js";

/** A token record as the authority serves it (secrets only as their SHA-256). */
export interface TokenRecord {
  tokenId: string;
  secretHash: string;
  kind: TokenKind;
  name: string;
  projectId?: string | null;
  environmentId?: string | null;
  installationId?: string | null;
  principal?: string | null;
  grants: Grant[];
  expiresAt?: number | null;
  revoked?: boolean;
}

export interface Grant {
  api: Api;
  action: string;
  models?: "*" | string[];
  stages?: "*" | string[];
  locales?: "*" | string[];
  environments?: "*" | string[];
  condition?: Record<string, string> | null;
  unmask?: string[];
}

/** A content model the environment registers (verifier-core's Model). */
export interface ContentModel {
  apiId: string;
  apiIdPlural: string;
  ownerField?: string | null;
  /** Masked unless a grant unmasks them, whatever the request lists. */
  sensitiveFields?: string[];
}

export interface EnvironmentRecord {
  id: string;
  defaultStage?: string;
  publicGrants?: Grant[];
  models?: ContentModel[];
}

export interface VerifyRequest {
  api: Api;
  action: string;
  environmentId?: string | null;
  model?: string | null;
  stage?: string | null;
  locale?: string | null;
  document?: Record<string, string> | null;
  sensitiveFields?: string[];
  /** Unix seconds. */
  now: number;
}

export interface Decision {
  allow: boolean;
  reason: DecisionReason;
  principal?: string;
  filter?: Array<Record<string, string>>;
  masked: string[];
}

export declare class Verifier {
  parse(header: string): { tokenId: string } | { reason: DecisionReason };
  verify(header: string, input: { record: TokenRecord | null; environment: EnvironmentRecord | null; request: VerifyRequest }): Decision;
  /**
   * Like verify, with the record and environment decoded once per object and
   * kept in the instance (objects are known by identity: a changed record
   * must be a new object).
   */
  verifyPrepared(header: string, input: { record: TokenRecord | null; environment: EnvironmentRecord | null; request: VerifyRequest }): Decision;
  verifyBytes(header: Uint8Array, input: Uint8Array): Decision;
}

export declare function loadVerifier(source?: BufferSource | WebAssembly.Module): Promise<Verifier>;

export declare function decide(
  verifier: Verifier,
  input: {
    authorization?: string | null;
    lookup(tokenId: string): TokenRecord | null | undefined | Promise<TokenRecord | null | undefined>;
    environment?: EnvironmentRecord | null;
    request: VerifyRequest;
  },
): Promise<Decision>;

/** Reasons that mean "no valid credentials" (HTTP 401); other denials are 403. */
export declare const UNAUTHENTICATED: readonly DecisionReason[];

/** 200 allowed, 401 without valid credentials, 403 not granted (as the tally gateway). */
export declare function httpStatus(decision: { allow: boolean; reason: string }): 200 | 401 | 403;

