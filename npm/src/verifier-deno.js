// tally-sdk/verifier for Deno: the module imported at its source phase (a
// compiled WebAssembly.Module), so loadVerifier() needs no argument and no
// permission (nothing is read or fetched).
import source bundled from "../dist/tally-verifier.wasm";
import { loadVerifier as instantiate } from "./verifier-abi.js";

export * from "./verifier-api.js";

/**
 * Instantiates the verifier module: the bundled one by default, or `source`.
 * @param {BufferSource | WebAssembly.Module} [source]
 */
export async function loadVerifier(source) {
  return instantiate(source ?? bundled);
}
