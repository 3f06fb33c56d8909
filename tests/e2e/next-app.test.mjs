// Hygraph's "Use app tokens" guide app, written for Next.js App Router with
// only its SDK import changed (examples/next-app), against `tally serve` in
// headless Chromium. Every part is a real process on loopback: tally (with a
// 4-second session-token lifetime, so a refresh happens during the test),
// the example management API (a GraphQL server with the createModel
// mutation; it logs each model it creates), the app under
// `next build && next start`, and a third origin that frames the app.
//
// Sign in; create a project and an environment; register the app with the
// grant createModel; install it: the setup page renders in the studio's
// frame (<Wrapper> with no props) → Connect → the studio shows COMPLETED;
// open the app → Create model → the upstream receives the createModel
// mutation with the decision headers; after the first session token has run
// out, Create model works again without a reload; disable the installation
// in the studio → the next create is denied. Finally a third origin framing
// the app gets its hellos and the app gets no context from anyone.
//
//   cargo build -p tally && (cd npm && npm run build)
//   (cd examples/next-app && npm ci) && (cd examples/management-api && npm ci)
//   node --test tests/e2e/next-app.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";

import { launch, watch } from "../support/browser.mjs";
import { freePort, start } from "../support/processes.mjs";
import { serve } from "../support/serve.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const appDir = path.join(root, "examples/next-app");
const nextBin = path.join(appDir, "node_modules/.bin/next");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");
const artifacts = path.join(process.env.E2E_ARTIFACTS ?? path.join(root, "target/e2e-artifacts"), "next-app");
const SESSION_TTL = 4;

let dataDir, tally, app, upstream, framer, browser, page;
let tallyUrl, adminToken, appOrigin;
const processes = [];
let shot = 0;

/** The models the management API created: its JSON log lines. */
const created = () =>
  upstream.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

async function screenshot(name, target = page) {
  shot += 1;
  await target.screenshot({ path: path.join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

before(async () => {
  await mkdir(artifacts, { recursive: true });
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-next-e2e-"));

  upstream = start("management-api", process.execPath, [path.join(root, "examples/management-api/server.mjs")], { env: { PORT: "0" } });
  processes.push(upstream);
  const managementUrl = (await upstream.waitFor(/example management API on (http:\/\/\S+)/))[1];

  tally = start("tally", tallyBin, [
    "serve", "--data", dataDir, "--listen", "127.0.0.1:0",
    "--management-upstream", managementUrl, "--session-ttl", String(SESSION_TTL),
    "--allow-private-webhooks",
  ]);
  processes.push(tally);
  adminToken = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  tallyUrl = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];

  // The production build, as an app developer deploys it (the client
  // credentials and the authority are read at run time, not built in).
  execFileSync(nextBin, ["build"], { cwd: appDir, env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" }, stdio: ["ignore", "pipe", "inherit"] });
  appOrigin = `http://127.0.0.1:${await freePort()}`;

  framer = await serve({
    routes: {
      "GET /": (req, res) => {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(`<!doctype html><title>Someone else's page</title>
          <iframe id="app" src="${appOrigin}/" style="width:600px;height:300px"></iframe>
          <script>window.messages = []; addEventListener("message", (e) => window.messages.push(e.data));</script>`);
      },
    },
  });
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
});

after(async () => {
  await browser?.close();
  await Promise.all(processes.map((p) => p.stop()));
  await framer?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const appFrame = () => page.frames().find((f) => f.url().startsWith(appOrigin));

async function waitForAppFrame(pathname) {
  for (let i = 0; i < 300; i++) {
    const f = appFrame();
    if (f && new URL(f.url()).pathname === pathname) return f;
    await page.waitForTimeout(50);
  }
  throw new Error(`the app frame never showed ${pathname}`);
}

async function createModel(frame) {
  await frame.evaluate(() => { document.getElementById("result").textContent = ""; });
  await frame.click("button:text-is('Create model')");
  await frame.waitForFunction(() => document.getElementById("result").textContent !== "");
  return frame.textContent("#result");
}

test("the guide's app, import changed only, installs and calls mgmtApi", async () => {
  const problems = watch(page);

  // --- sign in, project, environment, app -----------------------------------
  await page.goto(`${tallyUrl}/studio`);
  await page.fill("#admin-token", adminToken);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#studio:not([hidden])");
  await page.fill("#project-form [name=id]", "blog");
  await page.fill("#project-form [name=name]", "Blog");
  await page.click("#project-form button");
  await page.waitForSelector("#environment-form [name=project] option[value=blog]", { state: "attached" });
  await page.fill("#environment-form [name=id]", "master");
  await page.fill("#environment-form [name=name]", "Master");
  await page.click("#environment-form button");
  await page.waitForFunction(() => document.querySelector("#projects tbody").textContent.includes("Master (master)"));
  // The content model registry, through the studio's form.
  await page.selectOption("#model-form [name=environment]", "master");
  await page.fill("#model-form [name=apiId]", "Post");
  await page.fill("#model-form [name=apiIdPlural]", "Posts");
  await page.fill("#model-form [name=ownerField]", "ownerId");
  await page.fill("#model-form [name=sensitiveFields]", "internalNotes, email");
  await page.click("#model-form button");
  await page.waitForSelector('#models tr[data-model="master/Post"]');
  assert.match(await page.textContent('#models tr[data-model="master/Post"]'), /Posts.*ownerId.*internalNotes, email/);
  await page.fill("#app-form [name=name]", "Model maker");
  await page.fill("#app-form [name=setupUrl]", `${appOrigin}/setup`);
  await page.fill("#app-form [name=url]", `${appOrigin}/`);
  await page.fill("#app-form [name=grants]", JSON.stringify([{ api: "management", action: "createModel" }]));
  await page.fill("#app-form [name=webhookUrl]", `${appOrigin}/api/webhooks`);
  await page.click("#app-form button[type=submit]");
  await page.waitForSelector("#app-secret:not([hidden])");
  const clientId = (await page.textContent("#client-id")).trim();
  const clientSecret = (await page.textContent("#client-secret")).trim();
  const webhookSecret = (await page.textContent("#webhook-secret")).trim();
  await page.click("#secret-done");
  await page.waitForSelector("#studio:not([hidden])");

  app = start("next-app", nextBin, ["start", "--hostname", "127.0.0.1", "--port", new URL(appOrigin).port], {
    cwd: appDir,
    env: { NEXT_TELEMETRY_DISABLED: "1", TALLY_URL: tallyUrl, CLIENT_ID: clientId, CLIENT_SECRET: clientSecret, WEBHOOK_SECRET: webhookSecret },
  });
  processes.push(app);
  await app.waitFor(/Ready in|started server/i);

  // --- install: the setup page in the studio's frame ---------------------------
  await page.reload();
  await page.waitForSelector("#install-form [name=app] option", { state: "attached" });
  await page.selectOption("#install-form [name=environment]", "master");
  await page.click("#install-form button");
  await page.waitForSelector("#frame-panel:not([hidden])");
  const setupCode = new URL(await page.getAttribute("#app-frame", "src")).searchParams.get("code");
  assert.ok(setupCode, "the studio opened the setup URL with ?code=");
  const setup = await waitForAppFrame("/setup");
  await setup.waitForSelector("text=Connect to Blog", { timeout: 20_000 }).catch(async (e) => {
    throw new Error(`${e.message}\nframe says: ${await setup.textContent("body")}\n${problems.join("\n")}`);
  });
  await screenshot("setup-page");

  // --- connect ------------------------------------------------------------------
  await setup.click("button:text-is('Connect')");
  await setup.waitForSelector("text=Installation completed").catch(async (e) => {
    throw new Error(`${e.message}\nframe says: ${await setup.textContent("body")}\n${problems.join("\n")}`);
  });
  await page.waitForFunction(() => document.querySelector("#installations .status")?.textContent === "COMPLETED");
  await screenshot("installation-completed");

  // --- open the app, create a model through mgmtApi --------------------------------
  await page.locator("#installations tbody tr button", { hasText: "Open" }).click();
  const main = await waitForAppFrame("/");
  await main.waitForSelector("text=Create model");
  assert.match(await main.textContent("main"), /signed in as admin/);
  const first = await createModel(main);
  assert.match(first, /Model created \(migration migration-1\)/);
  // The upstream ran the guide's mutation against its schema.
  await upstream.waitFor(/"migration":"migration-1"/);
  assert.equal(created().length, 1);
  const [model] = created();
  assert.deepEqual(model.created, { environmentId: "master", apiId: "Post", apiIdPlural: "Posts", displayName: "Post" });
  assert.equal(model.reason, "allowed");
  assert.match(model.principal ?? "", /\S/, "the decision's principal came along");
  assert.equal(model.authorization, null, "credentials never reach the upstream");
  await screenshot("model-created");

  // --- the session token runs out and is replaced, with no reload -------------------
  await main.evaluate(() => { window.sameDocument = true; });
  await page.waitForTimeout((SESSION_TTL + 1) * 1000);
  const again = await createModel(main);
  assert.match(again, /Model created \(migration migration-2\)/, "a token past its first expiry was refreshed");
  assert.equal(await main.evaluate(() => window.sameDocument), true, "no reload");

  // --- disable the installation: the next create is denied -------------------------
  await page.locator("#installations tbody tr button", { hasText: "Disable" }).click();
  await page.waitForFunction(() => document.querySelector("#installations .status")?.textContent === "DISABLED");
  const denied = await createModel(main);
  assert.match(denied, /Could not create the model \(401\)/);
  assert.equal(created().length, 2, "nothing more reached the upstream");
  await screenshot("denied-after-disable");

  // The app's webhook route verified every event (it answers 400 to one
  // that does not verify, as to this forged one), the disable included.
  const apps = await (await fetch(`${tallyUrl}/v1/apps`, { headers: { authorization: adminToken } })).json();
  const deliveries = `${tallyUrl}/v1/apps/${apps[0].id}/deliveries`;
  let log = [];
  for (let i = 0; i < 200 && !log.some((d) => d.type === "installation.disabled" && d.status === "delivered"); i++) {
    await page.waitForTimeout(50);
    log = await (await fetch(deliveries, { headers: { authorization: adminToken } })).json();
  }
  assert.deepEqual(
    log.map((d) => [d.type, d.status, d.lastStatus]).sort(),
    [
      ["installation.completed", "delivered", 204],
      ["installation.created", "delivered", 204],
      ["installation.disabled", "delivered", 204],
    ],
  );
  const forged = await fetch(`${appOrigin}/api/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json", "webhook-id": log[0].id, "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "v1,AAAA" },
    body: log[0].payload,
  });
  assert.equal(forged.status, 400);

  // The guide's route posts to the exchange and passes the status through;
  // the setup code itself stays out of the app's URL.
  assert.ok(!setup.url().includes(setupCode));
  for (const p of processes) {
    assert.ok(!p.output().includes(clientSecret), "the client secret is in a process's output");
    assert.ok(!p.output().includes(webhookSecret.slice(6)), "the webhook secret is in a process's output");
  }
});

test("a page of a third origin that frames the app gets its hellos; the app gets no context", async () => {
  const other = await browser.newPage();
  await other.goto(`${framer.origin}/`);
  let frame;
  for (let i = 0; i < 200 && !frame; i++) {
    frame = other.frames().find((f) => f.url().startsWith(appOrigin));
    if (!frame) await other.waitForTimeout(50);
  }
  assert.ok(frame, "the app loaded in the third origin's frame");
  // Wrapper's default error fallback, after its 10 s handshake timeout.
  const alert = await frame.waitForSelector("[data-tally-error]", { timeout: 20_000 });
  assert.equal(await alert.getAttribute("data-tally-error"), "timeout");
  assert.equal(await frame.locator("text=Create model").count(), 0, "the app rendered no page without a context");
  const hellos = await other.evaluate(() => window.messages.filter((m) => m?.kind === "hello").length);
  assert.ok(hellos >= 1, "the app said hello to the page that framed it, the only one it talks to");
  await screenshot("framed-by-a-third-origin", other);
  await other.close();
});
