// `modal-secrets/slim`: for a runtime none of the other entries foresees. Nothing is loaded until
// `initialize(moduleOrBytesOrUrl)`: a WebAssembly.Module (instantiated synchronously), the .wasm's
// bytes, or a URL / Response to fetch it from. Calls made before it wait for it.
import { init, initSync, setReady } from "./internal.js";

let loading;

export function initialize(input) {
  if (input === undefined || input === null) {
    throw new TypeError("initialize(moduleOrBytesOrUrl): pass the package's .wasm as a WebAssembly.Module, bytes or a URL");
  }
  if (!loading) {
    loading =
      input instanceof WebAssembly.Module
        ? Promise.resolve(initSync({ module: input }))
        : init({ module_or_path: input });
    setReady(loading);
  }
  return loading.then(() => undefined);
}

export * from "./public.js";
