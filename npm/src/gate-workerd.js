// tally-sdk/gate for Workers (workerd, Miniflare, wrangler): the gate module
// is imported as a compiled WebAssembly.Module, so loadGate() needs no argument.
import bundled from "../dist/tally-content-gate.wasm";
import { instantiateGate } from "./gate-api.js";

export * from "./gate-api.js";

/**
 * Instantiates the gate module: the bundled one by default, or `source`.
 * @param {BufferSource | WebAssembly.Module} [source]
 */
export async function loadGate(source) {
  return instantiateGate(source ?? bundled);
}
