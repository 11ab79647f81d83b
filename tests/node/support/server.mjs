// The real modal-secrets-server for the Node suites (started by tests/support/server.mjs: a free
// port, a temporary store, tokens and environments from its own `token new` / `env new`), with a
// client maker, stopped (store removed) when the test file ends. Also a counting `fetch` for "no
// request was sent".
import { after } from "node:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT, SERVER_BIN, startLocalServer } from "../../support/server.mjs";
import { transportOption } from "./grpcweb.mjs";

export { ROOT, SERVER_BIN };
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

/**
 * Starts the server (tests/support/server.mjs; browsers of `allowOrigins` may call it); it is
 * stopped by an `after()` hook of the calling test file.
 * Resolves to { url, data, token(workspace?), env(name, workspace?), client(token, options), log(), stop() }.
 */
export async function startServer({ allowOrigins = [] } = {}) {
  const local = await startLocalServer({
    label: "node",
    extraArgs: allowOrigins.flatMap((origin) => ["--allow-origin", origin]),
  });
  const server = {
    ...local,
    /** A client of this server for `token`, with any other options (and the run's transport). */
    client(token, options = {}) {
      return new pkg.Client({ serverUrl: local.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, ...transportOption(options), ...options });
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
