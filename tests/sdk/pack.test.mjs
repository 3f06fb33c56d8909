// `npm pack` makes an installable tarball: every `exports` target and its
// declarations are in it, it installs offline into a fresh project, and its
// entries load there (the verifier entry decides with the bundled module).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const npmDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../npm");
const work = mkdtempSync(path.join(tmpdir(), "tally-pack-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("npm pack gives a tarball that installs and loads", () => {
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: npmDir }).toString();
  const [{ filename, files }] = JSON.parse(out);
  const packed = new Set(files.map((f) => f.path));
  const manifest = JSON.parse(readFileSync(path.join(npmDir, "package.json"), "utf8"));
  for (const [entry, target] of Object.entries(manifest.exports)) {
    const targets = typeof target === "string" ? [target] : Object.values(target);
    for (const t of targets) assert.ok(packed.has(t.replace(/^\.\//, "")), `${entry}: ${t} is not in the tarball`);
  }
  for (const f of ["dist/app/tally_sdk_bg.wasm", "dist/parent/tally_sdk_bg.wasm", "dist/tally-verifier.wasm", "README.md"]) {
    assert.ok(packed.has(f), `${f} is not in the tarball`);
  }

  const project = path.join(work, "project");
  execFileSync("mkdir", ["-p", project]);
  writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", path.join(work, filename)], { cwd: project, stdio: "pipe" });
  assert.ok(existsSync(path.join(project, "node_modules/tally-sdk/dist/tally-verifier.wasm")));

  writeFileSync(
    path.join(project, "check.mjs"),
    `import { loadVerifier, decide } from "tally-sdk/verifier";
     import * as app from "tally-sdk";
     import * as parent from "tally-sdk/parent";
     const v = await loadVerifier();
     const d = await decide(v, { authorization: "Bearer nonsense", lookup: () => null, request: { api: "content", action: "read", now: 1 } });
     console.log(JSON.stringify({ d, app: typeof app.init, parent: typeof parent.createAppFrame }));`,
  );
  const result = JSON.parse(execFileSync("node", ["check.mjs"], { cwd: project }).toString());
  assert.equal(result.app, "function");
  assert.equal(result.parent, "function");
  assert.equal(result.d.allow, false);
  assert.equal(result.d.reason, "malformed");
});
