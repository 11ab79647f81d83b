// The real release server for the browser suite: serving www/ and pkg/ of this checkout on a free
// port with a temporary store; tokens and environments from its own `token new` / `env new`.
// (tests/node/support/server.mjs serves no files and stops from node:test's `after`; this one is
// stopped by the caller.)
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { auditLog, recordToken } from "../../support/audit.mjs";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const SERVER_BIN = join(ROOT, "target/release/modal-secrets-server");

const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

/** Resolves to { url, token(workspace?), env(name, workspace?), log(), stop() }. */
export async function startServer() {
  for (const path of [SERVER_BIN, join(ROOT, "pkg/browser.js"), join(ROOT, "pkg/modal_secrets_bg.wasm")]) {
    if (!existsSync(path)) throw new Error(`missing ${path}: run npm run build`);
  }
  const dir = mkdtempSync(join(tmpdir(), "modal-secrets-browser-"));
  const data = join(dir, "data");
  const child = spawn(
    SERVER_BIN,
    ["serve", "--listen", "127.0.0.1:0", "--data", data, "--www", join(ROOT, "www"), "--pkg", join(ROOT, "pkg")],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  const audit = auditLog("server", "browser"); // the secrets audit of npm test (tests/audit/)
  child.stdout.on("data", audit);
  child.stderr.on("data", audit);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not say where it listens:\n${log}`)), 10_000);
    const onData = (chunk) => {
      log += chunk.toString("utf8");
      const m = LISTENING.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening:\n${log}`));
    });
    child.once("error", reject);
  });
  const run = (args) => execFileSync(SERVER_BIN, [...args, "--data", data], { encoding: "utf8" });
  let stopped = false;
  return {
    url,
    token(workspace) {
      const out = JSON.parse(run(["token", "new", ...(workspace ? ["--workspace", workspace] : [])]).trim());
      recordToken(out.token_secret);
      return { tokenId: out.token_id, tokenSecret: out.token_secret, workspace: out.workspace };
    },
    env(name, workspace) {
      run(["env", "new", name, ...(workspace ? ["--workspace", workspace] : [])]);
    },
    log: () => log,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
