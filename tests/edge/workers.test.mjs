// The edge worker as a Cloudflare Worker (examples/edge/workers.mjs and its
// wrangler.toml), bundled as wrangler bundles it (esbuild, `workerd`
// condition, .wasm kept as modules) and run by workerd through Miniflare,
// against a real `tally serve` and the example content API: it follows the
// record feed, allows a token, forwards to the upstream, and denies the
// token once it is revoked on the authority.
//
//   cargo build -p tally && (cd npm && npm run build) && node --test tests/edge/workers.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";

import { start as startContent } from "../../examples/content-api/server.mjs";
import { start } from "../support/processes.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");
let dir, tally, content, mf, base, admin;

async function api(method, p, body) {
  const r = await fetch(`${base}${p}`, { method, headers: { authorization: admin, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => null) };
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tally-workers-"));
  content = await startContent({ port: 0 });
  tally = start("tally", tallyBin, ["serve", "--data", path.join(dir, "data"), "--listen", "127.0.0.1:0"], { env: { RUST_LOG: "warn" } });
  admin = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  base = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  assert.equal((await api("POST", "/v1/projects", { id: "p1", name: "P" })).status, 201);
  assert.equal((await api("POST", "/v1/projects/p1/environments", { id: "master", name: "M" })).status, 201);
  const replica = await api("POST", "/v1/tokens", { kind: "SYSTEM", name: "edge", grants: [{ api: "management", action: "replica" }] });
  assert.equal(replica.status, 201);
  const out = path.join(dir, "worker");
  await esbuild.build({
    entryPoints: [path.join(root, "examples/edge/workers.mjs")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    outdir: out,
    outbase: path.join(root, "examples/edge"),
    loader: { ".wasm": "copy" },
    assetNames: "[name]-[hash]",
    nodePaths: [path.join(root, "examples/edge/node_modules")],
    logLevel: "warning",
  });
  const toml = await readFile(path.join(root, "examples/edge/wrangler.toml"), "utf8");
  const date = /compatibility_date = "([^"]+)"/.exec(toml)[1];
  mf = new Miniflare({
    modules: true,
    scriptPath: path.join(out, "workers.js"),
    modulesRoot: out,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: date,
    bindings: { TALLY_URL: base, TALLY_TOKEN: `AppToken ${replica.body.token}`, UPSTREAM_URL: content.origin, FOLLOW: "1" },
  });
});

after(async () => {
  await mf?.dispose();
  await tally?.stop();
  await content?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const read = (authorization) =>
  mf.dispatchFetch("http://edge.example/v1/content/master/Post", { headers: authorization ? { authorization } : {} });

async function until(authorization, status, withinMs) {
  const started = Date.now();
  for (;;) {
    const r = await read(authorization);
    if (r.status === status) return r;
    await r.arrayBuffer();
    assert.ok(Date.now() - started < withinMs, `still ${r.status}, not ${status}, after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("the Worker follows the feed, forwards what it allows, and denies a revoked token", async () => {
  const pat = await api("POST", "/v1/tokens", { kind: "PAT", name: "reader", environmentId: "master", grants: [{ api: "content", action: "read" }] });
  const token = `Bearer ${pat.body.token}`;
  const allowed = await until(token, 200, 10_000);
  assert.deepEqual(await allowed.json(), []);
  const anonymous = await read(null);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get("x-tally-reason"), "missing_credentials");
  assert.equal((await api("DELETE", `/v1/tokens/${pat.body.tokenId}`)).status, 200);
  const denied = await until(token, 401, 10_000);
  assert.equal(denied.headers.get("x-tally-reason"), "revoked");
});
