// tally-sdk/gate for browsers (and bundlers that serve the .wasm as an
// asset): the gate module fetched next to this file when first loaded.
import { GateError, instantiateGate } from "./gate-api.js";

export * from "./gate-api.js";

/**
 * Instantiates the gate module: fetched by default, or `source`.
 * @param {BufferSource | WebAssembly.Module} [source]
 */
export async function loadGate(source) {
  if (source) return instantiateGate(source);
  const bundled = new URL("../dist/tally-content-gate.wasm", import.meta.url);
  const response = await fetch(bundled);
  if (!response.ok) throw new GateError(`cannot load ${bundled}: HTTP ${response.status}`);
  return instantiateGate(new Uint8Array(await response.arrayBuffer()));
}
