// What each runtime loads from pkg/ (the entry, every chunk it imports, the .wasm), for
// scripts/build.sh to print, checked against the budgets in scripts/size-budget.json: above one,
// this exits non-zero and the build fails, so the package cannot grow unnoticed.
// Browsers, workerd, Deno and Bun download it: counted gzip -9. Node reads it from disk and compiles
// it (node.cjs is not minified, for readable stack traces: issue 18): counted raw, beside what
// `npm install` puts on disk (every file of the package).
// `node scripts/sizes.mjs [pkg] [--json]`.
import { readdirSync, readFileSync, statSync } from "node:fs";
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
  const totalRaw = jsRaw + wasm.length;
  return { runtime, files: [...files, wasmName], jsRaw, jsGz, wasmRaw: wasm.length, wasmGz, totalGz: jsGz + wasmGz, totalRaw };
});
const installedBytes = readdirSync(pkgDir).reduce((n, f) => n + statSync(join(pkgDir, f)).size, 0);
const isNode = (r) => r.runtime.startsWith("Node");

const budget = JSON.parse(readFileSync(new URL("./size-budget.json", import.meta.url), "utf8"));
for (const key of ["maxGzipBytesWebRuntimes", "maxGzipBytesFilesRuntimes", "maxDiskBytesNode"]) {
  // A budget that is missing would pass everything.
  if (!Number.isInteger(budget[key])) throw new Error(`scripts/size-budget.json has no ${key}`);
}
// Browsers and workerd load the web build (no `files` feature); Deno and Bun the files build.
const WEB = new Set(["browsers, bundlers (browser.js)", "workerd (workerd.js)"]);
/** [the figure checked, its budget, what it is] for row `r`. */
const checked = (r) =>
  isNode(r)
    ? [r.totalRaw, budget.maxDiskBytesNode, "reads from disk"]
    : [r.totalGz, WEB.has(r.runtime) ? budget.maxGzipBytesWebRuntimes : budget.maxGzipBytesFilesRuntimes, "downloads, gzip"];
const over = rows.filter((r) => checked(r)[0] > checked(r)[1]);
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;

if (args.includes("--json")) {
  console.log(JSON.stringify({ runtimes: rows, installedBytes }, null, 2));
} else {
  for (const r of rows) {
    const parts = `${r.files.at(-1)} ${r.wasmGz} B + JS ${r.jsGz} B gzip; raw ${r.wasmRaw} + ${r.jsRaw} B`;
    console.log(
      isNode(r)
        ? `build: size: ${r.runtime}: ${kb(r.totalRaw)} on disk (${parts})`
        : `build: size: ${r.runtime}: ${kb(r.totalGz)} gzip (${parts})`,
    );
  }
  console.log(`build: size: the installed package (every file of pkg/): ${kb(installedBytes)} on disk`);
}

if (over.length) {
  for (const r of over) {
    const [figure, limit, what] = checked(r);
    console.error(`build: error: ${r.runtime} ${what} ${figure} B, over the budget of ${limit} B (scripts/size-budget.json)`);
  }
  process.exit(1);
}
