// One package, every runtime (issue 6): the `npm pack` tarball installed into a fresh folder per
// runtime, which runs the same scenario (tests/runtimes/scenario.mjs: create, fromName + hydrate,
// list, update, info, delete, one typed error) against the real local server. Node ESM, Node CJS,
// Deno, Bun, Cloudflare's workerd (a local config, the worker bundled as wrangler would) and
// Chromium loading a Vite-built app from another origin (so the calls go through CORS). Each test
// prints the runtime's version and which entry of the exports map it loaded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { ROOT, startServer } from "../node/support/server.mjs";
import { launchChromium } from "../support/chromium.mjs";
import { auditLog } from "../support/audit.mjs";

const BIN = join(ROOT, "node_modules", ".bin");
const SCENARIO = join(ROOT, "tests", "runtimes", "scenario.mjs");
const work = mkdtempSync(join(tmpdir(), "modal-secrets-runtimes-"));
after(() => rmSync(work, { recursive: true, force: true }));

// What the runtimes print goes to the secrets audit of npm test (tests/audit/), when it runs.
const printed = auditLog("printed", "runtimes");

/** Runs a command; its stdout, or an error with its output when it fails. */
function run(cmd, args, cwd, options = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20, ...options });
  printed(`$ ${cmd} ${args.join(" ")}\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

// The Vite app is served from its own origin, so the server must allow it: start that first.
const staticFiles = new Map();
const staticServer = createServer((req, res) => {
  const asked = new URL(req.url, "http://x").pathname;
  const path = asked === "/" ? "/index.html" : asked;
  const body = staticFiles.get(path);
  if (!body) return res.writeHead(404).end();
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(body);
});
await new Promise((resolve) => staticServer.listen(0, "127.0.0.1", resolve));
const appOrigin = `http://127.0.0.1:${staticServer.address().port}`;
after(() => staticServer.close());

const server = await startServer({ allowOrigins: [appOrigin] });

// Issue 14: no runtime follows a redirect. tests/runtimes/redirector.mjs (its own process: these
// tests block this one's event loop while a runtime runs) answers every POST with the next of the
// five redirect statuses, pointing at a trap on another origin; whatever reaches the trap is a leak.
const REDIRECTS = [301, 302, 303, 307, 308];
const trapLog = join(work, "trapped.log");
const redirector = spawn(process.execPath, [join(ROOT, "tests", "runtimes", "redirector.mjs"), trapLog], { stdio: ["pipe", "pipe", "inherit"] });
after(() => redirector.kill());
const { redirectUrl, trapOrigin } = await new Promise((resolve, reject) => {
  let out = "";
  redirector.stdout.on("data", (d) => {
    out += d;
    if (out.includes("\n")) resolve(JSON.parse(out));
  });
  redirector.on("exit", (code) => reject(new Error(`the redirector exited (${code})`)));
});
const trapped = () => readFileSync(trapLog, "utf8");
let tarball;

before(() => {
  const packed = JSON.parse(run("npm", ["pack", join(ROOT, "pkg"), "--json", "--pack-destination", work], ROOT));
  tarball = join(work, packed[0].filename);
});

/** A fresh folder with the tarball installed and the scenario beside it. */
function project(name) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }));
  run("npm", ["install", "--no-audit", "--no-fund", "--offline", tarball], dir);
  copyFileSync(SCENARIO, join(dir, "scenario.mjs"));
  return dir;
}

/** The scenario's arguments for one runtime: its own workspace, so runs cannot disturb each other. */
function args(runtime) {
  const token = server.token(`rt-${runtime}`);
  return { serverUrl: server.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, name: `s-${runtime}`, redirectUrl };
}

/** What every runtime must report. */
function check(result, runtime) {
  assert.deepEqual(result.steps, ["create", "hydrate", "list", "update", "info", "delete"]);
  // node:http2 (plain gRPC) where the entry brings it; fetch (gRPC-web) in browsers and workers.
  const http2 = ["node-esm", "node-cjs", "deno", "bun"].includes(runtime);
  assert.equal(result.transport, http2 ? "http2" : "fetch", `${runtime}'s default transport`);
  assert.equal(result.viaFetch, http2 ? true : undefined);
  assert.match(result.objectId, /^st-/);
  assert.deepEqual(result.keys, ["B", "C"]);
  assert.deepEqual(result.listed, [`s-${runtime}`]);
  assert.deepEqual(result.info, { name: `s-${runtime}`, createdAt: true, environmentName: "main" });
  assert.deepEqual(result.error, { notFound: true, modal: true, name: "NotFoundError", code: "NOT_FOUND" });
  assert.deepEqual(result.parsed, { X: "z" });
  // Each of the five redirect statuses: a ConnectionError, not retried, naming where it pointed
  // (Chromium hides that: an opaque redirect); nothing ever reached the trap.
  assert.equal(result.redirects.length, REDIRECTS.length);
  for (const r of result.redirects) {
    assert.equal(r.name, "ConnectionError", r.message);
    assert.equal(r.retryable, false);
    if (runtime === "chromium") assert.match(r.message, /a redirect \(this runtime hides its target\); redirects are never followed/);
    else assert.match(r.message, new RegExp(`HTTP 3\\d\\d, a redirect to "${trapOrigin}"; redirects are never followed`));
  }
  if (runtime !== "chromium") {
    assert.deepEqual(result.redirects.map((r) => Number(/HTTP (\d+)/.exec(r.message)[1])).sort(), [...REDIRECTS].sort());
  }
  assert.equal(trapped(), "");
}

const MAIN = (importLine, entryExpr, argsJson) => `${importLine}
import { scenario } from "./scenario.mjs";
const result = await scenario(pkg, ${argsJson});
console.log(JSON.stringify({ entry: ${entryExpr}, result }));
`;

test("the entries for browsers, workerd, Deno and Bun use no fs, process or __dirname; only Deno's and Bun's reach node:http2", () => {
  const pkgDir = join(ROOT, "pkg");
  const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const conditions = manifest.exports["."];
  // Each entry and every chunk it imports.
  const reached = (entries) => {
    const seen = new Set();
    const visit = (file) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(pkgDir, file), "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*["'](\.\/[^"']+\.js)["']/g)) visit(m[1]);
    };
    entries.forEach(visit);
    return seen;
  };
  const web = reached([conditions.workerd, conditions.browser, conditions.default, "./slim.js"]);
  const server = reached([conditions.deno, conditions.bun]);
  assert.ok([...web].some((f) => f.startsWith("./shared-")), `the shared chunk is reached: ${[...web]}`);
  for (const file of new Set([...web, ...server])) {
    // Deno and Bun have node:http2 (the HTTP/2 transport); browsers and workers must not load it.
    const raw = readFileSync(join(pkgDir, file), "utf8");
    const text = web.has(file) ? raw : raw.replaceAll('"node:http2"', "");
    for (const word of ["node:", "process.", "__dirname", "require("]) {
      assert.ok(!text.includes(word), `${file} uses ${word}`);
    }
    assert.doesNotMatch(text, /["'](?:node:)?fs(?:\/promises)?["']/, `${file} imports fs`);
  }
  const http2 = [...server].filter((f) => readFileSync(join(pkgDir, f), "utf8").includes('"node:http2"'));
  assert.equal(http2.length, 1, `one chunk of Deno's and Bun's imports node:http2: ${[...server]}`);
});

test("Node ESM: import * from 'modal-secrets'", () => {
  const dir = project("node-esm");
  writeFileSync(
    join(dir, "main.mjs"),
    MAIN(`import * as pkg from "modal-secrets";`, `import.meta.resolve("modal-secrets")`, JSON.stringify(args("node-esm"))),
  );
  const out = JSON.parse(run("node", ["main.mjs"], dir));
  console.log(`Node ${process.version}: ${out.entry.split("/").pop()}`);
  assert.match(out.entry, /\/node\.mjs$/);
  check(out.result, "node-esm");
});

test("Node CJS: require('modal-secrets')", () => {
  const dir = project("node-cjs");
  writeFileSync(
    join(dir, "main.cjs"),
    `const pkg = require("modal-secrets");
import("./scenario.mjs")
  .then(({ scenario }) => scenario(pkg, ${JSON.stringify(args("node-cjs"))}))
  .then((result) => console.log(JSON.stringify({ entry: require.resolve("modal-secrets"), result })));
`,
  );
  const out = JSON.parse(run("node", ["main.cjs"], dir));
  console.log(`Node ${process.version}: ${out.entry.split("/").pop()}`);
  assert.match(out.entry, /\/node\.cjs$/);
  check(out.result, "node-cjs");
});

test("Deno (npm deno), with only --allow-net", () => {
  const dir = project("deno");
  writeFileSync(
    join(dir, "main.mjs"),
    MAIN(`import * as pkg from "modal-secrets";`, `import.meta.resolve("modal-secrets")`, JSON.stringify(args("deno"))),
  );
  const version = run(join(BIN, "deno"), ["--version"], dir).split("\n")[0];
  const out = JSON.parse(run(join(BIN, "deno"), ["run", "--allow-net=127.0.0.1", "main.mjs"], dir, { env: { ...process.env, NO_COLOR: "1" } }));
  console.log(`${version}: ${out.entry.split("/").pop()}`);
  assert.match(out.entry, /\/deno\.js$/);
  check(out.result, "deno");
});

test("Bun (npm bun)", () => {
  const dir = project("bun");
  writeFileSync(
    join(dir, "main.mjs"),
    MAIN(`import * as pkg from "modal-secrets";`, `Bun.resolveSync("modal-secrets", import.meta.dir)`, JSON.stringify(args("bun"))),
  );
  const version = run(join(BIN, "bun"), ["--version"], dir).trim();
  const out = JSON.parse(run(join(BIN, "bun"), ["run", "main.mjs"], dir));
  console.log(`Bun ${version}: ${out.entry.split("/").pop()}`);
  assert.match(out.entry, /\/bun\.js$/);
  check(out.result, "bun");
});

async function freePort() {
  const probe = createNetServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test("Cloudflare workerd (npm workerd), the worker bundled as wrangler does", async () => {
  const dir = project("workerd");
  const a = args("workerd");
  writeFileSync(
    join(dir, "worker.mjs"),
    `import * as pkg from "modal-secrets";
import { scenario } from "./scenario.mjs";
export default {
  async fetch(request, env) {
    try {
      const result = await scenario(pkg, { ...JSON.parse(env.ARGS) });
      return Response.json({ result });
    } catch (e) {
      return new Response(String(e?.stack ?? e), { status: 500 });
    }
  },
};
`,
  );
  // wrangler bundles with esbuild, the workerd/worker/browser conditions, and .wasm imports kept
  // as modules; the config lists them the same way.
  run(join(BIN, "esbuild"), [
    "worker.mjs", "--bundle", "--format=esm", "--conditions=workerd,worker,browser", "--external:*.wasm",
    "--metafile=meta.json", "--outdir=out", "--log-level=warning",
  ], dir);
  const inputs = Object.keys(JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")).inputs);
  const entry = inputs.find((p) => p.includes("node_modules/modal-secrets/") && !p.includes("shared-"));
  copyFileSync(join(dir, "node_modules/modal-secrets/modal_secrets_bg.wasm"), join(dir, "out/modal_secrets_bg.wasm"));
  const port = await freePort();
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker), (name = "net", network = (allow = ["local", "private"])) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "out/worker.js"),
    (name = "modal_secrets_bg.wasm", wasm = embed "out/modal_secrets_bg.wasm"),
  ],
  bindings = [ (name = "ARGS", text = ${JSON.stringify(JSON.stringify(a))}) ],
  globalOutbound = "net",
  compatibilityDate = "2026-11-01",
);
`,
  );
  const version = run(join(BIN, "workerd"), ["--version"], dir).trim();
  const child = spawn(join(BIN, "workerd"), ["serve", "config.capnp"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  child.stdout.on("data", printed);
  child.stderr.on("data", printed);
  try {
    let response;
    for (let i = 0; i < 100 && !response; i++) {
      response = await fetch(`http://127.0.0.1:${port}/`).catch(() => new Promise((r) => setTimeout(r, 100)));
    }
    assert.ok(response, `workerd did not answer:\n${log}`);
    const text = await response.text();
    printed(`workerd answered ${response.status}: ${text}\n`);
    assert.equal(response.status, 200, text);
    const out = JSON.parse(text);
    console.log(`workerd ${version}: ${entry.split("/").pop()}`);
    assert.match(entry, /\/workerd\.js$/);
    // No nodejs_compat flag: a `node:` import would not even load. The bundle shows the rest.
    const bundle = readFileSync(join(dir, "out/worker.js"), "utf8");
    for (const word of ["node:", "process.", "__dirname", "require("]) assert.ok(!bundle.includes(word), `the worker uses ${word}`);
    check(out.result, "workerd");
  } finally {
    child.kill("SIGTERM");
  }
});

test("Chromium: a Vite-built app from another origin, through CORS", async () => {
  const dir = project("vite");
  writeFileSync(join(dir, "index.html"), `<!doctype html><title>rt</title><script type="module" src="./main.js"></script>`);
  writeFileSync(
    join(dir, "main.js"),
    `import * as pkg from "modal-secrets";
import { scenario } from "./scenario.mjs";
const args = JSON.parse(new URLSearchParams(location.search).get("args"));
scenario(pkg, args).then(
  (result) => { window.done = { result }; },
  (error) => { window.done = { error: String(error?.stack ?? error) }; },
);
`,
  );
  const viteVersion = run(join(BIN, "vite"), ["--version"], dir).trim();
  run(join(BIN, "vite"), ["build", "--logLevel", "warn"], dir);
  const dist = join(dir, "dist");
  const files = run("find", [".", "-type", "f"], dist).trim().split("\n");
  for (const f of files) staticFiles.set(f.slice(1), readFileSync(join(dist, f)));
  assert.ok(files.some((f) => f.endsWith(".wasm")), `Vite shipped the .wasm: ${files}`);

  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("pageerror", (e) => printed(`chromium pageerror: ${e}\n`));
    page.on("console", (m) => printed(`chromium console ${m.type()}: ${m.text()}\n`));
    await page.goto(`${appOrigin}/?args=${encodeURIComponent(JSON.stringify(args("chromium")))}`);
    await page.waitForFunction(() => window.done, null, { timeout: 30_000 });
    const done = await page.evaluate(() => window.done);
    console.log(`Chromium ${browser.version}, ${viteVersion}: browser.js (${files.length} files from ${appOrigin})`);
    assert.equal(done.error, undefined, done.error);
    assert.deepEqual(errors, []);
    check(done.result, "chromium");
  } finally {
    await browser.close();
  }
});
