// Browsers and bundlers (Vite, webpack, esbuild, …), and the `default` for runtimes the exports map
// does not name. The .wasm beside this file is fetched in the background (bundlers see the
// `new URL(…, import.meta.url)` and ship it); async functions wait for it, and `await ready` is
// needed only before calling `parseDotenv`. No file system, no process.
import { init, setReady } from "./internal.js";

setReady(init({ module_or_path: new URL("./modal_secrets_bg.wasm", import.meta.url) }));

export * from "./public.js";
