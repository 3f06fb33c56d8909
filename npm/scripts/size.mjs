// Gzipped sizes of what each entry loads (gzip -9, as a CDN would serve it).
// The app entry is what an app ships: its JS entry, the wasm-bindgen glue and
// the module. Recorded in BENCHMARKS.md.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const npmDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const entries = {
  "tally-sdk (app)": ["src/index.js", "dist/app/tally_sdk.js", "dist/app/tally_sdk_bg.wasm"],
  "tally-sdk/parent": ["src/parent.js", "dist/parent/tally_sdk.js", "dist/parent/tally_sdk_bg.wasm"],
  "tally-sdk/verifier": ["src/verifier.js", "src/verifier-abi.js", "src/abi-codec.js", "dist/tally-verifier.wasm"],
  "tally-sdk/gate": ["src/gate.js", "dist/tally-content-gate.wasm"],
};
const limit = Number(process.env.TALLY_APP_ENTRY_LIMIT ?? 40_000);
let appTotal = 0;
for (const [entry, files] of Object.entries(entries)) {
  let total = 0;
  const parts = files.map((f) => {
    const raw = readFileSync(path.join(npmDir, f));
    const gz = gzipSync(raw, { level: 9 }).length;
    total += gz;
    return `${f} ${raw.length} B raw, ${gz} B gz`;
  });
  if (entry === "tally-sdk (app)") appTotal = total;
  console.log(`${entry}: ${total} B gzipped\n  ${parts.join("\n  ")}`);
}
if (process.argv.includes("--check") && appTotal > limit) {
  console.error(`app entry is ${appTotal} B gzipped, over the ${limit} B budget`);
  process.exit(1);
}
