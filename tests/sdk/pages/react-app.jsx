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
      <button id="complete" onClick={() => updateInstallation({ status: "COMPLETED" })}>Complete</button>
    </main>
  );
}

const q = new URLSearchParams(location.search);
createRoot(document.getElementById("root")).render(
  <Wrapper
    parentOrigin={q.get("parent")}
    timeoutMs={Number(q.get("timeout") ?? 5000)}
    fallback={<p id="waiting">Connecting…</p>}
    errorFallback={(error) => <p id="failed">{error.code}</p>}
  >
    <Page />
  </Wrapper>,
);
