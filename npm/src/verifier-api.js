// tally-sdk/verifier, what every runtime's entry shares: decide() and the
// contract. Each entry (verifier.js, verifier-workerd.js) adds loadVerifier(),
// which finds the bundled module the way its runtime can.
import { UNAUTHENTICATED_REASONS } from "./contract.js";

export { DECISION_REASONS, HOST_REASONS, METHOD_ACTIONS } from "./contract.js";

export { ABI_VERSION, MAX_PREPARED, Verifier, VerifierError } from "./verifier-abi.js";


/**
 * One decision, DESIGN's request flow: parse the Authorization value, look
 * the token record up (your cache, KV or the authority), verify.
 * @param {import("./verifier-abi.js").Verifier} verifier
 * @param {{ authorization?: string|null, lookup: (tokenId: string) => object|null|Promise<object|null>,
 *           environment?: object|null, request: object }} input
 */
export async function decide(verifier, { authorization, lookup, environment = null, request }) {
  const header = authorization ?? "";
  const parsed = verifier.parse(header);
  const record = "tokenId" in parsed ? await lookup(parsed.tokenId) : null;
  // Prepared: a record or environment object seen before (from the caller's
  // cache) is not encoded and decoded again. Between parse and verify, the
  // lookup may have run other checks on this instance, so the module's
  // remembered parse is simply not used then; the decision is the same.
  return verifier.verifyPrepared(header, { record: record ?? null, environment, request });
}

/** Reasons that mean "no valid credentials" (HTTP 401); other denials are 403. */
export const UNAUTHENTICATED = UNAUTHENTICATED_REASONS;

/**
 * The HTTP status for a decision, as the tally gateway answers: 200 allowed,
 * 401 without valid credentials, 403 not granted.
 * @param {{ allow: boolean, reason: string }} decision
 */
export function httpStatus(decision) {
  if (decision.allow) return 200;
  return UNAUTHENTICATED.includes(decision.reason) ? 401 : 403;
}
