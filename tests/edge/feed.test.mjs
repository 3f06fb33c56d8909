// The edge worker (examples/edge) following the record feed of a real
// `tally serve`: it decides locally from its replica, with a token that may
// only read records (the management `replica` grant); a revocation on the
// authority is denied by the edge within a second (the lag is printed for
// BENCHMARKS.md); environment changes (public grants) follow too.
//
//   cargo build -p tally && node --test tests/edge/
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

let dataDir, tally, base, admin, worker;

async function api(method, p, body, token = admin) {
  const response = await fetch(`${base}${p}`, {
    method,
    headers: { authorization: token, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

const read = (authorization) =>
  worker.fetch(new Request("http://edge.invalid/v1/content/master/Post", { headers: authorization ? { authorization } : {} }));

async function until(authorization, status, withinMs) {
  const started = Date.now();
  for (;;) {
    if ((await read(authorization)).status === status) return Date.now() - started;
    assert.ok(Date.now() - started < withinMs, `still not ${status} after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-edge-"));
  tally = start("tally", tallyBin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0"], { env: { RUST_LOG: "warn" } });
  admin = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  base = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  assert.equal((await api("POST", "/v1/projects", { id: "p1", name: "P" })).status, 201);
  assert.equal((await api("POST", "/v1/projects/p1/environments", { id: "master", name: "Master" })).status, 201);
});

after(async () => {
  worker?.close();
  await tally?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test("an edge following the feed decides locally and learns of revocations within a second", async () => {
  const pat = await api("POST", "/v1/tokens", { kind: "PAT", name: "reader", environmentId: "master", grants: [{ api: "content", action: "read" }] });
  assert.equal(pat.status, 201);
  const token = `Bearer ${pat.body.token}`;
  const edgeToken = await api("POST", "/v1/tokens", { kind: "SYSTEM", name: "edge", grants: [{ api: "management", action: "replica" }] });
  assert.equal(edgeToken.status, 201);

  worker = await createWorker({ authorityUrl: base, authorityToken: edgeToken.body.token, follow: true });
  await worker.ready;
  assert.ok(worker.replicaSize >= 3, "admin, reader and edge tokens are in the replica");

  const allowed = await read(token);
  assert.equal(allowed.status, 200);
  assert.equal((await allowed.json()).reason, "allowed");
  const anonymous = await read(null);
  assert.equal(anonymous.status, 401);
  assert.equal((await anonymous.json()).reason, "missing_credentials");

  // Revoked on the authority: the edge denies within a second.
  assert.equal((await api("DELETE", `/v1/tokens/${pat.body.tokenId}`)).status, 200);
  const lag = await until(token, 401, 1000);
  const denied = await (await read(token)).json();
  assert.equal(denied.reason, "revoked");
  console.log(`edge (record feed) denied the revoked token ${lag} ms after revocation`);

  // Public grants switched on at the authority reach the edge too.
  assert.equal((await api("PUT", "/v1/environments/master/public-grants", [{ api: "content", action: "read" }])).status, 200);
  await until(null, 200, 1000);
});
