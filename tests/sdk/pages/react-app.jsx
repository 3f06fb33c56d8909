// The React bindings in a real app frame: <Wrapper> with fallbacks, useApp().
import { createRoot } from "react-dom/client";
import { Wrapper, useApp } from "tally-sdk/react";

function Page() {
  const { context, installation, updateInstallation } = useApp();
  return (
    <main>
      <h1 id="project">{context.project.name}</h1>
      <p id="environment">{context.environment.name}</p>
      <p id="installation-status">{installation.status}</p>
      <p id="token">{context.environment.authToken}</p>
      <button id="complete" onClick={() => updateInstallation({ status: "COMPLETED" })}>Complete</button>
    </main>
  );
}

// ?parent=<origin> pins it (else learned); ?default-error=1 leaves
// errorFallback to Wrapper's default.
const q = new URLSearchParams(location.search);
const props = {
  timeoutMs: Number(q.get("timeout") ?? 5000),
  fallback: <p id="waiting">Connecting…</p>,
};
if (q.get("parent")) props.parentOrigin = q.get("parent");
if (!q.get("default-error")) props.errorFallback = (error) => <p id="failed">{error.code}</p>;
createRoot(document.getElementById("root")).render(
  <Wrapper {...props}>
    <Page />
  </Wrapper>,
);
