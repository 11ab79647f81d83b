// The Node entry (bundled by scripts/build.sh into pkg/node.cjs; pkg/node.mjs re-exports it, so ESM
// and CJS users share one instance and `instanceof` holds across both). It loads the .wasm beside it
// synchronously, so no top-level await is needed and every export is usable at once. This is the
// only entry that touches `fs`, `os` or `process`, and it brings the node:http2 transport
// (http2.js), the default here: plain gRPC, as Modal's API speaks it.
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { initSync } from "./modal_secrets.js";
import { configureRuntime, setReady } from "./api.js";
import { fileRuntime } from "./files.js";
import { http2Transport } from "./http2.js";

initSync({ module: readFileSync(join(__dirname, "modal_secrets_node_bg.wasm")) });
setReady(true);

configureRuntime({
  http2: http2Transport,
  ...fileRuntime({
    readBytes(path) {
      try {
        if (!statSync(path).isFile()) return undefined;
      } catch {
        return undefined;
      }
      return readFileSync(path);
    },
    isDirectory(path) {
      try {
        return statSync(path).isDirectory();
      } catch {
        return undefined;
      }
    },
    resolve: (path) => resolve(path),
    dirname,
    join,
    fromFileUrl: fileURLToPath,
    cwd: () => process.cwd(),
    home: () => homedir(),
    env: () => process.env,
  }),
});

export * from "./public.js";
