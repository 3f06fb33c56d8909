// tally-sdk/verifier in headless Chromium through its `browser` entry
// (fetching the module next to the package, no node: import): the shared
// vectors and the decision table, with loadVerifier() taking no argument.
//
//   (cd npm && npm run build) && node --test tests/runtimes/chromium.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { launch } from "../support/browser.mjs";
import { serve } from "../support/serve.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const vectorsDir = process.env.TALLY_VECTORS ?? path.join(root, "../shared/vectors");
let server, browser;

const page = `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": { "tally-sdk/verifier": "/pkg/src/verifier-browser.js" } }</script>
<script type="module">
  import { loadVerifier } from "tally-sdk/verifier";
  import { conformance } from "/rt/conformance.mjs";
  const [table, vectors] = await Promise.all([fetch("/data/decisions.json"), fetch("/vectors/tokens.json")].map(async (r) => (await r).json()));
  window.result = conformance(await loadVerifier(), vectors, table);
</script>`;

before(async () => {
  server = await serve({
    statics: {
      "/pkg/": path.join(root, "npm"),
      "/rt/": here,
      "/data/": path.join(root, "verifier-core/tests/data"),
      "/vectors/": vectorsDir,
    },
    routes: {
      "/": (req, res) => {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(page);
      },
    },
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("Chromium: the vectors and the decision table, loadVerifier() with no argument", async () => {
  const tab = await browser.newPage();
  const problems = [];
  tab.on("pageerror", (e) => problems.push(e.message));
  await tab.goto(`${server.origin}/`);
  await tab.waitForFunction(() => window.result !== undefined, null, { timeout: 20_000 }).catch(() => assert.fail(problems.join("\n")));
  const result = await tab.evaluate(() => window.result);
  assert.deepEqual(result.failures, []);
  assert.ok(result.checks > 150, `only ${result.checks} checks ran`);
});
