// The app's main page: asks the app backend to create a model in the
// platform's content API. The backend calls it with the app token it kept.
import { init } from "tally-sdk";

const $ = (id) => document.getElementById(id);
const { parentOrigin, edge } = await (await fetch("/config.json")).json();
if (!edge) $("via").querySelector("[value=edge]").disabled = true;

try {
  const app = await init({ parentOrigin });
  window.tallyApp = app;
  const { project, environment, installation, user } = app.context;
  $("where").textContent =
    `${project.name} / ${environment.name} — installation ${installation.status} — for ${user.name} (${user.id})`;
  $("model-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("error").textContent = "";
    const response = await fetch("/api/models", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ environmentId: environment.id, name: $("model-name").value, via: $("via").value }),
    });
    const answer = await response.json();
    $("result").dataset.status = String(response.status);
    $("result").textContent = response.ok
      ? `${answer.via}: ${response.status} created model ${answer.name} (${answer.id})`
      : `${answer.via ?? "app"}: ${response.status} ${answer.reason ?? ""} ${answer.message ?? ""}`.trim();
  });
} catch (e) {
  $("error").textContent = `${e.code}: ${e.message}`;
}
