// What the runtime entries need beyond the public names: the wasm loaders, the runtime hooks, the
// file helpers. Not reachable from the package's exports map.
export { default as init, initSync } from "./modal_secrets.js";
export { configureRuntime, setReady } from "./api.js";
export { fileRuntime, posix } from "./files.js";
