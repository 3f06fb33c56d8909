// A page element: the app's own page in the platform's navigation. It opens
// the palette dialog, moves the platform to the content editor and asks
// the person before doing something.
import { connect, shown } from "./shared.js";

const $ = (id) => document.getElementById(id);
try {
  const app = await connect();
  const { project, environment } = app.context;
  $("where").textContent = `${project.name} / ${environment.name} — page ${app.element.apiId} at ${app.element.route}`;
  $("pick").addEventListener("click", async () => {
    const colour = await app.openDialog(new URL("/elements/dialog.html", location.origin).href, { title: "Palette", width: 360, height: 160 }).catch(shown);
    $("picked").textContent = colour ? `picked ${colour}` : "nothing picked";
  });
  $("to-content").addEventListener("click", () => app.navigate("/content/Post").catch(shown));
  $("ask").addEventListener("click", async () => {
    const yes = await app.confirm({ title: "Example app", message: "Go ahead?" }).catch(shown);
    $("picked").textContent = yes ? "confirmed" : "cancelled";
  });
} catch (e) {
  shown(e);
}
