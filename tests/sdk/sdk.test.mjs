// The SDK in headless Chromium with a real platform page and a real app
// iframe on two different origins (and a third origin next to them):
// handshake and context, updateInstallation, setup code capture and scrub,
// the exchange through a real app backend route (examples/app's) against a
// stand-in authority, foreign messages dropped, the timeout when the parent
// never answers, and the React bindings.
//
// Needs npm/dist (cd npm && npm run build) and Debian's chromium.
//   node --test tests/sdk/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

import { exchangeSetupCode } from "../../examples/app/server/exchange.mjs";
import { launch, watch } from "../support/browser.mjs";
import { bodyText, sendJson, serve } from "../support/serve.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const pages = path.join(here, "pages");
const npmDir = path.join(root, "npm");

let browser, platform, app, other, authority, bundleDir;
let downAuthority; // an origin with nothing listening
const tokensKept = [];
const exchangesSeen = [];

before(async () => {
  bundleDir = await mkdtemp(path.join(tmpdir(), "tally-sdk-react-"));
  await esbuild.build({
    entryPoints: [path.join(pages, "react-app.jsx")],
    bundle: true,
    format: "esm",
    jsx: "automatic",
    outfile: path.join(bundleDir, "react-app.js"),
    nodePaths: [path.join(root, "tests/node_modules")],
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });

  authority = await serve({
    routes: {
      "POST /v1/app-exchange-token": async (req, res) => {
        const body = JSON.parse(await bodyText(req));
        exchangesSeen.push(body);
        if (body.clientId !== "client-1" || body.clientSecret !== "secret-1") return sendJson(res, 401, { message: "bad client credentials" });
        if (body.exchangeCode === "good-code") return sendJson(res, 200, { appToken: "AppToken 8899aabbccddeeff.kept-by-the-backend" });
        if (body.exchangeCode === "used-code") return sendJson(res, 410, { message: "setup code already used or expired" });
        if (body.exchangeCode === "no-token-code") return sendJson(res, 200, {});
        return sendJson(res, 404, { message: "unknown setup code" });
      },
    },
  });
  const closed = await serve();
  downAuthority = closed.origin;
  await closed.close();

  const trusted = [`${authority.origin}/v1`, `${downAuthority}/v1`];
  app = await serve({
    statics: { "/pkg/": npmDir, "/react/": bundleDir, "/": pages },
    routes: {
      "/react/tally_sdk_bg.wasm": async (req, res) => {
        const { readFile } = await import("node:fs/promises");
        res.writeHead(200, { "content-type": "application/wasm" });
        res.end(await readFile(path.join(npmDir, "dist/app/tally_sdk_bg.wasm")));
      },
      "POST /api/exchangeSetupCode": async (req, res) => {
        const { status, body } = await exchangeSetupCode(await bodyText(req), {
          clientId: "client-1",
          clientSecret: "secret-1",
          trustedAuthorities: trusted,
          onToken: (token, info) => tokensKept.push({ token, ...info }),
        });
        sendJson(res, status, body);
      },
    },
  });
  platform = await serve({ statics: { "/pkg/": npmDir, "/": pages } });
  other = await serve({ statics: { "/": pages } });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await Promise.all([platform, app, other, authority].map((s) => s?.close()));
  if (bundleDir) await rm(bundleDir, { recursive: true, force: true });
});

/** Opens the platform page hosting `appPage` with `code`; returns { page, frame }. */
// `pin`: the app's parentOrigin (null: none, the SDK learns it); `pins`:
// parentOrigins instead; `session`: the bridge's session-token lifetime in
// seconds (it then owns authToken); `host`: the page framing the app
// (default the platform's parent.html).
async function open({ appPage = "app.html", code, mgmt = `${authority.origin}/v1/management`, bridge = true, timeout, withOther = false, pin = platform.origin, pins, session, query = {}, host } = {}) {
  const page = await browser.newPage();
  const problems = watch(page);
  const appUrl = new URL(`${app.origin}/${appPage}`);
  if (pin) appUrl.searchParams.set("parent", pin);
  if (pins) appUrl.searchParams.set("parents", pins.join(","));
  if (timeout) appUrl.searchParams.set("timeout", String(timeout));
  for (const [k, v] of Object.entries(query)) appUrl.searchParams.set(k, v);
  if (code) appUrl.searchParams.set("code", code);
  const parentUrl = new URL(host ?? `${platform.origin}/parent.html`);
  if (session) parentUrl.searchParams.set("session", String(session));
  parentUrl.searchParams.set("app", appUrl.href);
  parentUrl.searchParams.set("mgmt", mgmt);
  if (!bridge) parentUrl.searchParams.set("bridge", "0");
  if (withOther) parentUrl.searchParams.set("other", `${other.origin}/other.html`);
  await page.goto(parentUrl.href);
  await page.waitForFunction(() => document.body.dataset.ready === "1");
  const frame = await appFrame(page);
  return { page, frame, problems };
}

async function appFrame(page) {
  for (let i = 0; i < 100; i++) {
    const f = page.frames().find((fr) => fr.url().startsWith(app.origin));
    if (f) return f;
    await page.waitForTimeout(20);
  }
  throw new Error("the app frame never loaded");
}

/** Waits for the app page's init() to settle and returns its outcome. */
async function connected(frame) {
  await frame.waitForFunction(() => window.connected !== undefined);
  return frame.evaluate(() => window.connected);
}

describe("app and parent on two origins", () => {
  test("handshake gives the app the platform's context", async () => {
    const { page, frame, problems } = await open({ code: "good-code" });
    assert.deepEqual(await connected(frame), { ok: true }, problems.join("\n"));
    assert.notEqual(new URL(frame.url()).origin, new URL(page.url()).origin);
    const context = await frame.evaluate(() => window.app.context);
    assert.equal(context.project.name, "Shop");
    assert.equal(context.environment.id, "e1");
    assert.match(context.environment.authToken, /^AppToken /);
    assert.equal(context.installation.status, "PENDING");
    assert.equal(context.user.name, "Ada");
    assert.equal(await frame.evaluate(() => window.app.managementApiBaseUrl()), `${authority.origin}/v1`);
    assert.equal(await page.evaluate(() => window.frame.connected), true);
    await page.close();
  });

  test("the setup code is captured once and gone from the URL and history", async () => {
    const { page, frame } = await open({ code: "good-code" });
    await connected(frame);
    assert.equal(await frame.evaluate(() => window.app.setupCode()), "good-code");
    const seen = await frame.evaluate(() => ({
      href: location.href,
      search: location.search,
      historyLength: history.length,
      entries: (window.navigation?.entries() ?? []).map((e) => e.url),
    }));
    assert.ok(!seen.href.includes("good-code"), seen.href);
    assert.ok(!seen.href.includes("code="), seen.href);
    assert.equal(new URLSearchParams(seen.search).get("parent"), platform.origin, "other parameters are kept");
    assert.ok(seen.entries.length >= 1);
    for (const url of seen.entries) assert.ok(!url.includes("good-code"), `history entry ${url}`);
    assert.ok(!frame.url().includes("good-code"));
    await page.close();
  });

  test("updateInstallation goes through the platform and comes back as context", async () => {
    const { page, frame } = await open({ code: "good-code" });
    await connected(frame);
    const updated = await frame.evaluate(() => window.app.updateInstallation({ status: "COMPLETED", config: { locale: "de" } }));
    assert.equal(updated.status, "COMPLETED");
    assert.deepEqual(updated.config, { locale: "de" });
    assert.equal(updated.id, "i1");
    const events = await page.evaluate(() => window.events);
    assert.deepEqual(events, [["updateInstallation", { status: "COMPLETED", config: { locale: "de" } }]]);
    assert.equal(await page.evaluate(() => window.frame.context.installation.status), "COMPLETED");
    await frame.waitForFunction(() => window.contexts.length > 0);
    assert.equal(await frame.evaluate(() => window.app.installation.status), "COMPLETED");
    // Refused before it leaves the app: not a status verifier-core knows.
    const bad = await frame.evaluate(() => window.app.updateInstallation({ status: "DONE" }).catch((e) => ({ code: e.code, name: e.name })));
    assert.deepEqual(bad, { code: "invalid_argument", name: "TallyError" });
    assert.equal((await page.evaluate(() => window.events)).length, 1);
    await page.close();
  });

  test("showToast reaches the platform's handler; resize without a handler sizes the iframe", async () => {
    const { page, frame } = await open({ code: "good-code" });
    await connected(frame);
    await frame.evaluate(() => window.app.showToast({ message: "Saved", variant: "success" }));
    assert.deepEqual(await page.evaluate(() => window.events), [["showToast", { message: "Saved", variant: "success" }]]);
    await frame.evaluate(() => window.app.resize({ height: 321 }));
    assert.equal(await page.evaluate(() => document.getElementById("app").style.height), "321px");
    const bad = await frame.evaluate(() => window.app.resize({ height: -5 }).catch((e) => e.code));
    assert.equal(bad, "invalid_argument");
    await page.close();
  });
});

describe("setup code exchange through the app backend", () => {
  test("success: the backend keeps the token, the browser gets none, the code is spent", async () => {
    const kept = tokensKept.length;
    const { page, frame } = await open({ code: "good-code" });
    await connected(frame);
    const answer = await frame.evaluate(() => window.app.exchangeSetupCode());
    assert.deepEqual(answer, { connected: true, environmentId: "e1" });
    assert.equal(tokensKept.length, kept + 1);
    assert.equal(tokensKept.at(-1).token, "AppToken 8899aabbccddeeff.kept-by-the-backend");
    assert.equal(tokensKept.at(-1).environmentId, "e1");
    assert.deepEqual(exchangesSeen.at(-1), { clientId: "client-1", clientSecret: "secret-1", exchangeCode: "good-code" });
    assert.equal(await frame.evaluate(() => window.app.setupCode()), null);
    const again = await frame.evaluate(() => window.app.exchangeSetupCode().catch((e) => e.code));
    assert.equal(again, "no_setup_code");
    await page.close();
  });

  test("the authority's refusal passes through with its status and message", async () => {
    const { page, frame } = await open({ code: "used-code" });
    await connected(frame);
    const err = await frame.evaluate(() => window.app.exchangeSetupCode().catch((e) => ({ name: e.name, code: e.code, status: e.status, message: e.message })));
    assert.equal(err.name, "TallyError");
    assert.equal(err.code, "exchange_failed");
    assert.equal(err.status, 410);
    assert.match(err.message, /setup code already used or expired/);
    assert.equal(await frame.evaluate(() => window.app.setupCode()), "used-code", "a failed exchange keeps the code");
    await page.close();
  });

  test("400 from the backend: an authority the app does not trust", async () => {
    const seen = exchangesSeen.length;
    const { page, frame } = await open({ code: "good-code", mgmt: "https://evil.example/v1/management" });
    await connected(frame);
    const err = await frame.evaluate(() => window.app.exchangeSetupCode().catch((e) => ({ code: e.code, status: e.status, message: e.message })));
    assert.equal(err.code, "exchange_failed");
    assert.equal(err.status, 400);
    assert.match(err.message, /not an authority this app trusts/);
    assert.equal(exchangesSeen.length, seen, "the client secret went nowhere");
    await page.close();
  });

  test("502 from the backend: the authority is down, or answers without a token", async () => {
    for (const [code, mgmt, message] of [
      ["good-code", `${downAuthority}/v1/management`, /Could not reach the authority/],
      ["no-token-code", `${authority.origin}/v1/management`, /returned no app token/],
    ]) {
      const { page, frame } = await open({ code, mgmt });
      await connected(frame);
      const err = await frame.evaluate(() => window.app.exchangeSetupCode().catch((e) => ({ code: e.code, status: e.status, message: e.message })));
      assert.equal(err.code, "exchange_failed");
      assert.equal(err.status, 502);
      assert.match(err.message, message);
      await page.close();
    }
  });
});

describe("what the protocol refuses", () => {
  test("a third origin's messages, even with the right connection id, are dropped", async () => {
    const { page, frame } = await open({ code: "good-code", withOther: true });
    await connected(frame);
    const conn = await page.evaluate(() => window.hellos[0]);
    assert.match(conn, /^[0-9a-f]{32}$/);
    const otherFrame = page.frames().find((f) => f.url().startsWith(other.origin));
    assert.ok(otherFrame, "the third origin's frame loaded");
    await otherFrame.evaluate((c) => { window.conn = c; }, conn);
    await otherFrame.waitForFunction(() => window.sent >= 40);
    // The app still has the platform's context; nothing was pushed.
    const state = await frame.evaluate(() => ({ name: window.app.context.project.name, status: window.app.installation.status, pushes: window.contexts.length }));
    assert.deepEqual(state, { name: "Shop", status: "PENDING", pushes: 0 });
    // The platform never ran a handler for it and still talks to the real app.
    assert.deepEqual(await page.evaluate(() => window.events), []);
    assert.equal(await page.evaluate(() => window.frame.context.installation.status), "PENDING");
    const updated = await frame.evaluate(() => window.app.updateInstallation({ status: "COMPLETED" }));
    assert.equal(updated.status, "COMPLETED");
    await page.close();
  });

  test("a parent that never answers gives a timeout error, not a hang", async () => {
    const started = Date.now();
    const { page, frame } = await open({ code: "good-code", bridge: false, timeout: 400 });
    const result = await connected(frame);
    assert.equal(result.ok, false);
    assert.equal(result.name, "TallyError");
    assert.equal(result.code, "timeout");
    assert.match(result.message, /handshake got no answer within 400 ms/);
    assert.ok(Date.now() - started < 10_000);
    await page.close();
  });
});

describe("React bindings", () => {
  test("Wrapper shows the fallback, then useApp renders the context and updates it", async () => {
    const { page, frame, problems } = await open({ appPage: "react-app.html", code: "good-code" });
    await frame.waitForSelector("#project", { timeout: 10_000 }).catch(() => assert.fail(problems.join("\n")));
    assert.equal(await frame.textContent("#project"), "Shop");
    assert.equal(await frame.textContent("#environment"), "master");
    assert.equal(await frame.textContent("#installation-status"), "PENDING");
    await frame.click("#complete");
    await frame.waitForFunction(() => document.getElementById("installation-status").textContent === "COMPLETED");
    assert.deepEqual(await page.evaluate(() => window.events), [["updateInstallation", { status: "COMPLETED" }]]);
    await page.close();
  });

  test("Wrapper renders errorFallback when the parent never answers", async () => {
    // Long enough that the fallback is seen before the timeout, even on a
    // loaded machine (300 ms raced the page's own load).
    const { page, frame } = await open({ appPage: "react-app.html", code: "good-code", bridge: false, timeout: 2000 });
    await frame.waitForSelector("#waiting");
    await frame.waitForSelector("#failed", { timeout: 10_000 });
    assert.equal(await frame.textContent("#failed"), "timeout");
    await page.close();
  });
});

describe("which page may talk to the app", () => {
  test("without parentOrigin the SDK learns the platform's origin and pins to it", async () => {
    const { page, frame, problems } = await open({ code: "good-code", pin: null });
    assert.deepEqual(await connected(frame), { ok: true }, problems.join("\n"));
    assert.equal(await frame.evaluate(() => window.app.context.project.name), "Shop");
    // Pinned as an explicit parentOrigin would be: a third origin's messages
    // with the real connection id change nothing.
    await page.close();
    const withOther = await open({ code: "good-code", pin: null, withOther: true });
    await connected(withOther.frame);
    const conn = await withOther.page.evaluate(() => window.hellos[0]);
    const otherFrame = withOther.page.frames().find((f) => f.url().startsWith(other.origin));
    await otherFrame.evaluate((c) => { window.conn = c; }, conn);
    await otherFrame.waitForFunction(() => window.sent >= 40);
    const state = await withOther.frame.evaluate(() => ({ name: window.app.context.project.name, pushes: window.contexts.length }));
    assert.deepEqual(state, { name: "Shop", pushes: 0 });
    await withOther.page.close();
  });

  test("parentOrigins picks the origin that frames the app", async () => {
    const { page, frame, problems } = await open({ code: "good-code", pin: null, pins: [other.origin, platform.origin] });
    assert.deepEqual(await connected(frame), { ok: true }, problems.join("\n"));
    assert.equal(await frame.evaluate(() => window.app.context.environment.id), "e1");
    await page.close();
  });

  test("a pinned app framed by another origin is refused at once, naming it", async () => {
    const started = Date.now();
    const { page, frame } = await open({ code: "good-code", pin: other.origin, timeout: 20_000 });
    const result = await connected(frame);
    assert.equal(result.code, "parent_not_pinned");
    assert.ok(result.message.includes(platform.origin), result.message);
    assert.ok(Date.now() - started < 10_000, "refused without waiting for the timeout");
    await page.close();
  });

  test("bad pins are invalid arguments", async () => {
    for (const query of [{ parent: "*" }, { parents: `${platform.origin},app.example.com` }]) {
      const { page, frame } = await open({ code: "good-code", pin: null, query });
      const result = await connected(frame);
      assert.equal(result.code, "invalid_argument", JSON.stringify(query));
      await page.close();
    }
  });

  test("an app framed by a third page talks to that page only: no platform context", async () => {
    const host = `${other.origin}/framer.html`;
    const { page, frame } = await open({ code: "good-code", pin: null, timeout: 500, host });
    const result = await connected(frame);
    assert.equal(result.code, "timeout");
    // Its hellos went to the page that framed it, and to nobody else.
    const seen = await page.evaluate(() => window.messages.filter((m) => m && m.kind === "hello").length);
    assert.ok(seen >= 1, "the framing page got the hellos");
    await page.close();
  });

  test("Wrapper's default error fallback shows the error, never a blank page", async () => {
    const { page, frame } = await open({ appPage: "react-app.html", code: "good-code", bridge: false, timeout: 300, query: { "default-error": "1" } });
    const alert = await frame.waitForSelector("[role=alert]", { timeout: 10_000 });
    assert.equal(await alert.getAttribute("data-tally-error"), "timeout");
    assert.match(await alert.textContent(), /handshake got no answer within 300 ms/);
    await page.close();
  });
});

describe("session tokens kept fresh by the bridge", () => {
  test("fetched when the app connects, refreshed before expiry and pushed; React re-renders", async () => {
    const { page, frame, problems } = await open({ appPage: "react-app.html", code: "good-code", pin: null, session: 2 });
    await frame.waitForSelector("#token", { timeout: 10_000 }).catch(() => assert.fail(problems.join("\n")));
    assert.equal(await frame.textContent("#token"), "session-1");
    // 80 % of 2 s later the bridge fetches the next one and pushes it.
    await frame.waitForFunction(() => document.getElementById("token").textContent === "session-2", null, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.frame.context.environment.authToken), "session-2");
    await page.close();
  });

  test("getSessionToken answers a token not due for refresh, fetching one only when due", async () => {
    const { page, frame, problems } = await open({ code: "good-code", pin: null, session: 3600 });
    assert.deepEqual(await connected(frame), { ok: true }, problems.join("\n"));
    assert.equal(await frame.evaluate(() => window.app.context.environment.authToken), "session-1");
    assert.equal(await frame.evaluate(() => window.app.getSessionToken()), "session-1");
    assert.equal(await frame.evaluate(() => window.app.getSessionToken()), "session-1");
    assert.equal(await page.evaluate(() => window.sessionTokens), 1, "a fresh token is not fetched again");
    await page.close();
  });

  test("a token past its refresh point is replaced on demand, without a reload", async () => {
    // 1 s tokens: the bridge's timer and the app's call race; either way the
    // app gets a new token and the context carries it when the call resolves.
    const { page, frame } = await open({ code: "good-code", pin: null, session: 1 });
    await connected(frame);
    const first = await frame.evaluate(() => {
      window.sameDocument = true;
      return window.app.context.environment.authToken;
    });
    await frame.waitForTimeout(1_200);
    const fresh = await frame.evaluate(async () => ({ token: await window.app.getSessionToken(), context: window.app.context.environment.authToken }));
    assert.notEqual(fresh.token, first);
    assert.equal(fresh.context, fresh.token);
    assert.equal(await frame.evaluate(() => window.sameDocument), true, "no reload");
    await page.close();
  });

  test("without a getSessionToken handler the app gets the context's token", async () => {
    const { page, frame } = await open({ code: "good-code" });
    await connected(frame);
    assert.match(await frame.evaluate(() => window.app.getSessionToken()), /^AppToken 0011223344556677\./);
    await page.close();
  });
});
