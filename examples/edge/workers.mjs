// The edge worker as a Cloudflare Worker (module syntax; wrangler.toml):
// the same handler as server.mjs's, with its settings from the Worker's
// environment. `tally-sdk`'s Workers entries import the verifier and gate
// modules as compiled WebAssembly modules, so nothing is fetched at start.
//
//   TALLY_URL, UPSTREAM_URL   vars (wrangler.toml)
//   TALLY_TOKEN               a secret: a token with the management replica grant
//   FOLLOW=1                  follow the record feed (else records on demand,
//                             cached CACHE_TTL_MS, default 5000)
//
//   npx wrangler dev          (or deploy); tests/edge/workers.test.mjs runs it under Miniflare
import { createWorker } from "./worker.mjs";

let worker = null;

export default {
  async fetch(request, env, ctx) {
    worker ??= createWorker({
      authorityUrl: env.TALLY_URL,
      authorityToken: env.TALLY_TOKEN,
      upstreamUrl: env.UPSTREAM_URL ?? null,
      follow: env.FOLLOW === "1",
      // No loop outlives a request in Workers: each request keeps one long
      // poll of the feed going instead (below).
      loop: false,
      cacheTtlMs: Number(env.CACHE_TTL_MS ?? 5000),
    });
    const w = await worker;
    if (env.FOLLOW === "1") {
      await w.ready;
      // The feed's long poll goes on after the answer; the next request
      // finds the records it brought.
      ctx.waitUntil(w.poll(25));
    }
    return w.fetch(request, { peer: request.headers.get("cf-connecting-ip") ?? "unknown" });
  },
};
