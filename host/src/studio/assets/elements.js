// The studio as a platform apps live in: a small content editor over the
// gateway (`/v1/content/{environment}/{model}[/{id}]`, which forwards to
// `tally serve --upstream`), and the apps' elements hosted in it — pages in
// the navigation, sidebar panels beside the open entry, field editors in
// place of a field's input, dialogs — each an iframe on the app's origin
// behind its own origin- and window-pinned bridge (tally-sdk/parent).
//
// Choices written down here:
// - The editor reads and writes content with a short-lived PAT of the
//   environment (read, create, update; 15 minutes) minted for the signed-in
//   person with POST /v1/tokens when they open a model, kept in this page's
//   memory only; so the editor sees what the gateway lets that token see,
//   filters and masking included, and needs the right to create tokens in
//   that project (admin).
// - A model's fields are what its entries hold (the gateway's models carry
//   no field list); each field's type is read from its values: `#rrggbb`
//   is a color, `YYYY-MM-DD` a date, a date with a time a dateTime, other
//   strings string, then number, boolean, and json for objects and lists.
// - A field element edits the fields of its `fieldType`; when several
//   installed apps offer one, the first installation's wins. Sidebar
//   elements of every completed installation in the environment are shown
//   beside the entry, in installation order. Elements an installation
//   turned off are not shown.
// - Frames are lazy (`loading="lazy"`), sandboxed (scripts, forms and their
//   own origin; no top navigation, no popups) and sized by the app
//   (`resize`); the page's CSP frame-src lists the installed apps' origins.
// - One dialog at a time; Escape dismisses it and the opener gets null.
import { createAppFrame } from "/studio/bridge/src/parent.js";

const $ = (selector) => document.querySelector(selector);
const OWN_FIELDS = ["id", "environment", "model", "createdBy"];
const SANDBOX = "allow-scripts allow-same-origin allow-forms";
const EDITOR_TOKEN_SECONDS = 15 * 60;

let studio; // { api, toast, state, guard, button }
const editor = { environment: null, model: null, entry: null, values: {}, invalid: {}, fields: [], frames: [], token: null, entries: [] };
const page = { frame: null };
const dialog = { frame: null, settle: null };
let navKey = "";

/** Wires the editor and the element hosting into the studio page. */
export function setup(studioApi) {
  studio = studioApi;
  $("#content-form").addEventListener("submit", studio.guard(async () => {
    const f = $("#content-form").elements;
    await openModel(f.environment.value, f.model.value);
  }));
  $("#content-form [name=environment]").addEventListener("change", studio.guard(refreshModelChoices));
  $("#entry-new").addEventListener("click", studio.guard(() => openEntry(null)));
  $("#entry-save").addEventListener("click", studio.guard(saveEntry));
  $("#entry-close").addEventListener("click", () => closeEntry());
  $("#app-dialog").addEventListener("close", () => settleDialog(null));
  $("#app-dialog-dismiss").addEventListener("click", () => $("#app-dialog").close());
  window.addEventListener("hashchange", studio.guard(route));
}

// --- frames --------------------------------------------------------------

/** The context every frame of `installation` gets (its session token comes from the bridge). */
export function frameContext(installation, element) {
  const { state } = studio;
  const project = state.projects.find((p) => p.environments.some((e) => e.id === installation.environmentId));
  const environment = project.environments.find((e) => e.id === installation.environmentId);
  const context = {
    project: { id: project.id, name: project.name, mgmtApi: project.mgmtApi },
    environment: { id: environment.id, name: environment.name, endpoint: `${location.origin}/v1/content/${environment.id}` },
    installation,
    // Who signed in to the studio (GET /studio/session).
    user: state.user,
  };
  if (element) context.element = element;
  return context;
}

/**
 * Hosts `url` of `installation`'s app in `iframe`: the bridge pinned to the
 * app's origin, session tokens minted for the installation, the platform's
 * actions, and `handlers` for what only this frame does.
 */
export async function hostFrame({ iframe, installation, url, element, handlers = {} }) {
  const { api, toast, state } = studio;
  const app = state.apps.find((a) => a.id === installation.appId);
  const appOrigin = new URL(url).origin;
  if (!app.origins.includes(appOrigin)) throw new Error(`${appOrigin} is not one of the app's origins`);
  const frame = await createAppFrame({
    iframe,
    appOrigin,
    context: frameContext(installation, element),
    handlers: {
      showToast: ({ message, variant }) => toast(message, variant),
      getSessionToken: async () => {
        const session = await api("POST", `/v1/installations/${encodeURIComponent(installation.id)}/session-token`);
        return { token: session.token, expiresIn: session.expiresIn };
      },
      openDialog: (request) => openDialog(installation, element?.apiId ?? "app", request),
      navigate: ({ to }) => navigate(installation, to),
      confirm: (question) => confirmWith(question),
      ...handlers,
    },
  });
  iframe.src = url;
  return frame;
}

/** A sandboxed, lazily loaded iframe for an element. */
function elementIframe(title) {
  const iframe = document.createElement("iframe");
  iframe.title = title;
  iframe.className = "element-frame";
  iframe.setAttribute("sandbox", SANDBOX);
  iframe.setAttribute("loading", "lazy");
  iframe.setAttribute("referrerpolicy", "strict-origin");
  return iframe;
}

/** The completed installations of `environmentId` with their apps' elements that are on. */
function enabledElements(environmentId, type) {
  const { state } = studio;
  const found = [];
  for (const installation of state.installations) {
    if (installation.status !== "COMPLETED" || (environmentId && installation.environmentId !== environmentId)) continue;
    const app = state.apps.find((a) => a.id === installation.appId);
    for (const element of app?.elements ?? []) {
      if (element.type === type && !installation.disabledElements.includes(element.apiId)) found.push({ installation, app, element });
    }
  }
  return found;
}

// --- dialogs, confirm, navigation -------------------------------------------

function openDialog(installation, opener, { url, options = {} }) {
  if (dialog.settle) {
    const busy = new Error("a dialog is open already");
    busy.code = "dialog_open";
    throw busy;
  }
  return new Promise((resolve, reject) => {
    dialog.settle = resolve;
    const box = $("#app-dialog");
    $("#app-dialog-title").textContent = options.title ?? "";
    const iframe = elementIframe(options.title ?? "dialog");
    iframe.style.width = `${options.width ?? 480}px`;
    iframe.style.height = `${options.height ?? 240}px`;
    $("#app-dialog-body").replaceChildren(iframe);
    box.showModal();
    const element = { type: "dialog", apiId: opener, config: options.config ?? {}, options };
    hostFrame({
      iframe,
      installation,
      url,
      element,
      handlers: {
        closeDialog: (value) => {
          settleDialog(value === undefined ? null : value);
          return null;
        },
      },
    }).then((frame) => (dialog.frame = frame), (e) => {
      settleDialog(null);
      reject(e);
    });
  });
}

/** Resolves the open dialog's opener with `value` and takes the dialog down. */
function settleDialog(value) {
  const settle = dialog.settle;
  dialog.settle = null;
  dialog.frame?.destroy();
  dialog.frame = null;
  $("#app-dialog-body").replaceChildren();
  if ($("#app-dialog").open) $("#app-dialog").close();
  settle?.(value);
}

/** The studio's own confirmation dialog (not window.confirm, which blocks every frame). */
function confirmWith({ message, title }) {
  return new Promise((resolve) => {
    const box = $("#confirm-dialog");
    $("#confirm-title").textContent = title ?? "Confirm";
    $("#confirm-message").textContent = message;
    box.returnValue = "";
    box.addEventListener("close", () => resolve(box.returnValue === "yes"), { once: true });
    box.showModal();
  });
}

/**
 * Moves the studio to a path an app names: `/content/{model}[/{entryId}]`
 * (in the installation's environment) or `/pages/{apiId}` (one of the
 * app's pages). Anything else is refused with code `unknown_route`.
 */
function navigate(installation, to) {
  const [kind, ...rest] = to.split("/").filter(Boolean).map(decodeURIComponent);
  const at = (...parts) => `#/${parts.map(encodeURIComponent).join("/")}`;
  if (kind === "content" && (rest.length === 1 || rest.length === 2)) {
    location.hash = at("content", installation.environmentId, ...rest);
  } else if (kind === "pages" && rest.length === 1) {
    location.hash = at("pages", installation.id, rest[0]);
  } else {
    const unknown = new Error(`the studio has no page ${to}`);
    unknown.code = "unknown_route";
    throw unknown;
  }
  return null;
}

/** Shows what the address's hash names: an app page or a model's entries. */
export async function route() {
  const [kind, ...rest] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (kind === "pages" && rest.length === 2) return showPage(rest[0], rest[1]);
  if (kind === "content" && rest.length >= 2) {
    await openModel(rest[0], rest[1]);
    if (rest[2]) await openEntry(rest[2]);
  }
}

// --- navigation and app pages ---------------------------------------------------

/** Rebuilds the navigation's app pages when the installations or apps change. */
export function refreshNavigation() {
  const pages = enabledElements(null, "page");
  const key = JSON.stringify(pages.map((p) => [p.installation.id, p.element.apiId, p.element.name]));
  if (key === navKey) return;
  navKey = key;
  const links = pages.map(({ installation, app, element }) => {
    const a = document.createElement("a");
    a.href = `#/pages/${encodeURIComponent(installation.id)}/${encodeURIComponent(element.apiId)}`;
    a.textContent = `${element.name} (${app.name}, ${installation.environmentId})`;
    a.dataset.page = `${installation.id}/${element.apiId}`;
    return a;
  });
  $("#app-pages").replaceChildren(...links);
  $("#app-pages-none").hidden = links.length > 0;
}

async function showPage(installationId, apiId) {
  const found = enabledElements(null, "page").find((p) => p.installation.id === installationId && p.element.apiId === apiId);
  if (!found) throw new Error(`no page ${apiId} in installation ${installationId}`);
  page.frame?.destroy();
  const iframe = elementIframe(found.element.name);
  iframe.id = "page-frame";
  $("#page-body").replaceChildren(iframe);
  $("#page-title").textContent = `${found.element.name} — ${found.app.name}`;
  $("#page-section").hidden = false;
  const { apiId: id, config = {}, url } = found.element;
  page.frame = await hostFrame({ iframe, installation: found.installation, url, element: { type: "page", apiId: id, config, route: "/" } });
  $("#page-section").scrollIntoView();
}

// --- the content editor ------------------------------------------------------

/** Fills the editor's environment and model choices. */
export async function refreshEditorChoices() {
  const environments = studio.state.projects.flatMap((p) => p.environments.map((e) => ({ ...e, project: p })));
  const select = $("#content-form [name=environment]");
  const current = select.value;
  select.replaceChildren(...environments.map((e) => Object.assign(document.createElement("option"), { value: e.id, textContent: `${e.project.name} / ${e.name}` })));
  if (environments.some((e) => e.id === current)) select.value = current;
  await refreshModelChoices();
}

async function refreshModelChoices() {
  const environment = $("#content-form [name=environment]").value;
  const models = environment ? await studio.api("GET", `/v1/environments/${encodeURIComponent(environment)}/models`) : [];
  const select = $("#content-form [name=model]");
  const current = select.value;
  select.replaceChildren(...models.map((m) => Object.assign(document.createElement("option"), { value: m.apiId, textContent: m.apiId })));
  if (models.some((m) => m.apiId === current)) select.value = current;
}

/** The gateway, with the editor's token for `environment` (minted when missing or due). */
async function content(method, path, body) {
  const now = Math.floor(Date.now() / 1000);
  if (!editor.token || editor.token.environment !== editor.environment || editor.token.until - 60 < now) {
    const issued = await studio.api("POST", "/v1/tokens", {
      kind: "PAT",
      name: "studio content editor",
      environmentId: editor.environment,
      grants: ["read", "create", "update"].map((action) => ({ api: "content", action })),
      expiresAt: now + EDITOR_TOKEN_SECONDS,
    });
    editor.token = { environment: editor.environment, value: `Bearer ${issued.token}`, until: now + EDITOR_TOKEN_SECONDS };
  }
  const response = await fetch(`/v1/content/${encodeURIComponent(editor.environment)}/${encodeURIComponent(editor.model)}${path}`, {
    method,
    headers: { authorization: editor.token.value, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: the message below says what came back.
  }
  if (!response.ok) throw new Error(data?.message ?? `the content API answered ${response.status}`);
  return data;
}

async function openModel(environment, model) {
  if (!environment || !model) throw new Error("Pick an environment and a model");
  closeEntry();
  editor.environment = environment;
  editor.model = model;
  const f = $("#content-form").elements;
  f.environment.value = environment;
  await refreshModelChoices();
  f.model.value = model;
  editor.entries = await content("GET", "");
  $("#entries-title").textContent = `${model} in ${environment}`;
  $("#entries-panel").hidden = false;
  $("#content-section").scrollIntoView();
  const rows = editor.entries.map((entry) => {
    const tr = document.createElement("tr");
    tr.dataset.entry = entry.id;
    const summary = Object.entries(fieldsOf(entry)).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(" · ");
    const td = (text) => Object.assign(document.createElement("td"), { textContent: text });
    const actions = document.createElement("td");
    actions.append(studio.button("Open", () => openEntry(entry.id)));
    tr.append(td(entry.id), td(summary), actions);
    return tr;
  });
  $("#entries tbody").replaceChildren(...rows);
}

function fieldsOf(entry) {
  return Object.fromEntries(Object.entries(entry ?? {}).filter(([k]) => !OWN_FIELDS.includes(k)));
}

/** A field's type, read from the values it has in the model's entries (see the top of this file). */
function typeOf(values) {
  const value = values.find((v) => v !== null && v !== undefined);
  if (typeof value === "string") {
    if (/^#[0-9a-fA-F]{6}$/.test(value)) return "color";
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return "date";
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return "dateTime";
    return "string";
  }
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "boolean";
  return value === undefined ? "string" : "json";
}

async function openEntry(id) {
  closeEntry();
  const entry = id === null ? null : await content("GET", `/${encodeURIComponent(id)}`);
  const names = [...new Set(editor.entries.flatMap((e) => Object.keys(fieldsOf(e))).concat(Object.keys(fieldsOf(entry))))];
  if (names.length === 0) names.push("name");
  editor.entry = entry;
  editor.values = Object.fromEntries(names.map((n) => [n, entry ? (entry[n] ?? null) : null]));
  editor.invalid = {};
  editor.fields = names.map((apiId) => ({ apiId, type: typeOf(editor.entries.map((e) => e[apiId]).concat(entry?.[apiId])) }));
  $("#entry-title").textContent = entry ? `${editor.model} ${entry.id}` : `New ${editor.model}`;
  $("#entry-panel").hidden = false;
  // Element frames load lazily: bring the entry to the person.
  $("#entry-panel").scrollIntoView();
  const form = $("#entry-fields");
  form.replaceChildren();
  const fieldElements = enabledElements(editor.environment, "field");
  for (const field of editor.fields) {
    const row = document.createElement("div");
    row.className = "entry-field";
    row.dataset.field = field.apiId;
    const label = Object.assign(document.createElement("label"), { textContent: `${field.apiId} (${field.type})` });
    const error = Object.assign(document.createElement("p"), { className: "error field-error", role: "alert" });
    row.append(label);
    form.append(row);
    const offer = fieldElements.find((f) => f.element.fieldType === field.type);
    if (offer) {
      // In the document before its bridge is made (it needs the frame's window).
      const iframe = elementIframe(`${offer.element.name}: ${field.apiId}`);
      iframe.dataset.field = field.apiId;
      row.append(iframe);
      await fieldFrame(iframe, field, offer);
    } else {
      const input = document.createElement("input");
      input.name = field.apiId;
      input.value = valueText(editor.values[field.apiId], field.type);
      input.addEventListener("input", () => {
        editor.values[field.apiId] = parseInput(input.value, field.type);
        pushValues();
      });
      row.append(input);
    }
    row.append(error);
  }
  const sidebar = $("#entry-sidebar");
  sidebar.replaceChildren();
  for (const offer of enabledElements(editor.environment, "sidebar")) {
    const box = document.createElement("div");
    box.className = "sidebar-element";
    box.dataset.element = `${offer.installation.id}/${offer.element.apiId}`;
    box.append(Object.assign(document.createElement("h3"), { textContent: offer.element.name }));
    const iframe = elementIframe(offer.element.name);
    box.append(iframe);
    sidebar.append(box);
    const element = { type: "sidebar", apiId: offer.element.apiId, config: offer.element.config ?? {}, model: editor.model, entry: { id: entry?.id ?? null }, values: { ...editor.values } };
    const frame = await hostFrame({ iframe, installation: offer.installation, url: offer.element.url, element });
    editor.frames.push({ frame, kind: "sidebar" });
  }
  if (entry) history.replaceState(null, "", `#/content/${editor.environment}/${editor.model}/${entry.id}`);
}

/** Hosts a field element in `iframe`, in place of `field`'s input. */
async function fieldFrame(iframe, field, offer) {
  const element = {
    type: "field",
    apiId: offer.element.apiId,
    config: offer.element.config ?? {},
    field: { apiId: field.apiId, type: field.type },
    model: editor.model,
    entry: { id: editor.entry?.id ?? null },
    value: editor.values[field.apiId] ?? null,
    locale: "en",
    stage: "DRAFT",
    isReadOnly: false,
  };
  const frame = await hostFrame({
    iframe,
    installation: offer.installation,
    url: offer.element.url,
    element,
    handlers: {
      // Already checked by the bridge against the field's type; a field
      // element writes only the field it was created for.
      setValue: (value) => {
        editor.values[field.apiId] = value;
        // What the editor holds now, readable on the field's row.
        iframe.closest(".entry-field").dataset.value = JSON.stringify(value);
        pushValues();
        return null;
      },
      setInvalid: (message) => {
        if (message === null) delete editor.invalid[field.apiId];
        else editor.invalid[field.apiId] = message;
        const row = document.querySelector(`.entry-field[data-field="${CSS.escape(field.apiId)}"] .field-error`);
        if (row) row.textContent = message ?? "";
        return null;
      },
    },
  });
  editor.frames.push({ frame, kind: "field" });
}

/** Sends the editor's values to every sidebar element, as the person types. */
function pushValues() {
  for (const { frame, kind } of editor.frames) {
    if (kind !== "sidebar") continue;
    const context = frame.context;
    frame.setContext({ ...context, element: { ...context.element, values: { ...editor.values } } });
  }
}

function valueText(value, type) {
  if (value === null || value === undefined) return "";
  return type === "json" ? JSON.stringify(value) : String(value);
}

function parseInput(text, type) {
  if (text === "") return null;
  if (type === "number") return Number(text);
  if (type === "boolean") return text === "true";
  if (type === "json") {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

async function saveEntry() {
  const problems = Object.entries(editor.invalid);
  if (problems.length) {
    throw new Error(`Not saved: ${problems.map(([field, message]) => `${field}: ${message}`).join("; ")}`);
  }
  const saved = editor.entry
    ? await content("PUT", `/${encodeURIComponent(editor.entry.id)}`, editor.values)
    : await content("POST", "", editor.values);
  studio.toast(`Entry ${saved.id} saved`, "success");
  await openModel(editor.environment, editor.model);
  await openEntry(saved.id);
}

function closeEntry() {
  for (const { frame } of editor.frames) frame.destroy();
  editor.frames = [];
  editor.entry = null;
  editor.invalid = {};
  $("#entry-panel").hidden = true;
  $("#entry-fields").replaceChildren();
  $("#entry-sidebar").replaceChildren();
}
