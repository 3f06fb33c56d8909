// The setup page: the platform opens it with ?code= while the installation is
// pending. "Connect" has the app backend exchange the code (the token stays
// on the backend), then completes the installation.
import { init } from "tally-sdk";

const $ = (id) => document.getElementById(id);
const { parentOrigin } = await (await fetch("/config.json")).json();

function show(app) {
  const { project, environment, installation } = app.context;
  $("where").textContent = `${project.name} / ${environment.name}`;
  if (installation.status === "COMPLETED") {
    $("status").textContent = "Connected";
    $("connect").hidden = true;
    $("open").hidden = false;
  } else if (app.setupCode()) {
    $("status").textContent = "Ready to connect";
    $("connect").hidden = false;
  } else {
    $("status").textContent = "No setup code: reinstall the app from the platform.";
  }
}

try {
  const app = await init({ parentOrigin });
  window.tallyApp = app;
  show(app);
  app.onContextChange(() => show(app));
  $("connect").addEventListener("click", async () => {
    $("connect").disabled = true;
    $("error").textContent = "";
    try {
      await app.exchangeSetupCode();
      await app.updateInstallation({ status: "COMPLETED" });
      await app.showToast({ message: "Example app connected", variant: "success" });
      show(app);
    } catch (e) {
      $("error").textContent = `${e.code}: ${e.message}`;
      $("connect").disabled = false;
    }
  });
} catch (e) {
  $("status").textContent = "Not connected";
  $("error").textContent = `${e.code}: ${e.message}`;
}
