// An app's life after install, driven through the studio in headless
// Chromium against a real `tally serve` on loopback: edit the app, rotate
// its client secret with a grace period (old and new both exchange until
// it ends), install it, uninstall it, delete it. Each screen is saved to
// $E2E_ARTIFACTS (default target/e2e-artifacts) as lifecycle-*.png.
//
//   cargo build -p tally && (cd npm && npm run build) && node --test tests/e2e/
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { launch, watch } from "../support/browser.mjs";
import { start } from "../support/processes.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");
const artifacts = process.env.E2E_ARTIFACTS ?? path.join(root, "target/e2e-artifacts");

let dataDir, tally, browser, page, tallyUrl, adminToken;
let shot = 0;

async function screenshot(name) {
  shot += 1;
  await page.screenshot({ path: path.join(artifacts, `lifecycle-${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

before(async () => {
  await mkdir(artifacts, { recursive: true });
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-lifecycle-"));
  // Webhooks to the test's loopback receiver; no automatic retry within the
  // test, so the studio's Retry is what sends one again.
  tally = start("tally", tallyBin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--allow-private-webhooks", "--webhook-backoff-ms", "600000"]);
  adminToken = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  tallyUrl = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
});

after(async () => {
  await browser?.close();
  await tally?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/// Whether the exchange takes these client credentials: an unknown code is
/// 404 for the right ones, 401 for wrong ones.
async function accepted(clientId, clientSecret) {
  const response = await fetch(`${tallyUrl}/v1/app-exchange-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ clientId, clientSecret, exchangeCode: "no-such-code" }),
  });
  assert.ok([401, 404].includes(response.status), `exchange answered ${response.status}`);
  return response.status === 404;
}

const row = (table, key, id) => page.locator(`#${table} tbody tr[data-${key}="${id}"]`);
const toastSays = (text) => page.waitForFunction((t) => document.getElementById("toast").textContent.includes(t), text);

test("edit, rotate, uninstall and delete an app from the studio", async () => {
  const problems = watch(page);
  page.on("dialog", (dialog) => dialog.accept());
  await page.goto(`${tallyUrl}/studio`);
  await page.fill("#admin-token", adminToken);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#studio:not([hidden])");
  // Panels start closed.
  for (const panel of ["#grants-form", "#grant-review", "#deliveries-panel", "#app-secret"]) {
    assert.equal(await page.isVisible(panel), false, panel);
  }

  await page.fill("#project-form [name=id]", "demo");
  await page.fill("#project-form [name=name]", "Demo");
  await page.click("#project-form button");
  await page.waitForSelector("#environment-form [name=project] option[value=demo]", { state: "attached" });
  await page.fill("#environment-form [name=id]", "master");
  await page.fill("#environment-form [name=name]", "Master");
  await page.click("#environment-form button");
  await page.waitForFunction(() => document.querySelector("#projects tbody").textContent.includes("Master (master)"));

  // Register, with webhooks to a receiver that fails each delivery's first
  // attempt.
  const received = [];
  const receiver = createServer((req, res) => {
    const id = req.headers["webhook-id"];
    const again = received.includes(id);
    received.push(id);
    res.writeHead(again ? 204 : 503).end();
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  after(() => receiver.close());
  await page.fill("#app-form [name=name]", "Lifecycle app");
  await page.fill("#app-form [name=setupUrl]", "http://127.0.0.1:3999/setup");
  await page.fill("#app-form [name=webhookUrl]", `http://127.0.0.1:${receiver.address().port}/hooks`);
  await page.click("#app-form button[type=submit]");
  await page.waitForSelector("#app-secret:not([hidden])");
  const clientId = (await page.textContent("#client-id")).trim();
  const first = (await page.textContent("#client-secret")).trim();
  assert.match(await page.textContent("#webhook-secret"), /^whsec_/);
  await page.click("#secret-done");
  await page.waitForSelector("#apps tbody tr[data-app]");
  const appId = await page.getAttribute("#apps tbody tr[data-app]", "data-app");

  // Edit: the form fills in, grants are left alone, a PATCH saves.
  await row("apps", "app", appId).locator("button", { hasText: "Edit" }).click();
  assert.equal(await page.inputValue("#app-form [name=name]"), "Lifecycle app");
  assert.equal(await page.isDisabled("#app-form [name=grants]"), true);
  await screenshot("app-edit");
  await page.fill("#app-form [name=name]", "Renamed app");
  await page.fill("#app-form [name=url]", "http://127.0.0.1:3999/main");
  await page.click("#app-form button[type=submit]");
  await toastSays("App Renamed app saved");
  await page.waitForFunction(() => document.querySelector("#apps tbody").textContent.includes("Renamed app"));
  const app = await (await fetch(`${tallyUrl}/v1/apps/${appId}`, { headers: { authorization: adminToken } })).json();
  assert.equal(app.name, "Renamed app");
  assert.equal(app.url, "http://127.0.0.1:3999/main");
  // A refused edit says why and changes nothing.
  await row("apps", "app", appId).locator("button", { hasText: "Edit" }).click();
  await page.fill("#app-form [name=url]", "https://elsewhere.example/");
  await page.click("#app-form button[type=submit]");
  await toastSays("url must be served from one of the app's origins");
  await screenshot("app-edit-refused");
  await page.click("#app-edit-cancel");

  // Rotate with a grace period: the new secret is shown once, both work.
  await row("apps", "app", appId).locator("select[name=grace]").selectOption("3600");
  await row("apps", "app", appId).locator("button", { hasText: "Rotate secret" }).click();
  await page.waitForSelector("#app-secret:not([hidden])");
  const second = (await page.textContent("#client-secret")).trim();
  assert.notEqual(second, first);
  assert.match(await page.textContent("#previous-secret"), /The old secret works until \d{4}-/);
  await screenshot("client-secret-rotated");
  assert.equal(await accepted(clientId, first), true, "the old secret works in its grace");
  assert.equal(await accepted(clientId, second), true);
  await page.click("#secret-done");
  await page.waitForFunction(() => document.querySelector("#apps tbody").textContent.includes("old one works until"));
  // Without grace the old one stops at once.
  await row("apps", "app", appId).locator("button", { hasText: "Rotate secret" }).click();
  await page.waitForSelector("#app-secret:not([hidden])");
  const third = (await page.textContent("#client-secret")).trim();
  assert.equal(await page.textContent("#previous-secret"), "The old secret stopped working.");
  assert.equal(await accepted(clientId, second), false);
  assert.equal(await accepted(clientId, third), true);
  await page.click("#secret-done");
  await page.waitForSelector("#apps tbody tr[data-app]");

  // Installed, it cannot be deleted; uninstalled, it can.
  await page.selectOption("#install-form [name=environment]", "master");
  await page.click("#install-form button");
  await page.waitForSelector("#installations tbody tr[data-installation]");
  const installationId = await page.getAttribute("#installations tbody tr[data-installation]", "data-installation");
  // The installation's webhook failed once; the deliveries say so, and
  // Retry sends it again.
  await row("apps", "app", appId).locator("button", { hasText: "Deliveries" }).click();
  await page.waitForSelector("#deliveries-panel:not([hidden])");
  const delivery = page.locator("#deliveries tbody tr", { hasText: "installation.created" });
  for (let i = 0; i < 100 && !/answered 503/.test((await delivery.textContent().catch(() => "")) ?? ""); i++) {
    await page.waitForTimeout(100);
    await page.click("#deliveries-refresh");
  }
  assert.match(await delivery.textContent(), /installation\.createdpending1answered 503/);
  const deliveryId = await delivery.getAttribute("data-delivery");
  await screenshot("webhook-delivery-failed");
  await delivery.locator("button", { hasText: "Retry" }).click();
  await toastSays("queued again");
  for (let i = 0; i < 100 && !/delivered/.test(await delivery.textContent()); i++) {
    await page.waitForTimeout(100);
    await page.click("#deliveries-refresh");
  }
  assert.match(await delivery.textContent(), /installation\.createddelivered2answered 204/);
  assert.equal(received.filter((id) => id === deliveryId).length, 2, "the same webhook-id both times");
  await screenshot("webhook-delivery-retried");
  await page.click("#deliveries-close");
  // A new signing secret, shown once.
  await row("apps", "app", appId).locator("button", { hasText: "Rotate webhook secret" }).click();
  await page.waitForSelector("#app-secret:not([hidden])");
  assert.match(await page.textContent("#webhook-secret"), /^whsec_/);
  await page.click("#secret-done");
  await page.waitForSelector("#apps tbody tr[data-app]");

  const installation = async () =>
    (await fetch(`${tallyUrl}/v1/installations/${installationId}`, { headers: { authorization: adminToken } })).json();

  // Wider grants: published as version 2, requested from the installation,
  // reviewed before and after, approved.
  const wider = [
    { api: "content", action: "read" },
    { api: "content", action: "create" },
    { api: "content", action: "update", models: ["Post"] },
  ];
  await row("apps", "app", appId).locator("button", { hasText: "Grants" }).click();
  await page.fill("#grants-form [name=grants]", JSON.stringify(wider));
  await screenshot("grants-publish");
  await page.click("#grants-form button[type=submit]");
  await toastSays("Grants version 2: applied to 0, approval requested from 1");
  const requested = row("installations", "installation", installationId).locator(".update-requested");
  await requested.waitFor();
  assert.equal(await requested.textContent(), "update requested (v2)");
  await row("installations", "installation", installationId).locator("button", { hasText: "Review grants" }).click();
  assert.match(await page.textContent("#review-to"), /"update"/);
  assert.doesNotMatch(await page.textContent("#review-from"), /"update"/);
  assert.equal(await page.textContent("#review-warning"), "The requested grants allow writes.");
  await screenshot("grants-review");
  await page.click("#review-approve");
  await toastSays(`Grant update approved for ${installationId}`);
  await requested.waitFor({ state: "detached" });
  assert.equal((await installation()).grantsVersion, 2);
  // Wider again, declined: nothing moves, nothing is requested any more.
  await row("apps", "app", appId).locator("button", { hasText: "Grants" }).click();
  await page.fill("#grants-form [name=grants]", JSON.stringify([...wider, { api: "content", action: "delete" }]));
  await page.click("#grants-form button[type=submit]");
  await toastSays("Grants version 3");
  await requested.waitFor();
  await row("installations", "installation", installationId).locator("button", { hasText: "Review grants" }).click();
  await page.click("#review-decline");
  await toastSays(`Grant update declined for ${installationId}`);
  await requested.waitFor({ state: "detached" });
  const declined = await installation();
  assert.equal(declined.grantsVersion, 2);
  assert.equal(declined.requestedVersion, null);
  await row("apps", "app", appId).locator("button", { hasText: "Delete" }).click();
  await toastSays("the app is installed");
  await screenshot("app-delete-refused");
  await row("installations", "installation", installationId).locator("button", { hasText: "Uninstall" }).click();
  await page.waitForFunction((id) => document.querySelector(`#installations tr[data-installation="${id}"] .status`)?.textContent === "UNINSTALLED", installationId);
  assert.equal(await row("installations", "installation", installationId).locator("button", { hasText: "Open" }).isDisabled(), true);
  assert.equal(await row("installations", "installation", installationId).locator("button", { hasText: "Uninstall" }).count(), 0);
  await screenshot("installation-uninstalled");
  await row("apps", "app", appId).locator("button", { hasText: "Delete" }).click();
  await toastSays("App Renamed app deleted");
  await page.waitForFunction(() => document.querySelectorAll("#apps tbody tr").length === 0);
  assert.equal(await accepted(clientId, third), false, "a deleted app's credentials stop working");
  await page.waitForFunction(() => document.querySelector("#audit tbody").textContent.includes("app.delete"));
  await screenshot("app-deleted");
  // The refused edit and delete are 4xx answers by design; no script failed.
  assert.deepEqual(problems.filter((p) => p.startsWith("pageerror")), []);
});

test("tokens with the grant builder, public grants and a filtered audit log from the studio", async () => {
  const problems = watch(page);
  let answerDialogs = true;
  page.removeAllListeners("dialog");
  page.on("dialog", (dialog) => (answerDialogs ? dialog.accept() : dialog.dismiss()));
  await page.goto(`${tallyUrl}/studio`);
  await page.waitForSelector("#studio:not([hidden])");
  const verify = (token, headers = {}) =>
    fetch(`${tallyUrl}/v1/verify`, {
      headers: {
        "x-tally-environment": "master",
        "x-tally-action": "read",
        "x-tally-model": "Post",
        ...(token ? { authorization: token } : {}),
        ...headers,
      },
    }).then((r) => r.status);

  // A registered model, then public grants initialized from it.
  await page.selectOption("#model-form [name=environment]", "master");
  await page.fill("#model-form [name=apiId]", "Post");
  await page.fill("#model-form [name=apiIdPlural]", "Posts");
  await page.click("#model-form button[type=submit]");
  await toastSays("Model Post saved");
  assert.equal(await verify(null), 401, "nothing public yet");
  await row("projects", "environment", "master").locator("button", { hasText: "Public grants" }).click();
  await page.click("#public-grants-defaults");
  await page.waitForFunction(() => document.querySelector("#public-grants-form [name=grants]").value.includes("PUBLISHED"));
  const defaults = JSON.parse(await page.inputValue("#public-grants-form [name=grants]"));
  assert.deepEqual(defaults, [{ api: "content", action: "read", models: ["Post"], stages: ["PUBLISHED"] }]);
  await screenshot("public-grants-defaults");
  await page.click("#public-grants-form button[type=submit]");
  await toastSays("Public grants of master saved");
  assert.equal(await verify(null), 200, "reading published posts is public now");
  // Writes ask first; declined, nothing is saved.
  await row("projects", "environment", "master").locator("button", { hasText: "Public grants" }).click();
  await page.fill("#public-grants-form [name=grants]", JSON.stringify([...defaults, { api: "content", action: "create" }]));
  answerDialogs = false;
  await page.click("#public-grants-form button[type=submit]");
  assert.match(await page.textContent("#public-grants-warning"), /anyone without credentials create/);
  await screenshot("public-grants-write-warning");
  answerDialogs = true;
  await page.click("#public-grants-cancel");
  const projects = await (await fetch(`${tallyUrl}/v1/projects`, { headers: { authorization: adminToken } })).json();
  assert.deepEqual(projects[0].environments[0].publicGrants.map((g) => g.action), ["read"]);

  // A PAT from the grant builder, shown once; rotated, the old one stops.
  await page.fill("#token-form [name=name]", "reader");
  await page.selectOption("#token-form [name=environment]", "master");
  await page.fill("#grant-builder [name=models]", "Post");
  await page.fill("#grant-builder [name=condition]", "author=$principal");
  await page.click("#grant-add");
  assert.deepEqual(JSON.parse(await page.inputValue("#token-form [name=grants]")), [
    { api: "content", action: "read", models: ["Post"], condition: { author: "$principal" } },
  ]);
  await screenshot("token-grant-builder");
  await page.click("#token-form button[type=submit]");
  await page.waitForSelector("#token-secret:not([hidden])");
  const token = (await page.textContent("#token-value")).trim();
  const tokenId = (await page.textContent("#token-id")).trim();
  assert.equal(await verify(`Bearer ${token}`, { "x-tally-stage": "DRAFT" }), 200, "the PAT reads drafts");
  await page.click("#token-done");
  assert.equal(await page.textContent("#token-value"), "", "gone after Done");
  await row("tokens", "token", tokenId).locator("button", { hasText: "Rotate" }).click();
  await page.waitForSelector("#token-secret:not([hidden])");
  const rotated = (await page.textContent("#token-value")).trim();
  assert.notEqual(rotated, token);
  assert.equal(await verify(`Bearer ${rotated}`, { "x-tally-stage": "DRAFT" }), 200);
  assert.equal(await verify(`Bearer ${token}`, { "x-tally-stage": "DRAFT" }), 401);
  await screenshot("token-rotated");
  await page.click("#token-done");

  // The audit log, filtered.
  await page.fill("#audit-filter [name=action]", "token.");
  await page.click("#audit-filter button[type=submit]");
  await page.waitForFunction(() => [...document.querySelectorAll("#audit tbody tr td:nth-child(4)")].every((td) => td.textContent.startsWith("token.")));
  const shown = await page.$$eval("#audit tbody tr td:nth-child(4)", (tds) => tds.map((td) => td.textContent));
  assert.ok(shown.includes("token.rotate") && shown.includes("token.create"), shown.join());
  await screenshot("audit-filtered");
  assert.deepEqual(problems.filter((p) => p.startsWith("pageerror")), []);
});
