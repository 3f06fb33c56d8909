// The verifier's known answers, runnable in any JavaScript runtime (no
// imports of its own): the shared token vectors and verifier-core's
// decision table, through a Verifier from `tally-sdk/verifier`. Returns the
// failures (none passes) and how many checks ran.

// Same merge rule as verifier-core/tests/common: one level deep, null removes.
function merged(table, c, key) {
  const base = table.base[key];
  if (!(key in c)) return structuredClone(base);
  const over = c[key];
  if (base && typeof base === "object" && over && typeof over === "object" && !Array.isArray(over)) {
    const out = structuredClone(base);
    for (const [k, v] of Object.entries(over)) {
      if (v === null) delete out[k];
      else out[k] = v;
    }
    return out;
  }
  return over;
}

/** A stable text of a JSON value (keys sorted), for comparing decisions. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * @param {import("tally-sdk/verifier").Verifier} verifier
 * @param {{ valid: object[], invalidHeaders: object[] }} vectors
 * @param {{ base: object, cases: object[] }} table
 * @returns {{ checks: number, failures: string[] }}
 */
export function conformance(verifier, vectors, table) {
  const failures = [];
  let checks = 0;
  const expect = (what, got, want) => {
    checks++;
    if (canonical(got) !== canonical(want)) failures.push(`${what}: expected ${canonical(want)}, got ${canonical(got)}`);
  };
  for (const v of vectors.valid) {
    for (const scheme of ["AppToken", "apptoken", "Bearer", "BEARER"]) {
      expect(`parse ${scheme} ${v.tokenId}`, verifier.parse(`${scheme} ${v.token}`), { tokenId: v.tokenId });
    }
    const record = { tokenId: v.tokenId, secretHash: v.secretHashHex, kind: "PAT", name: "vector", grants: [{ api: "content", action: "read" }] };
    const decision = verifier.verify(v.header, { record, environment: null, request: { api: "content", action: "read", now: 0 } });
    expect(`verify ${v.tokenId}`, decision, { allow: true, reason: "allowed", principal: `token:${v.tokenId}`, masked: [] });
  }
  for (const v of vectors.invalidHeaders) expect(`invalid ${JSON.stringify(v.header)}`, verifier.parse(v.header), { reason: v.reason });
  for (const c of table.cases) {
    const input = {
      record: c.noRecord ? null : merged(table, c, "record"),
      environment: c.noEnvironment ? null : merged(table, c, "environment"),
      request: merged(table, c, "request"),
    };
    expect(c.name, verifier.verify(merged(table, c, "header"), input), c.expect);
    expect(`${c.name} (prepared)`, verifier.verifyPrepared(merged(table, c, "header"), input), c.expect);
  }
  return { checks, failures };
}
