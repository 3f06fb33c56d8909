// App elements in the studio, in headless Chromium, over real parts: the
// example content API behind `tally serve --upstream`, the example app
// (examples/app, registered with examples/app/elements.json) and a rogue
// app served by the test. Install the example app → its page is in the
// navigation → the page navigates to the content editor → the sidebar
// counts words as the editor types → the colour field element edits the
// value, the editor saves it and the content API has it → setInvalid
// blocks saving with its message → a dialog returns a colour → confirm →
// the rogue element is refused what is not its own. Each screen is saved
// to $E2E_ARTIFACTS (default target/e2e-artifacts) as elements-*.png.
//
//   cargo build -p tally && (cd npm && npm run build) && node --test tests/e2e/elements.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { launch, watch } from "../support/browser.mjs";
import { freePort, start } from "../support/processes.mjs";
import { serve } from "../support/serve.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");
const artifacts = process.env.E2E_ARTIFACTS ?? path.join(root, "target/e2e-artifacts");

const processes = [];
let dataDir, tallyUrl, adminToken, contentOrigin, appOrigin, rogue, probe, browser, page;
let shot = 0;

/** Saves what `selector` shows (an element, so the app frames in it are painted). */
async function screenshot(name, selector) {
  shot += 1;
  await page.locator(selector).screenshot({ path: path.join(artifacts, `elements-${String(shot).padStart(2, "0")}-${name}.png`) });
}

async function call(method, url, body) {
  const response = await fetch(`${tallyUrl}${url}`, {
    method,
    headers: { authorization: adminToken, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  assert.ok(response.ok, `${method} ${url}: ${response.status} ${JSON.stringify(data)}`);
  return data;
}

/** The entries the content API holds for Post in master (asked directly, not through Tally). */
async function posts() {
  return (await fetch(`${contentOrigin}/v1/content/master/Post`)).json();
}

before(async () => {
  await mkdir(artifacts, { recursive: true });
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-elements-"));
  const content = start("content-api", process.execPath, [path.join(root, "examples/content-api/server.mjs")], { env: { PORT: "0" } });
  processes.push(content);
  contentOrigin = (await content.waitFor(/example content API on (http:\/\/\S+)/))[1];
  const tally = start("tally", tallyBin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--upstream", contentOrigin]);
  processes.push(tally);
  adminToken = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  tallyUrl = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  rogue = await serve({ statics: { "/": path.join(root, "tests/e2e/pages") } });
  probe = await serve({ statics: { "/": path.join(root, "tests/e2e/pages") } });
  appOrigin = `http://127.0.0.1:${await freePort()}`;
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1300, height: 1400 } });
});

after(async () => {
  await browser?.close();
  await rogue?.close();
  await probe?.close();
  await Promise.all(processes.map((p) => p.stop()));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const frameAt = (pathname, except, origin = appOrigin) =>
  page.frames().find((f) => f !== except && !f.isDetached() && f.url().startsWith(origin) && new URL(f.url()).pathname === pathname);

/** The frame of `origin` (the app's by default) at `pathname` (not `except`, one the studio is replacing), within 30 s. */
async function waitForFrame(pathname, except, origin = appOrigin) {
  for (let i = 0; i < 300; i += 1) {
    const f = frameAt(pathname, except, origin);
    if (f) return f;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no frame of ${origin} at ${pathname}`);
}

const toastSays = (text) => page.waitForFunction((t) => document.getElementById("toast").textContent.includes(t), text);

test("the example app's page, sidebar, field editor and dialog in the studio", async () => {
  const problems = watch(page);
  // --- the platform, and the example app registered as the README says ------
  await call("POST", "/v1/projects", { id: "demo", name: "Demo" });
  await call("POST", "/v1/projects/demo/environments", { id: "master", name: "Master" });
  await call("PUT", "/v1/environments/master/models/Post", { apiIdPlural: "Posts" });
  const declared = JSON.parse((await readFile(path.join(root, "examples/app/elements.json"), "utf8")).replaceAll("http://127.0.0.1:3000", appOrigin));
  const registered = await call("POST", "/v1/apps", {
    name: "Example app",
    setupUrl: `${appOrigin}/setup`,
    url: `${appOrigin}/`,
    origins: [appOrigin],
    grants: [{ api: "content", action: "read" }, { api: "content", action: "create" }],
    elements: declared,
  });
  const shown = await call("GET", `/v1/apps/${registered.id}`);
  assert.deepEqual(shown.elements.map((e) => e.type).sort(), ["field", "page", "sidebar"]);
  const seeded = await (await fetch(`${contentOrigin}/v1/content/master/Post`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title: "Hello world", body: "Two words", colour: "#ff0000", views: 3 }),
  })).json();
  const app = start("app", process.execPath, [path.join(root, "examples/app/server/main.mjs")], {
    env: { PORT: new URL(appOrigin).port, TALLY_URL: tallyUrl, CLIENT_ID: registered.clientId, CLIENT_SECRET: registered.clientSecret },
  });
  processes.push(app);
  await app.waitFor(/example app on/);

  // --- install it in the studio ------------------------------------------------
  page.on("dialog", (d) => d.accept());
  await page.goto(`${tallyUrl}/studio`);
  await page.fill("#admin-token", adminToken);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#studio:not([hidden])");
  await page.waitForSelector("#install-form [name=app] option", { state: "attached" });
  assert.equal(await page.isVisible("#app-pages-none"), true, "no app pages before an install");
  await page.selectOption("#install-form [name=environment]", "master");
  await page.click("#install-form button");
  const setup = await waitForFrame("/setup");
  await setup.waitForSelector("#connect:not([hidden])");
  await setup.click("#connect");
  await page.waitForFunction(() => document.querySelector("#installations .status")?.textContent === "COMPLETED");

  // --- its page appears in the navigation -------------------------------------
  const link = page.locator("#app-pages a", { hasText: "Example overview" });
  await link.waitFor();
  await link.click();
  const overview = await waitForFrame("/elements/page.html");
  await overview.waitForFunction(() => document.getElementById("where").textContent.includes("page overview at /"));
  assert.equal(await page.getAttribute("#page-frame", "sandbox"), "allow-scripts allow-same-origin allow-forms");
  assert.equal(await page.getAttribute("#page-frame", "loading"), "lazy");
  await screenshot("page", "#page-section");

  // confirm: the studio asks, the app gets the answer.
  await overview.click("#ask");
  await page.waitForSelector("#confirm-dialog[open]");
  assert.equal(await page.textContent("#confirm-message"), "Go ahead?");
  await screenshot("confirm", "#confirm-dialog");
  await page.click("#confirm-dialog button[value=yes]");
  await overview.waitForFunction(() => document.getElementById("picked").textContent === "confirmed");

  // A dialog from the page returns its value.
  await overview.click("#pick");
  await page.waitForSelector("#app-dialog[open]");
  const palette = await waitForFrame("/elements/dialog.html");
  await palette.click('button[data-colour="#2e8b57"]');
  await overview.waitForFunction(() => document.getElementById("picked").textContent === "picked #2e8b57");
  assert.equal(await page.isVisible("#app-dialog"), false, "the dialog is closed");

  // navigate: the page moves the studio to the Post entries.
  await overview.click("#to-content");
  await page.waitForSelector(`#entries tbody tr[data-entry="${seeded.id}"]`).catch(async (e) => {
    throw new Error(`${e.message}\nstudio says: ${await page.textContent("#toast")}\n${problems.join("\n")}`);
  });

  // --- the entry: sidebar live, field element in place of the colour input ---
  await page.locator(`#entries tbody tr[data-entry="${seeded.id}"] button`, { hasText: "Open" }).click();
  await page.waitForSelector('#entry-fields [data-field="title"] input');
  assert.equal(await page.locator('#entry-fields [data-field="colour"] input').count(), 0, "the colour field has the app's editor, not an input");
  const sidebar = await waitForFrame("/elements/sidebar.html").catch(async (e) => {
    await screenshot("no-sidebar", "#content-section");
    throw new Error(`${e.message}\nstudio says: ${await page.textContent("#toast")}\n${problems.join("\n")}\n${await page.innerHTML("#entry-panel")}`);
  });
  await sidebar.waitForFunction(() => document.getElementById("counts").textContent === "4 words");
  await page.fill('#entry-fields [data-field="title"] input', "Hello big wide world");
  await sidebar.waitForFunction(() => document.getElementById("counts").textContent === "6 words");
  const field = await waitForFrame("/elements/field.html");
  assert.equal(await field.inputValue("#hex"), "#ff0000");
  await screenshot("entry", "#entry-panel");

  // setInvalid blocks saving, with the element's message.
  await field.fill("#hex", "nope");
  await page.waitForFunction(() => document.querySelector('[data-field="colour"] .field-error').textContent.includes("not a colour"));
  await page.click("#entry-save");
  await toastSays("Not saved: colour: nope is not a colour");
  await screenshot("invalid", "#entry-panel");
  assert.equal((await posts())[0].title, "Hello world", "nothing was saved");

  // The field element edits the value; the editor saves it; the content API has it.
  await field.fill("#hex", "#1E90FF");
  await page.waitForFunction(() => document.querySelector('[data-field="colour"] .field-error').textContent === "");
  // The editor has the value once the element's burst (50 ms) went out.
  await page.waitForFunction(() => document.querySelector('.entry-field[data-field="colour"]').dataset.value === '"#1e90ff"');
  await page.click("#entry-save");
  await toastSays(`Entry ${seeded.id} saved`);
  let stored = (await posts())[0];
  assert.equal(stored.colour, "#1e90ff");
  assert.equal(stored.title, "Hello big wide world");
  assert.equal(stored.views, 3);

  // The field's palette dialog returns a value into the field.
  // Saving reopens the entry: a new field frame replaces the one above.
  const reopened = await waitForFrame("/elements/field.html", field);
  await reopened.waitForFunction(() => document.getElementById("hex").value === "#1e90ff");
  await reopened.click("#pick");
  await page.waitForSelector("#app-dialog[open]");
  await screenshot("dialog", "#app-dialog");
  await (await waitForFrame("/elements/dialog.html", palette)).click('button[data-colour="#ffd700"]');
  await reopened.waitForFunction(() => document.getElementById("hex").value === "#ffd700");
  await page.waitForFunction(() => document.querySelector('.entry-field[data-field="colour"]').dataset.value === '"#ffd700"');
  await page.click("#entry-save");
  await toastSays(`Entry ${seeded.id} saved`);
  assert.equal((await posts())[0].colour, "#ffd700");

  // --- elements an installation turns off are not shown ------------------------
  const installation = (await call("GET", "/v1/installations")).find((i) => i.appId === registered.id);
  await page.locator(`#installations tr[data-installation="${installation.id}"] input[data-element="wordCount"]`).uncheck();
  await page.waitForFunction((id) => document.querySelector(`#installations tr[data-installation="${id}"] input[data-element="wordCount"]`)?.checked === false, installation.id);
  assert.deepEqual((await call("GET", "/v1/installations")).find((i) => i.id === installation.id).disabledElements, ["wordCount"]);
  await page.locator(`#entries tbody tr[data-entry="${seeded.id}"] button`, { hasText: "Open" }).click();
  await page.waitForSelector('#entry-fields [data-field="title"] input');
  assert.equal(await page.locator("#entry-sidebar .sidebar-element").count(), 0, "the word count is off");

  // --- a rogue element is refused what is not its own ---------------------------
  const rogueApp = await call("POST", "/v1/apps", {
    name: "Rogue",
    setupUrl: `${rogue.origin}/setup`,
    origins: [rogue.origin],
    grants: [{ api: "content", action: "read" }],
    elements: [{ type: "field", apiId: "views", name: "Rogue views", url: `${rogue.origin}/rogue-field.html?probe=${encodeURIComponent(`${probe.origin}/rogue-probe.html`)}`, fieldType: "number" }],
  });
  const rogueInstall = await call("POST", "/v1/environments/master/installations", { appId: rogueApp.id });
  await call("PATCH", `/v1/installations/${rogueInstall.installation.id}`, { status: "COMPLETED" });
  // A new app's origin reaches the page's frame-src at the next load; the
  // address names the open entry, so a reload comes back to it.
  assert.equal(new URL(page.url()).hash, `#/content/master/Post/${seeded.id}`);
  await page.reload();
  await page.waitForSelector('#entry-fields [data-field="views"] iframe');
  // The iframe is in the page before its frame has navigated to the element.
  const rogueFrame = await waitForFrame("/rogue-field.html", undefined, rogue.origin).catch(() => undefined);
  assert.ok(rogueFrame, "the rogue field element is framed");
  await rogueFrame.waitForFunction(() => document.body.dataset.answers);
  const answers = JSON.parse(await rogueFrame.evaluate(() => document.body.dataset.answers));
  assert.deepEqual(answers, {
    field: "views",
    otherField: "invalid_argument",
    wrongType: "invalid_argument",
    closeDialog: "not_allowed",
    updateInstallation: "not_allowed",
    dialogElsewhere: "invalid_argument",
    ownField: "ok",
    probed: true,
  });
  await page.waitForFunction(() => document.querySelector('.entry-field[data-field="views"]').dataset.value === "7");
  await screenshot("rogue", "#entry-panel");
  // Nothing it tried reached the entry but its own field's value.
  await page.click("#entry-save");
  await toastSays(`Entry ${seeded.id} saved`);
  stored = (await posts())[0];
  assert.equal(stored.title, "Hello big wide world");
  assert.equal(stored.colour, "#ffd700");
  assert.equal(stored.views, 7);
  const rogueInstallation = (await call("GET", "/v1/installations")).find((i) => i.id === rogueInstall.installation.id);
  assert.deepEqual(rogueInstallation.config, {}, "the rogue could not change its installation");
  assert.deepEqual(problems.filter((p) => !p.includes("favicon")), [], problems.join("\n"));
});
