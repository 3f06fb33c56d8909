// tally-sdk in an app's build: Vite bundles every entry (., ./react,
// ./parent, ./verifier, ./gate) for the browser without an error or a
// warning — no node: import reaches the browser build, the .wasm modules
// are emitted as assets. (The Next.js build of examples/next-app is
// tests/e2e/next-app.test.mjs's.)
//
//   (cd npm && npm run build) && node --test tests/bundlers/
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));

test("Vite builds an app that imports every tally-sdk entry, warning-free", async () => {
  const outDir = await mkdtemp(path.join(tmpdir(), "tally-vite-"));
  const warnings = [];
  try {
    await build({
      root: path.join(here, "vite"),
      logLevel: "silent",
      customLogger: {
        info() {},
        warn: (m) => warnings.push(m),
        warnOnce: (m) => warnings.push(m),
        error: (m) => warnings.push(`error: ${m}`),
        clearScreen() {},
        hasErrorLogged: () => false,
        hasWarned: false,
      },
      build: {
        outDir,
        emptyOutDir: true,
        rollupOptions: { onwarn: (w) => warnings.push(w.message) },
      },
      esbuild: { jsx: "automatic" },
      // tally-sdk is linked (file:../npm): its react is the app's, as in an install.
      resolve: { dedupe: ["react", "react-dom"] },
    });
    const assets = await readdir(path.join(outDir, "assets"));
    assert.ok(assets.some((f) => f.startsWith("tally-verifier") && f.endsWith(".wasm")), assets.join(", "));
    assert.ok(assets.some((f) => f.startsWith("tally-content-gate") && f.endsWith(".wasm")), assets.join(", "));
    assert.ok(assets.some((f) => f.startsWith("tally_sdk_bg") && f.endsWith(".wasm")), assets.join(", "));
    assert.deepEqual(warnings, []);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});
