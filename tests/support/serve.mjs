// A small HTTP server for test origins: exact routes (functions) first, then
// static directories by URL prefix. Listens on 127.0.0.1 on a free port.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
};

/** Reads a request body as text (bounded). */
export async function bodyText(req, limit = 64 * 1024) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error("body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/**
 * @param {{ routes?: Record<string, (req, res, url) => any>, statics?: Record<string, string>, headers?: Record<string,string> }} options
 * @returns {Promise<{ origin: string, port: number, close: () => Promise<void>, requests: string[] }>}
 */
export async function serve({ routes = {}, statics = {}, headers = {} } = {}) {
  const requests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    requests.push(`${req.method} ${req.url}`);
    try {
      const route = routes[`${req.method} ${url.pathname}`] ?? routes[url.pathname];
      if (route) return await route(req, res, url);
      for (const [prefix, dir] of Object.entries(statics)) {
        if (!url.pathname.startsWith(prefix)) continue;
        const file = path.join(dir, decodeURIComponent(url.pathname.slice(prefix.length)));
        if (!file.startsWith(path.resolve(dir))) break;
        const data = await readFile(file).catch(() => null);
        if (data === null) break;
        res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", ...headers });
        return res.end(data);
      }
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(e && e.message));
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
