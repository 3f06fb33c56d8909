// An edge worker with a fetch-style handler: it decides every request to
// /v1/content/{environment}/{model}[/{id}] locally with the tally-sdk
// verifier — the same .wasm the tally host runs — and forwards allowed ones
// to the content API. Token records come from the authority in one of two
// ways:
//   - on demand (default): GET /v1/records/{tokenId} and
//     GET /v1/environments/{e}/record, cached for at most `cacheTtlMs`, so a
//     revocation reaches this worker within that bound;
//   - `follow: true`: a replica of every record, loaded from the snapshot
//     (GET /v1/records/snapshot, page by page) and kept current by the
//     record feed from the snapshot's cursor (GET /v1/records?after=&wait=25,
//     long-polled), so no request waits on the authority and a revocation
//     arrives as soon as it is committed.
// Either way the token needs the management `admin` or `replica` grant.
// Where no loop may outlive a request (Workers), `loop: false` and `poll()`
// on every request keep one long poll of the feed going (workers.mjs).
//
// GraphQL content requests to /v2/{project}/{environment} go through the
// gate module (tally-sdk/gate, the code the host's /v2 gateway runs
// natively): every root field checked with the verifier, the caller's row
// conditions written into the forwarded document, one-row writes preceded
// by a preflight query, masked fields nulled in the answer — the same
// answers the host gives.
// Denials are 401/403 with { message, reason } (and X-Tally-Reason), as the
// gateway answers. A decision that limits rows or masks fields is held as
// the gateway holds it: only the caller's rows answered, masked fields
// removed, writes checked (the gate module's REST rules). Targets are read and headers forwarded by the gateway's
// rules (rules.mjs): ambiguous targets are 400 ambiguous_request, and the
// caller's credentials and X-Tally-* headers never reach the upstream.
import { METHOD_ACTIONS, decide, httpStatus, loadVerifier } from "tally-sdk/verifier";
import { loadGate } from "tally-sdk/gate";

import { Ambiguous, CONTENT_PREFIX, forwardHeaders, readTarget, stripHopByHop } from "./rules.mjs";


const json = (status, body, headers = {}) => {
  const extra = { "x-tally-reason": body.reason, ...(status === 401 ? { "www-authenticate": "AppToken, Bearer" } : {}) };
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...extra, ...headers } });
};

/** `/v2/{project}/{environment}`: GraphQL content. */
const GRAPHQL_PATH = /^\/v2\/([^/]+)\/([^/]+)$/;

/** An error in GraphQL's shape, as the host's gateway answers it. */
const gqlError = (status, reason, message) =>
  json(status, { errors: [{ message, extensions: { reason, path: [] } }] }, { "x-tally-reason": reason });

/** An upstream answer that is not JSON. */
class Unreadable extends Error {}

/** A gate denial: its status and GraphQL errors. */
const denied = ({ status, reason, body }) => json(status, body, { "x-tally-reason": reason });

/** A cache whose entries are at most `ttlMs` old. Errors are not kept; a not-found is, for the
 *  same bound, so made-up tokenIds cannot make every request reach the authority. */
function ttlCache(ttlMs, now) {
  const entries = new Map();
  return async (key, load) => {
    const hit = entries.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.value;
    const value = await load();
    entries.set(key, { value, at: now() });
    if (entries.size > 10_000) entries.delete(entries.keys().next().value);
    return value;
  };
}

/**
 * @param {{ authorityUrl: string, authorityToken: string, upstreamUrl?: string|null,
 *           cacheTtlMs?: number, verifier?: import("tally-sdk/verifier").Verifier, now?: () => number }} options
 * @returns {Promise<{ fetch(request: Request): Promise<Response> }>}
 */
export async function createWorker({ authorityUrl, authorityToken, upstreamUrl = null, cacheTtlMs = 5000, follow = false, loop = true, verifier, gate, now = Date.now }) {
  const wasm = verifier ?? (await loadVerifier());
  const gateway = gate ?? (await loadGate());
  const cached = ttlCache(cacheTtlMs, now);
  const authority = authorityUrl.replace(/\/+$/, "");
  const authorization = /\s/.test(authorityToken) ? authorityToken : `AppToken ${authorityToken}`;

  async function fromAuthority(path, signal) {
    const response = await fetch(`${authority}${path}`, { headers: { authorization }, signal });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`authority answered ${response.status} for ${path}`);
    return response.json();
  }

  // follow: true — the replica and the loop that keeps it current.
  const replica = { records: new Map(), environments: new Map(), cursor: 0 };
  const stop = new AbortController();
  async function readFeed(wait) {
    const page = await fromAuthority(`/v1/records?after=${replica.cursor}&limit=5000&wait=${wait}`, stop.signal);
    for (const change of page.changes) {
      if (change.record) replica.records.set(change.record.tokenId, change.record);
      if (change.environment) replica.environments.set(change.environment.id, change.environment);
    }
    replica.cursor = page.cursor;
    return page.changes.length;
  }
  // Every record as it is now, then the feed from the first page's cursor
  // (taken before any record was read, so nothing changed meanwhile is
  // missed). A page names each grant list once; records share it.
  async function loadSnapshot() {
    let page = await fromAuthority(`/v1/records/snapshot`, stop.signal);
    const cursor = page.cursor;
    for (const environment of page.environments ?? []) replica.environments.set(environment.id, environment);
    for (;;) {
      for (const { grantList, ...record } of page.records) {
        replica.records.set(record.tokenId, { ...record, grants: page.grantLists[grantList] });
      }
      if (!page.next) break;
      page = await fromAuthority(`/v1/records/snapshot?after=${page.next}`, stop.signal);
    }
    replica.cursor = cursor;
  }
  let ready = Promise.resolve();
  let polling = null;
  if (follow) {
    ready = (async () => {
      await loadSnapshot();
      while ((await readFeed(0)) > 0);
    })();
  }
  if (follow && loop) {
    ready
      .then(async () => {
        while (!stop.signal.aborted) {
          try {
            await readFeed(25);
          } catch (e) {
            if (stop.signal.aborted) return;
            console.warn(`record feed: ${e.message}; retrying in 1 s`);
            await new Promise((resolve) => setTimeout(resolve, 1000));
          }
        }
      })
      .catch(() => {});
  }
  const environmentOf = (id) =>
    follow ? replica.environments.get(id) ?? null : cached(`env:${id}`, () => fromAuthority(`/v1/environments/${encodeURIComponent(id)}/record`));
  const recordOf = (tokenId) =>
    follow ? replica.records.get(tokenId) ?? null : cached(`token:${tokenId}`, () => fromAuthority(`/v1/records/${tokenId}`));

  /**
   * A REST request whose decision limits rows or masks fields: the body
   * checked, a one-row write preceded by a read of the row, the answer read
   * as JSON and held (rows outside the caller's dropped, one such row 404,
   * masked fields removed). The host's proxy answers the same.
   */
  async function held(method, to, headers, body, decision, single) {
    const notFound = () => json(404, { message: "no such row", reason: "not_found" });
    const unreadable = () => json(502, { message: "the upstream's answer is not JSON; it cannot be held to the caller's rows and fields", reason: "unreadable_answer" });
    const readJson = async (answer) => {
      const text = await answer.text();
      if (text === "") return { ok: true, value: null };
      try {
        return { ok: true, value: JSON.parse(text) };
      } catch {
        return { ok: false };
      }
    };
    try {
      if (method === "POST" || method === "PUT" || method === "PATCH") {
        let written;
        try {
          written = JSON.parse(new TextDecoder().decode(body));
        } catch {
          return json(400, { message: "the body must be JSON: these credentials' rows and fields are checked in it", reason: "bad_request" });
        }
        const checked = gateway.restWrite(decision, written, method === "POST");
        if (checked.refused) return json(403, checked.refused);
      }
      const oneRowWrite = method === "PUT" || method === "PATCH" || method === "DELETE";
      if (oneRowWrite && decision.filter) {
        if (!single) return json(403, { message: "the credentials' rows are limited: write one row at a time (its path names it)", reason: "unenforceable_filter" });
        const readHeaders = new Headers(headers);
        readHeaders.delete("content-type");
        const found = await fetch(to, { method: "GET", headers: readHeaders });
        if (!found.ok) return notFound();
        const row = await readJson(found);
        if (!row.ok) return unreadable();
        if (gateway.restAnswer(decision, true, row.value).absent) return notFound();
      }
      // A HEAD of rows the caller may not see must not tell whether they exist.
      const head = method === "HEAD" && Boolean(decision.filter);
      const answer = await fetch(to, { method: head ? "GET" : method, headers, body });
      if (!answer.ok || (method === "HEAD" && !head)) {
        const answerHeaders = new Headers(answer.headers);
        stripHopByHop(answerHeaders);
        return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: answerHeaders });
      }
      const read = await readJson(answer);
      if (!read.ok) return unreadable();
      // Nothing answered (a 204): nothing to hold.
      if (read.value === null && !(single && (method === "GET" || head))) return new Response(null, { status: answer.status });
      const kept = gateway.restAnswer(decision, single && (method === "GET" || head), read.value);
      if (kept.absent) return notFound();
      return new Response(head ? null : JSON.stringify(kept.answer), { status: answer.status, headers: { "content-type": "application/json" } });
    } catch (e) {
      return json(502, { message: `the upstream could not be reached: ${e.message}`, reason: "bad_gateway" });
    }
  }

  /** A GraphQL content request through the gate (see the module comment). */
  async function graphql(request, project, environmentId, url, peer) {
    let body;
    if (request.method === "GET") {
      const q = url.searchParams;
      body = { query: q.get("query") ?? "", operationName: q.get("operationName") };
      try {
        if (q.has("variables")) body.variables = JSON.parse(q.get("variables"));
      } catch {
        return gqlError(400, "bad_request", "variables is not a JSON object");
      }
    } else if (request.method === "POST") {
      try {
        body = await request.json();
      } catch {
        return gqlError(400, "bad_request", "the body is not a GraphQL request ({ query, variables, operationName })");
      }
    } else {
      return gqlError(405, "method_not_allowed", "GraphQL is served by GET and POST");
    }
    if (!upstreamUrl) return gqlError(404, "not_found", "no upstream is configured");
    let environment;
    try {
      environment = await environmentOf(environmentId);
    } catch (e) {
      return gqlError(503, "unavailable", `cannot check the request: ${e.message}`);
    }
    if (!environment) return gqlError(404, "not_found", "no such environment");
    const locales = (request.headers.get("x-tally-locale") ?? "").split(",").map((l) => l.trim()).filter(Boolean);
    const options = { now: Math.floor(now() / 1000), locales };
    const stage = request.headers.get("x-tally-stage");
    if (stage) options.stage = stage;
    let handle = null;
    try {
      const planned = gateway.plan({ request: body, environment, options });
      if (planned.refused) return gqlError(400, planned.refused.reason, planned.refused.message);
      if (planned.denied) return denied(planned.denied);
      handle = planned.handle;
      if (request.method === "GET" && planned.kind !== "query") return gqlError(405, "method_not_allowed", "mutations are sent with POST");
      const decisions = [];
      for (const check of planned.checks) {
        decisions.push(await decide(wasm, { authorization: request.headers.get("authorization"), lookup: recordOf, environment, request: check }));
      }
      const authorized = gateway.authorize(handle, decisions);
      if (authorized.denied) {
        handle = null;
        return denied(authorized.denied);
      }
      const headers = forwardHeaders(request.headers, { peer });
      if (authorized.principal) headers.set("x-tally-principal", authorized.principal);
      headers.set("x-tally-masked", authorized.masked.join(","));
      headers.set("x-tally-reason", authorized.reason);
      headers.set("content-type", "application/json");
      headers.set("accept", "application/json");
      const upstream = `${upstreamUrl.replace(/\/+$/, "")}/v2/${project}/${encodeURIComponent(environmentId)}`;
      const send = async (payload) => {
        const answer = await fetch(upstream, { method: "POST", headers, body: JSON.stringify(payload) });
        const text = await answer.text();
        try {
          return { status: answer.status, json: JSON.parse(text) };
        } catch {
          throw new Unreadable();
        }
      };
      if (authorized.preflight) {
        const checked = gateway.preflight(handle, (await send({ query: authorized.preflight })).json);
        if (checked.denied) {
          handle = null;
          return denied(checked.denied);
        }
      }
      const answer = await send(authorized.forward);
      const held = gateway.finish(handle, answer.json);
      handle = null;
      return new Response(JSON.stringify(held.answer), { status: answer.status, headers: { "content-type": "application/json" } });
    } catch (e) {
      // Fail closed: a gate, verifier or upstream failure denies; an answer
      // that is not JSON cannot be held to the decisions, so it is not passed on.
      if (e instanceof Unreadable) return gqlError(502, "unreadable_answer", "the upstream's answer is not JSON; it is not passed on unchecked");
      return gqlError(502, "bad_gateway", `cannot answer the request: ${e.message}`);
    } finally {
      if (handle !== null) gateway.release(handle);
    }
  }

  return {
    /** Resolves once a following worker has caught up with the feed. */
    ready,
    /**
     * For runtimes that keep no loop between requests (Workers: `loop:
     * false`): one long poll of the feed (`wait` seconds), unless one is
     * in flight; hand it to `ctx.waitUntil`.
     */
    poll(wait = 25) {
      polling ??= readFeed(wait)
        .catch((e) => console.warn(`record feed: ${e.message}`))
        .finally(() => {
          polling = null;
        });
      return polling;
    },
    /** How many token records a following worker holds. */
    get replicaSize() {
      return replica.records.size;
    },
    /** Stops following the feed. */
    close() {
      stop.abort();
    },
    /**
     * Decides and forwards one request.
     * @param {Request} request
     * @param {{ target?: string, peer?: string }} [context] the request target
     *   as received (path and query, still encoded; default: from request.url,
     *   which the runtime may have normalised) and the peer's address.
     */
    async fetch(request, { target, peer = "unknown" } = {}) {
      const url = new URL(request.url);
      const raw = target ?? `${url.pathname}${url.search}`;
      const graphqlPath = GRAPHQL_PATH.exec(raw.split("?")[0]);
      if (graphqlPath) return graphql(request, graphqlPath[1], decodeURIComponent(graphqlPath[2]), url, peer);
      if (!raw.startsWith(CONTENT_PREFIX)) return json(404, { message: "not found", reason: "not_found" });
      // Own keys only: a method spelled like an Object property ("constructor") maps to nothing.
      const action = Object.hasOwn(METHOD_ACTIONS, request.method) ? METHOD_ACTIONS[request.method] : undefined;
      if (!action) return json(400, { message: `method ${request.method} is not mapped to an action`, reason: "bad_request" });
      let read;
      try {
        read = readTarget(raw, request.headers);
      } catch (e) {
        if (e instanceof Ambiguous) return json(400, { message: e.message, reason: "ambiguous_request" });
        throw e;
      }
      const { environment: environmentId, model, stage, locale } = read;
      let decision;
      try {
        const environment = await environmentOf(environmentId);
        decision = await decide(wasm, {
          authorization: request.headers.get("authorization"),
          lookup: recordOf,
          environment,
          request: {
            api: "content",
            action,
            environmentId,
            model,
            stage,
            locale,
            now: Math.floor(now() / 1000),
          },
        });
      } catch (e) {
        // Fail closed: no records, no access.
        return json(503, { message: `cannot check the request: ${e.message}`, reason: "unavailable" });
      }
      const status = httpStatus(decision);
      if (status !== 200) {
        const message = status === 401 ? "the request has no valid credentials" : "the credentials do not grant this request";
        return json(status, { message, reason: decision.reason });
      }
      const headers = forwardHeaders(request.headers, { peer });
      if (decision.principal) headers.set("x-tally-principal", decision.principal);
      if (decision.filter) headers.set("x-tally-filter", JSON.stringify(decision.filter));
      headers.set("x-tally-masked", decision.masked.join(","));
      headers.set("x-tally-reason", decision.reason);
      if (!upstreamUrl) return json(200, { allow: true, reason: decision.reason, principal: decision.principal ?? null });
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      const to = `${upstreamUrl.replace(/\/+$/, "")}${raw}`;
      // A decision that limits rows or masks fields is held, as the host's
      // proxy holds it (content-gate's REST rules, through the gate module).
      if (decision.filter || decision.masked.length) return held(request.method, to, headers, body, decision, read.id !== null);
      try {
        const answer = await fetch(to, { method: request.method, headers, body });
        const answerHeaders = new Headers(answer.headers);
        stripHopByHop(answerHeaders);
        return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: answerHeaders });
      } catch {
        return json(502, { message: "the upstream could not be reached", reason: "bad_gateway" });
      }
    },
  };
}
