// What every element page of the example app does first: learn the
// platform's origin from the app server and connect, sized to its content.
import { init } from "tally-sdk";

export async function connect() {
  const { parentOrigin } = await (await fetch("/config.json")).json();
  const app = await init({ parentOrigin });
  app.autoResize();
  return app;
}

export function shown(error) {
  document.getElementById("error").textContent = `${error.code ?? "error"}: ${error.message}`;
}
