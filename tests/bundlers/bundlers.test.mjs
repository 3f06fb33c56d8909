// tally-sdk in an app's build: Vite bundles every entry (., ./react,
// ./parent, ./verifier, ./gate) for the browser without an error or a
// warning — no node: import reaches the browser build, the .wasm modules
// are emitted as assets; and Next.js (`next build`, Turbopack) builds a
// client page with tally-sdk and tally-sdk/react and a server route with
// tally-sdk/verifier without an error or a warning. Next comes from
// examples/next-app's install, linked into tests/bundlers/next.
//
//   (cd npm && npm run build) && node --test tests/bundlers/
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
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

test("Next.js builds a client page with tally-sdk/react and a route with tally-sdk/verifier, warning-free", async () => {
  const root = path.resolve(here, "../..");
  const app = path.join(here, "next");
  const from = path.join(root, "examples/next-app/node_modules");
  const modules = path.join(app, "node_modules");
  await rm(modules, { recursive: true, force: true });
  await mkdir(modules, { recursive: true });
  for (const name of ["next", "react", "react-dom", "typescript", "@types"]) {
    await symlink(path.join(from, name), path.join(modules, name));
  }
  await symlink(path.join(root, "npm"), path.join(modules, "tally-sdk"));
  // Built from nothing every time, as on a fresh clone.
  await rm(path.join(app, ".next"), { recursive: true, force: true });
  let out;
  try {
    out = execFileSync(path.join(from, ".bin/next"), ["build"], {
      cwd: app,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    }).toString();
  } catch (e) {
    assert.fail(`next build failed:\n${e.stdout}\n${e.stderr}`);
  }
  assert.ok(existsSync(path.join(app, ".next/BUILD_ID")), out);
  // Next's note that it found no earlier build to reuse is about the
  // machine (a fresh build always has none), not the app: the one line not
  // counted.
  const aboutTheMachine = /No build cache found/;
  const warnings = out.split("\n").filter((l) => /warn|⚠/i.test(l) && !aboutTheMachine.test(l));
  assert.deepEqual(warnings, [], out);
});
