// The differential cases written by host/tests/differential.rs (native
// verifier-core and wasmtime already agree on each) decided again by the
// module in Node through the JS driver and encoder: a third runtime, the same
// decisions. Run after `cargo test` (.ci/test does).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { loadVerifier } from "../../npm/src/verifier-abi.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const wasmPath = process.env.TALLY_VERIFIER_WASM ?? path.join(root, "target/tally-verifier.wasm");
const casesPath = process.env.TALLY_DIFFERENTIAL ?? path.join(root, "target/differential-cases.json");

test("the module in Node decides the 10,000 differential cases as native and wasmtime did (one-shot and prepared)", async () => {
  const cases = JSON.parse(await readFile(casesPath, "utf8"));
  assert.ok(cases.length >= 10000, `only ${cases.length} cases`);
  const verifier = await loadVerifier(await readFile(wasmPath));
  const reasons = new Map();
  const failures = [];
  for (const [i, c] of cases.entries()) {
    const got = verifier.verify(c.header, { record: c.record, environment: c.environment, request: c.request });
    reasons.set(got.reason, (reasons.get(got.reason) ?? 0) + 1);
    // The prepared path too (each case's objects are new: prepare, evict).
    const prepared = verifier.verifyPrepared(c.header, { record: c.record, environment: c.environment, request: c.request });
    try {
      assert.deepEqual(got, c.expect);
      assert.deepEqual(prepared, c.expect);
    } catch {
      if (failures.length < 5) failures.push(`case ${i}: expected ${JSON.stringify(c.expect)} got ${JSON.stringify(got)}`);
      else failures.push("…");
    }
  }
  assert.deepEqual(failures, []);
  assert.equal(reasons.size, 10, `every reason seen: ${[...reasons.keys()]}`);
});
