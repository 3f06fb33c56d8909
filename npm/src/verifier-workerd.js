// tally-sdk/verifier for Workers (workerd, Miniflare, wrangler): the module
// is imported as a compiled WebAssembly.Module (Workers' module syntax), so
// loadVerifier() needs no argument and nothing is fetched or read.
import bundled from "../dist/tally-verifier.wasm";
import { loadVerifier as instantiate } from "./verifier-abi.js";

export * from "./verifier-api.js";

/**
 * Instantiates the verifier module: the bundled one by default, or `source`.
 * @param {BufferSource | WebAssembly.Module} [source]
 */
export async function loadVerifier(source) {
  return instantiate(source ?? bundled);
}
