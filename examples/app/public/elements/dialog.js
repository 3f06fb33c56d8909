// A dialog: a palette whose choice goes back to whoever opened it.
import { connect, shown } from "./shared.js";

const COLOURS = ["#1e90ff", "#ff6347", "#2e8b57", "#ffd700"];

try {
  const app = await connect();
  document.getElementById("palette").replaceChildren(...COLOURS.map((colour) => {
    const button = Object.assign(document.createElement("button"), { type: "button", textContent: colour, className: "swatch" });
    button.dataset.colour = colour;
    button.style.background = colour;
    button.addEventListener("click", () => app.closeDialog(colour).catch(shown));
    return button;
  }));
  document.getElementById("cancel").addEventListener("click", () => app.closeDialog(null).catch(shown));
} catch (e) {
  shown(e);
}
