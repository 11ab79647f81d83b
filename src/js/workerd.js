// Cloudflare Workers (workerd, wrangler, miniflare). workerd refuses to compile wasm bytes at run
// time, so the .wasm comes in as a module import, compiled at deploy; instantiating it is
// synchronous. Workers have no process.env: pass the worker's `env` to `Client.fromEnv({ env })`.
import wasm from "./modal_secrets_bg.wasm";
import { initSync, setReady } from "./internal.js";

initSync({ module: wasm });
setReady(true);

export * from "./public.js";
