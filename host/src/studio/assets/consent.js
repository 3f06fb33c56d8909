// The consent page of a connected app: asks the server what the app wants
// (the authorization request is this page's query) and sends the person's
// answer; the server says where the browser goes next. Content is set as
// text, never as HTML.
const $ = (selector) => document.querySelector(selector);
const headers = { "x-tally-studio": "1" };
const grantText = (g) => `${g.api} ${g.action}${Array.isArray(g.models) ? ` on ${g.models.join(", ")}` : ""}`;

function problem(message) {
  $("#problem").textContent = message;
  $("#problem").hidden = false;
  $("#question").hidden = true;
}

async function answer(approve) {
  const response = await fetch("/studio/oauth/consent", {
    method: "POST",
    credentials: "same-origin",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ query: location.search, environmentId: $("#environment").value || undefined, approve }),
  });
  const data = await response.json();
  if (data.redirect) location.assign(data.redirect);
  else problem(data.message ?? `HTTP ${response.status}`);
}

async function start() {
  const response = await fetch(`/studio/oauth/request${location.search}`, { credentials: "same-origin", headers });
  const data = await response.json();
  if (response.status === 401) {
    // With an OpenID provider, signing in comes back to this very page.
    const session = await (await fetch("/studio/session", { credentials: "same-origin" })).json();
    if (session.signIn?.oidc) {
      $("#sign-in-link").href = `/studio/oidc/login?return=${encodeURIComponent(location.pathname + location.search)}`;
      $("#sign-in-here").hidden = false;
    } else {
      $("#retry").href = location.href;
      $("#sign-in-first").hidden = false;
    }
    return;
  }
  if (data.redirect) return location.assign(data.redirect);
  if (!response.ok) return problem(data.message ?? `HTTP ${response.status}`);
  $("#app-name").textContent = data.app.name;
  $("#app-name-2").textContent = data.app.name;
  $("#client-id").textContent = data.app.clientId;
  $("#redirect").textContent = data.redirectUri;
  $("#grants").replaceChildren(...data.grants.map((g) => Object.assign(document.createElement("li"), { textContent: grantText(g) })));
  const select = $("#environment");
  select.replaceChildren(...data.environments.map((e) => Object.assign(document.createElement("option"), { value: e.id, textContent: `${e.name} (${e.projectId})` })));
  const shown = () => {
    const chosen = data.environments.find((e) => e.id === select.value);
    $("#environment-grants").textContent = chosen ? chosen.grants.map(grantText).join("; ") : "nothing";
  };
  select.addEventListener("change", shown);
  shown();
  $("#allow").disabled = data.environments.length === 0;
  if (data.environments.length === 0) $("#environment-grants").textContent = "nothing: you have no role where it could act";
  $("#question").hidden = false;
}

$("#allow").addEventListener("click", () => answer(true).catch((e) => problem(e.message)));
$("#deny").addEventListener("click", () => answer(false).catch((e) => problem(e.message)));
start().catch((e) => problem(e.message));
