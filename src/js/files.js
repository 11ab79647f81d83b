// Files for the runtimes that have them (Node, Deno, Bun): the Modal config file and the .env file
// `Secret.fromDotenv` finds. Each entry passes an adapter over its own file API, so this module
// itself touches no runtime global:
//   readBytes(path) -> Uint8Array of a regular file, or undefined when there is none
//   isDirectory(path) -> true / false, or undefined when nothing is there
//   resolve(path), dirname(path), join(dir, name), cwd(), home(), env()
import { InvalidError, NotFoundError } from "./errors.js";
import { configPath, dotenvFilename } from "./modal_secrets.js";

function invalid(message) {
  return new InvalidError(message, { code: "INVALID_ARGUMENT", retryable: false });
}

// A text file as Python's open(path, encoding="utf-8") reads it: UTF-8, universal newlines (\r\n and
// \r become \n). Python's "utf-8" keeps a byte-order mark; `keepBom` does too (a .env: python-dotenv
// drops one itself, as parseDotenv does, and a second one is part of the first key). Without it, one
// is dropped (the Modal config file).
function decode(bytes, path, what, keepBom = false) {
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: keepBom }).decode(bytes);
  } catch {
    throw invalid(`${what}: ${path} is not valid UTF-8`);
  }
  return text.replace(/\r\n?/g, "\n");
}

function readText(fs, path, what, keepBom = false) {
  let bytes;
  try {
    bytes = fs.readBytes(path);
  } catch (error) {
    throw invalid(`${what}: cannot read ${path} (${error?.code ?? error?.name ?? error})`);
  }
  return bytes === undefined ? undefined : decode(bytes, path, what, keepBom);
}

/** The runtime hooks of api.js's `configureRuntime` for a file system behind `fs`. */
export function fileRuntime(fs) {
  return {
    env: () => fs.env(),

    readConfig(env) {
      const path = configPath(env, fs.home());
      return path ? readText(fs, path, "Modal config") : undefined;
    },

    readDotenv(path, options) {
      // A file URL becomes its path; the rest is checked in Rust (src/dotenv.rs).
      const isFileUrl = path instanceof URL && path.protocol === "file:";
      const filename = dotenvFilename(isFileUrl ? undefined : path, options);
      let start = isFileUrl ? fs.fromFileUrl(path) : (path ?? fs.cwd());
      start = fs.resolve(start);

      // Modal's search (python-dotenv's _walk_to_root): from the path's directory (its own, if it
      // is a directory) up to the root, the first `filename` that is a file.
      const kind = fs.isDirectory(start);
      if (kind === undefined) throw invalid(`Secret.fromDotenv: the starting path ${start} does not exist`);
      let dir = kind ? start : fs.dirname(start);
      for (;;) {
        const candidate = fs.join(dir, filename);
        const text = readText(fs, candidate, "Secret.fromDotenv", true);
        if (text !== undefined) return { text, env: fs.env() ?? {} };
        const parent = fs.dirname(dir);
        if (parent === dir) break;
        dir = parent;
      }
      // Modal silently makes an empty secret here; an error is kinder than an empty secret.
      throw new NotFoundError(`Secret.fromDotenv: no ${filename} in ${start} or any directory above it`, {
        code: "NOT_FOUND",
        retryable: false,
      });
    },
  };
}

// POSIX path helpers for the runtimes whose entries cannot import node:path.
export const posix = {
  resolve(path, cwd) {
    const parts = [];
    for (const part of (path.startsWith("/") ? path : `${cwd}/${path}`).split("/")) {
      if (part === "" || part === ".") continue;
      if (part === "..") parts.pop();
      else parts.push(part);
    }
    return `/${parts.join("/")}`;
  },
  dirname(path) {
    const at = path.lastIndexOf("/");
    return at <= 0 ? "/" : path.slice(0, at);
  },
  join(dir, name) {
    return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
  },
};
