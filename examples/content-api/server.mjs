// An example content API for the tally gateway (tally serve --upstream URL)
// and the edge worker to protect. It trusts the X-Tally-* headers because
// only the gateway or the edge can reach it (it listens on loopback).
//
//   GET    /v1/content/{environment}/{model}        the model's entries
//   POST   /v1/content/{environment}/{model}        a new entry (JSON fields)
//   GET    /v1/content/{environment}/{model}/{id}   one entry
//   PUT    /v1/content/{environment}/{model}/{id}   replace its fields
//   PATCH  /v1/content/{environment}/{model}/{id}   change some of its fields
//
// An entry is `{ id, environment, model, createdBy, ...fields }`; its fields
// are whatever JSON object the client sends (the studio's content editor
// edits them), except those four names.
//
//   node examples/content-api/server.mjs      (PORT, default 4000)
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Names the API keeps for itself; a client's copies are ignored. */
const OWN = ["id", "environment", "model", "createdBy"];
/** The largest body read, in bytes. */
const MAX_BODY = 256 * 1024;

function fieldsOf(data) {
  return Object.fromEntries(Object.entries(data).filter(([key]) => !OWN.includes(key)));
}

export async function start({ port = 4000 } = {}) {
  const documents = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://content.invalid");
    const match = /^\/v1\/content\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    const reply = (status, data) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(data));
    };
    if (!match) return reply(404, { message: "not found" });
    const [, environment, model, id] = match;
    const principal = req.headers["x-tally-principal"] ?? null;
    const readBody = async () => {
      let text = "";
      for await (const chunk of req) {
        text += chunk;
        if (text.length > MAX_BODY) return null;
      }
      try {
        const data = JSON.parse(text || "{}");
        return data !== null && typeof data === "object" && !Array.isArray(data) ? data : null;
      } catch {
        return null;
      }
    };
    const found = id === undefined ? null : documents.find((d) => d.environment === environment && d.model === model && d.id === id);
    if (id === undefined) {
      if (req.method === "POST") {
        const data = await readBody();
        if (data === null) return reply(400, { message: "body must be a JSON object" });
        const doc = { id: randomUUID(), environment, model, name: null, ...fieldsOf(data), createdBy: principal };
        documents.push(doc);
        return reply(201, doc);
      }
      if (req.method === "GET") return reply(200, documents.filter((d) => d.environment === environment && d.model === model));
      return reply(405, { message: "method not allowed" });
    }
    if (!found) return reply(404, { message: "no such entry" });
    if (req.method === "GET") return reply(200, found);
    if (req.method === "PUT" || req.method === "PATCH") {
      const data = await readBody();
      if (data === null) return reply(400, { message: "body must be a JSON object" });
      if (req.method === "PUT") for (const key of Object.keys(fieldsOf(found))) delete found[key];
      Object.assign(found, fieldsOf(data));
      return reply(200, found);
    }
    reply(405, { message: "method not allowed" });
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    documents,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { origin } = await start({ port: Number(process.env.PORT ?? 4000) });
  console.log(`example content API on ${origin}`);
}
