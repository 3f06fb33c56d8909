// An example content API for the tally gateway (tally serve --upstream URL)
// and the edge worker to protect. It trusts the X-Tally-* headers because
// only the gateway or the edge can reach it (it listens on loopback).
//
//   node examples/content-api/server.mjs      (PORT, default 4000)
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

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
    const [, environment, model] = match;
    const principal = req.headers["x-tally-principal"] ?? null;
    if (req.method === "POST") {
      let text = "";
      for await (const chunk of req) text += chunk;
      let data = {};
      try {
        data = JSON.parse(text || "{}");
      } catch {
        return reply(400, { message: "body must be JSON" });
      }
      const doc = { id: randomUUID(), environment, model, name: data.name ?? null, createdBy: principal };
      documents.push(doc);
      return reply(201, doc);
    }
    if (req.method === "GET") return reply(200, documents.filter((d) => d.environment === environment && d.model === model));
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
