// Reference driver of the verifier module ABI (verifier-core/ABI.md), version 3:
// the one-shot verify, and prepared values (verifyPrepared) for a caller that
// verifies the same records again and again, as an edge with a cache does.
//
// Plain WebAssembly: no wasm-bindgen, no imports, so it runs in Node, Deno,
// Workers and browsers alike. Every failure (input the codec refuses, a trap,
// a result it cannot decode, an allocation failure, the module refusing its
// input) throws a VerifierError; callers deny on it (fail closed).

import {
  CodecError,
  decodeParse,
  decodeVerify,
  encodeEnvironment,
  encodeInput,
  encodeRecord,
  encodeRequest,
} from "./abi-codec.js";

/** The ABI version this driver speaks. */
export const ABI_VERSION = 3;

const encoder = new TextEncoder();

/** A failure of the module or of its input; the request must be denied. */
export class VerifierError extends Error {
  /**
   * @param {string} code stable code: "abi_version", "missing_export", "alloc",
   *   "bad_output", "bad_input" (the codec or the module refused the input), "trap"
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "VerifierError";
    this.code = code;
  }
}

const EXPORTS = [
  "memory", "abi_version", "tally_alloc", "tally_dealloc", "tally_parse", "tally_verify",
  "tally_prepare", "tally_release", "tally_verify_prepared",
];
const PREPARE_RECORD = 0;
const PREPARE_ENVIRONMENT = 1;
/** Most records and environments one Verifier keeps prepared; past it the oldest is released. */
export const MAX_PREPARED = 256;

/**
 * Instantiates the module from its bytes or a compiled WebAssembly.Module.
 * @param {BufferSource | WebAssembly.Module} source
 * @returns {Promise<Verifier>}
 */
export async function loadVerifier(source) {
  const instance =
    source instanceof WebAssembly.Module
      ? await WebAssembly.instantiate(source, {})
      : (await WebAssembly.instantiate(source, {})).instance;
  return new Verifier(instance);
}

/** One module instance. Calls are synchronous; use one instance per thread. */
export class Verifier {
  /** @param {WebAssembly.Instance} instance */
  constructor(instance) {
    const x = instance.exports;
    // The version first: a module of another version is refused as such, not
    // for the exports this version added.
    if (typeof x.abi_version !== "function") throw new VerifierError("missing_export", "module does not export abi_version");
    const version = x.abi_version();
    if (version !== ABI_VERSION) {
      throw new VerifierError("abi_version", `module speaks ABI ${version}, driver speaks ${ABI_VERSION}`);
    }
    for (const name of EXPORTS) {
      if (!(name in x)) throw new VerifierError("missing_export", `module does not export ${name}`);
    }
    this.x = x;
  }

  /**
   * Parses an Authorization value ("" when absent).
   * @param {string} header
   * @returns {{tokenId: string} | {reason: string}}
   */
  parse(header) {
    const h = this.#put(encoder.encode(header));
    try {
      return decoded(decodeParse, this.#take(this.#call(() => this.x.tally_parse(h.ptr, h.len))));
    } finally {
      this.#free(h);
    }
  }

  /**
   * Decides a request.
   * @param {string} header the Authorization value ("" when absent)
   * @param {{record: object|null, environment: object|null, request: object}} input
   * @returns {{allow: boolean, reason: string, principal?: string, filter?: object[], masked: string[]}}
   */
  verify(header, input) {
    let bytes;
    try {
      bytes = encodeInput(input);
    } catch (e) {
      if (e instanceof CodecError) throw new VerifierError("bad_input", e.message);
      throw e;
    }
    return this.verifyBytes(encoder.encode(header), bytes);
  }

  /**
   * Decides a request from an encoded header and an input already encoded
   * with encodeInput (abi-codec.js).
   * @param {Uint8Array} header
   * @param {Uint8Array} input
   */
  /**
   * Decides a request like verify, with the record and the environment
   * prepared in this instance: each object is encoded and decoded once, the
   * first time it is seen, and later calls with the same object send only
   * the request (about ten times less work). Objects are known by identity,
   * so a record must not be changed after its first use: a changed record
   * (revoked, rotated) must be a new object, as a cache refresh or the
   * record feed gives. At most MAX_PREPARED are kept, oldest released first.
   * @param {string} header the Authorization value ("" when absent)
   * @param {{record: object|null, environment: object|null, request: object}} input
   */
  verifyPrepared(header, { record = null, environment = null, request }) {
    const r = record === null ? 0 : this.#prepare(PREPARE_RECORD, record, encodeRecord);
    const e = environment === null ? 0 : this.#prepare(PREPARE_ENVIRONMENT, environment, encodeEnvironment);
    const q = encoded(encodeRequest, request);
    const h = this.#put(encoder.encode(header));
    let i;
    try {
      i = this.#put(q);
      const out = decoded(decodeVerify, this.#take(this.#call(() => this.x.tally_verify_prepared(h.ptr, h.len, r, e, i.ptr, i.len))));
      if ("badInput" in out) throw new VerifierError("bad_input", out.badInput);
      return out;
    } finally {
      this.#free(h);
      if (i) this.#free(i);
    }
  }

  /** Handles of prepared objects, oldest first. */
  #prepared = new Map();

  #prepare(kind, value, encode) {
    const known = this.#prepared.get(value);
    if (known !== undefined) return known;
    const bytes = encoded(encode, value);
    while (this.#prepared.size >= MAX_PREPARED) {
      const [oldest, handle] = this.#prepared.entries().next().value;
      this.#prepared.delete(oldest);
      this.#call(() => this.x.tally_release(handle));
    }
    const v = this.#put(bytes);
    let handle;
    try {
      handle = this.#call(() => this.x.tally_prepare(kind, v.ptr, v.len)) >>> 0;
    } finally {
      this.#free(v);
    }
    if (handle === 0) throw new VerifierError("bad_input", "the module did not prepare the value");
    this.#prepared.set(value, handle);
    return handle;
  }

  verifyBytes(header, input) {
    const h = this.#put(header);
    let i;
    try {
      i = this.#put(input);
      const out = decoded(decodeVerify, this.#take(this.#call(() => this.x.tally_verify(h.ptr, h.len, i.ptr, i.len))));
      if ("badInput" in out) throw new VerifierError("bad_input", out.badInput);
      return out;
    } finally {
      this.#free(h);
      if (i) this.#free(i);
    }
  }

  #call(f) {
    try {
      return f();
    } catch (e) {
      throw new VerifierError("trap", `module trapped: ${e && e.message}`);
    }
  }

  #put(bytes) {
    if (bytes.length === 0) return { ptr: 0, len: 0 };
    const ptr = this.#call(() => this.x.tally_alloc(bytes.length)) >>> 0;
    if (ptr === 0) throw new VerifierError("alloc", "module could not allocate the input");
    new Uint8Array(this.x.memory.buffer, ptr, bytes.length).set(bytes);
    return { ptr, len: bytes.length };
  }

  #free({ ptr, len }) {
    if (ptr !== 0) this.#call(() => this.x.tally_dealloc(ptr, len));
  }

  #take(ptr) {
    if (ptr === 0) throw new VerifierError("alloc", "module could not allocate its result");
    const mem = this.x.memory.buffer;
    // ptr is an unsigned offset; JS sees a signed i32.
    const at = ptr >>> 0;
    if (at + 4 > mem.byteLength) throw new VerifierError("bad_output", "result block out of bounds");
    const n = new DataView(mem).getUint32(at, true);
    if (at + 4 + n > mem.byteLength) throw new VerifierError("bad_output", "result block out of bounds");
    // A copy: the block is the module's, valid until the next call (ABI.md).
    return new Uint8Array(mem, at + 4, n).slice();
  }
}

function encoded(encode, value) {
  try {
    return encode(value);
  } catch (e) {
    if (e instanceof CodecError) throw new VerifierError("bad_input", e.message);
    throw e;
  }
}

function decoded(decode, bytes) {
  try {
    return decode(bytes);
  } catch (e) {
    if (e instanceof CodecError) throw new VerifierError("bad_output", e.message);
    throw e;
  }
}
