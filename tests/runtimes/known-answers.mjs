// The verifier's known answers through `tally-sdk/verifier`'s own entry for
// the runtime that runs this file (Node, Deno, Bun: each picks its export
// condition), with `loadVerifier()` taking no argument; and the gate loads.
// Prints the result as one JSON line. Run with no permission in Deno.
import { loadVerifier } from "tally-sdk/verifier";
import { loadGate } from "tally-sdk/gate";

import { conformance } from "./conformance.mjs";
import table from "../../verifier-core/tests/data/decisions.json" with { type: "json" };
import vectors from "../../../shared/vectors/tokens.json" with { type: "json" };

const result = conformance(await loadVerifier(), vectors, table);
const gate = await loadGate();
const planned = gate.plan({
  request: { query: "{ posts { id } }" },
  environment: { id: "master", models: [{ apiId: "Post", apiIdPlural: "Posts" }] },
  options: { now: 1 },
});
console.log(JSON.stringify({ ...result, gateChecks: planned.checks?.length ?? 0 }));
