// The example app's server: its frontend (setup page and main page, which use
// the tally-sdk package), the setup-code exchange route, and a route that
// uses the app token — kept here, never sent to the browser — to call the
// platform's gateway-protected content API (or the edge worker).
//
//   CLIENT_ID=… CLIENT_SECRET=… node examples/app/server/main.mjs
//
// Environment: PORT (3000), TALLY_URL (http://127.0.0.1:8787: the authority,
// whose origin is also the studio's, the parent frame), GATEWAY_URL (defaults
// to TALLY_URL), EDGE_URL (optional), CLIENT_ID, CLIENT_SECRET,
// WEBHOOK_SECRET (the app's `whsec_…`, for POST /api/webhooks: register the
// app with webhookUrl <app>/api/webhooks).
// Logs carry method and path only: never a query string (the setup code
// arrives as ?code=) and never a token.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { exchangeSetupCode } from "./exchange.mjs";
import { handleWebhook } from "./webhooks.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const publicDir = path.resolve(here, "../public");
const sdkDir = path.resolve(here, process.env.SDK_DIR ?? "../../../npm");

export function config(env = process.env) {
  const tallyUrl = (env.TALLY_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
  return {
    port: Number(env.PORT ?? 3000),
    tallyUrl,
    gatewayUrl: (env.GATEWAY_URL ?? tallyUrl).replace(/\/+$/, ""),
    edgeUrl: env.EDGE_URL ? env.EDGE_URL.replace(/\/+$/, "") : null,
    clientId: env.CLIENT_ID,
    clientSecret: env.CLIENT_SECRET,
    webhookSecret: env.WEBHOOK_SECRET,
  };
}

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".wasm": "application/wasm", ".json": "application/json" };

async function body(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 64 * 1024) throw new Error("body too large");
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res, status, data) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(data));
}

async function file(res, file) {
  const data = await readFile(file).catch(() => null);
  if (data === null) return send(res, 404, { message: "not found" });
  res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", "referrer-policy": "no-referrer" });
  res.end(data);
}

/** Starts the server; resolves with { origin, close, tokens }. */
export async function start(cfg = config()) {
  // environmentId -> app token. A real app keeps these in its database.
  const tokens = new Map();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://app.invalid");
    console.log(`${req.method} ${url.pathname}`);
    try {
      if (req.method === "GET" && url.pathname === "/config.json") {
        return send(res, 200, { parentOrigin: new URL(cfg.tallyUrl).origin, edge: cfg.edgeUrl !== null });
      }
      if (req.method === "POST" && url.pathname === "/api/exchangeSetupCode") {
        const { status, body: answer } = await exchangeSetupCode(await body(req), {
          clientId: cfg.clientId,
          clientSecret: cfg.clientSecret,
          trustedAuthorities: [`${cfg.tallyUrl}/v1`],
          onToken: (token, { environmentId }) => tokens.set(environmentId, token),
        });
        return send(res, status, answer);
      }
      if (req.method === "POST" && url.pathname === "/api/webhooks") {
        const { status, body: answer } = handleWebhook(await body(req), req.headers, { secret: cfg.webhookSecret, tokens });
        if (answer === undefined) {
          res.writeHead(status);
          return res.end();
        }
        return send(res, status, answer);
      }
      if (req.method === "GET" && url.pathname === "/api/status") {
        return send(res, 200, { connected: tokens.has(url.searchParams.get("environmentId") ?? "") });
      }
      if (req.method === "POST" && url.pathname === "/api/models") {
        return await createModel(res, await body(req), tokens, cfg);
      }
      if (req.method === "GET" && url.pathname.startsWith("/sdk/")) {
        const rel = path.normalize(url.pathname.slice("/sdk/".length));
        if (!/^(src|dist)\//.test(rel)) return send(res, 404, { message: "not found" });
        return await file(res, path.join(sdkDir, rel));
      }
      if (req.method === "GET") {
        const name = url.pathname === "/" ? "index.html" : url.pathname === "/setup" ? "setup.html" : path.normalize(url.pathname.slice(1));
        if (name.startsWith("..")) return send(res, 404, { message: "not found" });
        return await file(res, path.join(publicDir, name));
      }
      send(res, 405, { message: "method not allowed" });
    } catch (e) {
      send(res, 500, { message: e.message });
    }
  });
  await new Promise((resolve) => server.listen(cfg.port, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    tokens,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** POST /api/models { environmentId, name, via? }: creates a model through the gateway (or the edge). */
async function createModel(res, raw, tokens, cfg) {
  let input;
  try {
    input = JSON.parse(raw);
  } catch {
    return send(res, 400, { message: "Invalid request body. JSON payload is required." });
  }
  const { environmentId, name, via = "gateway" } = input ?? {};
  if (typeof environmentId !== "string" || typeof name !== "string" || !name) {
    return send(res, 400, { message: "Missing required fields: environmentId, name." });
  }
  const token = tokens.get(environmentId);
  if (!token) return send(res, 409, { message: "The app is not connected to this environment yet." });
  const base = via === "edge" ? cfg.edgeUrl : cfg.gatewayUrl;
  if (!base) return send(res, 400, { message: `No ${via} is configured.` });
  let response;
  try {
    response = await fetch(`${base}/v1/content/${encodeURIComponent(environmentId)}/Model`, {
      method: "POST",
      // The exchange answers the bare `<tokenId>.<secret>`, as Hygraph's does.
      headers: { authorization: /\s/.test(token) ? token : `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name }),
    });
  } catch {
    return send(res, 502, { message: `The ${via} could not be reached.` });
  }
  const text = await response.text();
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = { message: text };
  }
  send(res, response.status, { via, status: response.status, ...data });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cfg = config();
  if (!cfg.clientId || !cfg.clientSecret) {
    console.warn("CLIENT_ID and CLIENT_SECRET are not set: the exchange route will answer 500 until they are.");
  }
  const { origin } = await start(cfg);
  console.log(`example app on ${origin} (setup page ${origin}/setup), authority ${cfg.tallyUrl}`);
}
