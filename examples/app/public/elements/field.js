// A field element for colour fields: a swatch, its hex value and a palette
// dialog. A hex value that is not #rrggbb marks the field invalid (the
// editor will not save) instead of being sent.
import { connect, shown } from "./shared.js";

const $ = (id) => document.getElementById(id);
const COLOUR = /^#[0-9a-fA-F]{6}$/;

try {
  const app = await connect();
  const show = (value) => {
    $("hex").value = value ?? "";
    if (COLOUR.test(value ?? "")) $("swatch").value = value.toLowerCase();
  };
  const take = async (value) => {
    if (!COLOUR.test(value)) return app.setInvalid(`${value || "nothing"} is not a colour like #1e90ff`);
    await app.setInvalid(null);
    await app.setValue(value.toLowerCase());
  };
  show(app.element.value);
  $("hex").readOnly = $("swatch").disabled = app.element.isReadOnly;
  $("swatch").addEventListener("input", () => {
    $("hex").value = $("swatch").value;
    take($("swatch").value).catch(shown);
  });
  $("hex").addEventListener("input", () => {
    if (COLOUR.test($("hex").value)) $("swatch").value = $("hex").value.toLowerCase();
    take($("hex").value).catch(shown);
  });
  $("pick").addEventListener("click", async () => {
    const colour = await app.openDialog(new URL("/elements/dialog.html", location.origin).href, { title: "Palette", width: 360, height: 160 });
    if (colour) {
      show(colour);
      await take(colour);
    }
  });
} catch (e) {
  shown(e);
}
