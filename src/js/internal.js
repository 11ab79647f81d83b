// What the runtime entries need beyond the public names: the wasm loaders and the runtime hooks.
// Not reachable from the package's exports map. (The file helpers, files.js, are imported by the
// entries of runtimes with files only: their .wasm has what files.js calls, the others' does not.)
export { default as init, initSync } from "./modal_secrets.js";
export { configureRuntime, setReady } from "./api.js";
