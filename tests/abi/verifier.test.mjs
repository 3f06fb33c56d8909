// The verifier module in Node through the reference driver: the shared token
// vectors and verifier-core's decision table, which also run natively; the
// results must be the same expectations.
//
// node --test tests/abi/   (after verifier-core/build-module.sh)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { loadVerifier, VerifierError, ABI_VERSION } from "../../npm/src/verifier-abi.js";
import { encodeInput } from "../../npm/src/abi-codec.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const wasmPath = process.env.TALLY_VERIFIER_WASM ?? path.join(root, "target/tally-verifier.wasm");
const vectorsDir = process.env.TALLY_VECTORS ?? path.join(root, "../shared/vectors");

const json = async (p) => JSON.parse(await readFile(p, "utf8"));
const wasm = await readFile(wasmPath);
const vectors = await json(path.join(vectorsDir, "tokens.json"));
const table = await json(path.join(root, "verifier-core/tests/data/decisions.json"));
const verifier = await loadVerifier(wasm);

// Same merge rule as verifier-core/tests/common: one level deep, null removes.
function merged(c, key) {
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

test("the module speaks ABI version 3", () => {
  assert.equal(ABI_VERSION, 3);
});

test("valid vectors parse to their tokenId with every scheme spelling", () => {
  assert.ok(vectors.valid.length > 0);
  for (const v of vectors.valid) {
    for (const scheme of ["AppToken", "apptoken", "Bearer", "BEARER"]) {
      assert.deepEqual(verifier.parse(`${scheme} ${v.token}`), { tokenId: v.tokenId });
    }
  }
});

test("valid vectors verify against a record holding their hash", () => {
  for (const v of vectors.valid) {
    const decision = verifier.verify(v.header, {
      record: {
        tokenId: v.tokenId, secretHash: v.secretHashHex, kind: "PAT", name: "vector",
        grants: [{ api: "content", action: "read" }],
      },
      environment: null,
      request: { api: "content", action: "read", now: 0 },
    });
    assert.deepEqual(decision, { allow: true, reason: "allowed", principal: `token:${v.tokenId}`, masked: [] });
  }
});

test("invalid header vectors are refused with their reason", () => {
  assert.ok(vectors.invalidHeaders.length > 0);
  for (const v of vectors.invalidHeaders) {
    assert.deepEqual(verifier.parse(v.header), { reason: v.reason }, JSON.stringify(v.header));
  }
});

test("decision table through the wasm module", () => {
  assert.ok(table.cases.length >= 60);
  const failures = [];
  for (const c of table.cases) {
    const input = {
      record: c.noRecord ? null : merged(c, "record"),
      environment: c.noEnvironment ? null : merged(c, "environment"),
      request: merged(c, "request"),
    };
    const got = verifier.verify(merged(c, "header"), input);
    // Prepared, twice: the first call prepares the objects, the second uses them.
    const prepared = [0, 1].map(() => verifier.verifyPrepared(merged(c, "header"), input));
    for (const [how, d] of [["one-shot", got], ["prepared", prepared[0]], ["prepared again", prepared[1]]]) {
      try {
        assert.deepEqual(d, c.expect);
      } catch {
        failures.push(`${c.name} (${how}): expected ${JSON.stringify(c.expect)} got ${JSON.stringify(d)}`);
      }
    }
  }
  assert.deepEqual(failures, []);
});

test("prepared records: a changed record is a new object and is seen at once; eviction keeps memory bounded", () => {
  const v = vectors.valid[0];
  const record = { tokenId: v.tokenId, secretHash: v.secretHashHex, kind: "PAT", name: "n", grants: [{ api: "content", action: "read" }] };
  const input = (r) => ({ record: r, environment: null, request: { api: "content", action: "read", now: 0 } });
  assert.equal(verifier.verifyPrepared(v.header, input(record)).reason, "allowed");
  assert.equal(verifier.verifyPrepared(v.header, input({ ...record, revoked: true })).reason, "revoked");
  assert.equal(verifier.verifyPrepared(v.header, input(record)).reason, "allowed");
  // Far more distinct records than are kept: the oldest are released.
  for (let i = 0; i < 300; i++) verifier.verifyPrepared(v.header, input({ ...record, name: `n${i}` }));
  const before = verifier.x.memory.buffer.byteLength;
  for (let i = 0; i < 5000; i++) {
    const d = verifier.verifyPrepared(v.header, input({ ...record, name: `n${i}`.repeat(20) }));
    assert.equal(d.reason, "allowed");
  }
  assert.equal(verifier.x.memory.buffer.byteLength, before);
  // A value the encoder refuses is bad_input, and nothing is kept of it.
  assert.throws(
    () => verifier.verifyPrepared(v.header, input({ ...record, kind: "ROOT" })),
    (e) => e instanceof VerifierError && e.code === "bad_input",
  );
});

const request = { api: "content", action: "read", now: 1 };

test("unreadable input is a bad_input error from the module, never a decision", () => {
  const good = encodeInput({ request });
  const bad = [new Uint8Array(), new Uint8Array([0xff, 0xff, 0xff]), good.slice(0, -1), new Uint8Array([...good, 0])];
  for (const input of bad) {
    assert.throws(
      () => verifier.verifyBytes(new Uint8Array(), input),
      (e) => e instanceof VerifierError && e.code === "bad_input",
    );
  }
  assert.equal(verifier.verifyBytes(new Uint8Array(), good).reason, "missing_credentials");
});

test("the encoder refuses what the Rust types refuse: unknown fields, bad names, wrong types", () => {
  const record = { tokenId: "630dcd2966c43366", secretHash: "00".repeat(32), kind: "APP", name: "n", grants: [] };
  const bad = [
    { request: { ...request, ipAllow: "x" } },
    { request: { ...request, action: "re ad" } },
    { request: { ...request, now: 1.5 } },
    { request: { ...request, api: "graphql" } },
    { record: { ...record, grants: [{ api: "content", action: "read", ipAllow: ["1.2.3.4"] }] }, request },
    { record: { ...record, grants: [{ api: "content", action: "read", models: "Post" }] }, request },
    { record: { ...record, tokenId: "630DCD2966C43366" }, request },
    { record: { ...record, kind: "ROOT" }, request },
    { record: { ...record, revoked: "no" }, request },
    { environment: { id: "m", publicGrants: [{ api: "content", action: "read", condition: { a: 1 } }] }, request },
  ];
  for (const input of bad) {
    assert.throws(() => verifier.verify("", input), (e) => e instanceof VerifierError && e.code === "bad_input", JSON.stringify(input));
  }
});

test("large and negative times cross the boundary intact", () => {
  const v = vectors.valid[0];
  const record = { tokenId: v.tokenId, secretHash: v.secretHashHex, kind: "PAT", name: "n", grants: [{ api: "content", action: "read" }] };
  for (const [now, expiresAt, reason] of [
    [-5, -4, "allowed"], [-4, -4, "expired"], [2 ** 53 - 2, 2 ** 53 - 1, "allowed"],
    [9223372036854775806n, 9223372036854775807n, "allowed"], [-9223372036854775808n, -9223372036854775807n, "allowed"],
  ]) {
    const d = verifier.verify(v.header, { record: { ...record, expiresAt }, request: { ...request, now } });
    assert.equal(d.reason, reason, `${now} ${expiresAt}`);
  }
});

test("hostile headers never trap the module", () => {
  const samples = ["\u0000", "AppToken \u00ff\u00fe", "Bearer " + "a".repeat(5000), "AppToken .".repeat(100), "🙂 🙂"];
  for (const h of samples) {
    const out = verifier.parse(h);
    assert.ok("reason" in out, JSON.stringify(out));
    assert.equal(out.reason, "malformed");
  }
  // Invalid UTF-8 straight into memory.
  const d = verifier.verifyBytes(new Uint8Array([0xff, 0xfe, 0x20]), encodeInput({ request }));
  assert.deepEqual(d, { allow: false, reason: "malformed", masked: [] });
});

test("memory stays bounded over many calls (inputs and results are freed)", () => {
  const v = vectors.valid[0];
  const input = {
    record: { tokenId: v.tokenId, secretHash: v.secretHashHex, kind: "PAT", name: "n", grants: [{ api: "content", action: "read" }] },
    environment: null,
    request: { api: "content", action: "read", now: 0 },
  };
  for (let i = 0; i < 200; i++) verifier.verify(v.header, input);
  const before = verifier.x.memory.buffer.byteLength;
  for (let i = 0; i < 20000; i++) verifier.verify(v.header, input);
  assert.equal(verifier.x.memory.buffer.byteLength, before);
});

test("a module of another ABI version is refused", async () => {
  // A minimal module exporting abi_version() = 1 (the version before) and the
  // rest of the names.
  const wat = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
    0x03, 0x02, 0x01, 0x00, // one function of type 0
    0x05, 0x03, 0x01, 0x00, 0x01, // memory 1 page
    0x07, 0x78, 0x06, // exports section: 6 exports
    0x06, ...new TextEncoder().encode("memory"), 0x02, 0x00,
    0x0b, ...new TextEncoder().encode("abi_version"), 0x00, 0x00,
    0x0b, ...new TextEncoder().encode("tally_alloc"), 0x00, 0x00,
    0x0d, ...new TextEncoder().encode("tally_dealloc"), 0x00, 0x00,
    0x0b, ...new TextEncoder().encode("tally_parse"), 0x00, 0x00,
    0x0c, ...new TextEncoder().encode("tally_verify"), 0x00, 0x00,
    0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x01, 0x0b, // code: i32.const 1
  ]);
  // Fix the export section size to the bytes actually written.
  const start = wat.indexOf(0x07, 20);
  const end = wat.length - 8;
  wat[start + 1] = end - (start + 2);
  await assert.rejects(loadVerifier(wat), (e) => e instanceof VerifierError && e.code === "abi_version");
});
