// tally-sdk/gate, what every runtime's entry shares (gate.js, gate-browser.js,
// gate-workerd.js add loadGate()): the GraphQL content gate at the edge. Runs the gate module
// (dist/tally-content-gate.wasm, built from the content-gate crate, the very
// code the tally host's /v2 gateway runs natively): a GraphQL request mapped
// to verifier checks, the decisions turned into the document to forward (and
// a preflight query for one-row writes), the upstream's answer held to them;
// and the REST gateway's rules for a decision that limits rows or masks
// fields (restWrite, restAnswer).
//
// Plain WebAssembly, no imports: Node, Deno, workers and browsers alike.
// Every failure throws a GateError; callers deny on it (fail closed).

/** The gate module ABI version this driver speaks. */
export const GATE_ABI_VERSION = 1;

/** A failure of the gate module or of its input. */
export class GateError extends Error {
  constructor(message) {
    super(message);
    this.name = "GateError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One instance of the gate module. */
export class Gate {
  #x;
  /** @param {WebAssembly.Instance} instance */
  constructor(instance) {
    const x = instance.exports;
    for (const name of ["memory", "gate_abi_version", "gate_alloc", "gate_dealloc", "gate_call"]) {
      if (!(name in x)) throw new GateError(`the module does not export ${name}`);
    }
    if (x.gate_abi_version() !== GATE_ABI_VERSION) {
      throw new GateError(`the module speaks gate ABI ${x.gate_abi_version()}; this driver speaks ${GATE_ABI_VERSION}`);
    }
    this.#x = x;
  }

  #call(op, input) {
    const x = this.#x;
    const bytes = encoder.encode(JSON.stringify(input));
    const ptr = bytes.length ? x.gate_alloc(bytes.length) : 0;
    if (bytes.length && !ptr) throw new GateError("the module is out of memory");
    new Uint8Array(x.memory.buffer, ptr, bytes.length).set(bytes);
    let result;
    try {
      result = x.gate_call(op, ptr, bytes.length);
    } finally {
      if (ptr) x.gate_dealloc(ptr, bytes.length);
    }
    if (!result) throw new GateError("the module could not write its answer");
    const view = new DataView(x.memory.buffer);
    const n = view.getUint32(result, true);
    const answer = JSON.parse(decoder.decode(new Uint8Array(x.memory.buffer, result + 4, n)));
    if (answer.error) throw new GateError(answer.error.message);
    return answer;
  }

  /**
   * Reads a GraphQL request: `{ handle, checks }` (verifier requests to
   * decide, in order), `{ refused: { reason, message } }` (400) or
   * `{ denied: { status, reason, body } }`.
   * @param {{ request: { query: string, variables?: object, operationName?: string },
   *           environment: object, options: { stage?: string, locales?: string[], introspection?: boolean, now: number } }} input
   */
  plan(input) {
    return this.#call(1, input);
  }

  /** The decisions (one per check): `{ forward, preflight, principal, reason, masked }` or `{ denied }`. */
  authorize(handle, decisions) {
    return this.#call(2, { handle, decisions });
  }

  /** The preflight query's answer: `{ ok: true }` or `{ denied }`. */
  preflight(handle, answer) {
    return this.#call(3, { handle, answer });
  }

  /** The upstream's answer held to the decisions: `{ answer, masked }` (the handle is released). */
  finish(handle, answer) {
    return this.#call(4, { handle, answer });
  }

  /** Drops a request's handle (after a failure between the calls above). */
  release(handle) {
    this.#call(5, { handle });
  }

  /**
   * REST: whether a written body may go on under an allowed `decision`:
   * `{ ok: true }` or `{ refused: { reason, message } }` (403).
   */
  restWrite(decision, body, create) {
    return this.#call(6, { decision, body, create });
  }

  /**
   * REST: an upstream answer held to an allowed `decision` (rows outside
   * the caller's dropped, masked fields removed): `{ answer }`, or
   * `{ absent: true }` when the one row read (`single`) is not the caller's.
   */
  restAnswer(decision, single, answer) {
    return this.#call(7, { decision, single, answer });
  }
}

/** A Gate over `source`, bytes or a compiled WebAssembly.Module. */
export async function instantiateGate(source) {
  const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
  return new Gate(await WebAssembly.instantiate(module, {}));
}
