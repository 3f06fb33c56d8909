// The gate module in Node (the edge's path) against the gate natively (the
// host's /v2 gateway's code): the differential corpus that
// `cargo run -p content-gate --example corpus` writes — generated GraphQL
// requests, grants, the verifier's decisions, preflight and upstream
// answers, and the native outputs of every gate call — replayed call by call
// through `tally-sdk/gate`. Every output must be the same: checks, refusals,
// denials, rewritten documents, preflights, held answers, masked paths.
//
//   content-gate/build-module.sh && node --test tests/abi/gate-corpus.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { loadGate } from "../../npm/src/gate.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const wasm = process.env.TALLY_GATE_WASM ?? path.join(root, "target/tally-content-gate.wasm");
const COUNT = 2500;

test(`${COUNT} generated GraphQL requests: the gate module answers as the gate does natively`, async () => {
  const corpus = execFileSync("cargo", ["run", "--quiet", "--locked", "-p", "content-gate", "--example", "corpus", "--", String(COUNT)], {
    cwd: root,
    maxBuffer: 1 << 30,
    stdio: ["ignore", "pipe", "inherit"],
  })
    .toString()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  assert.equal(corpus.length, COUNT);
  const gate = await loadGate(readFileSync(wasm));
  const call = { 1: (i) => gate.plan(i), 2: (i) => gate.authorize(i.handle, i.decisions), 3: (i) => gate.preflight(i.handle, i.answer), 4: (i) => gate.finish(i.handle, i.answer) };
  const seen = { refused: 0, denied: 0, finished: 0, rewritten: 0, masked: 0, preflights: 0 };
  for (const [n, { ops }] of corpus.entries()) {
    for (const [op, input, native] of ops) {
      const edge = call[op](input);
      assert.deepStrictEqual(edge, native, `request ${n}, op ${op}: ${JSON.stringify(input).slice(0, 400)}`);
      if (edge.refused) seen.refused++;
      if (edge.denied) seen.denied++;
      if (op === 2 && edge.forward && edge.forward.query.includes("AND:")) seen.rewritten++;
      if (op === 3) seen.preflights++;
      if (op === 4) {
        seen.finished++;
        if (edge.masked.length) seen.masked++;
      }
    }
  }
  // The corpus reaches every path, not only denials.
  for (const [what, count] of Object.entries(seen)) assert.ok(count >= 20, `only ${count} ${what}`);
  console.log(`gate corpus: ${JSON.stringify(seen)}`);
});
