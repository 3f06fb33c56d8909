// Webhooks as an app's backend receives them, every part a real process on
// loopback: `tally serve` (webhooks to loopback allowed, quick retries), the
// example app (examples/app) with the webhook secret it was given, and a
// receiver of the test's own. Every delivery verifies with the npm
// `standardwebhooks` library (a tampered one does not); the example app
// drops its app token when its installation is uninstalled or the token is
// revoked, and refuses a forged webhook.
//
//   cargo build -p tally && node --test tests/webhooks/
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import standardwebhooks from "standardwebhooks";

import { freePort, start } from "../support/processes.mjs";

const { Webhook } = standardwebhooks;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");

let dataDir, tally, tallyUrl, admin;
const processes = [];
const servers = [];

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-webhooks-"));
  tally = start("tally", tallyBin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--allow-private-webhooks", "--webhook-backoff-ms", "100"]);
  processes.push(tally);
  admin = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  tallyUrl = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  await api("POST", "/v1/projects", { id: "demo", name: "Demo" });
  await api("POST", "/v1/projects/demo/environments", { id: "master", name: "Master" });
});

after(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  for (const s of servers) s.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function api(method, pathname, body) {
  const response = await fetch(`${tallyUrl}${pathname}`, {
    method,
    headers: { authorization: admin, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${pathname}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function until(what, check, ms = 30_000) {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function register(name, webhookUrl) {
  return api("POST", "/v1/apps", {
    name,
    setupUrl: "http://127.0.0.1:3999/setup",
    origins: ["http://127.0.0.1:3999"],
    grants: [{ api: "content", action: "read" }],
    webhookUrl,
  });
}

test("every delivery verifies with the Standard Webhooks library, and a tampered one does not", async () => {
  const got = [];
  const receiver = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    got.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
    res.writeHead(204).end();
  });
  servers.push(receiver);
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  const app = await register("Receiver", `http://127.0.0.1:${receiver.address().port}/hooks`);
  assert.match(app.webhookSecret, /^whsec_/);
  const installed = await api("POST", "/v1/environments/master/installations", { appId: app.id });
  await api("POST", `/v1/apps/${app.id}/client-secret/rotate`, { graceSeconds: 60 });
  await api("DELETE", `/v1/installations/${installed.installation.id}`);
  await until("three deliveries", () => got.length >= 3);
  const hook = new Webhook(app.webhookSecret);
  const types = got.map(({ headers, body }) => hook.verify(body, headers).type);
  assert.deepEqual(types.sort(), ["client_secret.rotated", "installation.created", "installation.uninstalled"]);
  const [first] = got;
  // Any byte changed: deliveries arrive in any order, and a replace() of a
  // word the first one happens not to hold would change nothing.
  assert.throws(() => hook.verify(`${first.body} `, first.headers));
  assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString("base64")}`).verify(first.body, first.headers));
});

test("the example app verifies its webhooks and drops its token on uninstall and on revocation", async () => {
  const port = await freePort();
  const appOrigin = `http://127.0.0.1:${port}`;
  const registered = await register("Example app", `${appOrigin}/api/webhooks`);
  const exampleApp = start("example-app", process.execPath, [path.join(root, "examples/app/server/main.mjs")], {
    env: {
      PORT: String(port),
      TALLY_URL: tallyUrl,
      CLIENT_ID: registered.clientId,
      CLIENT_SECRET: registered.clientSecret,
      WEBHOOK_SECRET: registered.webhookSecret,
    },
  });
  processes.push(exampleApp);
  await exampleApp.waitFor(/example app on/);
  const connected = async () => (await (await fetch(`${appOrigin}/api/status?environmentId=master`)).json()).connected;
  const connect = async () => {
    const installed = await api("POST", "/v1/environments/master/installations", { appId: registered.id });
    const response = await fetch(`${appOrigin}/api/exchangeSetupCode`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code: installed.setupCode, environmentId: "master", managementApiBaseUrl: `${tallyUrl}/v1` }),
    });
    assert.equal(response.status, 200, await response.text());
    assert.equal(await connected(), true);
    return installed.installation.id;
  };

  // Uninstalled: the app hears of it and forgets the token.
  const first = await connect();
  await api("DELETE", `/v1/installations/${first}`);
  await until("the token dropped after the uninstall", async () => (await connected()) === false);

  // Its token revoked: the same.
  await connect();
  const tokens = await api("GET", "/v1/tokens");
  const appToken = tokens.find((t) => t.kind === "APP" && !t.revoked && t.installationId !== first);
  await api("DELETE", `/v1/tokens/${appToken.tokenId}`);
  await until("the token dropped after the revocation", async () => (await connected()) === false);

  // A forged webhook is refused, and changes nothing.
  await connect();
  const body = JSON.stringify({ type: "installation.uninstalled", timestamp: new Date().toISOString(), data: { environmentId: "master" } });
  const forger = new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`);
  const id = "msg_forged";
  const now = new Date();
  const forged = await fetch(`${appOrigin}/api/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(Math.floor(now / 1000)), "webhook-signature": forger.sign(id, now, body) },
    body,
  });
  assert.equal(forged.status, 400);
  assert.equal(await connected(), true);

  // Tally's delivery log: every event delivered to the app at the first try.
  const log = await api("GET", `/v1/apps/${registered.id}/deliveries`);
  const delivered = await until("every delivery delivered", async () => {
    const all = await api("GET", `/v1/apps/${registered.id}/deliveries`);
    return all.every((d) => d.status === "delivered") && all;
  });
  assert.ok(log.length >= 5, JSON.stringify(log));
  assert.ok(delivered.some((d) => d.type === "token.revoked"));
});
