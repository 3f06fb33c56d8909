// The wire types generated from the Rust tables (npm/src/contract.d.ts), as
// a user meets them through the package: each admits its wire names and
// refuses any other. A `@ts-expect-error` line fails to compile when its
// type widens to `string` or the name becomes valid.
import type { Api, Decision, DecisionReason, HostReason, TokenKind, TokenRecord } from "tally-sdk/verifier";
import { DECISION_REASONS, HOST_REASONS, METHOD_ACTIONS, UNAUTHENTICATED } from "tally-sdk/verifier";
import type { FieldType, Installation, InstallationStatus } from "tally-sdk";

declare const decision: Decision;
declare const record: TokenRecord;
declare const installation: Installation;

export const reason: DecisionReason = decision.reason;
export const notGranted: DecisionReason = "not_granted";
// @ts-expect-error: not a decision reason
export const notAReason: DecisionReason = "denied";
export const firstReason: DecisionReason | undefined = DECISION_REASONS[0];
export const unauthenticated: boolean = UNAUTHENTICATED.includes(decision.reason);

export const throttled: HostReason = "throttled";
// @ts-expect-error: a decision's reason, not one the host adds
export const allowedByHost: HostReason = "allowed";
export const firstHostReason: HostReason | undefined = HOST_REASONS[0];

export const kind: TokenKind = record.kind;
// @ts-expect-error: token kinds are upper case on the wire
export const lowerKind: TokenKind = "app";

export const api: Api = "management";
// @ts-expect-error: no such API
export const graphqlApi: Api = "graphql";

export const status: InstallationStatus = installation.status;
// @ts-expect-error: installation states are upper case on the wire
export const lowerStatus: InstallationStatus = "pending";

export const dateTime: FieldType = "dateTime";
// @ts-expect-error: field types are camelCase on the wire
export const lowerDateTime: FieldType = "datetime";

export const getIsRead: "read" = METHOD_ACTIONS.GET;
// @ts-expect-error: the gateway forwards no OPTIONS
export const options: string = METHOD_ACTIONS.OPTIONS;
