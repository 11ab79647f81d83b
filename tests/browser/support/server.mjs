// The real release server for the browser suite (started by tests/support/server.mjs), serving www/
// and pkg/ of this checkout on a free port with a temporary store; tokens and environments from
// its own `token new` / `env new`. Stopped by the caller.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT, SERVER_BIN, startLocalServer } from "../../support/server.mjs";

export { ROOT, SERVER_BIN };

/** Resolves to { url, data, token(workspace?), env(name, workspace?), log(), stop() }. */
export async function startServer() {
  for (const path of [SERVER_BIN, join(ROOT, "pkg/browser.js"), join(ROOT, "pkg/modal_secrets_bg.wasm")]) {
    if (!existsSync(path)) throw new Error(`missing ${path}: run npm run build`);
  }
  return startLocalServer({ label: "browser", www: join(ROOT, "www"), pkg: join(ROOT, "pkg") });
}
