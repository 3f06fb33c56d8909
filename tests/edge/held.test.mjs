// REST content whose decision limits rows and masks fields, through the
// edge worker and through the host's proxy side by side, in front of one
// upstream that ignores X-Tally-Filter and X-Tally-Masked entirely: the same
// requests must get the same answers, and the upstream must see the same
// writes from both.
//
//   cargo build -p tally && (cd npm && npm run build) && node --test tests/edge/held.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { createWorker } from "../../examples/edge/worker.mjs";
import { start } from "../support/processes.mjs";
import { bodyText, sendJson, serve } from "../support/serve.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");

let dataDir, tally, upstream, base, admin, worker;
const writes = [];
const rows = [
  { id: "1", ownerId: "u1", title: "mine", notes: "n1" },
  { id: "2", ownerId: "u2", title: "theirs", notes: "n2" },
];

async function api(method, p, body, token = admin) {
  const response = await fetch(`${base}${p}`, {
    method,
    headers: { authorization: token, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

before(async () => {
  upstream = await serve({
    routes: {
      "GET /v1/content/master/Post": (req, res) => sendJson(res, 200, rows),
      "POST /v1/content/master/Post": async (req, res) => {
        const body = await bodyText(req);
        writes.push(`POST ${body}`);
        sendJson(res, 201, JSON.parse(body));
      },
      "GET /v1/content/master/Post/1": (req, res) => sendJson(res, 200, rows[0]),
      "GET /v1/content/master/Post/2": (req, res) => sendJson(res, 200, rows[1]),
      "PUT /v1/content/master/Post/1": async (req, res) => {
        writes.push(`PUT 1 ${await bodyText(req)}`);
        sendJson(res, 200, { id: "1", ownerId: "u1", notes: "n" });
      },
      "PUT /v1/content/master/Post/2": async (req, res) => {
        writes.push(`PUT 2 ${await bodyText(req)}`);
        sendJson(res, 200, rows[1]);
      },
      "DELETE /v1/content/master/Post/1": (req, res) => {
        writes.push("DELETE 1");
        res.writeHead(204);
        res.end();
      },
      "GET /v1/content/master/Raw": (req, res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("not json");
      },
    },
  });
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-edge-held-"));
  tally = start("tally", tallyBin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--upstream", upstream.origin], { env: { RUST_LOG: "warn" } });
  admin = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  base = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  assert.equal((await api("POST", "/v1/projects", { id: "p1", name: "P" })).status, 201);
  assert.equal((await api("POST", "/v1/projects/p1/environments", { id: "master", name: "Master" })).status, 201);
  const model = { apiIdPlural: "Posts", ownerField: "ownerId", sensitiveFields: ["notes"] };
  assert.equal((await api("PUT", "/v1/environments/master/models/Post", model)).status, 201);
  assert.equal((await api("PUT", "/v1/environments/master/models/Raw", { apiIdPlural: "Raws", sensitiveFields: ["notes"] })).status, 201);
  worker = await createWorker({ authorityUrl: base, authorityToken: admin, upstreamUrl: upstream.origin, follow: true });
  await worker.ready;
});

after(async () => {
  worker?.close();
  await tally?.stop();
  await upstream?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test("the edge holds REST answers and writes to a limiting decision as the host's proxy does", async () => {
  const grants = ["read", "create", "update", "delete"].map((action) => ({ api: "content", action, models: ["Post", "Raw"], condition: { ownerId: "u1" } }));
  const made = await api("POST", "/v1/tokens", { kind: "PAT", name: "u1", environmentId: "master", grants });
  assert.equal(made.status, 201);
  const token = `Bearer ${made.body.token}`;
  const send = async (via, method, p, body) => {
    const init = { method, headers: { authorization: token, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined };
    const response = via === "gateway"
      ? await fetch(`${base}/v1/content/master/${p}`, init)
      : await worker.fetch(new Request(`http://edge.invalid/v1/content/master/${p}`, init));
    const text = await response.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: response.status, body: method === "HEAD" ? "" : parsed, reason: response.headers.get("x-tally-reason"), text };
  };
  // The edge follows the feed: wait for the new token.
  for (let i = 0; i < 200 && (await send("edge", "GET", "Post")).status !== 200; i++) await new Promise((r) => setTimeout(r, 10));
  const cases = [
    ["GET", "Post"],
    ["GET", "Post/1"],
    ["GET", "Post/2"],
    ["HEAD", "Post/2"],
    ["GET", "Raw"],
    ["POST", "Post", { ownerId: "u2", title: "x" }],
    ["POST", "Post", { ownerId: "u1", notes: "x" }],
    ["POST", "Post", { ownerId: "u1", title: "t" }],
    ["PUT", "Post/2", { title: "mine now" }],
    ["PUT", "Post/1", { title: "new" }],
    ["DELETE", "Post"],
    ["DELETE", "Post/1"],
  ];
  for (const [method, p, body] of cases) {
    const before = writes.length;
    const gateway = await send("gateway", method, p, body);
    const byGateway = writes.slice(before);
    const edge = await send("edge", method, p, body);
    const byEdge = writes.slice(before + byGateway.length);
    assert.equal(edge.status, gateway.status, `${method} ${p}: ${edge.reason} ${edge.text}`);
    if (typeof gateway.body === "object" && gateway.body?.reason) assert.equal(edge.body.reason, gateway.body.reason, `${method} ${p}`);
    else assert.deepEqual(edge.body, gateway.body, `${method} ${p}`);
    assert.deepEqual(byEdge, byGateway, `the upstream saw other writes for ${method} ${p}`);
  }
  // What they answered: the caller's rows only, without notes.
  assert.deepEqual((await send("edge", "GET", "Post")).body, [{ id: "1", ownerId: "u1", title: "mine" }]);
  assert.equal((await send("edge", "GET", "Post/2")).status, 404);
});
