// tally-sdk in Cloudflare's runtime: workerd through Miniflare (npm package,
// its binary included). The Worker (worker.mjs) is bundled the way wrangler
// bundles one — esbuild with the `workerd` condition, `.wasm` files left as
// modules — and imports `tally-sdk/verifier` and `tally-sdk/gate` with no
// argument to their loaders. It runs the shared vectors and the decision
// table and answers the failures.
//
//   (cd npm && npm run build) && node --test tests/runtimes/
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = await mkdtemp(path.join(tmpdir(), "tally-workerd-"));
after(() => rm(out, { recursive: true, force: true }));

test("tally-sdk/verifier and tally-sdk/gate load and answer in workerd with no argument", async () => {
  await esbuild.build({
    entryPoints: [path.join(here, "worker.mjs")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    outdir: out,
    outbase: here,
    loader: { ".wasm": "copy" },
    assetNames: "[name]-[hash]",
    nodePaths: [path.join(here, "../node_modules")],
    logLevel: "warning",
  });
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(out, "worker.js"),
    modulesRoot: out,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-06-01",
  });
  try {
    const response = await mf.dispatchFetch("http://worker.invalid/");
    const result = await response.json();
    assert.deepEqual(result.failures, []);
    assert.ok(result.checks > 150, `only ${result.checks} checks ran`);
    assert.equal(result.gateChecks, 1);
  } finally {
    await mf.dispose();
  }
});
