// Tally studio: one page over the management API. Signed in with an admin
// token that is posted once to /studio/session; after that the browser holds
// only an HttpOnly, SameSite=Strict session cookie, and every API call carries
// `X-Tally-Studio: 1` (a header a cross-site form cannot send). Nothing is
// kept in localStorage. Content comes from the API and is set as text, never
// as HTML.
import { hostFrame, refreshEditorChoices, refreshNavigation, route, setup as setupElements } from "/studio/elements.js";

const $ = (selector) => document.querySelector(selector);
const state = { projects: [], users: [], apps: [], installations: [], frame: null, frameInstallation: null, user: null, editing: null, grantsApp: null, review: null, deliveriesApp: null, publicEnvironment: null };

// The management API as the studio reaches it: under /studio/api, the only
// place the session cookie (Path=/studio) is sent to and read at.
async function api(method, path, body) {
  const url = path.startsWith("/v1/") ? `/studio/api${path}` : path;
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "x-tally-studio": "1", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(data?.message ?? `HTTP ${response.status}`);
    error.reason = data?.reason;
    error.status = response.status;
    throw error;
  }
  return data;
}

function toast(message, variant = "info") {
  const el = $("#toast");
  el.textContent = message;
  el.dataset.variant = variant;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 4000);
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

function fill(table, rows) {
  const body = $(`${table} tbody`);
  body.replaceChildren(...rows);
}

function options(select, items, label) {
  const current = select.value;
  select.replaceChildren(
    ...items.map((item) => {
      const option = document.createElement("option");
      option.value = item.id;
      option.textContent = label(item);
      return option;
    }),
  );
  if (items.some((i) => i.id === current)) select.value = current;
}

function guard(handler) {
  return async (event) => {
    event.preventDefault?.();
    try {
      await handler(event);
    } catch (e) {
      toast(e.message, "error");
    }
  };
}

// --- session ---------------------------------------------------------------

async function start() {
  const session = await api("GET", "/studio/session");
  state.user = session.user ?? null;
  const access = session.signedIn && session.access !== false;
  $("#sign-in").hidden = session.signedIn;
  $("#oidc-sign-in").hidden = !session.signIn.oidc;
  $("#sign-in-form").hidden = !session.signIn.adminToken;
  $("#studio").hidden = !access;
  $("#no-access").hidden = !session.signedIn || access;
  $("#claim-form").hidden = !session.claimable;
  $("#sign-out").hidden = !session.signedIn;
  $("#who").textContent = session.signedIn ? (session.user.name ?? session.user.id) : "";
  // A sign-in with the provider that did not complete comes back here with
  // its reason (and no session).
  const failed = new URLSearchParams(location.search).get("signInError");
  if (failed) {
    $("#sign-in-error").textContent = `Sign-in did not complete (${failed}).`;
    history.replaceState(null, "", "/studio");
  }
  if (access) {
    await refreshAll();
    // An install reloads the page to open its setup frame (see the
    // install form); other addresses name an app page or an entry.
    const installing = /^#\/installations\/([^/]+)$/.exec(location.hash);
    if (installing) {
      history.replaceState(null, "", "/studio");
      await openInstallation(decodeURIComponent(installing[1])).catch((e) => toast(e.message, "error"));
    } else {
      await route().catch((e) => toast(e.message, "error"));
    }
    setInterval(() => refreshInstallations().catch(() => {}), 1000);
    setInterval(() => Promise.all([refreshTokens(), refreshAudit()]).catch(() => {}), 3000);
  }
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#admin-token");
  try {
    await api("POST", "/studio/session", { token: input.value.trim() });
    input.value = "";
    location.reload();
  } catch (e) {
    $("#sign-in-error").textContent = e.message;
  }
});

$("#claim-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#claim-form [name=code]");
  try {
    await api("POST", "/studio/claim", { code: input.value.trim() });
    input.value = "";
    location.reload();
  } catch (e) {
    $("#claim-error").textContent = e.message;
  }
});

$("#sign-out").addEventListener("click", guard(async () => {
  await api("DELETE", "/studio/session");
  location.reload();
}));

// --- lists -----------------------------------------------------------------

async function refreshAll() {
  // The project pickers of the other sections are filled from the projects.
  await refreshProjects();
  await Promise.all([refreshApps(), refreshInstallations(), refreshTokens(), refreshAudit(), refreshUsers(), refreshConnections()]);
}

// People and their roles: shown to those who may list them (admins of
// some project); changed by owners of the project (the server says no to
// anyone else).
const ROLES = [["", "no role"], ["viewer", "viewer"], ["developer", "developer"], ["admin", "admin"], ["owner", "owner"]];

function projectChoices(select, everyLabel) {
  const choices = [{ id: "*", name: everyLabel }, ...state.projects];
  options(select, choices, (p) => (p.id === "*" ? p.name : `${p.name} (${p.id})`));
}

function rolesText(roles) {
  return roles.map((r) => `${r.role} ${r.projectId === "*" ? "on every project" : `in ${r.projectId}`}`).join(", ") || "none";
}

async function refreshUsers() {
  let users;
  try {
    users = await api("GET", "/v1/users");
  } catch (e) {
    if (e.status === 403) return;
    throw e;
  }
  state.users = users;
  $("#people").hidden = false;
  fill("#users", users.map((u) => {
    const tr = document.createElement("tr");
    tr.dataset.user = u.id;
    const project = document.createElement("select");
    project.name = "project";
    projectChoices(project, "every project");
    const select = document.createElement("select");
    select.name = "role";
    select.replaceChildren(...ROLES.map(([value, label]) => Object.assign(document.createElement("option"), { value, textContent: label })));
    const showRole = () => (select.value = u.roles.find((r) => r.projectId === project.value)?.role ?? "");
    project.addEventListener("change", showRole);
    showRole();
    const actions = document.createElement("td");
    actions.append(
      button("Save role", async () => {
        const body = { role: select.value || null };
        if (project.value !== "*") body.projectId = project.value;
        await api("PUT", `/v1/users/${encodeURIComponent(u.id)}/role`, body);
        const where = project.value === "*" ? "on every project" : `in ${project.value}`;
        toast(`${u.name ?? u.email ?? u.id} is ${select.value || "without a role"} ${where} now`, "success");
        await Promise.all([refreshUsers(), refreshAudit()]);
      }),
      button("Their actions", async () => {
        $("#audit-filter [name=user]").value = u.id;
        await refreshAudit();
        $("#audit").scrollIntoView();
      }),
    );
    const give = document.createElement("td");
    give.append(project, select);
    tr.append(cell(u.name), cell(u.email), cell(rolesText(u.roles)), give, actions);
    return tr;
  }));
  options($("#audit-filter [name=user]"), [{ id: "" }, ...users], (u) => (u.id ? (u.name ?? u.email ?? u.id) : "anyone"));
  projectChoices($("#invite-form [name=projectId]"), "every project");
  await refreshInvitations();
}

// The signed-in person's connected apps (a person's own; an admin token
// session has none of its own and does not show the section).
async function refreshConnections() {
  if (!state.user?.id?.startsWith("user:")) return;
  const connections = await api("GET", "/v1/connections");
  $("#connections-section").hidden = false;
  fill("#connections", connections.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.connection = c.id;
    const actions = document.createElement("td");
    if (!c.revokedAt) {
      actions.append(button("End", async () => {
        await api("DELETE", `/v1/connections/${encodeURIComponent(c.id)}`);
        toast(`${c.appName} is disconnected`, "success");
        await Promise.all([refreshConnections(), refreshAudit()]);
      }));
    }
    const grants = c.grants.map((g) => `${g.api} ${g.action}`).join(", ");
    tr.append(cell(c.appName), cell(c.environmentId), cell(grants), cell(new Date(c.createdAt * 1000).toISOString()), cell(c.revokedAt ? "ended" : "connected"), actions);
    return tr;
  }));
}

// Invitations of the projects the signed-in person owns.
async function refreshInvitations() {
  let invitations;
  try {
    invitations = await api("GET", "/v1/invitations");
  } catch (e) {
    if (e.status === 403) {
      $("#invite-form").hidden = true;
      $("#invitations").hidden = true;
      return;
    }
    throw e;
  }
  const now = Date.now() / 1000;
  fill("#invitations", invitations.map((i) => {
    const tr = document.createElement("tr");
    tr.dataset.invitation = i.id;
    const status = i.acceptedAt ? "accepted" : i.revokedAt ? "ended" : i.expiresAt <= now ? "expired" : "waiting";
    const actions = document.createElement("td");
    if (status === "waiting") {
      actions.append(button("End", async () => {
        await api("DELETE", `/v1/invitations/${encodeURIComponent(i.id)}`);
        toast(`Invitation of ${i.email} ended`, "success");
        await Promise.all([refreshInvitations(), refreshAudit()]);
      }));
    }
    tr.append(cell(i.email), cell(i.role), cell(i.projectId === "*" ? "every project" : i.projectId), cell(status), actions);
    return tr;
  }));
}

async function refreshProjects() {
  state.projects = await api("GET", "/v1/projects");
  const rows = [];
  for (const p of state.projects) {
    const environments = p.environments.length ? p.environments : [null];
    for (const e of environments) {
      const tr = document.createElement("tr");
      const actions = document.createElement("td");
      if (e) {
        tr.dataset.environment = e.id;
        actions.append(button("Public grants", () => editPublicGrants(e)));
      }
      tr.append(cell(`${p.name} (${p.id})`), cell(e ? `${e.name} (${e.id})` : "—"), cell(e?.defaultStage), cell(p.mgmtApi), actions);
      rows.push(tr);
    }
  }
  fill("#projects", rows);
  options($("#environment-form [name=project]"), state.projects, (p) => p.name);
  options($("#app-form [name=projectId]"), [...state.projects, { id: "*" }], (p) => (p.id === "*" ? "the whole instance" : `${p.name} (${p.id})`));
  const environments = state.projects.flatMap((p) => p.environments.map((e) => ({ ...e, project: p })));
  options($("#install-form [name=environment]"), environments, (e) => `${e.project.name} / ${e.name}`);
  options($("#model-form [name=environment]"), environments, (e) => `${e.project.name} / ${e.name}`);
  options($("#token-form [name=environment]"), [{ id: "" }, ...environments], (e) => (e.id ? `${e.project.name} / ${e.name}` : "no environment"));
  await refreshModels(environments);
  await refreshEditorChoices();
}

async function refreshModels(environments) {
  const rows = [];
  for (const e of environments) {
    const models = await api("GET", `/v1/environments/${encodeURIComponent(e.id)}/models`);
    for (const m of models) {
      const tr = document.createElement("tr");
      tr.dataset.model = `${e.id}/${m.apiId}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.addEventListener("click", guard(async () => {
        await api("DELETE", `/v1/environments/${encodeURIComponent(e.id)}/models/${encodeURIComponent(m.apiId)}`);
        toast(`Model ${m.apiId} removed`, "success");
        await Promise.all([refreshProjects(), refreshAudit()]);
      }));
      const actions = document.createElement("td");
      actions.append(remove);
      tr.append(cell(`${e.project.name} / ${e.name}`), cell(m.apiId), cell(m.apiIdPlural), cell(m.ownerField ?? "—"), cell((m.sensitiveFields ?? []).join(", ") || "—"), actions);
      rows.push(tr);
    }
  }
  fill("#models", rows);
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", guard(onClick));
  return b;
}

const GRACE = [["0", "no grace"], ["3600", "old works 1 h"], ["86400", "old works 1 day"], ["604800", "old works 7 days"]];

async function refreshApps() {
  state.apps = await api("GET", "/v1/apps");
  fill("#apps", state.apps.map((a) => {
    const tr = document.createElement("tr");
    tr.dataset.app = a.id;
    const secret = a.previousSecretExpiresAt
      ? `rotated; old one works until ${new Date(a.previousSecretExpiresAt * 1000).toISOString()}`
      : "";
    const grace = document.createElement("select");
    grace.name = "grace";
    grace.replaceChildren(...GRACE.map(([value, label]) => Object.assign(document.createElement("option"), { value, textContent: label })));
    const actions = document.createElement("td");
    actions.append(
      button("Edit", () => editApp(a)),
      button("Grants", () => editGrants(a)),
      button("Deliveries", () => showDeliveries(a)),
      button("Rotate webhook secret", async () => {
        const rotated = await api("POST", `/v1/apps/${encodeURIComponent(a.id)}/webhook-secret/rotate`);
        showSecret(a.clientId, null, undefined, rotated.webhookSecret);
        await refreshAudit();
      }),
      grace,
      button("Rotate secret", async () => {
        const rotated = await api("POST", `/v1/apps/${encodeURIComponent(a.id)}/client-secret/rotate`, { graceSeconds: Number(grace.value) });
        showSecret(rotated.clientId, rotated.clientSecret, rotated.previousSecretExpiresAt);
        await Promise.all([refreshApps(), refreshAudit()]);
      }),
      button("Delete", async () => {
        if (!confirm(`Delete the app ${a.name}? Its client credentials stop working.`)) return;
        await api("DELETE", `/v1/apps/${encodeURIComponent(a.id)}`);
        toast(`App ${a.name} deleted`, "success");
        await Promise.all([refreshApps(), refreshAudit()]);
      }),
    );
    const elements = a.elements.map((e) => `${e.name} (${e.type})`).join(", ") || "—";
    tr.append(cell(a.name), cell(a.projectId ?? "whole instance"), cell(elements), cell(a.clientId), cell(a.setupUrl), cell(a.origins.join(", ")), cell(secret), actions);
    return tr;
  }));
  options($("#install-form [name=app]"), state.apps, (a) => a.name);
}

// The client secret, shown once: after registering an app or rotating its
// secret. "Done" reloads the page, which drops it.
function showSecret(clientId, clientSecret, previousUntil, webhookSecret) {
  $("#client-id").textContent = clientId;
  $("#client-secret").textContent = clientSecret ?? "";
  $("#client-secret").parentElement.hidden = clientSecret === null;
  $("#webhook-secret-line").hidden = !webhookSecret;
  $("#webhook-secret").textContent = webhookSecret ?? "";
  const previous = $("#previous-secret");
  previous.hidden = previousUntil === undefined;
  previous.textContent = previousUntil
    ? `The old secret works until ${new Date(previousUntil * 1000).toISOString()}.`
    : "The old secret stopped working.";
  $("#app-secret").hidden = false;
}

// An app's webhook deliveries: what was sent, how it went, and Retry.
async function showDeliveries(app) {
  state.deliveriesApp = app;
  const deliveries = await api("GET", `/v1/apps/${encodeURIComponent(app.id)}/deliveries?limit=50`);
  $("#deliveries-app").textContent = app.name;
  fill("#deliveries", deliveries.map((d) => {
    const tr = document.createElement("tr");
    tr.dataset.delivery = d.id;
    const last = d.lastError ?? (d.lastStatus === null ? "" : `answered ${d.lastStatus}`);
    const actions = document.createElement("td");
    actions.append(button("Retry", async () => {
      await api("POST", `/v1/apps/${encodeURIComponent(app.id)}/deliveries/${encodeURIComponent(d.id)}/retry`);
      toast(`Delivery ${d.id} queued again`, "success");
      await showDeliveries(app);
    }));
    tr.append(cell(d.id), cell(d.type), cell(d.status, `delivery-${d.status}`), cell(String(d.attempts)), cell(last), actions);
    return tr;
  }));
  $("#deliveries-panel").hidden = false;
}

$("#deliveries-refresh").addEventListener("click", guard(() => showDeliveries(state.deliveriesApp)));
$("#deliveries-close").addEventListener("click", () => ($("#deliveries-panel").hidden = true));

// Editing an app reuses the registration form: its fields filled in, grants
// left out (they change through their own call), submitted as a PATCH.
function editApp(app) {
  state.editing = app.id;
  const f = $("#app-form");
  f.elements.name.value = app.name;
  f.elements.setupUrl.value = app.setupUrl;
  f.elements.url.value = app.url ?? "";
  f.elements.origins.value = app.origins.join(", ");
  f.elements.webhookUrl.value = app.webhookUrl ?? "";
  f.elements.appElements.value = JSON.stringify(app.elements);
  f.elements.grants.disabled = true;
  f.elements.projectId.disabled = true;
  f.querySelector("button[type=submit]").textContent = "Save app";
  $("#app-edit-cancel").hidden = false;
  f.elements.name.focus();
}

// Publishing grants: a new version; the answer says where it applied at
// once (no wider than approved) and where it waits for approval.
function editGrants(app) {
  state.grantsApp = app.id;
  $("#grants-app").textContent = app.name;
  $("#grants-form [name=grants]").value = JSON.stringify(app.grants, null, 2);
  $("#grants-form").hidden = false;
}

$("#grants-form").addEventListener("submit", guard(async () => {
  let grants;
  try {
    grants = JSON.parse($("#grants-form [name=grants]").value);
  } catch {
    throw new Error("Grants must be JSON, e.g. [{\"api\":\"content\",\"action\":\"read\"}]");
  }
  const published = await api("PUT", `/v1/apps/${encodeURIComponent(state.grantsApp)}/grants`, grants);
  $("#grants-form").hidden = true;
  toast(`Grants version ${published.version}: applied to ${published.applied.length}, approval requested from ${published.requested.length}`, "success");
  await Promise.all([refreshApps(), refreshInstallations(), refreshAudit()]);
}));

$("#grants-cancel").addEventListener("click", () => ($("#grants-form").hidden = true));

// Reviewing a grant update: before and after side by side, then approve
// (the installation and its tokens move at once) or decline (nothing moves).
function reviewGrants(installation) {
  state.review = installation;
  $("#review-installation").textContent = installation.id;
  $("#review-from-version").textContent = `version ${installation.grantsVersion}`;
  $("#review-to-version").textContent = `version ${installation.requestedVersion}`;
  $("#review-from").textContent = JSON.stringify(installation.grants, null, 2);
  $("#review-to").textContent = JSON.stringify(installation.requestedGrants, null, 2);
  const writes = installation.requestedGrants.some((g) => g.action !== "read");
  $("#review-warning").textContent = writes ? "The requested grants allow writes." : "";
  $("#grant-review").hidden = false;
}

async function decideGrants(decision) {
  const i = state.review;
  await api("POST", `/v1/installations/${encodeURIComponent(i.id)}/grants/${decision}`, { version: i.requestedVersion });
  $("#grant-review").hidden = true;
  toast(`Grant update ${decision === "approve" ? "approved" : "declined"} for ${i.id}`, "success");
  await Promise.all([refreshInstallations(), refreshAudit()]);
}

$("#review-approve").addEventListener("click", guard(() => decideGrants("approve")));
$("#review-decline").addEventListener("click", guard(() => decideGrants("decline")));
$("#review-close").addEventListener("click", () => ($("#grant-review").hidden = true));

function endEdit() {
  state.editing = null;
  const f = $("#app-form");
  f.reset();
  f.elements.grants.disabled = false;
  f.elements.projectId.disabled = false;
  f.querySelector("button[type=submit]").textContent = "Register app";
  $("#app-edit-cancel").hidden = true;
}

async function refreshInstallations() {
  state.installations = await api("GET", "/v1/installations");
  fill("#installations", state.installations.map((i) => {
    const tr = document.createElement("tr");
    tr.dataset.installation = i.id;
    const app = state.apps.find((a) => a.id === i.appId);
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = "Open";
    open.addEventListener("click", guard(() => openInstallation(i.id)));
    const actions = document.createElement("td");
    actions.append(open);
    if (i.status === "UNINSTALLED") {
      open.disabled = true;
    } else if (i.status !== "DISABLED") {
      // Disabling revokes the installation's tokens (its APP token and every
      // frame's SESSION token) at once.
      const disable = document.createElement("button");
      disable.type = "button";
      disable.textContent = "Disable";
      disable.addEventListener("click", guard(async () => {
        await api("PATCH", `/v1/installations/${encodeURIComponent(i.id)}`, { status: "DISABLED" });
        toast(`Installation ${i.id} disabled`, "success");
        await Promise.all([refreshInstallations(), refreshTokens(), refreshAudit()]);
      }));
      actions.append(disable);
    } else {
      open.disabled = true;
    }
    if (i.requestedVersion !== null && i.status !== "UNINSTALLED") {
      const badge = document.createElement("span");
      badge.className = "update-requested";
      badge.textContent = `update requested (v${i.requestedVersion})`;
      actions.append(badge, button("Review grants", () => reviewGrants(i)));
    }
    if (i.status !== "UNINSTALLED") {
      // Uninstalling revokes its tokens, spends its codes and erases its
      // config; the row stays, UNINSTALLED, for the audit.
      actions.append(button("Uninstall", async () => {
        if (!confirm(`Uninstall ${app?.name ?? i.appId} from ${i.environmentId}? Its tokens stop working and its config is erased.`)) return;
        await api("DELETE", `/v1/installations/${encodeURIComponent(i.id)}`);
        if (state.frameInstallation === i.id) {
          state.frame?.destroy();
          state.frame = null;
          state.frameInstallation = null;
          $("#app-frame").src = "about:blank";
          $("#frame-panel").hidden = true;
        }
        toast(`Installation ${i.id} uninstalled`, "success");
        await Promise.all([refreshInstallations(), refreshTokens(), refreshAudit()]);
      }));
    }
    tr.append(cell(i.id), cell(app?.name ?? i.appId), cell(i.environmentId), cell(i.status, `status status-${i.status}`), elementSwitches(i, app), actions);

    return tr;
  }));
  refreshNavigation();
  if (state.frame && state.frameInstallation) {
    const now = state.installations.find((i) => i.id === state.frameInstallation);
    const shown = state.frame.context.installation;
    if (now && (now.status !== shown.status || JSON.stringify(now.config) !== JSON.stringify(shown.config))) {
      state.frame.setContext({ ...state.frame.context, installation: now });
    }
  }
}

// Each of the app's elements, on or off in this installation.
function elementSwitches(installation, app) {
  const td = document.createElement("td");
  for (const element of app?.elements ?? []) {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !installation.disabledElements.includes(element.apiId);
    box.disabled = installation.status === "UNINSTALLED";
    box.dataset.element = element.apiId;
    box.addEventListener("change", guard(async () => {
      await api("PATCH", `/v1/installations/${encodeURIComponent(installation.id)}/elements`, { [element.apiId]: box.checked });
      toast(`${element.name} ${box.checked ? "on" : "off"} in ${installation.id}`, "success");
      await Promise.all([refreshInstallations(), refreshAudit()]);
    }));
    const label = document.createElement("label");
    label.className = "element-switch";
    label.append(box, ` ${element.name}`);
    td.append(label);
  }
  return td;
}

async function refreshTokens() {
  const tokens = await api("GET", "/v1/tokens");
  fill("#tokens", tokens.map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.token = t.tokenId;
    const actions = document.createElement("td");
    if (!t.revoked) {
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.textContent = "Revoke";
      revoke.addEventListener("click", guard(async () => {
        await api("DELETE", `/v1/tokens/${t.tokenId}`);
        toast(`Token ${t.tokenId} revoked`, "success");
        await Promise.all([refreshTokens(), refreshAudit()]);
      }));
      actions.append(revoke);
      if (t.kind === "PAT" || t.kind === "SYSTEM") {
        actions.append(button("Rotate", async () => {
          const rotated = await api("POST", `/v1/tokens/${t.tokenId}/rotate`);
          showToken(rotated);
          await Promise.all([refreshTokens(), refreshAudit()]);
        }));
      }
    }
    tr.append(cell(t.tokenId), cell(t.kind), cell(t.name), cell(t.environmentId), cell(t.revoked ? "revoked" : "active", t.revoked ? "revoked" : ""), actions);
    return tr;
  }));
}

async function refreshAudit() {
  // The newest page that the filter keeps: pages are oldest first, so the
  // log is read to its end (1000 at a time) and the last 100 shown. The log
  // is the whole instance's: read by those with a role on every project.
  const query = new URLSearchParams(Object.entries(form("#audit-filter")).filter(([, v]) => v.trim()));
  let events = [];
  for (let after = 0; ; ) {
    let page;
    try {
      page = await api("GET", `/v1/audit?limit=1000&after=${after}&${query}`);
    } catch (e) {
      if (e.status !== 403) throw e;
      $("#audit-section").hidden = true;
      return;
    }
    events = events.concat(page).slice(-100);
    if (page.length < 1000) break;
    after = page[page.length - 1].seq;
  }
  fill("#audit", events.slice().reverse().map((e) => {
    const tr = document.createElement("tr");
    tr.append(cell(String(e.seq)), cell(new Date(e.at * 1000).toISOString()), cell(e.actor), cell(e.action), cell(e.target));
    return tr;
  }));
}

// A token's value, shown once; Done drops it from the page.
function showToken(issued) {
  $("#token-id").textContent = issued.tokenId;
  $("#token-value").textContent = issued.token;
  $("#token-secret").hidden = false;
}

$("#token-done").addEventListener("click", () => {
  $("#token-value").textContent = "";
  $("#token-secret").hidden = true;
});

// The grant builder: one grant from the fields, appended to the JSON list
// (which stays editable for anything the fields do not say).
const list = (text) => text.split(",").map((v) => v.trim()).filter(Boolean);

$("#grant-add").addEventListener("click", guard(async () => {
  const f = $("#token-form").elements;
  const grant = { api: f.api.value, action: f.action.value.trim() };
  for (const scope of ["models", "stages", "locales", "environments"]) {
    const values = list(f[scope].value);
    if (values.length) grant[scope] = values;
  }
  const condition = list(f.condition.value);
  if (condition.length) {
    grant.condition = Object.fromEntries(condition.map((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) throw new Error(`condition ${pair} is not field=value`);
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    }));
  }
  const unmask = list(f.unmask.value);
  if (unmask.length) grant.unmask = unmask;
  const grants = JSON.parse(f.grants.value || "[]");
  grants.push(grant);
  f.grants.value = JSON.stringify(grants);
}));

$("#token-form").addEventListener("submit", guard(async () => {
  const f = $("#token-form").elements;
  let grants;
  try {
    grants = JSON.parse(f.grants.value);
  } catch {
    throw new Error("Grants must be JSON, e.g. [{\"api\":\"content\",\"action\":\"read\"}]");
  }
  const body = { kind: f.kind.value, name: f.name.value, grants };
  if (f.environment.value) body.environmentId = f.environment.value;
  if (f.expiresAt.value) body.expiresAt = Math.floor(new Date(f.expiresAt.value).getTime() / 1000);
  const issued = await api("POST", "/v1/tokens", body);
  showToken(issued);
  $("#token-form").reset();
  f.grants.value = "[]";
  await Promise.all([refreshTokens(), refreshAudit()]);
}));

// Public grants: what requests without credentials may do in an
// environment. "Initialize defaults" fills in reading what is published,
// for every registered model; writes are confirmed before they are saved.
function editPublicGrants(environment) {
  state.publicEnvironment = environment;
  $("#public-grants-environment").textContent = `${environment.name} (${environment.id})`;
  $("#public-grants-form [name=grants]").value = JSON.stringify(environment.publicGrants, null, 2);
  $("#public-grants-warning").textContent = "";
  $("#public-grants-form").hidden = false;
}

$("#public-grants-defaults").addEventListener("click", guard(async () => {
  const e = state.publicEnvironment;
  const models = await api("GET", `/v1/environments/${encodeURIComponent(e.id)}/models`);
  if (!models.length) throw new Error("Register the environment's models first: the defaults read each one.");
  const defaults = [{ api: "content", action: "read", models: models.map((m) => m.apiId), stages: ["PUBLISHED"] }];
  $("#public-grants-form [name=grants]").value = JSON.stringify(defaults, null, 2);
}));

$("#public-grants-form").addEventListener("submit", guard(async () => {
  let grants;
  try {
    grants = JSON.parse($("#public-grants-form [name=grants]").value);
  } catch {
    throw new Error("Public grants must be JSON, e.g. [{\"api\":\"content\",\"action\":\"read\"}]");
  }
  const writes = grants.filter((g) => g.action !== "read" && g.action !== "introspect");
  if (writes.length) {
    $("#public-grants-warning").textContent = `These grants let anyone without credentials ${writes.map((g) => g.action).join(", ")}.`;
    if (!confirm("Let requests without any credentials change content here?")) return;
  }
  const e = state.publicEnvironment;
  await api("PUT", `/v1/environments/${encodeURIComponent(e.id)}/public-grants`, grants);
  $("#public-grants-form").hidden = true;
  toast(`Public grants of ${e.id} saved`, "success");
  await Promise.all([refreshProjects(), refreshAudit()]);
}));

$("#public-grants-cancel").addEventListener("click", () => ($("#public-grants-form").hidden = true));

$("#audit-filter").addEventListener("submit", guard(() => refreshAudit()));

// --- forms -----------------------------------------------------------------

const form = (selector) => Object.fromEntries(new FormData($(selector)));

$("#project-form").addEventListener("submit", guard(async () => {
  const { id, name } = form("#project-form");
  await api("POST", "/v1/projects", { id, name });
  $("#project-form").reset();
  toast(`Project ${name} created`, "success");
  await Promise.all([refreshProjects(), refreshAudit()]);
}));

$("#environment-form").addEventListener("submit", guard(async () => {
  const { project, id, name } = form("#environment-form");
  await api("POST", `/v1/projects/${encodeURIComponent(project)}/environments`, { id, name });
  $("#environment-form [name=id]").value = "";
  $("#environment-form [name=name]").value = "";
  toast(`Environment ${name} created`, "success");
  await Promise.all([refreshProjects(), refreshAudit()]);
}));

$("#model-form").addEventListener("submit", guard(async () => {
  const { environment, apiId, apiIdPlural, ownerField, sensitiveFields } = form("#model-form");
  const body = { apiIdPlural, sensitiveFields: sensitiveFields.split(",").map((f) => f.trim()).filter(Boolean) };
  if (ownerField.trim()) body.ownerField = ownerField.trim();
  await api("PUT", `/v1/environments/${encodeURIComponent(environment)}/models/${encodeURIComponent(apiId)}`, body);
  $("#model-form").reset();
  toast(`Model ${apiId} saved`, "success");
  await Promise.all([refreshProjects(), refreshAudit()]);
}));

$("#app-form").addEventListener("submit", guard(async () => {
  const { name, setupUrl, url, origins, grants, webhookUrl, projectId, appElements } = form("#app-form");
  const list = origins.trim() ? origins.split(",").map((o) => o.trim()).filter(Boolean) : [new URL(setupUrl).origin];
  let declared;
  try {
    declared = JSON.parse(appElements.trim() || "[]");
  } catch {
    throw new Error("Elements must be JSON, e.g. [{\"type\":\"page\",\"apiId\":\"overview\",\"name\":\"Overview\",\"url\":\"http://127.0.0.1:3000/page\"}]");
  }
  if (state.editing) {
    await api("PATCH", `/v1/apps/${encodeURIComponent(state.editing)}`, { name, setupUrl, url: url.trim() || null, origins: list, webhookUrl: webhookUrl.trim() || null, elements: declared });
    endEdit();
    // The page's frame-src lists the installed apps' origins: a reload applies new ones.
    toast(`App ${name} saved`, "success");
    await Promise.all([refreshApps(), refreshAudit()]);
    return;
  }
  let parsed;
  try {
    parsed = JSON.parse(grants);
  } catch {
    throw new Error("Grants must be JSON, e.g. [{\"api\":\"content\",\"action\":\"read\"}]");
  }
  const body = { name, setupUrl, origins: list, grants: parsed, elements: declared };
  if (projectId !== "*") body.projectId = projectId;
  if (url.trim()) body.url = url.trim();
  if (webhookUrl.trim()) body.webhookUrl = webhookUrl.trim();
  const created = await api("POST", "/v1/apps", body);
  showSecret(created.clientId, created.clientSecret, undefined, webhookUrl.trim() ? created.webhookSecret : null);
  $("#app-form").reset();
  await Promise.all([refreshApps(), refreshAudit()]);
}));

$("#app-edit-cancel").addEventListener("click", endEdit);

$("#invite-form").addEventListener("submit", guard(async () => {
  const { email, role, projectId } = form("#invite-form");
  const body = { email, role };
  if (projectId !== "*") body.projectId = projectId;
  await api("POST", "/v1/invitations", body);
  $("#invite-form [name=email]").value = "";
  const where = projectId === "*" ? "every project" : projectId;
  toast(`${email} is invited as ${role} (${where})`, "success");
  await Promise.all([refreshInvitations(), refreshAudit()]);
}));

$("#copy-secret").addEventListener("click", guard(async () => {
  await navigator.clipboard.writeText($("#client-secret").textContent);
  toast("Client secret copied", "success");
}));

// "Done" reloads the page, which drops the secret from it.
$("#secret-done").addEventListener("click", () => location.reload());

$("#install-form").addEventListener("submit", guard(async () => {
  const { environment, app } = form("#install-form");
  // The page's frame-src lists the origins of installed apps only: the
  // first installation of an app reloads the page, which then opens its
  // setup page (with a fresh setup code).
  const framable = state.installations.some((i) => i.appId === app && i.status !== "UNINSTALLED");
  const created = await api("POST", `/v1/environments/${encodeURIComponent(environment)}/installations`, { appId: app });
  if (!framable) {
    location.hash = `#/installations/${encodeURIComponent(created.installation.id)}`;
    location.reload();
    return;
  }
  toast(`Installing ${created.installation.id}`, "info");
  await refreshInstallations();
  await showFrame(created.installation, created.setupUrl);
}));

async function openInstallation(id) {
  const installation = state.installations.find((i) => i.id === id);
  const app = state.apps.find((a) => a.id === installation.appId);
  if (installation.status === "PENDING") {
    const fresh = await api("POST", `/v1/installations/${encodeURIComponent(id)}/setup-code`);
    return showFrame(installation, fresh.setupUrl);
  }
  // Installed: the app's main page (its setup page if it has none).
  return showFrame(installation, app.url ?? app.setupUrl);
}

// --- the app frame -----------------------------------------------------------

async function showFrame(installation, url) {
  state.frame?.destroy();
  state.frameInstallation = installation.id;
  const iframe = $("#app-frame");
  state.frame = await hostFrame({
    iframe,
    installation,
    url,
    handlers: {
      updateInstallation: async (update) => {
        const updated = await api("PATCH", `/v1/installations/${encodeURIComponent(installation.id)}`, update);
        await refreshInstallations();
        return updated;
      },
    },
  });
  $("#frame-origin").textContent = new URL(url).origin;
  $("#frame-panel").hidden = false;
}

setupElements({ api, toast, state, guard, button });
start().catch((e) => toast(e.message, "error"));
