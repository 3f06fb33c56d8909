// Child processes for end-to-end tests: started with their output captured
// (for assertions and for the secrets scan), waited on for a line, stopped
// at the end.
import { spawn } from "node:child_process";
import { createServer } from "node:net";

/** A free loopback port (bound and released; fine for tests). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `command args` and collects its stdout and stderr.
 * @returns {{ child, output: () => string, waitFor: (re: RegExp, ms?: number) => Promise<RegExpMatchArray>, stop: () => Promise<void> }}
 */
export function start(name, command, args, { env = {}, cwd } = {}) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  const waiters = [];
  const feed = (chunk) => {
    text += chunk.toString("utf8");
    for (const w of waiters.slice()) {
      const m = text.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(m);
      }
    }
  };
  child.stdout.on("data", feed);
  child.stderr.on("data", feed);
  child.on("exit", (code) => {
    for (const w of waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`${name} exited (${code}) before printing ${w.re}\n${text.slice(-4000)}`));
    }
  });
  return {
    child,
    output: () => text,
    waitFor(re, ms = 60_000) {
      const m = text.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const w = { re, resolve, reject };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`${name} did not print ${re} within ${ms} ms\n${text.slice(-4000)}`));
        }, ms);
        waiters.push(w);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
