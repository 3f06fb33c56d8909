// Every tally-sdk entry an app or an edge page imports, built by Vite: the
// build must finish without an error or a warning (tests/bundlers).
import { createRoot } from "react-dom/client";
import { init, isTallyError } from "tally-sdk";
import { Wrapper, useApp } from "tally-sdk/react";
import { createAppFrame } from "tally-sdk/parent";
import { loadVerifier, decide } from "tally-sdk/verifier";
import { loadGate } from "tally-sdk/gate";

function Page() {
  const { context } = useApp();
  return <p>{context.project.name}</p>;
}

window.tally = { init, isTallyError, createAppFrame, loadVerifier, decide, loadGate };
createRoot(document.getElementById("root")).render(
  <Wrapper>
    <Page />
  </Wrapper>,
);
