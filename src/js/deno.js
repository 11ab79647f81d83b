// Deno. The .wasm is a source-phase import (a WebAssembly.Module, with no read permission needed),
// instantiated synchronously. Files and variables go through Deno's own API, so the permissions
// are the usual ones: --allow-env for MODAL_* variables, --allow-read for ~/.modal.toml and .env.
import source wasm from "./modal_secrets_node_bg.wasm";
import { initSync, setReady, configureRuntime } from "./internal.js";
import { fileRuntime, posix } from "./files.js";
import { http2Transport } from "./http2.js";
import { InvalidError } from "./public.js";

initSync({ module: wasm });
setReady(true);

// Missing is `undefined`; any other failure (a permission refused) is reported, not hidden.
function stat(path) {
  try {
    return Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function env() {
  try {
    return Deno.env.toObject();
  } catch (error) {
    throw new InvalidError(`modal-secrets needs --allow-env to read MODAL_* variables (${error.name}); or pass { env }`, {
      code: "INVALID_ARGUMENT",
    });
  }
}

configureRuntime({
  // Deno's node:http2 carries gRPC's trailers (tests/runtimes/): plain gRPC is the default here too.
  http2: http2Transport,
  ...fileRuntime({
    readBytes: (path) => (stat(path)?.isFile ? Deno.readFileSync(path) : undefined),
    isDirectory: (path) => stat(path)?.isDirectory,
    resolve: (path) => posix.resolve(path, Deno.cwd()),
    dirname: posix.dirname,
    join: posix.join,
    fromFileUrl: (url) => decodeURIComponent(url.pathname),
    cwd: () => Deno.cwd(),
    home: () => env().HOME,
    env,
  }),
});

export * from "./public.js";
