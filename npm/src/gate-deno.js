// tally-sdk/gate for Deno: the gate module imported at its source phase, so
// loadGate() needs no argument and no permission.
import source bundled from "../dist/tally-content-gate.wasm";
import { instantiateGate } from "./gate-api.js";

export * from "./gate-api.js";

/**
 * Instantiates the gate module: the bundled one by default, or `source`.
 * @param {BufferSource | WebAssembly.Module} [source]
 */
export async function loadGate(source) {
  return instantiateGate(source ?? bundled);
}
