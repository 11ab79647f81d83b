// What each runtime downloads from pkg/ (the entry, every chunk it imports, the .wasm), raw and
// gzip -9, for scripts/build.sh to print, checked against the budget in scripts/size-budget.json:
// above it, this exits non-zero and the build fails, so the package cannot grow unnoticed.
// `node scripts/sizes.mjs [pkg] [--json]`.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const args = process.argv.slice(2);
const pkgDir = resolve(args.find((a) => !a.startsWith("--")) ?? "pkg");
const entries = {
  "Node (node.cjs)": "node.cjs",
  "browsers, bundlers (browser.js)": "browser.js",
  "workerd (workerd.js)": "workerd.js",
  "Deno (deno.js)": "deno.js",
  "Bun (bun.js)": "bun.js",
};

/** The entry and the ES-module chunks it imports, transitively. */
function closure(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(join(pkgDir, file), "utf8");
  for (const m of text.matchAll(/(?:from|import)\s*["']\.\/([^"']+\.js)["']/g)) closure(m[1], seen);
  return seen;
}

// The .wasm an entry loads: the one its files name (Node, Deno and Bun load the files build,
// modal_secrets_node_bg.wasm; the others modal_secrets_bg.wasm).
function wasmOf(files) {
  const named = new Set();
  for (const f of files) {
    for (const m of readFileSync(join(pkgDir, f), "utf8").matchAll(/modal_secrets(?:_node)?_bg\.wasm/g)) named.add(m[0]);
  }
  if (named.size !== 1) throw new Error(`${files[0]} names ${named.size} .wasm files: ${[...named]}`);
  return [...named][0];
}

const rows = Object.entries(entries).map(([runtime, entry]) => {
  const files = [...closure(entry)];
  const wasmName = wasmOf(files);
  const wasm = readFileSync(join(pkgDir, wasmName));
  const wasmGz = gzipSync(wasm, { level: 9 }).length;
  const js = files.map((f) => readFileSync(join(pkgDir, f)));
  const jsRaw = js.reduce((n, b) => n + b.length, 0);
  const jsGz = js.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0);
  return { runtime, files: [...files, wasmName], jsRaw, jsGz, wasmRaw: wasm.length, wasmGz, totalGz: jsGz + wasmGz };
});

const budget = JSON.parse(readFileSync(new URL("./size-budget.json", import.meta.url), "utf8"));
// Browsers and workerd load the web build: their own, lower budget.
const WEB = new Set(["browsers, bundlers (browser.js)", "workerd (workerd.js)"]);
const limitOf = (r) => (WEB.has(r.runtime) ? budget.maxGzipBytesWebRuntimes : budget.maxGzipBytesPerRuntime);
const over = rows.filter((r) => r.totalGz > limitOf(r));

if (args.includes("--json")) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  for (const r of rows) {
    console.log(
      `build: size: ${r.runtime}: ${(r.totalGz / 1000).toFixed(1)} KB gzip ` +
        `(${r.files.at(-1)} ${r.wasmGz} B + JS ${r.jsGz} B; raw ${r.wasmRaw} + ${r.jsRaw} B)`,
    );
  }
}

if (over.length) {
  for (const r of over) {
    console.error(
      `build: error: ${r.runtime} downloads ${r.totalGz} B gzip, over the budget of ` +
        `${limitOf(r)} B (scripts/size-budget.json)`,
    );
  }
  process.exit(1);
}
