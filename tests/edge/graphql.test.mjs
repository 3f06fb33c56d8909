// GraphQL content through the edge worker and through the host's gateway,
// side by side, in front of one real GraphQL API (the example, graphql-yoga):
// the same requests must get the same answers, and the upstream must receive
// the same rewritten documents from both. The edge follows the authority's
// record feed, so the model registry reaches it as records do.
//
//   cargo build -p tally && (cd npm && npm run build) && (cd examples/graphql-content-api && npm ci)
//   node --test tests/edge/graphql.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { createWorker } from "../../examples/edge/worker.mjs";
import { start } from "../support/processes.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");

let dataDir, tally, upstream, base, admin, worker;

async function api(method, p, body, token = admin) {
  const response = await fetch(`${base}${p}`, {
    method,
    headers: { authorization: token, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/** The operations the upstream ran since `from`. */
const ran = (from) => upstream.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).slice(from);
const count = () => ran(0).length;

/**
 * The documents the upstream ran since `from`, once its log has caught up:
 * its lines come on another pipe than its answers, so an answer can be in
 * before the line that logs it.
 */
async function settled(from) {
  let seen = -1;
  for (let i = 0; i < 40 && count() !== seen; i++) {
    seen = count();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return ran(from).map((o) => o.query);
}

before(async () => {
  upstream = start("content-api", process.execPath, [path.join(root, "examples/graphql-content-api/server.mjs")], { env: { PORT: "0", IGNORE_WHERE: "1" } });
  const origin = (await upstream.waitFor(/example GraphQL content API on (http:\/\/\S+)/))[1];
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-edge-graphql-"));
  tally = start("tally", tallyBin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--upstream", origin], { env: { RUST_LOG: "warn" } });
  admin = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  base = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  assert.equal((await api("POST", "/v1/projects", { id: "blog", name: "Blog" })).status, 201);
  assert.equal((await api("POST", "/v1/projects/blog/environments", { id: "master", name: "Master" })).status, 201);
  const post = { apiIdPlural: "Posts", ownerField: "ownerId", sensitiveFields: ["internalNotes"] };
  assert.equal((await api("PUT", "/v1/environments/master/models/Post", post)).status, 201);
  worker = await createWorker({ authorityUrl: base, authorityToken: admin, upstreamUrl: origin, follow: true });
  await worker.ready;
});

after(async () => {
  worker?.close();
  await Promise.all([tally?.stop(), upstream?.stop()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function both(authorization, query, variables = {}) {
  const init = () => ({
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const fromGateway = count();
  const g = await fetch(`${base}/v2/blog/master`, init());
  const gateway = { status: g.status, reason: g.headers.get("x-tally-reason"), body: await g.json(), sent: await settled(fromGateway) };
  const fromEdge = count();
  const e = await worker.fetch(new Request("http://edge.invalid/v2/blog/master", init()));
  const edge = { status: e.status, reason: e.headers.get("x-tally-reason"), body: await e.json(), sent: await settled(fromEdge) };
  return { gateway, edge };
}

test("the edge answers GraphQL content as the gateway does, and sends the upstream the same documents", async () => {
  const made = await api("POST", "/v1/tokens", {
    kind: "PAT",
    name: "mine",
    environmentId: "master",
    grants: [
      { api: "content", action: "read", models: ["Post"], condition: { ownerId: "user:1" } },
      { api: "content", action: "update", models: ["Post"], condition: { ownerId: "user:1" } },
    ],
  });
  assert.equal(made.status, 201);
  const token = `Bearer ${made.body.token}`;
  // The edge follows the feed: wait for the new token to arrive.
  for (let i = 0; i < 200 && !(await worker.fetch(new Request("http://edge.invalid/v2/blog/master", { method: "POST", headers: { authorization: token, "content-type": "application/json" }, body: JSON.stringify({ query: "{ posts { id } }" }) }))).ok; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const cases = [
    [token, "{ posts { id ownerId internalNotes } }"],
    [token, "{ mine: posts(where: {title_contains: \"i\"}) { id ...F } } fragment F on Post { secret: internalNotes }"],
    [token, "{ postsConnection { edges { node { id } } } post(where: {id: \"p2\"}) { id } }"],
    [token, "{ posts(stage: DRAFT) { id } }"],
    [token, "mutation { updatePost(where: {id: \"p2\"}, data: {title: \"x\"}) { id } }"],
    [token, "mutation { updatePost(where: {id: \"p1\"}, data: {title: \"First\"}) { id title } }"],
    [token, "{ comments { id } }"],
    [null, "{ posts { id } }"],
    [token, "{ posts { id "],
  ];
  for (const [authorization, query] of cases) {
    const { gateway, edge } = await both(authorization, query);
    assert.equal(edge.status, gateway.status, query);
    assert.equal(edge.reason, gateway.reason, query);
    assert.deepEqual(edge.body, gateway.body, query);
    assert.deepEqual(edge.sent, gateway.sent, `the upstream got other documents for ${query}`);
  }
  // And what they answered is the caller's rows only, masked.
  const { gateway } = await both(token, "{ posts { id ownerId internalNotes } }");
  assert.deepEqual(gateway.body.data.posts, [{ id: "p1", ownerId: "user:1", internalNotes: null }]);
});
