// A sidebar element beside an entry: counts the words of its text fields,
// live, as the editor types (the platform pushes the values).
import { connect, shown } from "./shared.js";

const $ = (id) => document.getElementById(id);
const words = (text) => (text.match(/\S+/g) ?? []).length;

function show(values) {
  const texts = Object.entries(values).filter(([, v]) => typeof v === "string" && !/^#[0-9a-f]{6}$/i.test(v));
  const counts = texts.map(([field, text]) => [field, words(text)]);
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  $("counts").textContent = `${total} ${total === 1 ? "word" : "words"}`;
  $("per-field").replaceChildren(...counts.map(([field, n]) => Object.assign(document.createElement("li"), { textContent: `${field}: ${n}` })));
}

try {
  const app = await connect();
  show(app.element.values);
  app.onContextChange((context) => show(context.element.values));
} catch (e) {
  shown(e);
}
