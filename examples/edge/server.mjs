// Runs the edge worker (worker.mjs) on Node's HTTP server, the way a worker
// runtime would call its fetch handler.
//
//   TALLY_URL=http://127.0.0.1:8787 TALLY_TOKEN='AppToken …' UPSTREAM_URL=http://127.0.0.1:4000 \
//     node examples/edge/server.mjs        (PORT 8788, CACHE_TTL_MS 5000, FOLLOW_FEED=1 to keep a replica)
//
// TALLY_TOKEN must be allowed to read records: an admin token, or better a
// SYSTEM token with only { api: "management", action: "replica" }.
import { createServer } from "node:http";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

import { createWorker } from "./worker.mjs";

export async function start({ port = 8788, ...options }) {
    const worker = await createWorker(options);
  await worker.ready;
  const server = createServer(async (req, res) => {
    const url = `http://${req.headers.host ?? "edge.invalid"}${req.url}`;
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, { method: req.method, headers: req.headers, body: hasBody ? Readable.toWeb(req) : undefined, duplex: "half" });
    // The raw target, as received: request.url is normalised by the URL parser.
    const response = await worker.fetch(request, { target: req.url, peer: req.socket.remoteAddress });
    console.log(`${req.method} ${new URL(url).pathname} ${response.status}`);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((resolve) => { worker.close(); server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    const { TALLY_URL = "http://127.0.0.1:8787", TALLY_TOKEN, UPSTREAM_URL, PORT = "8788", CACHE_TTL_MS = "5000", FOLLOW_FEED } = process.env;
  if (!TALLY_TOKEN) {
    console.error("TALLY_TOKEN (a token that may read records, e.g. the admin token) is required");
    process.exit(2);
  }
    const follow = FOLLOW_FEED === "1";
  const { origin } = await start({ port: Number(PORT), authorityUrl: TALLY_URL, authorityToken: TALLY_TOKEN, upstreamUrl: UPSTREAM_URL ?? null, cacheTtlMs: Number(CACHE_TTL_MS), follow });
  console.log(`edge worker on ${origin}, records from ${TALLY_URL}, ${follow ? "following the record feed" : `cache ${CACHE_TTL_MS} ms`}`);
}
