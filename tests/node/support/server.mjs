// The real modal-secrets-server for the Node suites: the release binary started on a free port with a
// temporary store, tokens and environments made with its own `token new` / `env new` commands, and
// stopped (store removed) when the test file ends. Also a counting `fetch` for "no request was sent".
import { after } from "node:test";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { auditLog, recordToken } from "../../support/audit.mjs";
import { transportOption } from "./grpcweb.mjs";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const SERVER_BIN = join(ROOT, "target/release/modal-secrets-server");
export const PKG_ENTRY = join(ROOT, "pkg/node.mjs");

/** Throws a clear error when the package or the server binary has not been built. */
export function requireBuild() {
  const missing = [SERVER_BIN, PKG_ENTRY, join(ROOT, "pkg/modal_secrets_bg.wasm")].filter((p) => !existsSync(p));
  if (missing.length) {
    throw new Error(`missing ${missing.join(", ")}: run npm run build`);
  }
}
requireBuild();

/** The built package, loaded once per test process. */
export const pkg = await import(PKG_ENTRY);

const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

/**
 * Starts the server (browsers of `allowOrigins` may call it); it is stopped by an `after()` hook of
 * the calling test file.
 * Resolves to { url, data, token(workspace?), env(name, workspace?), client(token, options), log(), stop() }.
 */
export async function startServer({ allowOrigins = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "modal-secrets-node-"));
  const data = join(dir, "data");
  const logPath = join(dir, "server.log");
  const child = spawn(
    SERVER_BIN,
    [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      data,
      "--www",
      join(dir, "no-www"),
      "--pkg",
      join(dir, "no-pkg"),
      ...allowOrigins.flatMap((origin) => ["--allow-origin", origin]),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  const audit = auditLog("server", "node"); // the secrets audit of npm test (tests/audit/)
  child.stdout.on("data", audit);
  child.stderr.on("data", audit);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
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
  const server = {
    url,
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
    /** A client of this server for `token`, with any other options (and the run's transport). */
    client(token, options = {}) {
      return new pkg.Client({ serverUrl: url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, ...transportOption(options), ...options });
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
  after(() => server.stop());
  return server;
}

/**
 * A `fetch` that records every call ({ url, method, headers (lowercase names), body: Uint8Array })
 * in `.calls` and then hands it to `inner` (by default, the global fetch as it was when this was made).
 */
export function countingFetch(inner = globalThis.fetch) {
  const calls = [];
  async function fetch(url, init = {}) {
    const headers = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const body = init.body === undefined ? new Uint8Array() : new Uint8Array(init.body);
    calls.push({ url: String(url), method: init.method, headers, body, at: performance.now() });
    return inner(url, init);
  }
  fetch.calls = calls;
  fetch.reset = () => {
    calls.length = 0;
  };
  /** The gRPC method names called, in order ("SecretGetOrCreate", …). */
  fetch.methods = () => calls.map((c) => c.url.split("/").pop());
  return fetch;
}
