// tally-sdk/verifier for browsers (and bundlers that serve the .wasm as an
// asset): the module fetched next to this file when first loaded.
import { loadVerifier as instantiate } from "./verifier-abi.js";

export * from "./verifier-api.js";

/**
 * Instantiates the verifier module: fetched by default, or `source`.
 * @param {BufferSource | WebAssembly.Module} [source]
 */
export async function loadVerifier(source) {
  if (source) return instantiate(source);
  const bundled = new URL("../dist/tally-verifier.wasm", import.meta.url);
  const response = await fetch(bundled);
  if (!response.ok) throw new Error(`cannot load ${bundled}: HTTP ${response.status}`);
  return instantiate(new Uint8Array(await response.arrayBuffer()));
}
