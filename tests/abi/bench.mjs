// The npm edge verifier in Node: the one-shot verify against verifyPrepared
// on the ten-grant bench fixture (verifier-core/benches/ten-grants.json).
// Not a test: `node tests/abi/bench.mjs` after building the module
// (verifier-core/build-module.sh); figures in BENCHMARKS.md.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { loadVerifier } from "../../npm/src/verifier-abi.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const wasmPath = process.env.TALLY_VERIFIER_WASM ?? path.join(root, "target/tally-verifier.wasm");
const f = JSON.parse(await readFile(path.join(root, "verifier-core/benches/ten-grants.json"), "utf8"));
const verifier = await loadVerifier(await readFile(wasmPath));
const input = { record: f.record, environment: f.environment, request: f.request };

for (const [name, run] of [
  ["verify (one-shot)", () => verifier.verify(f.header, input)],
  ["verifyPrepared", () => verifier.verifyPrepared(f.header, input)],
]) {
  if (run().reason !== "allowed") throw new Error(`${name}: the fixture must be allowed`);
  for (let i = 0; i < 20_000; i++) run();
  const n = 100_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) run();
  const us = Number(process.hrtime.bigint() - start) / n / 1000;
  console.log(`${name}: ${us.toFixed(2)} µs a call (${n} calls)`);
}
