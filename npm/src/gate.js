// tally-sdk/gate for Node, Deno and Bun: the gate module found next to this
// file when first loaded (not at import). Browsers get gate-browser.js,
// Workers gate-workerd.js. The gate itself is in gate-api.js.
import { GateError, instantiateGate } from "./gate-api.js";

export * from "./gate-api.js";

async function bundledBytes() {
  const bundled = new URL("../dist/tally-content-gate.wasm", import.meta.url);
  if (bundled.protocol === "file:") {
    const { readFile } = await import("node:fs/promises");
    return readFile(bundled);
  }
  const response = await fetch(bundled);
  if (!response.ok) throw new GateError(`cannot load ${bundled}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Instantiates the gate module: the bundled one by default, or `source`
 * (bytes or a compiled WebAssembly.Module).
 * @param {BufferSource | WebAssembly.Module} [source]
 */
export async function loadGate(source) {
  return instantiateGate(source ?? (await bundledBytes()));
}
