// The edge worker (examples/edge) against the tables the gateway's tests
// run too (tests/fixtures/gateway-targets.json, forwarded-headers.json):
// the same tricky targets get the same answers, and the same client headers
// never reach the upstream. A real `tally serve` feeds the worker's records;
// the upstream is a real HTTP server on loopback that echoes what it got.
//
//   cargo build -p tally && (cd npm && npm run build) && node --test tests/edge/
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { createWorker } from "../../examples/edge/worker.mjs";
import { start } from "../support/processes.mjs";
import { serve, sendJson } from "../support/serve.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");
const fixture = async (name) => JSON.parse(await readFile(path.join(root, "tests/fixtures", name), "utf8"));

let dataDir, tally, base, admin, worker, upstream, token;

async function api(method, p, body) {
  const response = await fetch(`${base}${p}`, {
    method,
    headers: { authorization: admin, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-edge-tables-"));
  tally = start("tally", tallyBin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0"], { env: { RUST_LOG: "warn" } });
  admin = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  base = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  assert.equal((await api("POST", "/v1/projects", { id: "p1", name: "P" })).status, 201);
  assert.equal((await api("POST", "/v1/projects/p1/environments", { id: "master", name: "Master" })).status, 201);
  const reader = await api("POST", "/v1/tokens", {
    kind: "PAT", name: "published reader", environmentId: "master",
    grants: [{ api: "content", action: "read", models: ["Post"], stages: ["PUBLISHED"] }],
  });
  assert.equal(reader.status, 201);
  token = `AppToken ${reader.body.token}`;
  const edge = await api("POST", "/v1/tokens", { kind: "SYSTEM", name: "edge", grants: [{ api: "management", action: "replica" }] });
  assert.equal(edge.status, 201);
  const echo = (req, res) => sendJson(res, 200, { uri: req.url, headers: req.headers });
  upstream = await serve({ routes: new Proxy({}, { get: () => echo }) });
  worker = await createWorker({ authorityUrl: base, authorityToken: edge.body.token, follow: true, upstreamUrl: upstream.origin });
  await worker.ready;
});

after(async () => {
  worker?.close();
  await upstream?.close();
  await tally?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The worker's answer to GET `target` (sent as received) with `headers`. */
async function get(target, headers) {
  const request = new Request(`http://edge.invalid${target}`, { headers: { authorization: token, ...headers } });
  const response = await worker.fetch(request, { target, peer: "127.0.0.1" });
  return { response, body: await response.json() };
}

test("every tricky target gets the answer the gateway gives", async () => {
  const table = await fixture("gateway-targets.json");
  for (const c of table.cases) {
    const { response, body } = await get(c.target, c.headers ?? {});
    if (c.expect === "forward") {
      assert.equal(response.status, 200, `${c.name}: ${JSON.stringify(body)}`);
      assert.equal(body.uri, c.target, `${c.name}: forwarded as received`);
    } else if (c.expect === "refuse") {
      assert.deepEqual([response.status, body.reason], [400, "ambiguous_request"], `${c.name}: ${JSON.stringify(body)}`);
      assert.equal(response.headers.get("x-tally-reason"), "ambiguous_request");
    } else {
      assert.deepEqual([response.status, body.reason], [c.expect.status, c.expect.reason], `${c.name}: ${JSON.stringify(body)}`);
      assert.equal(body.uri, undefined, `${c.name}: denied, never forwarded`);
    }
  }
});

test("nothing of the client's credentials or X-Tally headers reaches the upstream", async () => {
  const table = await fixture("forwarded-headers.json");
  for (const c of table.cases) {
    const { response, body } = await get("/v1/content/master/Post", c.send);
    assert.equal(response.status, 200, `${c.name}: ${JSON.stringify(body)}`);
    const got = body.headers;
    for (const absent of c.absent) assert.equal(got[absent.toLowerCase()], undefined, `${c.name}: ${absent} reached the upstream`);
    for (const [key, want] of Object.entries(c.present)) {
      const value = got[key] ?? "<absent>";
      const ok = want.endsWith("*") ? value.startsWith(want.slice(0, -1)) : value === want;
      assert.ok(ok, `${c.name}: ${key} is ${JSON.stringify(value)}, not ${JSON.stringify(want)}`);
    }
    assert.equal(got.authorization, undefined, c.name);
    for (const key of Object.keys(got)) {
      if (key.replaceAll("_", "-").startsWith("x-tally-")) {
        assert.ok(["x-tally-principal", "x-tally-masked", "x-tally-reason", "x-tally-filter"].includes(key), `${c.name}: ${key} reached the upstream`);
      }
    }
  }
});
