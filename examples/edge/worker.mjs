// An edge worker with a fetch-style handler: it decides every request to
// /v1/content/{environment}/{model}[/{id}] locally with the tally-sdk
// verifier — the same .wasm the tally host runs — and forwards allowed ones
// to the content API. Token records come from the authority in one of two
// ways:
//   - on demand (default): GET /v1/records/{tokenId} and
//     GET /v1/environments/{e}/record, cached for at most `cacheTtlMs`, so a
//     revocation reaches this worker within that bound;
//   - `follow: true`: a replica of every record, built from the record feed
//     (GET /v1/records?after=&wait=25, long-polled), so no request waits on
//     the authority and a revocation arrives as soon as it is committed.
// Either way the token needs the management `admin` or `replica` grant.
// Denials are 401/403 with { message, reason }, as the gateway answers.
import { decide, httpStatus, loadVerifier } from "tally-sdk/verifier";

const ACTIONS = { GET: "read", HEAD: "read", POST: "create", PUT: "update", PATCH: "update", DELETE: "delete" };
const PATH = /^\/v1\/content\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/;

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

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
export async function createWorker({ authorityUrl, authorityToken, upstreamUrl = null, cacheTtlMs = 5000, follow = false, verifier, now = Date.now }) {
  const wasm = verifier ?? (await loadVerifier());
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
  let ready = Promise.resolve();
  if (follow) {
    ready = (async () => {
      while ((await readFeed(0)) > 0);
    })();
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

  return {
    /** Resolves once a following worker has caught up with the feed. */
    ready,
    /** How many token records a following worker holds. */
    get replicaSize() {
      return replica.records.size;
    },
    /** Stops following the feed. */
    close() {
      stop.abort();
    },
    async fetch(request) {
      const url = new URL(request.url);
      const match = PATH.exec(url.pathname);
      if (!match) return json(404, { message: "not found", reason: "not_found" });
      const action = ACTIONS[request.method];
      if (!action) return json(400, { message: `method ${request.method} is not mapped to an action`, reason: "bad_request" });
      const [, environmentId, model] = match.map((m) => (m === undefined ? m : decodeURIComponent(m)));
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
            stage: url.searchParams.get("stage") ?? request.headers.get("x-tally-stage"),
            locale: url.searchParams.get("locale") ?? request.headers.get("x-tally-locale"),
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
      const headers = new Headers(request.headers);
      headers.delete("authorization");
      for (const h of ["x-tally-principal", "x-tally-filter", "x-tally-masked", "x-tally-reason"]) headers.delete(h);
      if (decision.principal) headers.set("x-tally-principal", decision.principal);
      if (decision.filter) headers.set("x-tally-filter", JSON.stringify(decision.filter));
      headers.set("x-tally-masked", decision.masked.join(","));
      headers.set("x-tally-reason", decision.reason);
      if (!upstreamUrl) return json(200, { allow: true, reason: decision.reason, principal: decision.principal ?? null });
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      try {
        return await fetch(`${upstreamUrl.replace(/\/+$/, "")}${url.pathname}${url.search}`, { method: request.method, headers, body });
      } catch {
        return json(502, { message: "the upstream could not be reached", reason: "bad_gateway" });
      }
    },
  };
}
