// The whole install flow in headless Chromium, every part a real process on
// loopback: `tally serve` (studio, authority, gateway) on a temp data dir,
// the example content API behind its gateway, the example app (frontend +
// backend), and the edge worker.
//
// Sign in to the studio; create a project and an environment; register the
// app; install it, which opens its setup page with ?code= in the studio's
// frame; click "Connect" in the frame; see COMPLETED in the studio; create a
// model through the app (gateway 201, edge 201); revoke the app token in the
// studio; the gateway denies the next call at once, the edge within its
// cache bound. Screenshots of every step go to $E2E_ARTIFACTS
// (default target/e2e-artifacts). Finally the setup code is looked for in the
// app's URL, every process's output and every file of the data dir.
//
//   cargo build -p tally && (cd npm && npm run build) && node --test tests/e2e/
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { launch, watch } from "../support/browser.mjs";
import { freePort, start } from "../support/processes.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");
const artifacts = process.env.E2E_ARTIFACTS ?? path.join(root, "target/e2e-artifacts");
const EDGE_TTL_MS = 1500;

let dataDir, tally, content, edge, app, browser, page;
let tallyUrl, adminToken, appOrigin;
const processes = [];
let shot = 0;

async function screenshot(name, target = page) {
  shot += 1;
  await target.screenshot({ path: path.join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

before(async () => {
  await mkdir(artifacts, { recursive: true });
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-e2e-"));

  content = start("content-api", process.execPath, [path.join(root, "examples/content-api/server.mjs")], { env: { PORT: "0" } });
  processes.push(content);
  const contentOrigin = (await content.waitFor(/example content API on (http:\/\/\S+)/))[1];

  tally = start("tally", tallyBin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--upstream", contentOrigin], {
    env: { RUST_LOG: "info" },
  });
  processes.push(tally);
  adminToken = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  tallyUrl = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  await tally.waitFor(/studio: http:\/\/\S+\/studio/);

  edge = start("edge", process.execPath, [path.join(root, "examples/edge/server.mjs")], {
    env: { PORT: "0", TALLY_URL: tallyUrl, TALLY_TOKEN: adminToken, UPSTREAM_URL: contentOrigin, CACHE_TTL_MS: String(EDGE_TTL_MS) },
  });
  processes.push(edge);
  await edge.waitFor(/edge worker on (http:\/\/[^\s,]+)/);

  // The app's origin must be known to register it; it starts once the studio
  // has shown its client credentials.
  appOrigin = `http://127.0.0.1:${await freePort()}`;
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
});

after(async () => {
  await browser?.close();
  await Promise.all(processes.map((p) => p.stop()));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const appFrame = () => page.frames().find((f) => f.url().startsWith(appOrigin));

async function waitForAppFrame(pathname) {
  for (let i = 0; i < 200; i++) {
    const f = appFrame();
    if (f && new URL(f.url()).pathname === pathname) return f;
    await page.waitForTimeout(50);
  }
  throw new Error(`the app frame never showed ${pathname}`);
}

async function createModel(frame, via, name) {
  await frame.fill("#model-name", name);
  await frame.selectOption("#via", via);
  await frame.evaluate(() => { document.getElementById("result").dataset.status = ""; });
  await frame.click("#create-model");
  await frame.waitForFunction(() => document.getElementById("result").dataset.status !== "");
  return {
    status: Number(await frame.getAttribute("#result", "data-status")),
    text: await frame.textContent("#result"),
  };
}

test("install an app from the studio and use it through the gateway and the edge", async () => {
  const problems = watch(page);

  // --- sign in ----------------------------------------------------------------
  const response = await page.goto(`${tallyUrl}/studio`);
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /frame-src 'none'/, "no app registered yet: nothing may be framed");
  assert.match(csp, /script-src 'self'/);
  await page.waitForSelector("#sign-in:not([hidden])");
  await screenshot("studio-sign-in");
  await page.fill("#admin-token", adminToken);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#studio:not([hidden])");
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "tally_studio");
  assert.ok(session, "a session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.ok(!session.value.includes(adminToken.split(" ")[1]), "the cookie is not the admin token");
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  assert.equal(await page.evaluate(() => document.cookie), "", "the session cookie is not readable by scripts");

  // --- project, environment, app ----------------------------------------------
  await page.fill("#project-form [name=id]", "demo");
  await page.fill("#project-form [name=name]", "Demo shop");
  await page.click("#project-form button");
  await page.waitForSelector("#environment-form [name=project] option[value=demo]", { state: "attached" });
  await page.fill("#environment-form [name=id]", "master");
  await page.fill("#environment-form [name=name]", "Master");
  await page.click("#environment-form button");
  await page.waitForFunction(() => document.querySelector("#projects tbody").textContent.includes("Master (master)"));
  await page.fill("#app-form [name=name]", "Example app");
  await page.fill("#app-form [name=setupUrl]", `${appOrigin}/setup`);
  await page.fill("#app-form [name=url]", `${appOrigin}/`);
  await page.click("#app-form button[type=submit]");
  await page.waitForSelector("#app-secret:not([hidden])");
  const clientId = (await page.textContent("#client-id")).trim();
  const clientSecret = (await page.textContent("#client-secret")).trim();
  assert.ok(clientId && clientSecret.length >= 43);
  await screenshot("studio-app-registered");
  await page.click("#secret-done");
  await page.waitForSelector("#studio:not([hidden])");
  assert.equal(await page.textContent("#client-secret"), "", "the secret is gone after Done");

  app = start("app", process.execPath, [path.join(root, "examples/app/server/main.mjs")], {
    env: { PORT: new URL(appOrigin).port, TALLY_URL: tallyUrl, EDGE_URL: (await edge.waitFor(/edge worker on (http:\/\/[^\s,]+)/))[1], CLIENT_ID: clientId, CLIENT_SECRET: clientSecret },
  });
  processes.push(app);
  await app.waitFor(/example app on/);

  // --- install ----------------------------------------------------------------
  const studioAgain = await page.reload();
  assert.match(studioAgain.headers()["content-security-policy"], /frame-src 'none'/, "registered, not installed: not framable yet");
  await page.waitForSelector("#install-form [name=app] option", { state: "attached" });
  await page.selectOption("#install-form [name=environment]", "master");
  // The first install of the app reloads the studio, whose frame-src now
  // has the app's origin, and opens the setup page.
  const [installed] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === "/studio" && r.request().resourceType() === "document"),
    page.click("#install-form button"),
  ]);
  assert.match(installed.headers()["content-security-policy"], new RegExp(`frame-src ${appOrigin.replace(/[.:/]/g, "\\$&")}`));
  await page.waitForSelector("#frame-panel:not([hidden])").catch(async (e) => {
    throw new Error(`${e.message}\nstudio says: ${await page.textContent("#toast")}\n${problems.join("\n")}`);
  });
  const frameSrc = await page.getAttribute("#app-frame", "src");
  const setupCode = new URL(frameSrc).searchParams.get("code");
  assert.ok(setupCode && setupCode.length >= 43, `the studio opened the setup URL with ?code= (${frameSrc})`);
  const setup = await waitForAppFrame("/setup");
  await setup.waitForSelector("#connect:not([hidden])");
  assert.ok(!setup.url().includes(setupCode), "the SDK scrubbed the code from the app's URL");
  assert.equal(await setup.evaluate(() => location.search.includes("code=")), false);
  await page.waitForFunction(() => document.querySelector("#installations .status")?.textContent === "PENDING");
  await screenshot("studio-installing");
  await screenshot("app-setup-page", page.locator("#app-frame"));

  // --- connect ----------------------------------------------------------------
  await setup.click("#connect");
  await setup.waitForFunction(() => document.getElementById("status").textContent === "Connected");
  await page.waitForFunction(() => document.querySelector("#installations .status")?.textContent === "COMPLETED");
  await page.waitForFunction(() => document.getElementById("toast").textContent.includes("Example app connected"));
  await screenshot("studio-installation-completed");
  assert.deepEqual(problems, [], problems.join("\n"));

  // --- use the API through the app's backend ------------------------------------
  await setup.click("#open");
  const main = await waitForAppFrame("/");
  await main.waitForFunction(() => document.getElementById("where").textContent.includes("COMPLETED"));
  // context.user is who signed in to the studio: the admin token, by name and actor.
  assert.match(await main.textContent("#where"), /for admin \(token:[0-9a-f]{16}\)/);
  const viaGateway = await createModel(main, "gateway", "Post");
  assert.equal(viaGateway.status, 201, viaGateway.text);
  assert.match(viaGateway.text, /gateway: 201 created model Post/);
  const viaEdge = await createModel(main, "edge", "Author");
  assert.equal(viaEdge.status, 201, `${viaEdge.text}\n${edge.output().slice(-3000)}`);
  await screenshot("app-model-created", page.locator("#app-frame"));

  // --- the studio opens the installed app at its main page --------------------------
  await page.locator("#installations tbody tr button", { hasText: "Open" }).click();
  await page.waitForFunction((url) => document.getElementById("app-frame").getAttribute("src") === url, `${appOrigin}/`);
  const reopened = await waitForAppFrame("/");
  await reopened.waitForFunction(() => document.getElementById("where").textContent.includes("COMPLETED"));

  // --- revoke the app token in the studio -----------------------------------------
  // The row whose Kind cell is exactly APP (names such as "Example app" also say "app").
  const appTokenRow = page.locator("#tokens tbody tr").filter({ has: page.locator("td:nth-child(2)", { hasText: /^APP$/ }) });
  await appTokenRow.waitFor();
  const appTokenId = await appTokenRow.getAttribute("data-token");
  await appTokenRow.locator("button", { hasText: "Revoke" }).click();
  await page.waitForFunction((id) => document.querySelector(`#tokens tr[data-token="${id}"]`)?.textContent.includes("revoked"), appTokenId);
  const revokedAt = Date.now();
  await screenshot("studio-token-revoked");

  const denied = await createModel(main, "gateway", "Comment");
  assert.equal(denied.status, 401, `the gateway denies at once: ${denied.text}`);
  assert.match(denied.text, /revoked/);

  let edgeDenied = null;
  while (Date.now() - revokedAt < EDGE_TTL_MS + 5000) {
    const r = await createModel(main, "edge", "Comment");
    if (r.status === 401) {
      edgeDenied = { ...r, after: Date.now() - revokedAt };
      break;
    }
    assert.equal(r.status, 201, `before its cache expires the edge still allows: ${r.text}`);
    await page.waitForTimeout(100);
  }
  assert.ok(edgeDenied, "the edge denied within its cache bound");
  assert.match(edgeDenied.text, /revoked/);
  assert.ok(edgeDenied.after <= EDGE_TTL_MS + 1000, `the edge took ${edgeDenied.after} ms (bound ${EDGE_TTL_MS} ms)`);
  console.log(`edge denied the revoked token ${edgeDenied.after} ms after revocation (cache bound ${EDGE_TTL_MS} ms)`);
  await screenshot("app-denied-after-revocation", page.locator("#app-frame"));

  // --- the audit log saw all of it ------------------------------------------------
  await page.waitForFunction(() => document.querySelector("#audit tbody").textContent.includes("token.revoke"));
  const audit = await page.textContent("#audit tbody");
  for (const action of ["project.create", "environment.create", "app.create", "installation.create", "installation.update", "token.revoke"]) {
    assert.ok(audit.includes(action), `audit log has ${action}`);
  }
  await screenshot("studio-audit-log");

  // --- the setup code is nowhere ------------------------------------------------
  for (const p of processes) assert.ok(!p.output().includes(setupCode), "the setup code is in a process's output");
  for (const p of processes) assert.ok(!p.output().includes(clientSecret), "the client secret is in a process's output");
  for (const file of await readdir(dataDir, { recursive: true })) {
    const bytes = await readFile(path.join(dataDir, file)).catch(() => null);
    if (bytes === null) continue; // a directory
    assert.ok(!bytes.includes(setupCode), `the setup code is in ${file}`);
    assert.ok(!bytes.includes(clientSecret), `the client secret is in ${file}`);
  }
  assert.ok(!(main.url() + setup.url()).includes(setupCode));
});
