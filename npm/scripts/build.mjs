// Builds the package's dist/ from source, with no binary downloads:
//   1. sdk-wasm for wasm32 (cargo, profile sdk-release: opt-level z, LTO),
//      once per side (features `app` and `parent`);
//   2. wasm-bindgen (the CLI cargo installed at Cargo.lock's version) -> dist/app/, dist/parent/;
//   3. wasm-opt -Oz from the `binaryen` npm package and esbuild --minify of the
//      glue, when installed (devDependencies; both come from the npm registry);
//   4. the verifier module (verifier-core/build-module.sh) -> dist/tally-verifier.wasm,
//      byte for byte the module the host embeds;
//   5. the gate module (content-gate/build-module.sh) -> dist/tally-content-gate.wasm,
//      the GraphQL content gate the host's /v2 gateway runs natively.
// `--check` (prepack) only verifies that dist/ is there.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const npmDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const root = path.resolve(npmDir, "..");
const dist = path.join(npmDir, "dist");
const outputs = ["app", "parent"].flatMap((side) => [path.join(dist, side, "tally_sdk.js"), path.join(dist, side, "tally_sdk_bg.wasm")]).concat(path.join(dist, "tally-verifier.wasm"), path.join(dist, "tally-content-gate.wasm"));

if (process.argv.includes("--check")) {
  const missing = outputs.filter((f) => !existsSync(f));
  if (missing.length) {
    console.error(`dist/ is incomplete (${missing.map((f) => path.relative(npmDir, f)).join(", ")}); run npm run build`);
    process.exit(1);
  }
  process.exit(0);
}

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"], ...opts });

// The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
const lock = readFileSync(path.join(root, "Cargo.lock"), "utf8");
const locked = /name = "wasm-bindgen"\nversion = "([^"]+)"/.exec(lock)?.[1];
let cli = "";
try {
  cli = run("wasm-bindgen", ["--version"]).toString().trim();
} catch {
  throw new Error(`wasm-bindgen CLI not found: cargo install wasm-bindgen-cli --version ${locked}`);
}
if (!cli.endsWith(` ${locked}`)) {
  throw new Error(`${cli} does not match wasm-bindgen ${locked} in Cargo.lock: cargo install wasm-bindgen-cli --version ${locked}`);
}

const targetDir = JSON.parse(run("cargo", ["metadata", "--format-version", "1", "--no-deps"]).toString()).target_directory;
const require = createRequire(import.meta.url);
const optional = (name) => {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    console.warn(`${name} is not installed (run npm install in npm/): skipping it`);
    return null;
  }
};
const binaryen = optional("binaryen");
const esbuild = optional("esbuild") && (await import("esbuild"));

// One module per side, so an app does not ship the platform's bridge.
for (const side of ["app", "parent"]) {
  run("cargo", ["build", "--locked", "-p", "sdk-wasm", "--lib", "--target", "wasm32-unknown-unknown",
    "--profile", "sdk-release", "--no-default-features", "--features", side], { stdio: "inherit" });
  const built = path.join(targetDir, "wasm32-unknown-unknown/sdk-release/tally_sdk.wasm");
  const out = path.join(dist, side);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  run("wasm-bindgen", ["--target", "web", "--no-typescript", "--out-dir", out, "--out-name", "tally_sdk", built], { stdio: "inherit" });
  const wasmFile = path.join(out, "tally_sdk_bg.wasm");
  if (binaryen) {
    // Features Rust 1.95's wasm32 target emits by default.
    const features = ["--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext",
      "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue"];
    run(process.execPath, [path.join(binaryen, "bin/wasm-opt"), "-Oz", "--converge", ...features,
      "--strip-debug", "--strip-producers", "--strip-target-features", wasmFile, "-o", wasmFile], { stdio: "inherit" });
  }
  if (esbuild) {
    const glue = path.join(out, "tally_sdk.js");
    await esbuild.build({ entryPoints: [glue], outfile: glue, allowOverwrite: true, minify: true, format: "esm", target: "es2020", logLevel: "warning" });
  }
}

const verifier = run("bash", ["verifier-core/build-module.sh"]).toString().trim().split("\n").pop();
copyFileSync(verifier, path.join(dist, "tally-verifier.wasm"));
// 5. the gate module (content-gate/build-module.sh) -> dist/tally-content-gate.wasm.
const gate = run("bash", ["content-gate/build-module.sh"]).toString().trim().split("\n").pop();
copyFileSync(gate, path.join(dist, "tally-content-gate.wasm"));
console.log(`built ${path.relative(root, dist)}`);
