// Bun. The .wasm is mapped with Bun.mmap and instantiated synchronously; files and variables go
// through Bun's own API (Bun.mmap, Bun.env), not node:fs or process.
import { initSync, setReady, configureRuntime } from "./internal.js";
import { fileRuntime, posix } from "./files.js";
import { http2Transport } from "./http2.js";

initSync({ module: Bun.mmap(Bun.fileURLToPath(new URL("./modal_secrets_node_bg.wasm", import.meta.url))) });
setReady(true);

// Bun.mmap tells what is at a path by how it fails: ENOENT nothing, EISDIR a directory, EINVAL an
// empty file (nothing to map).
function probe(path) {
  try {
    return { bytes: Bun.mmap(path) };
  } catch (error) {
    if (error?.code === "EINVAL") return { bytes: new Uint8Array(0) };
    if (error?.code === "EISDIR") return { directory: true };
    if (error?.code === "ENOENT" || error?.code === "ENOTDIR") return {};
    throw error;
  }
}

const cwd = () => Bun.fileURLToPath(Bun.pathToFileURL("."));

configureRuntime({
  // Bun's node:http2 carries gRPC's trailers (tests/runtimes/): plain gRPC is the default here too.
  http2: http2Transport,
  ...fileRuntime({
    readBytes: (path) => probe(path).bytes,
    isDirectory(path) {
      const found = probe(path);
      return found.directory ? true : found.bytes ? false : undefined;
    },
    resolve: (path) => posix.resolve(path, cwd()),
    dirname: posix.dirname,
    join: posix.join,
    fromFileUrl: (url) => Bun.fileURLToPath(url),
    cwd,
    home: () => Bun.env.HOME,
    env: () => Bun.env,
  }),
});

export * from "./public.js";
