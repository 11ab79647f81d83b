// What a bundler ships for a small app that uses only `Secret` (issue 18): a Vite build of
// `Secret.fromName("db").hydrate()` against the built package (pkg/, as installed: the app's
// node_modules/modal-secrets links to it), and the bytes of JS and .wasm in its output, raw and
// gzip -9. `node bench/bundle.mjs` (after `npm run build`); prints a Markdown table.
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "vite";

const root = new URL("..", import.meta.url).pathname;
const app = mkdtempSync(join(tmpdir(), "modal-secrets-bundle-"));
try {
  mkdirSync(join(app, "node_modules"));
  symlinkSync(join(root, "pkg"), join(app, "node_modules", "modal-secrets"), "dir");
  writeFileSync(join(app, "index.html"), `<!doctype html><script type="module" src="./main.js"></script>\n`);
  writeFileSync(
    join(app, "main.js"),
    `import { Secret } from "modal-secrets";\nSecret.fromName("db").hydrate().then((s) => console.log(s.keys));\n`,
  );
  await build({ root: app, logLevel: "warn", build: { outDir: "dist", emptyOutDir: true } });
  const assets = join(app, "dist", "assets");
  const rows = readdirSync(assets).map((name) => {
    const bytes = readFileSync(join(assets, name));
    return { kind: name.endsWith(".wasm") ? ".wasm" : "JS", raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  const sum = (kind, key) => rows.filter((r) => kind === "all" || r.kind === kind).reduce((n, r) => n + r[key], 0);
  console.log("| Vite build of `Secret.fromName(...).hydrate()` | raw | gzip -9 |\n|---|---|---|");
  for (const kind of ["JS", ".wasm", "all"]) {
    console.log(`| ${kind === "all" ? "total" : kind} | ${sum(kind, "raw")} B | ${sum(kind, "gzip")} B |`);
  }
} finally {
  rmSync(app, { recursive: true, force: true });
}
