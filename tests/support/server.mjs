// Starting the real modal-secrets-server (the release binary) for the test suites: on a free
// loopback port, its output teed into the secrets audit (tests/support/audit.mjs), resolved once it
// says where it listens. startLocalServer adds a temporary store and its own `token new` /
// `env new` commands. The Node suites (tests/node/support/server.mjs: no files served, stopped by
// node:test's `after`), the browser suite (tests/browser/support/server.mjs: www/ and pkg/ served)
// and the gateway test (tests/node/gateway-tls.test.mjs: `serve --upstream`) all start it here.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { auditLog, recordToken } from "./audit.mjs";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SERVER_BIN = join(ROOT, "target/release/modal-secrets-server");

const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

/**
 * Runs `modal-secrets-server ...args` (with `env`, else this process's) until it says where it
 * listens. Its output goes to the audit's `auditKind` log (labelled `label`) and to log(); `what`
 * names it in errors. Resolves to { url, log(), stop() }; stop() ends it with SIGTERM and waits.
 */
export async function spawnServer(args, { label, auditKind = "server", what = "the server", env } = {}) {
  const child = spawn(SERVER_BIN, args, { stdio: ["ignore", "pipe", "pipe"], ...(env ? { env } : {}) });
  let log = "";
  const audit = auditLog(auditKind, label); // the secrets audit of npm test (tests/audit/)
  child.stdout.on("data", audit);
  child.stderr.on("data", audit);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not say where it listens:\n${log}`)), 10_000);
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
      reject(new Error(`${what} exited (${code}) before listening:\n${log}`));
    });
    child.once("error", reject);
  });
  let stopped = false;
  return {
    url,
    log: () => log,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * The local server with a temporary store (removed by stop()), serving the files of `www` and
 * `pkg` (default: none), with `extraArgs` after the others. Resolves to { url, data, token(workspace?),
 * env(name, workspace?), log(), stop() }.
 */
export async function startLocalServer({ label, www, pkg, extraArgs = [] }) {
  const dir = mkdtempSync(join(tmpdir(), `modal-secrets-${label}-`));
  const data = join(dir, "data");
  const serve = ["serve", "--listen", "127.0.0.1:0", "--data", data];
  serve.push("--www", www ?? join(dir, "no-www"), "--pkg", pkg ?? join(dir, "no-pkg"), ...extraArgs);
  const server = await spawnServer(serve, { label });
  const run = (args) => execFileSync(SERVER_BIN, [...args, "--data", data], { encoding: "utf8" });
  return {
    url: server.url,
    data,
    /** A new token of `workspace` (default "local"): { tokenId, tokenSecret, workspace }. */
    token(workspace) {
      const out = JSON.parse(run(["token", "new", ...(workspace ? ["--workspace", workspace] : [])]).trim());
      recordToken(out.token_secret);
      return { tokenId: out.token_id, tokenSecret: out.token_secret, workspace: out.workspace };
    },
    /** Adds environment `name` to `workspace` (default "local"). */
    env(name, workspace) {
      run(["env", "new", name, ...(workspace ? ["--workspace", workspace] : [])]);
    },
    log: server.log,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
