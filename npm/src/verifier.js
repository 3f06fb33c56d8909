// tally-sdk/verifier: the edge verifier. Runs the same verifier module that
// the tally host embeds (dist/tally-verifier.wasm, built from verifier-core),
// through the ABI driver in verifier-abi.js. This entry is for Node, Deno and
// Bun: it finds the module next to itself, by import.meta.url, when it is
// first loaded — not at import, so a runtime without import.meta.url can
// still import it and pass the module in. Browsers get verifier-browser.js
// (fetch only, no node: import for a bundler to trip on), Workers
// (workerd) verifier-workerd.js, which imports the module.
import { loadVerifier as instantiate } from "./verifier-abi.js";

export * from "./verifier-api.js";

async function bundledBytes() {
  const bundled = new URL("../dist/tally-verifier.wasm", import.meta.url);
  if (bundled.protocol === "file:") {
    // Deno reads it only with --allow-read; pass the module in to avoid that.
    const { readFile } = await import("node:fs/promises");
    return readFile(bundled);
  }
  const response = await fetch(bundled);
  if (!response.ok) throw new Error(`cannot load ${bundled}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Instantiates the verifier module: the bundled one by default, or `source`
 * (bytes or a compiled WebAssembly.Module, e.g. a Workers wasm import).
 * @param {BufferSource | WebAssembly.Module} [source]
 */
export async function loadVerifier(source) {
  return instantiate(source ?? (await bundledBytes()));
}
