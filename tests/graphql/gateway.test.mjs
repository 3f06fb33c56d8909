// The GraphQL content gateway (`/v2/{project}/{environment}`) of a real
// `tally serve --upstream`, in front of the example GraphQL content API
// (graphql-yoga: Post { id, ownerId, title, internalNotes }, stages, `where`
// with AND/OR) — once as it is, once ignoring `where` (IGNORE_WHERE=1), as
// a careless upstream would. Every part is a real process on loopback.
//
//   cargo build -p tally && (cd examples/graphql-content-api && npm ci)
//   node --test tests/graphql/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { start } from "../support/processes.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tallyBin = process.env.TALLY_BIN ?? path.join(root, "target/debug/tally");
const upstreamScript = path.join(root, "examples/graphql-content-api/server.mjs");

const processes = [];
const dirs = [];
let admin;

/** A tally in front of a fresh content API; `{ base, upstream, api, token }`. */
async function gateway({ ignoreWhere = false } = {}) {
  const upstream = start("content-api", process.execPath, [upstreamScript], { env: { PORT: "0", IGNORE_WHERE: ignoreWhere ? "1" : "0" } });
  processes.push(upstream);
  const origin = (await upstream.waitFor(/example GraphQL content API on (http:\/\/\S+)/))[1];
  const dataDir = await mkdtemp(path.join(tmpdir(), "tally-graphql-"));
  dirs.push(dataDir);
  const tally = start("tally", tallyBin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--upstream", origin], { env: { RUST_LOG: "warn" } });
  processes.push(tally);
  const adminToken = (await tally.waitFor(/admin token: (AppToken \S+)/, 120_000))[1];
  const base = (await tally.waitFor(/listening on (http:\/\/\S+)/))[1];
  const api = async (method, p, body, token = adminToken) => {
    const response = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: token, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  };
  assert.equal((await api("POST", "/v1/projects", { id: "blog", name: "Blog" })).status, 201);
  assert.equal((await api("POST", "/v1/projects/blog/environments", { id: "master", name: "Master" })).status, 201);
  const post = { apiIdPlural: "Posts", ownerField: "ownerId", sensitiveFields: ["internalNotes"] };
  assert.equal((await api("PUT", "/v1/environments/master/models/Post", post)).status, 201);
  assert.equal((await api("PUT", "/v1/environments/master/models/Author", { apiIdPlural: "Authors" })).status, 201);
  const token = async (grants) => {
    const made = await api("POST", "/v1/tokens", { kind: "PAT", name: "t", environmentId: "master", grants });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return `Bearer ${made.body.token}`;
  };
  admin = adminToken;
  return { base, upstream, api, token };
}

/** Posts a GraphQL request; `{ status, body, reason }`. */
async function gql(g, authorization, query, variables = {}, headers = {}) {
  const response = await fetch(`${g.base}/v2/blog/master`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.json(), reason: response.headers.get("x-tally-reason") };
}

/** The operations the upstream ran, oldest first. */
const ran = (g) => g.upstream.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

/**
 * `ran(g)` once the upstream's log has caught up: its lines come on another
 * pipe than its answers, so an answer can be in before the line that logs it.
 */
async function settled(g) {
  let seen = -1;
  for (let i = 0; i < 40 && ran(g).length !== seen; i++) {
    seen = ran(g).length;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return ran(g);
}

const OWN_POSTS = [
  { api: "content", action: "read", models: ["Post"], stages: ["PUBLISHED"], condition: { ownerId: "user:1" } },
  { api: "content", action: "create", models: ["Post"], condition: { ownerId: "user:1" } },
  { api: "content", action: "update", models: ["Post"], condition: { ownerId: "user:1" } },
];

after(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

for (const ignoreWhere of [false, true]) {
  describe(ignoreWhere ? "an upstream that ignores where" : "an upstream that applies where", () => {
    let g, own;
    before(async () => {
      g = await gateway({ ignoreWhere });
      own = await g.token(OWN_POSTS);
    });

    test("a token sees only its own posts, in lists, connections and single reads", async () => {
      const r = await gql(g, own, "{ posts { id ownerId } postsConnection { edges { node { id } } } mine: post(where: {id: \"p1\"}) { id } theirs: post(where: {id: \"p2\"}) { id } }");
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.data.posts, [{ id: "p1", ownerId: "user:1" }]);
      assert.deepEqual(r.body.data.postsConnection.edges, [{ node: { id: "p1" } }]);
      assert.deepEqual(r.body.data.mine, { id: "p1" });
      assert.equal(r.body.data.theirs, null);
      const last = (await settled(g)).at(-1);
      assert.match(last.query, /posts\(where: \{AND: \[\{OR: \[\{ownerId: "user:1"\}\]\}\]\}\)/);
      assert.equal(last.authorization, null, "credentials never reach the upstream");
      assert.match(last.principal, /^token:/);
    });
  });
}

describe("masking, stages, smuggling, writes and hostile documents", () => {
  let g, own, unmasking, everything;
  before(async () => {
    g = await gateway();
    own = await g.token(OWN_POSTS);
    unmasking = await g.token([{ api: "content", action: "read", models: ["Post"], unmask: ["internalNotes"] }]);
    everything = await g.token([{ api: "content", action: "read" }]);
  });

  test("internalNotes is null unless unmasked, under any alias, through fragments", async () => {
    const query = "{ posts { id internalNotes ...F } } fragment F on Post { secret: internalNotes }";
    const masked = await gql(g, everything, query);
    assert.equal(masked.status, 200);
    assert.deepEqual(masked.body.data.posts[0], { id: "p1", internalNotes: null, secret: null });
    assert.deepEqual(masked.body.extensions.masked.sort(), ["posts.internalNotes", "posts.secret"]);
    const seen = await gql(g, unmasking, query);
    assert.equal(seen.body.data.posts[0].internalNotes, "n1");
    assert.equal(seen.body.extensions, undefined);
  });

  test("a DRAFT read with a PUBLISHED-only grant is denied however the stage is given", async () => {
    for (const [query, variables, headers] of [
      ["{ posts(stage: DRAFT) { id } }", {}, {}],
      ["query($s: Stage) { posts(stage: $s) { id } }", { s: "DRAFT" }, {}],
      ["{ posts { id } }", {}, { "x-tally-stage": "DRAFT" }],
    ]) {
      const r = await gql(g, own, query, variables, headers);
      assert.equal(r.status, 403, query);
      assert.equal(r.reason, "not_granted");
      assert.equal(r.body.errors[0].extensions.reason, "not_granted");
      assert.deepEqual(r.body.errors[0].extensions.path, ["posts"]);
    }
  });

  test("a repeated operation is remembered, and a revocation or a registry change is seen on the next request", async () => {
    const memoHits = async () => {
      const text = await (await fetch(`${g.base}/metrics`)).text();
      return Number(text.match(/^tally_verify_memo_hits_total (\d+)$/m)[1]);
    };
    const query = "{ posts { id internalNotes } }";
    // The memo keeps an operation for the second it was decided in: retry
    // until two requests share one, so what follows meets a remembered
    // operation.
    let auth, made;
    for (let attempt = 0; attempt < 10; attempt++) {
      made = await g.api("POST", "/v1/tokens", { kind: "PAT", name: "t", environmentId: "master", grants: [{ api: "content", action: "read" }] });
      auth = `Bearer ${made.body.token}`;
      assert.equal((await gql(g, auth, query)).status, 200);
      const before = await memoHits();
      const again = await gql(g, auth, query);
      assert.equal(again.status, 200);
      assert.equal(again.body.data.posts[0].internalNotes, null);
      if ((await memoHits()) > before) break;
    }
    // The model no longer sensitive: the next request shows the field.
    const post = { apiIdPlural: "Posts", ownerField: "ownerId", sensitiveFields: [] };
    assert.equal((await g.api("PUT", "/v1/environments/master/models/Post", post)).status, 200);
    assert.equal((await gql(g, auth, query)).body.data.posts[0].internalNotes, "n1");
    post.sensitiveFields = ["internalNotes"];
    assert.equal((await g.api("PUT", "/v1/environments/master/models/Post", post)).status, 200);
    assert.equal((await gql(g, auth, query)).body.data.posts[0].internalNotes, null);
    assert.equal((await gql(g, auth, query)).status, 200);
    // Revoked: the very next request is refused.
    assert.equal((await g.api("DELETE", `/v1/tokens/${made.body.tokenId}`)).status, 200);
    const refused = await gql(g, auth, query);
    assert.equal(refused.status, 401);
    assert.equal(refused.reason, "revoked");
  });

  test("aliases and fragments cannot smuggle a second model", async () => {
    const before = ran(g).length;
    for (const query of [
      "{ posts { id } a: authors { id } }",
      "{ posts { id } ... on Query { authors { id } } }",
      "{ posts { id } ...A } fragment A on Query { x: authors { id } }",
    ]) {
      const r = await gql(g, own, query);
      assert.equal(r.status, 403, query);
      assert.equal(r.body.errors[0].extensions.reason, "not_granted", query);
    }
    const unknown = await gql(g, everything, "{ comments { id } }");
    assert.equal(unknown.body.errors[0].extensions.reason, "unknown_field");
    assert.equal((await settled(g)).length, before, "nothing denied reached the upstream");
  });

  test("writes: creates must be the caller's, masked fields cannot be written, others' rows cannot be changed", async () => {
    const create = (data) => gql(g, own, "mutation($d: PostCreateInput!) { createPost(data: $d) { id ownerId } }", { d: data });
    assert.equal((await create({ title: "x", ownerId: "user:2" })).status, 403);
    const mine = await create({ title: "mine", ownerId: "user:1" });
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    assert.equal(mine.body.data.createPost.ownerId, "user:1");
    const sneaky = await create({ title: "x", ownerId: "user:1", internalNotes: "psst" });
    assert.equal(sneaky.body.errors[0].extensions.reason, "masked_field");

    const before = ran(g).length;
    const update = (id) => gql(g, own, `mutation { updatePost(where: {id: "${id}"}, data: {title: "changed"}) { id title } }`);
    const theirs = await update("p2");
    assert.equal(theirs.status, 403);
    assert.equal(theirs.body.errors[0].extensions.reason, "not_your_row");
    assert.ok(!(await settled(g)).slice(before).some((op) => op.query.includes("updatePost")), "the update never reached the upstream");
    const ok = await update("p1");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.data.updatePost.title, "changed");
  });

  test("hostile documents are refused within the limits, and the next request is served", async () => {
    const deep = `{ posts { ${"a { ".repeat(40)}b${" }".repeat(40)} } }`;
    assert.equal((await gql(g, everything, deep)).body.errors[0].extensions.reason, "document_too_deep");
    const aliases = `{ posts { ${Array.from({ length: 10_000 }, (_, i) => `a${i}:id`).join(" ")} } }`;
    const many = await gql(g, everything, aliases);
    assert.equal(many.status, 400);
    assert.ok(["too_many_aliases", "document_too_large"].includes(many.body.errors[0].extensions.reason));
    const huge = await gql(g, everything, `{ posts(where: {title: "${"x".repeat(200_000)}"}) { id } }`);
    assert.equal(huge.body.errors[0].extensions.reason, "document_too_large");
    let bomb = "{ posts { ...F0 } }";
    for (let i = 0; i < 14; i++) bomb += ` fragment F${i} on Post { id ...F${i + 1} ...F${i + 1} }`;
    bomb += " fragment F14 on Post { id }";
    assert.equal((await gql(g, everything, bomb)).status, 400);
    const fine = await gql(g, everything, "{ posts { id } }");
    assert.equal(fine.status, 200);
  });

  test("GET runs queries, not mutations; no credentials is 401 in GraphQL's shape", async () => {
    const q = new URLSearchParams({ query: "{ posts { id } }" });
    const got = await fetch(`${g.base}/v2/blog/master?${q}`, { headers: { authorization: everything } });
    assert.equal(got.status, 200);
    assert.equal((await got.json()).data.posts.length, 2);
    const m = new URLSearchParams({ query: "mutation { createPost(data: {title: \"x\"}) { id } }" });
    assert.equal((await fetch(`${g.base}/v2/blog/master?${m}`, { headers: { authorization: everything } })).status, 405);
    const anonymous = await gql(g, null, "{ posts { id } }");
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.errors[0].extensions.reason, "missing_credentials");
    const elsewhere = await fetch(`${g.base}/v2/other/master`, { method: "POST", headers: { authorization: everything, "content-type": "application/json" }, body: JSON.stringify({ query: "{ posts { id } }" }) });
    assert.equal(elsewhere.status, 404);
  });
});
