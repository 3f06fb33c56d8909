// tally-sdk/verifier (and /gate) in Node, Bun and Deno, each through its own
// export condition with no argument to the loaders: the shared vectors and
// the decision table (known-answers.mjs). Deno runs with no permission at
// all: the module is imported, not read. Bun and Deno come from npm
// packages that ship their binaries.
//
//   (cd npm && npm run build) && node --test tests/runtimes/
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = (name) => path.join(here, "../node_modules/.bin", name);
const script = path.join(here, "known-answers.mjs");

for (const [runtime, command, args] of [
  ["Node", process.execPath, [script]],
  ["Bun", bin("bun"), [script]],
  ["Deno (no permissions)", bin("deno"), ["run", "--no-prompt", script]],
]) {
  test(`${runtime}: the vectors and the decision table, loadVerifier() with no argument`, () => {
    const out = execFileSync(command, args, { cwd: path.join(here, ".."), env: { ...process.env, NO_COLOR: "1" } }).toString();
    const result = JSON.parse(out.trim().split("\n").pop());
    assert.deepEqual(result.failures, []);
    assert.ok(result.checks > 150, `only ${result.checks} checks ran`);
    assert.equal(result.gateChecks, 1);
  });
}
