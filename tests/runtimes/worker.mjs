// A Worker (module syntax) that runs the verifier's known answers with the
// `tally-sdk/verifier` Workers entry: `loadVerifier()` with no argument,
// the module imported as a compiled WebAssembly.Module. Bundled by the test
// with esbuild's `workerd` condition and run under Miniflare (workerd).
import { loadVerifier } from "tally-sdk/verifier";
import { loadGate } from "tally-sdk/gate";

import { conformance } from "./conformance.mjs";
import table from "../../verifier-core/tests/data/decisions.json";
import vectors from "../../../shared/vectors/tokens.json";

export default {
  async fetch() {
    const verifier = await loadVerifier();
    const result = conformance(verifier, vectors, table);
    // The gate loads too, and plans a request.
    const gate = await loadGate();
    const planned = gate.plan({
      request: { query: "{ posts { id } }" },
      environment: { id: "master", models: [{ apiId: "Post", apiIdPlural: "Posts" }] },
      options: { now: 1 },
    });
    return Response.json({ ...result, gateChecks: planned.checks?.length ?? 0 });
  },
};
