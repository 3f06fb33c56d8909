import type { VerifyRequest, Decision, EnvironmentRecord } from "./verifier.js";

export declare const GATE_ABI_VERSION: 1;

export declare class GateError extends Error {
  name: "GateError";
}

export interface GateOptions {
  /** `X-Tally-Stage`: the stage of reads that name none. */
  stage?: string;
  /** `X-Tally-Locale`: the locales of fields that name none. */
  locales?: string[];
  /** Introspection open to every caller. */
  introspection?: boolean;
  /** Unix seconds. */
  now: number;
}

export interface GraphqlRequest {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

export interface Denial {
  denied: { status: 401 | 403; reason: string; body: { errors: unknown[] } };
}

export type Planned =
  | { handle: number; kind: "query" | "mutation"; checks: VerifyRequest[] }
  | { refused: { reason: string; message: string } }
  | Denial;

export type Authorized =
  | { handle: number; forward: Record<string, unknown>; preflight: string | null; principal: string | null; reason: string; masked: string[] }
  | Denial;

export declare class Gate {
  private constructor();
  plan(input: { request: GraphqlRequest; environment: EnvironmentRecord; options: GateOptions }): Planned;
  authorize(handle: number, decisions: Decision[]): Authorized;
  preflight(handle: number, answer: unknown): { ok: true } | Denial;
  finish(handle: number, answer: unknown): { answer: unknown; masked: string[] };
  release(handle: number): void;
  restWrite(decision: Decision, body: unknown, create: boolean): { ok: true } | { refused: { reason: string; message: string } };
  restAnswer(decision: Decision, single: boolean, answer: unknown): { answer: unknown } | { absent: true };
}

export declare function loadGate(source?: BufferSource | WebAssembly.Module): Promise<Gate>;
export declare function instantiateGate(source: BufferSource | WebAssembly.Module): Promise<Gate>;
