// Encoder and decoder of the verifier module's payloads (verifier-core/ABI.md):
// the wire structs of verifier-core/src/abi/wire.rs in postcard encoding.
//
// The encoder takes the same JSON shapes as verifier-core's types (token
// record, grant, environment, request) and validates them as strictly as the
// Rust side does: an unknown field, a wrong type or a bad name throws a
// CodecError, so a restriction the verifier does not know is never dropped on
// the way in.

import { DECISION_REASONS } from "./contract.js";

/** Reasons in wire order (variant index), from the generated contract. */
export const REASONS = DECISION_REASONS;
const APIS = ["content", "management"];
const KINDS = ["APP", "PAT", "SYSTEM", "SESSION"];
const ACTION_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const HEX = (n) => new RegExp(`^[0-9a-f]{${n}}$`);
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Input the encoder refuses, or output the decoder cannot read. */
export class CodecError extends Error {
  constructor(message) {
    super(message);
    this.name = "CodecError";
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.len = 0;
  }
  #room(n) {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b) {
    this.#room(1);
    this.buf[this.len++] = b;
  }
  bytes(b) {
    this.#room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  varint(n) {
    // Unsigned LEB128 of a non-negative safe integer.
    let v = BigInt(n);
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      this.byte(b);
    } while (v > 0n);
  }
  i64(n) {
    const v = BigInt(n);
    if (v < I64_MIN || v > I64_MAX) throw new CodecError(`${n} is outside i64`);
    this.varint(((v << 1n) ^ (v >> 63n)) & ((1n << 64n) - 1n)); // zigzag
  }
  bool(b) {
    this.byte(b ? 1 : 0);
  }
  str(s) {
    const b = utf8.encode(s);
    this.varint(b.length);
    this.bytes(b);
  }
  option(v, write) {
    if (v === undefined || v === null) this.byte(0);
    else {
      this.byte(1);
      write(v);
    }
  }
  seq(items, write) {
    this.varint(items.length);
    for (const item of items) write(item);
  }
  done() {
    return this.buf.slice(0, this.len);
  }
}

function fields(obj, what, allowed) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new CodecError(`${what} must be an object`);
  }
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new CodecError(`${what} has an unknown field ${k}`);
  }
  return obj;
}
function string(v, what) {
  if (typeof v !== "string") throw new CodecError(`${what} must be a string`);
  return v;
}
function optString(v, what) {
  return v === undefined || v === null ? null : string(v, what);
}
function strings(v, what) {
  if (!Array.isArray(v)) throw new CodecError(`${what} must be a list of strings`);
  return v.map((s, i) => string(s, `${what}[${i}]`));
}
function oneOf(list, v, what) {
  const i = list.indexOf(v);
  if (i < 0) throw new CodecError(`${what} must be one of ${list.join(", ")}`);
  return i;
}
function integer(v, what) {
  if (typeof v === "bigint") return v;
  if (!Number.isSafeInteger(v)) throw new CodecError(`${what} must be an integer`);
  return v;
}
function pairs(v, what) {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new CodecError(`${what} must be an object`);
  return Object.entries(v).map(([k, val]) => [k, string(val, `${what}.${k}`)]);
}

function writePairs(w, list) {
  w.seq(list, ([k, v]) => {
    w.str(k);
    w.str(v);
  });
}

function writeScope(w, v, what) {
  if (v === undefined || v === "*") w.varint(0);
  else if (Array.isArray(v)) {
    w.varint(1);
    w.seq(strings(v, what), (s) => w.str(s));
  } else throw new CodecError(`${what} must be "*" or a list of names`);
}

const GRANT_FIELDS = ["api", "action", "models", "stages", "locales", "environments", "condition", "unmask"];
function writeGrant(w, g, what) {
  fields(g, what, GRANT_FIELDS);
  w.varint(oneOf(APIS, g.api, `${what}.api`));
  const action = string(g.action, `${what}.action`);
  if (!ACTION_NAME.test(action)) throw new CodecError(`${what}.action is not a valid action name`);
  w.str(action);
  for (const k of ["models", "stages", "locales", "environments"]) writeScope(w, g[k], `${what}.${k}`);
  w.option(g.condition, (c) => writePairs(w, pairs(c, `${what}.condition`)));
  w.seq(g.unmask === undefined ? [] : strings(g.unmask, `${what}.unmask`), (s) => w.str(s));
}
function writeGrants(w, list, what) {
  if (!Array.isArray(list)) throw new CodecError(`${what} must be a list`);
  w.seq(list.map((g, i) => [g, i]), ([g, i]) => writeGrant(w, g, `${what}[${i}]`));
}

const RECORD_FIELDS = [
  "tokenId", "secretHash", "kind", "name", "projectId", "environmentId",
  "installationId", "principal", "grants", "expiresAt", "revoked",
];
function writeRecord(w, r) {
  fields(r, "record", RECORD_FIELDS);
  const id = string(r.tokenId, "record.tokenId");
  if (!HEX(16).test(id)) throw new CodecError("record.tokenId must be 16 lowercase hex characters");
  const hash = string(r.secretHash, "record.secretHash").toLowerCase();
  if (!HEX(64).test(hash)) throw new CodecError("record.secretHash must be 64 hex characters");
  w.bytes(hexBytes(id));
  w.bytes(hexBytes(hash));
  w.varint(oneOf(KINDS, r.kind, "record.kind"));
  w.str(string(r.name, "record.name"));
  for (const k of ["projectId", "environmentId", "installationId", "principal"]) {
    w.option(optString(r[k], `record.${k}`), (s) => w.str(s));
  }
  writeGrants(w, r.grants, "record.grants");
  w.option(r.expiresAt, (n) => w.i64(integer(n, "record.expiresAt")));
  if (r.revoked !== undefined && typeof r.revoked !== "boolean") throw new CodecError("record.revoked must be a boolean");
  w.bool(r.revoked === true);
}

const MODEL_FIELDS = ["apiId", "apiIdPlural", "ownerField", "sensitiveFields"];
function writeModel(w, m, what) {
  fields(m, what, MODEL_FIELDS);
  w.str(string(m.apiId, `${what}.apiId`));
  w.str(string(m.apiIdPlural, `${what}.apiIdPlural`));
  w.option(optString(m.ownerField, `${what}.ownerField`), (s) => w.str(s));
  w.seq(m.sensitiveFields === undefined ? [] : strings(m.sensitiveFields, `${what}.sensitiveFields`), (s) => w.str(s));
}

function writeEnvironment(w, e) {
  fields(e, "environment", ["id", "defaultStage", "publicGrants", "models"]);
  w.str(string(e.id, "environment.id"));
  w.str(e.defaultStage === undefined ? "PUBLISHED" : string(e.defaultStage, "environment.defaultStage"));
  writeGrants(w, e.publicGrants ?? [], "environment.publicGrants");
  const models = e.models ?? [];
  if (!Array.isArray(models)) throw new CodecError("environment.models must be a list");
  w.seq(models.map((m, i) => [m, i]), ([m, i]) => writeModel(w, m, `environment.models[${i}]`));
}

const REQUEST_FIELDS = ["api", "action", "environmentId", "model", "stage", "locale", "document", "sensitiveFields", "now"];
function writeRequest(w, r) {
  fields(r, "request", REQUEST_FIELDS);
  w.varint(oneOf(APIS, r.api, "request.api"));
  const action = string(r.action, "request.action");
  if (!ACTION_NAME.test(action)) throw new CodecError("request.action is not a valid action name");
  w.str(action);
  for (const k of ["environmentId", "model", "stage", "locale"]) {
    w.option(optString(r[k], `request.${k}`), (s) => w.str(s));
  }
  w.option(r.document, (d) => writePairs(w, pairs(d, "request.document")));
  w.seq(r.sensitiveFields === undefined ? [] : strings(r.sensitiveFields, "request.sensitiveFields"), (s) => w.str(s));
  w.i64(integer(r.now, "request.now"));
}

/**
 * Encodes a verify input `{ record, environment, request }` (JSON shapes).
 * @returns {Uint8Array}
 */
export function encodeInput({ record = null, environment = null, request }) {
  const w = new Writer();
  w.option(record, (r) => writeRecord(w, r));
  w.option(environment, (e) => writeEnvironment(w, e));
  writeRequest(w, request);
  return w.done();
}

/** Encodes a token record for `tally_prepare` (kind 0). @returns {Uint8Array} */
export function encodeRecord(record) {
  const w = new Writer();
  writeRecord(w, record);
  return w.done();
}

/** Encodes an environment for `tally_prepare` (kind 1). @returns {Uint8Array} */
export function encodeEnvironment(environment) {
  const w = new Writer();
  writeEnvironment(w, environment);
  return w.done();
}

/** Encodes a request for `tally_verify_prepared`. @returns {Uint8Array} */
export function encodeRequest(request) {
  const w = new Writer();
  writeRequest(w, request);
  return w.done();
}

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.at = 0;
  }
  byte() {
    if (this.at >= this.b.length) throw new CodecError("output ends early");
    return this.b[this.at++];
  }
  varint() {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
    throw new CodecError("varint too long");
  }
  bool() {
    const b = this.byte();
    if (b > 1) throw new CodecError("bad bool");
    return b === 1;
  }
  str() {
    const n = this.varint();
    if (this.at + n > this.b.length) throw new CodecError("output ends early");
    const s = fromUtf8.decode(this.b.subarray(this.at, this.at + n));
    this.at += n;
    return s;
  }
  option(read) {
    return this.bool() ? read() : undefined;
  }
  seq(read) {
    const n = this.varint();
    const out = [];
    for (let i = 0; i < n; i++) out.push(read());
    return out;
  }
  reason() {
    const r = REASONS[this.varint()];
    if (r === undefined) throw new CodecError("unknown reason");
    return r;
  }
  end() {
    if (this.at !== this.b.length) throw new CodecError("trailing bytes in output");
  }
}

/**
 * Decodes a parse output.
 * @returns {{tokenId: string} | {reason: string}}
 */
export function decodeParse(bytes) {
  const r = new Reader(bytes);
  let out;
  switch (r.varint()) {
    case 0: {
      let hex = "";
      for (let i = 0; i < 8; i++) hex += r.byte().toString(16).padStart(2, "0");
      out = { tokenId: hex };
      break;
    }
    case 1:
      out = { reason: r.reason() };
      break;
    default:
      throw new CodecError("unknown parse result");
  }
  r.end();
  return out;
}

/**
 * Decodes a verify output: the decision (JSON shape of verifier-core's
 * Decision), or `{ badInput: message }` when the module refused its input.
 */
export function decodeVerify(bytes) {
  const r = new Reader(bytes);
  let out;
  switch (r.varint()) {
    case 0: {
      const decision = { allow: r.bool(), reason: r.reason() };
      const principal = r.option(() => r.str());
      if (principal !== undefined) decision.principal = principal;
      const filter = r.option(() => r.seq(() => Object.fromEntries(r.seq(() => [r.str(), r.str()]))));
      if (filter !== undefined) decision.filter = filter;
      decision.masked = r.seq(() => r.str());
      out = decision;
      break;
    }
    case 1:
      out = { badInput: r.str() };
      break;
    default:
      throw new CodecError("unknown verify result");
  }
  r.end();
  return out;
}
