// nginx (auth_request) and Caddy (forward_auth) in front of a real upstream,
// asking a real `tally serve` about every request, with the configs of
// docs/proxies.md (ports filled in). Each is the test's own process on
// loopback (Debian's nginx and caddy packages; .ci/run installs them).
//
// For each proxy: allowed (the upstream sees the decision and never the
// client's Authorization), denied with its reason, no credentials, public
// access, a client's forged X-Tally-* headers, throttled.
//
//   cargo build -p tally && node --test tests/proxies/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { freePort, start } from "../support/processes.mjs";
import { sendJson, serve } from "../support/serve.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");
const docs = await readFile(path.join(root, "docs/proxies.md"), "utf8");

/** The fenced block of `lang` in docs/proxies.md (the configs under test). */
function documented(lang) {
  const match = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(docs);
  assert.ok(match, `docs/proxies.md has a ${lang} block`);
  return match[1];
}

let dir, tally, tallyPort, upstream, admin, reader;
const processes = [];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tally-proxies-"));
  // The upstream echoes what reached it.
  upstream = await serve({
    routes: {
      "/v1/content/master/Post": (req, res) => sendJson(res, 200, { seen: req.headers, method: req.method }),
      "/v1/content/master/Public": (req, res) => sendJson(res, 200, { seen: req.headers, method: req.method }),
    },
  });
  tallyPort = await freePort();
  tally = start("tally", tallyBin, [
    "serve", "--data", path.join(dir, "data"), "--listen", `127.0.0.1:${tallyPort}`,
    "--throttle-failures", "3", "--trusted-proxy", "127.0.0.1/32",
  ], { env: { RUST_LOG: "warn" } });
  processes.push(tally);
  admin = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  await tally.waitFor(/listening on/);
  const api = async (method, p, body) => {
    const r = await fetch(`http://127.0.0.1:${tallyPort}${p}`, { method, headers: { authorization: admin, "content-type": "application/json" }, body: JSON.stringify(body) });
    return r.json();
  };
  await api("POST", "/v1/projects", { id: "p1", name: "P" });
  await api("POST", "/v1/projects/p1/environments", { id: "master", name: "Master" });
  await api("PUT", "/v1/environments/master/public-grants", [{ api: "content", action: "read", models: ["Public"] }]);
  const t = await api("POST", "/v1/tokens", { kind: "PAT", name: "reader", environmentId: "master", grants: [{ api: "content", action: "read", models: ["Post"] }] });
  reader = `Bearer ${t.token}`;
});

after(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await upstream?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function nginx() {
  const port = await freePort();
  const prefix = path.join(dir, "nginx");
  await mkdir(prefix, { recursive: true });
  const server = documented("nginx")
    .replaceAll("listen 8080", `listen 127.0.0.1:${port}`)
    .replaceAll("127.0.0.1:8787", `127.0.0.1:${tallyPort}`)
    .replaceAll("127.0.0.1:4000", upstream.origin.replace("http://", ""));
  const conf = `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events {}
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
${server}
}
`;
  await writeFile(path.join(prefix, "nginx.conf"), conf);
  const p = start("nginx", "/usr/sbin/nginx", ["-p", prefix, "-c", path.join(prefix, "nginx.conf")]);
  processes.push(p);
  await waitForPort(port);
  return `http://127.0.0.1:${port}`;
}

async function caddy() {
  const port = await freePort();
  const home = path.join(dir, "caddy");
  await mkdir(home, { recursive: true });
  const site = documented("caddyfile")
    .replaceAll(":8080", `http://127.0.0.1:${port}`)
    .replaceAll("127.0.0.1:8787", `127.0.0.1:${tallyPort}`)
    .replaceAll("127.0.0.1:4000", upstream.origin.replace("http://", ""));
  await writeFile(path.join(home, "Caddyfile"), `{\n  admin off\n  auto_https off\n}\n${site}`);
  const p = start("caddy", "/usr/bin/caddy", ["run", "--config", path.join(home, "Caddyfile"), "--adapter", "caddyfile"], { env: { HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home } });
  processes.push(p);
  await waitForPort(port);
  return `http://127.0.0.1:${port}`;
}

async function waitForPort(port) {
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

for (const [name, launch] of [["nginx auth_request", nginx], ["Caddy forward_auth", caddy]]) {
  describe(name, () => {
    let base;
    before(async () => {
      base = await launch();
    });
    const call = (method, p, headers = {}) => fetch(`${base}${p}`, { method, headers });

    test("allowed: the upstream gets the decision and never the client's Authorization", async () => {
      const r = await call("GET", "/v1/content/master/Post", { authorization: reader, "x-tally-filter": "[{\"forged\":\"yes\"}]", "x-tally-principal": "forged" });
      assert.equal(r.status, 200);
      const { seen } = await r.json();
      assert.equal(seen.authorization, undefined);
      assert.equal(seen["x-tally-reason"], "allowed");
      assert.match(seen["x-tally-principal"], /^token:/);
      assert.ok(!seen["x-tally-filter"], `a forged filter reached the upstream: ${seen["x-tally-filter"]}`);
    });

    test("denied with its reason; no credentials; public access", async () => {
      const denied = await call("DELETE", "/v1/content/master/Post", { authorization: reader });
      assert.equal(denied.status, 403);
      assert.equal(denied.headers.get("x-tally-reason"), "not_granted");
      const anonymous = await call("GET", "/v1/content/master/Post");
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers.get("x-tally-reason"), "missing_credentials");
      const pub = await call("GET", "/v1/content/master/Public");
      assert.equal(pub.status, 200);
      const seen = (await pub.json()).seen;
      assert.equal(seen["x-tally-reason"], "public");
      assert.ok(!seen["x-tally-principal"], `public access has no principal: ${seen["x-tally-principal"]}`);
    });

    test("a client's X-Tally-Action cannot turn a DELETE into a read", async () => {
      const r = await call("DELETE", "/v1/content/master/Post", { authorization: reader, "x-tally-action": "read" });
      assert.notEqual(r.status, 200);
      assert.ok([400, 403].includes(r.status), String(r.status));
    });

    test("throttled after repeated bad credentials: 429, not 500", async () => {
      const ip = `10.9.${name.length}.7`;
      let last;
      for (let i = 0; i < 6; i++) {
        last = await call("GET", "/v1/content/master/Post", { authorization: "Bearer 0123456789abcdef.bad-secret-bad-secret-bad-secret-bad-secret-x", "x-forwarded-for": ip });
      }
      assert.equal(last.status, 429);
      // The good token from the same proxy is still served.
      assert.equal((await call("GET", "/v1/content/master/Post", { authorization: reader })).status, 200);
    });
  });
}
