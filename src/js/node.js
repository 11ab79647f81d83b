// The Node entry (bundled by scripts/build.sh into pkg/node.cjs; pkg/node.mjs re-exports it, so ESM
// and CJS users share one instance and `instanceof` holds across both). It loads the .wasm beside it
// synchronously, so no top-level await is needed and every export is usable at once. This is the
// only file that touches `fs`, `os` or `process`.
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { initSync, configPath } from "./modal_secrets.js";
import { configureRuntime, setReady, InvalidError, NotFoundError } from "./api.js";

initSync({ module: readFileSync(join(__dirname, "modal_secrets_bg.wasm")) });
setReady(true);

function invalid(message) {
  return new InvalidError(message, { code: "INVALID_ARGUMENT", retryable: false });
}

// Reads a text file as Python's open(path, encoding="utf-8") does: UTF-8 (a byte-order mark is
// dropped), universal newlines (\r\n and \r become \n).
function readText(path, what) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw invalid(`${what}: cannot read ${path} (${error.code ?? error.message})`);
  }
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`${what}: ${path} is not valid UTF-8`);
  }
  return text.replace(/\r\n?/g, "\n");
}

function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

// Modal's search for Secret.fromDotenv: from `start` (a file's directory, or a directory) up to the
// root, the first directory holding `filename`. Without a path, from the working directory.
function findDotenv(start, filename) {
  let dir = resolve(start);
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    throw invalid(`Secret.fromDotenv: the starting path ${dir} does not exist`);
  }
  if (!stat.isDirectory()) dir = dirname(dir);
  for (;;) {
    const candidate = join(dir, filename);
    if (isFile(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

configureRuntime({
  env: () => process.env,

  readConfig(env) {
    const path = configPath(env, homedir());
    if (!path || !isFile(path)) return undefined;
    return readText(path, "Modal config");
  },

  readDotenv(path, options) {
    const filename = options?.filename ?? ".env";
    if (typeof filename !== "string" || filename === "") {
      throw invalid("Secret.fromDotenv: options.filename must be a non-empty string");
    }
    const unknown = Object.keys(options ?? {}).filter((k) => k !== "filename");
    if (unknown.length) {
      throw invalid(`Secret.fromDotenv: unknown option ${JSON.stringify(unknown[0])}; the options are filename`);
    }
    if (path !== undefined && path !== null && typeof path !== "string" && !(path instanceof URL)) {
      throw invalid(`Secret.fromDotenv: path must be a string or a file URL, got a ${typeof path}`);
    }
    const start = path instanceof URL ? fileURLToPath(path) : (path ?? process.cwd());
    const found = findDotenv(start, filename);
    if (!found) {
      // Modal silently makes an empty secret here; an error is kinder than an empty secret.
      throw new NotFoundError(
        `Secret.fromDotenv: no ${filename} in ${resolve(start)} or any directory above it`,
        { code: "NOT_FOUND", retryable: false },
      );
    }
    return { text: readText(found, "Secret.fromDotenv"), env: process.env };
  },
});

export {
  Client,
  Secret,
  parseDotenv,
  ready,
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
} from "./api.js";
