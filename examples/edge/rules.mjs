// How the edge worker reads a content request's target and what it
// forwards: the same rules as the tally gateway (host/src/gateway/target.rs
// and forward.rs), held to the same tables (tests/fixtures/gateway-targets.json,
// tests/fixtures/forwarded-headers.json) by tests/edge/tables.test.mjs.
//
// The worker forwards the path and query as received, so every spelling an
// upstream could read differently from the check is refused (400
// ambiguous_request), never normalised:
//   - path segments: decoded once; empty, ".", "..", or holding "/", "\",
//     ";", "%" (double encoding) or a control character → refused;
//   - query: decoded as application/x-www-form-urlencoded (URLSearchParams);
//     stage or locale given twice, empty, or in a lookalike spelling
//     (another case, "stage[]", "stage.x"), or a raw ";" anywhere → refused;
//   - X-Tally-Stage / X-Tally-Locale: given twice (a "," in the value) or
//     disagreeing with the query → refused.
// Runtimes that parse request.url as a WHATWG URL resolve dot segments and
// some encodings before the worker sees them; pass the raw request target
// (Node: req.url) as `target` to read it exactly as received.

export const CONTENT_PREFIX = "/v1/content/";

/** An ambiguous target: the message of a 400 ambiguous_request. */
export class Ambiguous extends Error {}

function segment(raw) {
  let decoded;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new Ambiguous(`path segment ${JSON.stringify(raw)} does not decode`);
  }
  if (decoded === "" || decoded === "." || decoded === "..") {
    throw new Ambiguous(`path segment ${JSON.stringify(raw)} is empty or a dot segment`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[/\\;%\u0000-\u001f\u007f-\u009f]/.test(decoded)) {
    throw new Ambiguous(`path segment ${JSON.stringify(raw)} holds a character servers read differently`);
  }
  return decoded;
}

function lookalike(key) {
  const base = key.split(/[[.]/)[0].toLowerCase();
  return base === "stage" || base === "locale" ? base : null;
}

function headerValue(headers, name) {
  const value = headers.get(name);
  if (value === null) return null;
  if (value.includes(",")) throw new Ambiguous(`${name} is given more than once`);
  const text = value.trim();
  return text === "" ? null : text;
}

/**
 * Reads `target` (path and query as received, still encoded).
 * @returns {{ environment: string, model: string, id: string|null, stage: string|null, locale: string|null }}
 * @throws {Ambiguous}
 */
export function readTarget(target, headers) {
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  if (!path.startsWith(CONTENT_PREFIX)) throw new Ambiguous(`the path must start with ${CONTENT_PREFIX}`);
  const segments = path.slice(CONTENT_PREFIX.length).split("/").map(segment);
  if (segments.length < 2 || segments.length > 3) {
    throw new Ambiguous("the path must be /v1/content/{environment}/{model}[/{id}]");
  }
  if (query.includes(";")) throw new Ambiguous("the query holds ';', which some servers read as a separator");
  const params = { stage: null, locale: null };
  for (const [key, value] of new URLSearchParams(query)) {
    if (key !== "stage" && key !== "locale") {
      const like = lookalike(key);
      if (like) throw new Ambiguous(`query parameter ${JSON.stringify(key)} may be read as ${JSON.stringify(like)}`);
      continue;
    }
    if (value === "") throw new Ambiguous(`query parameter ${key} is empty`);
    if (params[key] !== null) throw new Ambiguous(`query parameter ${key} is given more than once`);
    params[key] = value;
  }
  const oneOf = (name, header) => {
    const fromHeader = headerValue(headers, header);
    const fromQuery = params[name];
    if (fromQuery !== null && fromHeader !== null && fromQuery !== fromHeader) {
      throw new Ambiguous(`query parameter ${name} and ${header} disagree`);
    }
    return fromQuery ?? fromHeader;
  };
  return {
    environment: segments[0],
    model: segments[1],
    id: segments[2] ?? null,
    stage: oneOf("stage", "x-tally-stage"),
    locale: oneOf("locale", "x-tally-locale"),
  };
}

const HOP_BY_HOP = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection"];
const CREDENTIALS = ["authorization", "proxy-authorization", "cookie"];
const isTally = (name) => /^x[-_]tally[-_]./i.test(name);

/** Removes hop-by-hop headers and those `Connection` names, in place. */
export function stripHopByHop(headers) {
  for (const name of (headers.get("connection") ?? "").split(",")) {
    if (name.trim()) headers.delete(name.trim());
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
}

/**
 * The headers the upstream gets of a client's request: no credentials, no
 * X-Tally-* header in any spelling, no hop-by-hop header; X-Forwarded-For,
 * -Proto and -Host set as a proxy should (a trusted peer's kept and
 * extended, an untrusted one's dropped).
 * @param {Headers} incoming
 * @param {{ peer: string, trustedPeer?: boolean }} origin
 */
export function forwardHeaders(incoming, { peer, trustedPeer = false }) {
  const headers = new Headers(incoming);
  const host = headers.get("host");
  stripHopByHop(headers);
  for (const name of CREDENTIALS) headers.delete(name);
  for (const name of [...headers.keys()]) if (isTally(name)) headers.delete(name);
  headers.delete("host");
  const kept = (name) => {
    const value = headers.get(name);
    headers.delete(name);
    return trustedPeer ? value : null;
  };
  const forwardedFor = kept("x-forwarded-for");
  const proto = kept("x-forwarded-proto");
  const forwardedHost = kept("x-forwarded-host");
  if (!trustedPeer) headers.delete("forwarded");
  headers.set("x-forwarded-for", forwardedFor && forwardedFor.trim() ? `${forwardedFor.trim()}, ${peer}` : peer);
  headers.set("x-forwarded-proto", proto ?? "http");
  const forwarded = forwardedHost ?? host;
  if (forwarded) headers.set("x-forwarded-host", forwarded);
  return headers;
}
