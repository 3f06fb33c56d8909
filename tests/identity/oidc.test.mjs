// Studio sign-in with OpenID Connect against a real provider on loopback
// (`oidc-provider`, a certified implementation, with its development
// login pages), in headless Chromium: sign in as alice, claim ownership
// with the code tally printed, work in the studio as her (the audit log
// names her), sign out (the session is gone); bob signs in and has no
// access, and cannot claim; a callback with a forged state, from another
// browser, or replayed is refused; admin-token sign-in can be turned off;
// each role against the management calls; token exchange; an owner invites
// a colleague as developer of one project, who works there and only
// there, and whose work the owner finds in the audit log; connected apps;
// a person asked to connect an app while signed out signs in and comes
// back to the question.
//
//   cargo build -p tally && node --test tests/identity/
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import Provider from "oidc-provider";

import { launch, watch } from "../support/browser.mjs";
import { freePort, start } from "../support/processes.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");
const artifacts = process.env.E2E_ARTIFACTS ?? path.join(root, "target/e2e-artifacts");

let provider, providerServer, issuer, dataDir, tally, tallyUrl, adminToken, claimCode, browser;
const processes = [];
let shot = 0;

async function screenshot(page, name) {
  shot += 1;
  await page.screenshot({ path: path.join(artifacts, `identity-${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

/** The provider's test users: any login is an account, named after it. */
function account(id) {
  return {
    accountId: id,
    claims: () => ({ sub: id, email: `${id}@example.com`, email_verified: true, name: id[0].toUpperCase() + id.slice(1) }),
  };
}

function startTally(port, extra = []) {
  const p = start("tally", tallyBin, [
    "serve", "--data", dataDir, "--listen", `127.0.0.1:${port}`,
    "--oidc-issuer", issuer, "--oidc-client-id", "tally-studio", ...extra,
  ], { env: { TALLY_OIDC_CLIENT_SECRET: "studio-secret-for-tests" } });
  processes.push(p);
  return p;
}

before(async () => {
  await mkdir(artifacts, { recursive: true });
  dataDir = await mkdtemp(path.join(tmpdir(), "tally-oidc-"));
  const tallyPort = await freePort();
  tallyUrl = `http://127.0.0.1:${tallyPort}`;
  const providerPort = await freePort();
  issuer = `http://127.0.0.1:${providerPort}`;
  provider = new Provider(issuer, {
    clients: [{
      client_id: "tally-studio",
      client_secret: "studio-secret-for-tests",
      redirect_uris: [`${tallyUrl}/studio/oidc/callback`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    }],
    findAccount: (_ctx, id) => account(id),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ["cookie-key-for-tests"] },
  });
  providerServer = provider.listen(providerPort);
  tally = startTally(tallyPort);
  adminToken = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  claimCode = (await tally.waitFor(/owner claim code: (\S+)/))[1];
  await tally.waitFor(/listening on/);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await Promise.all(processes.map((p) => p.stop()));
  providerServer?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Signs `login` in through the provider's pages, in a fresh browser context. */
async function signIn(login) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(`${tallyUrl}/studio`);
  await page.waitForSelector("#oidc-sign-in:not([hidden])");
  await page.click("#oidc-link");
  await page.waitForSelector("input[name=login]");
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", "any");
  await page.click("button[type=submit]");
  await page.waitForSelector("button[type=submit]:has-text('Continue')");
  await page.click("button[type=submit]:has-text('Continue')");
  await page.waitForURL(`${tallyUrl}/studio`);
  return { context, page, problems };
}

async function studioGet(page, pathname) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { "x-tally-studio": "1" } });
    return { status: r.status, body: await r.json() };
  }, pathname);
}

test("a person signs in with the provider, claims ownership, works as themselves and signs out", async () => {
  const { context, page, problems } = await signIn("alice");
  await page.waitForSelector("#no-access:not([hidden])");
  assert.equal(await page.isVisible("#claim-form"), true, "no owner yet: the claim is offered");
  assert.equal(await page.textContent("#who"), "Alice");
  await screenshot(page, "signed-in-no-access");
  // Nothing of the management API is hers before the claim.
  assert.equal((await studioGet(page, "/studio/api/v1/projects")).status, 403);
  await page.fill("#claim-form [name=code]", claimCode);
  await page.click("#claim-form button[type=submit]");
  await page.waitForSelector("#studio:not([hidden])");
  const session = (await studioGet(page, "/studio/session")).body;
  assert.equal(session.user.email, "alice@example.com");
  assert.deepEqual(session.user.roles, [{ projectId: "*", role: "owner" }]);
  assert.match(session.user.id, /^user:usr_[0-9a-f]{16}$/);
  await page.fill("#project-form [name=id]", "blog");
  await page.fill("#project-form [name=name]", "Blog");
  await page.click("#project-form button");
  await page.waitForFunction(() => document.querySelector("#projects tbody").textContent.includes("Blog (blog)"));
  await screenshot(page, "owner-at-work");
  const audit = await (await fetch(`${tallyUrl}/v1/audit?action=project.`, { headers: { authorization: adminToken } })).json();
  assert.equal(audit[0].actor, session.user.id, "the audit log names her");
  const claimed = await (await fetch(`${tallyUrl}/v1/audit?action=user.claim_owner`, { headers: { authorization: adminToken } })).json();
  assert.equal(claimed.length, 1);

  // Signing out ends the session: the cookie opens nothing any more.
  const cookies = await context.cookies();
  const cookie = cookies.find((c) => c.name === "tally_studio");
  assert.ok(cookie.httpOnly && cookie.sameSite === "Strict");
  await page.click("#sign-out");
  await page.waitForSelector("#sign-in:not([hidden])");
  const stale = await fetch(`${tallyUrl}/studio/api/v1/projects`, {
    headers: { cookie: `tally_studio=${cookie.value}`, "x-tally-studio": "1" },
  });
  assert.equal(stale.status, 401);
  assert.deepEqual(problems.filter((p) => p.startsWith("pageerror")), []);
  await context.close();
});

test("someone else signs in with no access and cannot claim what is owned", async () => {
  const { context, page } = await signIn("bob");
  await page.waitForSelector("#no-access:not([hidden])");
  assert.equal(await page.isVisible("#claim-form"), false, "the projects have an owner");
  assert.equal((await studioGet(page, "/studio/api/v1/apps")).status, 403);
  const claim = await page.evaluate(async (code) => {
    const r = await fetch("/studio/claim", {
      method: "POST",
      headers: { "x-tally-studio": "1", "content-type": "application/json" },
      body: JSON.stringify({ code }),
    });
    return r.status;
  }, claimCode);
  assert.equal(claim, 403);
  await screenshot(page, "another-user-no-access");
  await context.close();
});

test("a callback with a forged state, from another browser, or replayed is refused", async () => {
  const callback = async (query, cookie) => {
    const r = await fetch(`${tallyUrl}/studio/oidc/callback?${query}`, { redirect: "manual", headers: cookie ? { cookie } : {} });
    assert.equal(r.status, 303);
    assert.equal(r.headers.getSetCookie().some((c) => c.startsWith("tally_studio=") && !c.includes("Max-Age=0")), false, "no session");
    return r.headers.get("location");
  };
  assert.equal(await callback("state=forged&code=x"), "/studio?signInError=sign_in_expired");
  assert.equal(await callback("error=access_denied&state=x"), "/studio?signInError=provider_refused");
  // A real flow, its state taken to a browser without its binding cookie.
  const login = await fetch(`${tallyUrl}/studio/oidc/login`, { redirect: "manual" });
  assert.equal(login.status, 303);
  const state = new URL(login.headers.get("location")).searchParams.get("state");
  assert.equal(await callback(`state=${state}&code=x`), "/studio?signInError=sign_in_other_browser");
  // Used once, even by a failure: the browser that started it cannot reuse it.
  const binding = login.headers.getSetCookie().find((c) => c.startsWith("tally_oidc=")).split(";")[0];
  assert.equal(await callback(`state=${state}&code=x`, binding), "/studio?signInError=sign_in_expired");
  // With its own browser, a wrong code is the provider's refusal.
  const again = await fetch(`${tallyUrl}/studio/oidc/login`, { redirect: "manual" });
  const state2 = new URL(again.headers.get("location")).searchParams.get("state");
  const binding2 = again.headers.getSetCookie().find((c) => c.startsWith("tally_oidc=")).split(";")[0];
  assert.equal(await callback(`state=${state2}&code=not-a-code`, binding2), "/studio?signInError=provider_refused");
});

test("admin-token sign-in stays unless turned off", async () => {
  const on = await fetch(`${tallyUrl}/studio/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: adminToken }),
  });
  assert.equal(on.status, 204);
  // Another server, with a data dir of its own, with it turned off.
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), "tally-oidc-off-"));
  const other = start("tally-off", tallyBin, [
    "serve", "--data", dir, "--listen", `127.0.0.1:${port}`, "--oidc-issuer", issuer,
    "--oidc-client-id", "tally-studio", "--no-admin-token-sign-in",
  ], { env: { TALLY_OIDC_CLIENT_SECRET: "studio-secret-for-tests" } });
  processes.push(other);
  const token = (await other.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  await other.waitFor(/listening on/);
  const refused = await fetch(`http://127.0.0.1:${port}/studio/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  assert.equal(refused.status, 403);
  const session = await (await fetch(`http://127.0.0.1:${port}/studio/session`)).json();
  assert.deepEqual(session.signIn, { oidc: true, adminToken: false });
  // The token still calls the API.
  const api = await fetch(`http://127.0.0.1:${port}/v1/projects`, { headers: { authorization: token } });
  assert.equal(api.status, 200);
  await other.stop();
  await rm(dir, { recursive: true, force: true });
});

test("roles decide what each person may do, call by call", async () => {
  // alice owns (she claimed); bob, carol and dave sign in.
  const signedIn = {};
  for (const login of ["alice", "bob", "carol", "dave"]) signedIn[login] = await signIn(login);
  const { page: owner } = signedIn.alice;
  await owner.waitForSelector("#people:not([hidden])");
  const users = (await studioGet(owner, "/studio/api/v1/users")).body;
  const idOf = (email) => users.find((u) => u.email === email).id;
  // The owner gives roles in the studio.
  for (const [login, role] of [["bob", "developer"], ["carol", "viewer"]]) {
    const row = owner.locator(`#users tbody tr[data-user="${idOf(`${login}@example.com`)}"]`);
    await row.locator("select[name=role]").selectOption(role);
    await row.locator("button", { hasText: "Save role" }).click();
    await owner.waitForFunction((t) => document.getElementById("toast").textContent.includes(t), `is ${role} on every project now`);
  }
  await screenshot(owner, "people-and-roles");

  // Each management call as each person: 403 below the role it needs,
  // never above. The calls are every operation the OpenAPI document lists
  // under /v1 with credentials, but the gateway's (which take tokens, not
  // people): an operation this table lacks fails the test. Ids name
  // nothing and bodies are incomplete, so a call let through changes
  // nothing (400 or 404).
  const needs = {
    "GET /v1/projects": "viewer", "POST /v1/projects": "admin",
    "POST /v1/projects/{p}/environments": "admin",
    "PUT /v1/environments/{e}/public-grants": "admin",
    "GET /v1/environments/{e}/models": "viewer", "GET /v1/environments/{e}/models/{apiId}": "viewer",
    "PUT /v1/environments/{e}/models/{apiId}": "admin", "DELETE /v1/environments/{e}/models/{apiId}": "admin",
    "GET /v1/environments/{e}/record": "viewer",
    "POST /v1/environments/{e}/installations": "developer",
    "GET /v1/apps": "viewer", "POST /v1/apps": "developer",
    "GET /v1/apps/{id}": "viewer", "PATCH /v1/apps/{id}": "developer", "DELETE /v1/apps/{id}": "developer",
    "POST /v1/apps/{id}/client-secret/rotate": "developer", "PUT /v1/apps/{id}/grants": "developer",
    "POST /v1/apps/{id}/webhook-secret/rotate": "developer", "GET /v1/apps/{id}/deliveries": "viewer",
    "POST /v1/apps/{id}/deliveries/{d}/retry": "developer",
    "GET /v1/installations": "viewer", "GET /v1/installations/{i}": "viewer",
    "PATCH /v1/installations/{i}": "developer", "DELETE /v1/installations/{i}": "developer",
    "POST /v1/installations/{i}/session-token": "developer", "PATCH /v1/installations/{i}/elements": "developer", "POST /v1/installations/{i}/setup-code": "developer",
    "POST /v1/installations/{i}/grants/approve": "admin", "POST /v1/installations/{i}/grants/decline": "admin",
    "GET /v1/tokens": "viewer", "POST /v1/tokens": "admin",
    "DELETE /v1/tokens/{t}": "admin", "POST /v1/tokens/{t}/rotate": "admin",
    "GET /v1/records": "viewer", "GET /v1/records/snapshot": "viewer", "GET /v1/records/{t}": "viewer",
    "GET /v1/audit": "viewer", "POST /v1/plugin/reload": "admin",
    "GET /v1/users": "admin", "PUT /v1/users/{id}/role": "owner",
    "GET /v1/invitations": "owner", "POST /v1/invitations": "owner", "DELETE /v1/invitations/{id}": "owner",
    // A person's own connected apps: anyone signed in (none here).
    "GET /v1/connections": "none", "DELETE /v1/connections/{id}": "none",
  };
  const document = await (await fetch(`${tallyUrl}/v1/openapi.json`)).json();
  const gateway = /^\/v1\/(content|verify|management)(\/|$)/;
  const operations = Object.entries(document.paths)
    .filter(([p]) => p.startsWith("/v1/") && !gateway.test(p))
    .flatMap(([p, ops]) => Object.entries(ops)
      .filter(([, op]) => !(op.security?.length === 1 && Object.keys(op.security[0]).length === 0))
      .map(([method]) => `${method.toUpperCase()} ${p}`));
  assert.deepEqual(operations.filter((o) => !(o in needs)), [], "operations the table lacks");
  assert.deepEqual(Object.keys(needs).filter((o) => !operations.includes(o)), [], "table entries no operation has");
  const ids = { p: "blog", e: "master", apiId: "Post", id: "none_1", d: "dl_none", i: "in_none", t: "0000000000000000" };
  const calls = operations.map((o) => {
    const [method, template] = o.split(" ");
    const pathname = template.replace(/\{(\w+)\}/g, (_, name) => ids[name]);
    return [method, pathname, ["POST", "PUT", "PATCH"].includes(method) ? {} : null, needs[o]];
  });
  const rank = { none: 0, viewer: 1, developer: 2, admin: 3, owner: 4 };
  const people = { alice: "owner", bob: "developer", carol: "viewer", dave: "none" };
  const failures = [];
  for (const [login, role] of Object.entries(people)) {
    const { page } = signedIn[login];
    for (const [method, pathname, body, needs] of calls) {
      const status = await page.evaluate(async ([m, p, b]) => {
        const r = await fetch(`/studio/api${p}`, {
          method: m,
          headers: { "x-tally-studio": "1", ...(b ? { "content-type": "application/json" } : {}) },
          body: b ? JSON.stringify(b) : undefined,
        });
        return r.status;
      }, [method, pathname, body]);
      const allowed = rank[role] >= rank[needs];
      if ((status === 403) === allowed) failures.push(`${login} (${role}) ${method} ${pathname}: ${status}`);
    }
  }
  assert.deepEqual(failures, []);

  // The last owner stays an owner.
  const self = await owner.evaluate(async (id) => {
    const r = await fetch(`/studio/api/v1/users/${id}/role`, {
      method: "PUT",
      headers: { "x-tally-studio": "1", "content-type": "application/json" },
      body: JSON.stringify({ role: "admin" }),
    });
    return r.status;
  }, idOf("alice@example.com"));
  assert.equal(self, 409);
  // A role taken away applies to the very next call.
  await owner.evaluate(async (id) => {
    await fetch(`/studio/api/v1/users/${id}/role`, {
      method: "PUT",
      headers: { "x-tally-studio": "1", "content-type": "application/json" },
      body: JSON.stringify({ role: null }),
    });
  }, idOf("bob@example.com"));
  assert.equal((await studioGet(signedIn.bob.page, "/studio/api/v1/apps")).status, 403);
  for (const { context } of Object.values(signedIn)) await context.close();
});

test("an app's backend exchanges a frame's session token for one acting for its person (RFC 8693)", async () => {
  const admin = async (method, pathname, body) => {
    const r = await fetch(`${tallyUrl}${pathname}`, {
      method,
      headers: { authorization: adminToken, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    assert.ok(r.ok, `${method} ${pathname}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  await admin("POST", "/v1/projects/blog/environments", { id: "master", name: "Master" });
  const app = await admin("POST", "/v1/apps", {
    name: "Acting app", setupUrl: "http://127.0.0.1:3999/setup", origins: ["http://127.0.0.1:3999"],
    grants: [{ api: "content", action: "read" }, { api: "content", action: "create" }],
  });
  const installed = await admin("POST", "/v1/environments/master/installations", { appId: app.id });
  const installation = installed.installation.id;
  const users = await admin("GET", "/v1/users");
  const bob = users.find((u) => u.email === "bob@example.com");
  await admin("PUT", `/v1/users/${bob.id}/role`, { role: "developer" });

  // Bob opens the app's frame: its session token remembers him.
  const { context, page } = await signIn("bob");
  await page.waitForSelector("#studio:not([hidden])");
  const session = await page.evaluate(async (i) => {
    const r = await fetch(`/studio/api/v1/installations/${i}/session-token`, { method: "POST", headers: { "x-tally-studio": "1" } });
    return r.json();
  }, installation);
  await context.close();

  const exchange = (fields, headers = {}) =>
    fetch(`${tallyUrl}/v1/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields),
    });
  const fields = {
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: session.token,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
  };
  const basic = { authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString("base64")}` };
  const answer = await exchange(fields, basic);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("cache-control"), "no-store");
  const issued = await answer.json();
  assert.equal(issued.token_type, "Bearer");
  assert.equal(issued.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
  assert.ok(issued.expires_in > 0 && issued.expires_in <= 600, String(issued.expires_in));

  const verify = async (token, action) => {
    const r = await fetch(`${tallyUrl}/v1/verify`, {
      headers: { authorization: `Bearer ${token}`, "x-tally-environment": "master", "x-tally-action": action, "x-tally-model": "Post" },
    });
    return { status: r.status, user: r.headers.get("x-tally-user"), principal: r.headers.get("x-tally-principal") };
  };
  const asBob = await verify(issued.access_token, "create");
  assert.deepEqual(asBob, { status: 200, user: bob.id, principal: `user:${bob.id}` });
  // Acting through the installation, audited as the person via the app.
  const patched = await fetch(`${tallyUrl}/v1/installations/${installation}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${issued.access_token}`, "content-type": "application/json" },
    body: JSON.stringify({ config: { by: "bob" } }),
  });
  assert.equal(patched.status, 200);
  const audit = await admin("GET", `/v1/audit?action=installation.update&target=${installation}`);
  assert.equal(audit.at(-1).actor, `user:${bob.id} via installation:${installation}`);

  // Never more than the person's role: as a viewer, Bob's token only reads.
  await admin("PUT", `/v1/users/${bob.id}/role`, { role: "viewer" });
  const viewer = await (await exchange({ ...fields, client_id: app.clientId, client_secret: app.clientSecret })).json();
  assert.equal((await verify(viewer.access_token, "read")).status, 200);
  assert.equal((await verify(viewer.access_token, "create")).status, 403);
  // No role, no token.
  await admin("PUT", `/v1/users/${bob.id}/role`, { role: null });
  const none = await exchange(fields, basic);
  assert.equal(none.status, 400);
  assert.equal((await none.json()).error, "invalid_grant");

  // RFC 6749 errors.
  const wrongSecret = await exchange(fields, { authorization: `Basic ${Buffer.from(`${app.clientId}:nope`).toString("base64")}` });
  assert.equal(wrongSecret.status, 401);
  assert.equal((await wrongSecret.json()).error, "invalid_client");
  assert.match(wrongSecret.headers.get("www-authenticate"), /^Basic/);
  const otherApp = await admin("POST", "/v1/apps", {
    name: "Other", setupUrl: "http://127.0.0.1:3998/setup", origins: ["http://127.0.0.1:3998"], grants: [],
  });
  await admin("PUT", `/v1/users/${bob.id}/role`, { role: "developer" });
  const foreign = await exchange({ ...fields, client_id: otherApp.clientId, client_secret: otherApp.clientSecret });
  assert.equal((await foreign.json()).error, "invalid_grant", "another app's client cannot use this frame's token");
  const notSession = await exchange({ ...fields, subject_token: adminToken.split(" ")[1] }, basic);
  assert.equal((await notSession.json()).error, "invalid_grant");
  const unsupported = await exchange({ ...fields, grant_type: "client_credentials" }, basic);
  assert.equal((await unsupported.json()).error, "unsupported_grant_type");
  const twice = await fetch(`${tallyUrl}/v1/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...basic },
    body: `${new URLSearchParams(fields)}&grant_type=x`,
  });
  assert.equal((await twice.json()).error, "invalid_request");
});

test("an owner invites a colleague as developer of one project; what she does there is hers in the audit log", async () => {
  const admin = async (method, pathname, body) => {
    const r = await fetch(`${tallyUrl}${pathname}`, {
      method,
      headers: { authorization: adminToken, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    assert.ok(r.ok, `${method} ${pathname}: ${r.status}`);
    return r.json();
  };
  await admin("POST", "/v1/projects", { id: "shop", name: "Shop" });
  await admin("POST", "/v1/projects/shop/environments", { id: "shop-main", name: "Main" });

  // The owner invites erin as a developer of the blog, in the studio.
  const { context: ownerContext, page: owner } = await signIn("alice");
  await owner.waitForSelector("#people:not([hidden])");
  await owner.fill("#invite-form [name=email]", "Erin@Example.com");
  await owner.selectOption("#invite-form [name=role]", "developer");
  await owner.selectOption("#invite-form [name=projectId]", "blog");
  await owner.click("#invite-form button[type=submit]");
  await owner.waitForFunction(() => document.querySelector("#invitations tbody").textContent.includes("erin@example.com"));
  assert.match(await owner.textContent("#invitations tbody tr"), /developer.*blog.*waiting/);

  // Erin signs in with that (verified) email and is a developer there.
  const { context, page, problems } = await signIn("erin");
  await page.waitForSelector("#studio:not([hidden])");
  const session = (await studioGet(page, "/studio/session")).body;
  assert.deepEqual(session.user.roles, [{ projectId: "blog", role: "developer" }]);
  const erin = session.user.id;
  assert.deepEqual((await studioGet(page, "/studio/api/v1/projects")).body.map((p) => p.id), ["blog"]);
  assert.equal(await page.isVisible("#audit-section"), false, "the log is the instance's");

  // She registers an app in her project through the studio ...
  await page.fill("#app-form [name=name]", "Erin's notes");
  await page.fill("#app-form [name=setupUrl]", "http://127.0.0.1:3997/setup");
  await page.selectOption("#app-form [name=projectId]", "blog");
  await page.click("#app-form button[type=submit]");
  await page.waitForSelector("#app-secret:not([hidden])");
  await screenshot(page, "developer-of-one-project");
  const apps = (await studioGet(page, "/studio/api/v1/apps")).body;
  const hers = apps.find((a) => a.name === "Erin's notes");
  assert.equal(hers.projectId, "blog");
  const call = (method, pathname, body) => page.evaluate(async ([m, p, b]) => {
    const r = await fetch(`/studio/api${p}`, {
      method: m,
      headers: { "x-tally-studio": "1", "content-type": "application/json" },
      body: JSON.stringify(b),
    });
    return r.status;
  }, [method, pathname, body]);
  // ... changes it, and installs it in the blog's environment; nothing
  // of the shop's or of the whole instance's is hers.
  assert.equal(await call("PATCH", `/v1/apps/${hers.id}`, { name: "Erin's notes 2" }), 200);
  assert.equal(await call("POST", "/v1/environments/master/installations", { appId: hers.id }), 201);
  assert.equal(await call("POST", "/v1/environments/shop-main/installations", { appId: hers.id }), 403);
  const app = { name: "X", setupUrl: "http://127.0.0.1:3996/setup", origins: ["http://127.0.0.1:3996"], grants: [] };
  assert.equal(await call("POST", "/v1/apps", { ...app, projectId: "shop" }), 403);
  assert.equal(await call("POST", "/v1/apps", app), 403);
  const instanceApp = apps.find((a) => a.name === "Acting app");
  assert.equal(instanceApp.projectId, null);
  assert.equal(await call("PATCH", `/v1/apps/${instanceApp.id}`, { name: "Taken" }), 403);
  assert.equal((await studioGet(page, `/studio/api/v1/apps/${instanceApp.id}`)).status, 200, "read as listed");
  assert.deepEqual(problems.filter((p) => p.startsWith("pageerror")), []);
  await context.close();

  // The owner sees the invitation accepted and, filtered to erin, her work.
  await owner.reload();
  await owner.waitForSelector("#people:not([hidden])");
  await owner.waitForFunction(() => document.querySelector("#invitations tbody").textContent.includes("accepted"));
  await owner.locator(`#users tbody tr[data-user="${erin.slice("user:".length)}"] button`, { hasText: "Their actions" }).click();
  // The table shows the whole log until the filtered page arrives.
  await owner.waitForFunction((who) => {
    const rows = [...document.querySelectorAll("#audit tbody tr")];
    return rows.length > 0 && rows.every((tr) => tr.children[2].textContent === who);
  }, erin);
  const rows = await owner.$$eval("#audit tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.ok(rows.length >= 4, JSON.stringify(rows));
  assert.ok(rows.every(([, , actor]) => actor === erin), JSON.stringify(rows));
  assert.deepEqual(
    rows.map(([, , , action]) => action).reverse(),
    ["user.create", "invitation.accept", "app.create", "app.update", "installation.create"],
  );
  await screenshot(owner, "audit-of-a-colleague");
  await ownerContext.close();
});

test("a connected app: openid-client authorizes with PKCE, the person consents, tokens refresh, reuse and revocation end them", async () => {
  const client = await import("openid-client");
  // The app's redirect target: a server of its own, answering anything.
  const http = await import("node:http");
  const callbackServer = http.createServer((_req, res) => res.end("connected"));
  const callbackPort = await freePort();
  await new Promise((resolve) => callbackServer.listen(callbackPort, "127.0.0.1", resolve));
  const redirectUri = `http://127.0.0.1:${callbackPort}/callback`;
  try {
    const registered = await fetch(`${tallyUrl}/v1/apps`, {
      method: "POST",
      headers: { authorization: adminToken, "content-type": "application/json" },
      body: JSON.stringify({
        name: "Notes connector", setupUrl: `http://127.0.0.1:${callbackPort}/`, origins: [`http://127.0.0.1:${callbackPort}`],
        grants: [{ api: "content", action: "read" }, { api: "content", action: "create" }, { api: "content", action: "delete" }],
        redirectUris: [redirectUri],
      }),
    });
    assert.equal(registered.status, 201);
    const app = await registered.json();
    const config = await client.discovery(new URL(tallyUrl), app.clientId, app.clientSecret, undefined, {
      algorithm: "oauth2",
      execute: [client.allowInsecureRequests],
    });
    assert.equal(config.serverMetadata().authorization_endpoint, `${tallyUrl}/studio/oauth/authorize`);

    const { context, page } = await signIn("erin");
    await page.waitForSelector("#studio:not([hidden])");
    // Erin (a developer of the blog) consents; the app comes back with a code.
    const authorize = async (extra = {}) => {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri, scope: "content:read content:create",
        code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state, ...extra,
      });
      await page.goto(url.href);
      await page.waitForSelector("#question:not([hidden])");
      assert.equal(await page.textContent("#app-name"), "Notes connector");
      assert.deepEqual(await page.$$eval("#environment option", (os) => os.map((o) => o.value)), ["master"], "only where she has a role");
      if (!authorize.shown) await screenshot(page, "connected-app-consent");
      authorize.shown = true;
      await Promise.all([page.waitForURL((u) => u.href.startsWith(redirectUri)), page.click("#allow")]);
      return { callback: new URL(page.url()), verifier, state };
    };
    const verify = async (token, action = "read") => {
      const r = await fetch(`${tallyUrl}/v1/verify`, {
        headers: { authorization: `Bearer ${token}`, "x-tally-environment": "master", "x-tally-action": action, "x-tally-model": "Post" },
      });
      return { status: r.status, user: r.headers.get("x-tally-user"), reason: r.headers.get("x-tally-reason") };
    };
    const erin = (await studioGet(page, "/studio/session")).body.user.id.slice("user:".length);

    const first = await authorize();
    assert.equal(first.callback.searchParams.get("iss"), tallyUrl);
    // A wrong verifier is refused, and leaves the code to its holder.
    await assert.rejects(
      client.authorizationCodeGrant(config, first.callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: first.state }),
      (e) => e.error === "invalid_grant",
    );
    // A forged state is refused by the client before any request.
    await assert.rejects(client.authorizationCodeGrant(config, first.callback, { pkceCodeVerifier: first.verifier, expectedState: "forged" }));
    // Another redirect URI than the request's is refused.
    const wrongRedirect = await fetch(`${tallyUrl}/v1/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code", code: first.callback.searchParams.get("code"), code_verifier: first.verifier,
        redirect_uri: `${redirectUri}/other`, client_id: app.clientId, client_secret: app.clientSecret,
      }),
    });
    assert.equal((await wrongRedirect.json()).error, "invalid_grant");
    const tokens = await client.authorizationCodeGrant(config, first.callback, { pkceCodeVerifier: first.verifier, expectedState: first.state });
    assert.equal(tokens.token_type.toLowerCase(), "bearer");
    assert.equal(tokens.scope, "content:read content:create");
    assert.ok(tokens.refresh_token && tokens.expires_in > 0);
    assert.deepEqual(await verify(tokens.access_token), { status: 200, user: erin, reason: "allowed" });
    assert.equal((await verify(tokens.access_token, "create")).status, 200);
    assert.equal((await verify(tokens.access_token, "delete")).status, 403, "not asked for");
    // The code is used once: a replay is refused and ends what it gave.
    await assert.rejects(
      client.authorizationCodeGrant(config, first.callback, { pkceCodeVerifier: first.verifier, expectedState: first.state }),
      (e) => e.error === "invalid_grant",
    );
    assert.equal((await verify(tokens.access_token)).status, 401, "a replayed code ends the connection");

    // Refresh rotates both tokens; using a refresh token twice ends the connection.
    const second = await authorize();
    const granted = await client.authorizationCodeGrant(config, second.callback, { pkceCodeVerifier: second.verifier, expectedState: second.state });
    const refreshed = await client.refreshTokenGrant(config, granted.refresh_token);
    assert.notEqual(refreshed.refresh_token, granted.refresh_token);
    assert.equal((await verify(granted.access_token)).status, 401, "a refresh ends the access token it replaces");
    assert.equal((await verify(refreshed.access_token)).status, 200);
    await assert.rejects(client.refreshTokenGrant(config, granted.refresh_token), (e) => e.error === "invalid_grant");
    assert.equal((await verify(refreshed.access_token)).status, 401, "reuse ends the connection");
    await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (e) => e.error === "invalid_grant");

    // RFC 7009: revoking the refresh token ends the connection.
    const third = await authorize();
    const t3 = await client.authorizationCodeGrant(config, third.callback, { pkceCodeVerifier: third.verifier, expectedState: third.state });
    await client.tokenRevocation(config, t3.refresh_token);
    assert.equal((await verify(t3.access_token)).status, 401);
    await assert.rejects(client.refreshTokenGrant(config, t3.refresh_token), (e) => e.error === "invalid_grant");

    // Erin ends a connection in the studio: its token stops at once.
    const fourth = await authorize();
    const t4 = await client.authorizationCodeGrant(config, fourth.callback, { pkceCodeVerifier: fourth.verifier, expectedState: fourth.state });
    assert.equal((await verify(t4.access_token)).status, 200);
    await page.goto(`${tallyUrl}/studio`);
    await page.waitForSelector("#connections-section:not([hidden])");
    const live = page.locator("#connections tbody tr", { hasText: "connected" });
    assert.equal(await live.count(), 1);
    await screenshot(page, "connected-apps");
    await live.locator("button", { hasText: "End" }).click();
    await page.waitForFunction(() => !document.querySelector("#connections tbody").textContent.includes("connected"));
    assert.equal((await verify(t4.access_token)).status, 401);

    // A role narrowed since the consent narrows the next token; taken away,
    // it stops the app at its next refresh.
    const setRole = (role) => fetch(`${tallyUrl}/v1/users/${erin}/role`, {
      method: "PUT",
      headers: { authorization: adminToken, "content-type": "application/json" },
      body: JSON.stringify({ role, projectId: "blog" }),
    });
    const fifth = await authorize();
    const t5 = await client.authorizationCodeGrant(config, fifth.callback, { pkceCodeVerifier: fifth.verifier, expectedState: fifth.state });
    assert.equal((await setRole("viewer")).status, 200);
    const narrowed = await client.refreshTokenGrant(config, t5.refresh_token);
    assert.equal(narrowed.scope, "content:read");
    assert.equal((await verify(narrowed.access_token, "create")).status, 403);
    assert.equal((await setRole(null)).status, 200);
    await assert.rejects(client.refreshTokenGrant(config, narrowed.refresh_token), (e) => e.error === "invalid_grant");
    assert.equal((await setRole("developer")).status, 200);
    await page.goto(`${tallyUrl}/studio`);

    // What the page shows instead of redirecting: an unregistered redirect
    // URI or an unknown client. A request without PKCE goes back with an error.
    const ask = async (params) => {
      const r = await page.evaluate(async (q) => {
        const res = await fetch(`/studio/oauth/request?${q}`, { headers: { "x-tally-studio": "1" } });
        return { status: res.status, body: await res.json() };
      }, new URLSearchParams(params).toString());
      return r;
    };
    const base = { response_type: "code", client_id: app.clientId, redirect_uri: redirectUri, code_challenge_method: "S256", code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), state: "s" };
    assert.equal((await ask({ ...base, redirect_uri: "https://evil.example/cb" })).status, 400);
    assert.equal((await ask({ ...base, client_id: "cl_unknown" })).status, 400);
    const noPkce = await ask({ ...base, code_challenge: "" });
    const back = new URL(noPkce.body.redirect);
    assert.equal(`${back.origin}${back.pathname}`, redirectUri);
    assert.equal(back.searchParams.get("error"), "invalid_request");
    assert.equal(back.searchParams.get("state"), "s");
    const plain = await ask({ ...base, code_challenge_method: "plain" });
    assert.equal(new URL(plain.body.redirect).searchParams.get("error"), "invalid_request");
    const wider = await ask({ ...base, scope: "management:admin" });
    assert.equal(new URL(wider.body.redirect).searchParams.get("error"), "invalid_scope");
    // Denying sends the app access_denied.
    await page.goto(client.buildAuthorizationUrl(config, { ...base, code_challenge: base.code_challenge }).href);
    await page.waitForSelector("#question:not([hidden])");
    await Promise.all([page.waitForURL((u) => u.href.startsWith(redirectUri)), page.click("#deny")]);
    assert.equal(new URL(page.url()).searchParams.get("error"), "access_denied");

    const audit = await (await fetch(`${tallyUrl}/v1/audit?action=connection.`, { headers: { authorization: adminToken } })).json();
    assert.ok(audit.some((e) => e.action === "connection.create" && e.actor === `user:${erin}`));
    assert.ok(audit.some((e) => e.action === "connection.revoke" && e.detail.cause === "refresh token used twice"));
    await context.close();
  } finally {
    callbackServer.close();
  }
});

test("asked to connect an app while signed out, a person signs in and comes back to the question", async () => {
  const redirectUri = "http://127.0.0.1:9/callback";
  const registered = await fetch(`${tallyUrl}/v1/apps`, {
    method: "POST",
    headers: { authorization: adminToken, "content-type": "application/json" },
    body: JSON.stringify({
      name: "Return connector", setupUrl: "http://127.0.0.1:9/", origins: ["http://127.0.0.1:9"],
      grants: [{ api: "content", action: "read" }], redirectUris: [redirectUri],
    }),
  });
  assert.equal(registered.status, 201);
  const app = await registered.json();
  const query = new URLSearchParams({
    response_type: "code", client_id: app.clientId, redirect_uri: redirectUri, scope: "content:read",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256", state: "s",
  });
  const consent = `${tallyUrl}/studio/oauth/authorize?${query}`;
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(consent);
  await page.waitForSelector("#sign-in-here:not([hidden])");
  await page.click("#sign-in-link");
  await page.waitForSelector("input[name=login]");
  await page.fill("input[name=login]", "alice");
  await page.fill("input[name=password]", "any");
  await page.click("button[type=submit]");
  await page.waitForSelector("button[type=submit]:has-text('Continue')");
  await page.click("button[type=submit]:has-text('Continue')");
  // Back on the very request, signed in: the question, not the sign-in.
  await page.waitForURL(consent);
  await page.waitForSelector("#question:not([hidden])");
  assert.equal(await page.textContent("#app-name"), "Return connector");
  assert.deepEqual(problems.filter((p) => p.startsWith("pageerror")), []);
  await context.close();
  // A sign-in goes back to a path of the studio, and nowhere else.
  for (const to of ["https://evil.example/studio", "//evil.example/studio", "/v1/tokens", "/studiox"]) {
    const r = await fetch(`${tallyUrl}/studio/oidc/login?return=${encodeURIComponent(to)}`, { redirect: "manual" });
    assert.equal(r.status, 400, to);
    assert.equal(r.headers.getSetCookie().length, 0, to);
  }
});
