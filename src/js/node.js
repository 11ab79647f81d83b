// The Node entry (bundled by scripts/build.sh into pkg/node.cjs; pkg/node.mjs re-exports it, so ESM
// and CJS users share one instance and `instanceof` holds across both). It loads the .wasm beside it
// synchronously, so no top-level await is needed and every export is usable at once.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { initSync } from "./modal_secrets.js";

initSync({ module: readFileSync(join(__dirname, "modal_secrets_bg.wasm")) });

export { parseDotenv } from "./modal_secrets.js";
export {
  ModalError,
  InvalidError,
  ConflictError,
  NotFoundError,
  AlreadyExistsError,
  AuthError,
  PermissionDeniedError,
  ResourceExhaustedError,
  ServiceError,
  UnimplementedError,
  InternalError,
  DataLossError,
  ConnectionError,
  TimeoutError,
} from "./errors.js";
