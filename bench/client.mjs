// The "Client" section of bench/RESULTS.md (issue 7): this package against Modal's official clients
// and a raw-fetch floor, all against one local modal-secrets-server started here (port 0, temporary
// store). Run by bench/client.sh, which installs the baselines and builds what is missing, then:
//
//   node bench/client.mjs FRAGMENT.md
//
// Every figure is the median of BENCH_RUNS runs (default 5, at least 5) with min and max; each run of
// each contender is a fresh process, and the contenders take turns (the order rotates every run) so
// that the noise of a shared machine falls on all of them alike. For a figure whose target does not
// hold, one more run of this package is made under `node --cpu-prof` and its profile summarised.
// Nothing here fails on a figure.
//
// Transports (issue 15): "ours" is the package with its defaults, which in Node is gRPC over one
// node:http2 session per client; "ours-fetch" is the same with `transport: "fetch"` (gRPC-web over
// undici's fetch, HTTP/1.1). Each has its floor: bench/floor.mjs over the global fetch ("floor") and
// over bare node:http2 ("floor-h2"). The HTTP/2 rows compare ours with Modal's JS SDK and the
// HTTP/2 floor; the fetch rows keep comparing ours-fetch with the fetch floor.
//
// Environment (set by bench/client.sh): BENCH_OFFICIAL_JS, BENCH_DOTENV_JS (directories holding
// node_modules/modal and node_modules/dotenv), BENCH_PY_MODAL (a python with modal==1.6.4),
// BENCH_PY_DOTENV (a python with python-dotenv). Optional: BENCH_RUNS, BENCH_ONLY (comma-separated
// figure names: size,cold,warm,list,concurrent,dotenv,memory), BENCH_PROFILE=all (profile every
// speed figure, not only those whose target does not hold), BENCH_QUICK=1 (for checking that the
// figures run, not for results: BENCH_RUNS may go below 5, 300 warm calls, a 2,000-secret list; the
// section then says so in its first line).
import { spawn, execFileSync } from "node:child_process";
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, cpus, totalmem, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { markdown as profileMarkdown, diffMarkdown } from "./cpuprof.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BENCH = join(ROOT, "bench");
const SERVER_BIN = join(ROOT, "target/release/modal-secrets-server");
const PKG_DIR = join(ROOT, "pkg");
const PKG_ENTRY = join(PKG_DIR, "node.mjs");
const TASKS = join(BENCH, "client-tasks.mjs");
const PY_TASKS = join(BENCH, "client-tasks.py");
const ESBUILD = join(ROOT, "node_modules/.bin/esbuild");

const outFile = process.argv[2];
if (!outFile) {
  console.error("usage: node bench/client.mjs FRAGMENT.md");
  process.exit(2);
}
const env = process.env;
for (const name of ["BENCH_OFFICIAL_JS", "BENCH_DOTENV_JS", "BENCH_PY_MODAL", "BENCH_PY_DOTENV"]) {
  if (!env[name]) {
    console.error(`bench/client.mjs: ${name} is not set (run bench/client.sh)`);
    process.exit(2);
  }
}
const OFFICIAL_JS = resolve(env.BENCH_OFFICIAL_JS);
const DOTENV_JS = resolve(env.BENCH_DOTENV_JS);
const PY_MODAL = env.BENCH_PY_MODAL;
const PY_DOTENV = env.BENCH_PY_DOTENV;
const QUICK = env.BENCH_QUICK === "1";
const RUNS = Math.max(QUICK ? 1 : 5, Number(env.BENCH_RUNS) || 5);
const COLD_RUNS = QUICK ? RUNS : Math.max(RUNS, 7);
const ONLY = env.BENCH_ONLY ? new Set(env.BENCH_ONLY.split(",")) : null;
const want = (figure) => !ONLY || ONLY.has(figure);

const WARM_CALLS = QUICK ? 300 : 1000;
const CONCURRENT = 1000;
const LIST_SIZE = QUICK ? 2_000 : 10_000;
const DOTENV_BYTES = 1 << 20;
// The same generator at 16 MiB: the parse must stay linear (issue 16: throughput within 20% of the
// 1 MiB row's) and at least as fast as npm dotenv. python-dotenv is left out there (~75 s a parse).
const DOTENV_BIG_BYTES = 16 << 20;
const MEM_POINTS = [1_000, 10_000, 100_000];
// Real hydrations run at about 2,000 a second here: 25,000 keep the run short, and the 10,000 point
// shows whether growth has stopped.
const MEM_HYDRATE_POINTS = [1_000, 10_000, 25_000];
const PAGE = 65536;
const PROFILE_INTERVAL_US = 100;

const log = (...a) => console.error("bench: client:", ...a);
const started = performance.now();
const tmp = mkdtempSync(join(tmpdir(), "modal-secrets-bench-"));
const profDir = join(tmp, "profiles");
mkdirSync(profDir);

// ---- statistics ------------------------------------------------------------------------------------

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, min: s[0], max: s[n - 1], n, values };
}

/** Runs `measure(variant, run)` for every run and variant, the order rotating each run. */
async function interleaved(variants, runs, measure) {
  const out = Object.fromEntries(variants.map((v) => [v, []]));
  const extra = Object.fromEntries(variants.map((v) => [v, []]));
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(run + k) % variants.length];
      const r = await measure(v, run);
      out[v].push(r.value);
      extra[v].push(r);
    }
  }
  return Object.fromEntries(variants.map((v) => [v, { ...stats(out[v]), runs: extra[v] }]));
}

// ---- processes ---------------------------------------------------------------------------------------

let childEnv;

/** Runs a command to completion; resolves to its last stdout line parsed as JSON. */
function runJson(cmd, args, { timeoutMs = 300_000, extraEnv = {} } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: { ...childEnv, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop();
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}:\n${err.slice(-3000)}`));
        return;
      }
      try {
        resolvePromise(JSON.parse(last));
      } catch {
        reject(new Error(`${cmd} ${args.join(" ")}: no JSON answer:\n${out.slice(-2000)}\n${err.slice(-2000)}`));
      }
    });
  });
}

/**
 * Cold start: ms from just before spawning `cmd` to the first stdout line starting with "ok" (the
 * first answer). The process is then left to exit by itself (killed after 20 s).
 */
function timeToFirstAnswer(cmd, args) {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let ms;
    child.stdout.on("data", (d) => {
      out += d;
      if (ms === undefined && /(^|\n)ok\b/.test(out)) ms = performance.now() - t0;
    });
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (ms === undefined || (code !== 0 && signal !== "SIGKILL")) {
        reject(new Error(`${cmd} ${args.join(" ")}: no answer (exit ${code ?? signal}):\n${out}\n${err.slice(-3000)}`));
      } else {
        resolvePromise({ value: ms, out });
      }
    });
  });
}

/** Runs `node --cpu-prof ARGS...` (the whole process) and returns the profile it writes (parsed). */
async function profileNode(args, { answerOnly = false } = {}) {
  const dir = mkdtempSync(join(profDir, "p-"));
  const nodeArgs = ["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-interval", String(PROFILE_INTERVAL_US), ...args];
  if (answerOnly) await timeToFirstAnswer(process.execPath, nodeArgs);
  else await runJson(process.execPath, nodeArgs);
  // With answerOnly the process exits by itself after answering; wait for its profile to appear.
  for (let i = 0; i < 100; i++) {
    const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
    if (files.length) {
      try {
        return JSON.parse(readFileSync(join(dir, files[0]), "utf8"));
      } catch {
        // still being written
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no profile was written");
}

/** Runs a bench/client-tasks.mjs task with BENCH_CPU_PROFILE: the profile of its timed part only. */
async function profileTask(args, extraEnv = {}) {
  const file = join(mkdtempSync(join(profDir, "t-")), "task.cpuprofile");
  await runJson(process.execPath, [TASKS, ...args], {
    extraEnv: { ...extraEnv, BENCH_CPU_PROFILE: file, BENCH_CPU_PROFILE_INTERVAL_US: String(PROFILE_INTERVAL_US) },
  });
  return JSON.parse(readFileSync(file, "utf8"));
}

/**
 * For readable profiles: a copy of pkg/ whose .wasm keeps its function names. The same cargo output
 * that scripts/build.sh turns into pkg/ goes through wasm-bindgen with --keep-debug and wasm-opt -Oz
 * with --debuginfo (instead of stripping); it is used only if its imports and exports are exactly
 * those of pkg/'s .wasm (i.e. it is the same build). Returns the copy's node.mjs, or null (the
 * profiles then show `wasm-function[N]`).
 */
function namedPackage() {
  const raw = join(ROOT, "target/wasm32-unknown-unknown/wasm-release/modal_secrets.wasm");
  try {
    statSync(raw);
    const dir = join(tmp, "named");
    mkdirSync(join(dir, "bindgen"), { recursive: true });
    execFileSync("wasm-bindgen", ["--target", "web", "--keep-debug", "--out-dir", join(dir, "bindgen"), "--out-name", "modal_secrets", raw], {
      stdio: "ignore",
    });
    execFileSync(
      join(ROOT, "node_modules/.bin/wasm-opt"),
      [
        "-Oz",
        "--debuginfo",
        "--enable-reference-types",
        "--enable-bulk-memory",
        "--enable-sign-ext",
        "--enable-mutable-globals",
        "--enable-multivalue",
        "--enable-nontrapping-float-to-int",
        join(dir, "bindgen/modal_secrets_bg.wasm"),
        "-o",
        join(dir, "named.wasm"),
      ],
      { stdio: "ignore" },
    );
    const shape = (file) => {
      const m = new WebAssembly.Module(readFileSync(file));
      return JSON.stringify([WebAssembly.Module.imports(m), WebAssembly.Module.exports(m)]);
    };
    if (shape(join(dir, "named.wasm")) !== shape(join(PKG_DIR, "modal_secrets_node_bg.wasm"))) return null;
    const copy = join(dir, "pkg");
    cpSync(PKG_DIR, copy, { recursive: true });
    cpSync(join(dir, "named.wasm"), join(copy, "modal_secrets_node_bg.wasm"));
    return join(copy, "node.mjs");
  } catch {
    return null;
  }
}

// ---- the server --------------------------------------------------------------------------------------

// Not tests/support/server.mjs's spawnServer: here the server logs to a file, not through a pipe into
// this process, whose event loop is what is being measured.
let serverChild;
async function startServer() {
  const data = join(tmp, "data");
  const logPath = join(tmp, "server.log");
  const fd = openSync(logPath, "w");
  serverChild = spawn(
    SERVER_BIN,
    // Every contender connects from 127.0.0.1: the per-address connection cap (256 by default, a
    // guard against one client hogging the server) would close the fetch contenders' connections
    // at 1,000 concurrent calls (undici opens one per request in flight), so it is raised here.
    // The HTTP/2 stream cap (--max-streams-per-connection, 100) is left at its default: every
    // HTTP/2 contender (ours, the HTTP/2 floor, the JS SDK) queues past it alike.
    [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      data,
      "--www",
      join(tmp, "no-www"),
      "--pkg",
      join(tmp, "no-pkg"),
      "--max-connections-per-address",
      "4096",
    ],
    { stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  for (let i = 0; i < 200; i++) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(readFileSync(logPath, "utf8"));
    if (m) {
      const token = (workspace) => {
        const out = JSON.parse(
          execFileSync(SERVER_BIN, ["token", "new", "--data", data, "--workspace", workspace], { encoding: "utf8" }),
        );
        return { tokenId: out.token_id, tokenSecret: out.token_secret };
      };
      return { url: m[1], token };
    }
    if (serverChild.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the server did not start:\n${readFileSync(logPath, "utf8")}`);
}

function stopServer() {
  if (serverChild && serverChild.exitCode === null && serverChild.signalCode === null) serverChild.kill("SIGTERM");
}

// ---- inputs ------------------------------------------------------------------------------------------

/** A deterministic .env of at least `bytes` bytes using every form the parsers share. */
function makeDotenv(bytes) {
  const parts = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const k = `KEY_${i}`;
    let line;
    switch (i % 10) {
      case 0:
        line = `${k}=plain-value-${i}-abcdefghijklmnopqrstuvwxyz`;
        break;
      case 1:
        line = `export ${k}="double quoted \\n with an escape and \${KEY_${i - 1}}"`;
        break;
      case 2:
        line = `${k}='single quoted, $NOT_EXPANDED, ${i}'`;
        break;
      case 3:
        line = `# a comment line ${i}\n${k}=value-${i} # and a trailing comment`;
        break;
      case 4:
        line = `${k}="a value over\ntwo lines ${i}"`;
        break;
      case 5:
        line = `${k}=\${KEY_${i - 5}}/\${MISSING_${i}:-fallback}/suffix`;
        break;
      case 6:
        line = `  ${k} = spaced-value-${i}  `;
        break;
      case 7:
        line = `${k}=${"x".repeat(200)}${i}`;
        break;
      case 8:
        line = `\n${k}=`;
        break;
      default:
        line = `${k}="quoted with 'inner' quotes and a # hash ${i}"`;
    }
    parts.push(line);
    size += Buffer.byteLength(line) + 1;
  }
  return `${parts.join("\n")}\n`;
}

// ---- figures -----------------------------------------------------------------------------------------

const figures = {};
const notes = [];

function sizes() {
  const ours = JSON.parse(execFileSync(process.execPath, [join(ROOT, "scripts/sizes.mjs"), PKG_DIR, "--json"], { encoding: "utf8" })).runtimes;
  const entry = join(tmp, "official-entry.mjs");
  // `export` rather than a bare import: the SDK declares "sideEffects": false, so an unused import
  // would be shaken away entirely. This keeps ModalClient and everything it reaches.
  writeFileSync(entry, 'export { ModalClient } from "modal";\n');
  const outJs = join(tmp, "official-bundle.js");
  execFileSync(
    ESBUILD,
    [entry, "--bundle", "--minify", "--platform=node", "--format=esm", `--outfile=${outJs}`, "--log-level=error"],
    { env: { ...env, NODE_PATH: join(OFFICIAL_JS, "node_modules") } },
  );
  const bundle = readFileSync(outJs);
  const officialGz = gzipSync(bundle, { level: 9 }).length;
  figures.size = { ours, official: { raw: bundle.length, gz: officialGz } };
}

async function cold() {
  const pkgUrl = pathToFileURL(PKG_ENTRY).href;
  const modalUrl = pathToFileURL(createRequire(join(OFFICIAL_JS, "noop.js")).resolve("modal")).href;
  /** A Node process running ES module `code`. */
  const nodeModule = (code) => [process.execPath, ["--input-type=module", "-e", code]];
  const scripts = {
    bare: [process.execPath, ["-e", 'process.stdout.write("ok\\n")']],
    ours: nodeModule(
      // The default client (Client.fromEnv(), made at the first call; in Node: HTTP/2, whose
      // session opens at that call, inside the timed span). The line after "ok" (not timed: the
      // write to a pipe is synchronous) says which transport a client from the environment uses.
      `import { Client, Secret } from ${JSON.stringify(pkgUrl)};
const s = await Secret.fromDict({ BENCH: "1" }).hydrate();
process.stdout.write("ok " + s.objectId + "\\n");
process.stdout.write("transport " + Client.fromEnv().transport + "\\n");`,
    ),
    oursFetch: nodeModule(
      `import { Client, Secret } from ${JSON.stringify(pkgUrl)};
const client = Client.fromEnv({ transport: "fetch" });
const s = await Secret.fromDict({ BENCH: "1" }).hydrate({ client });
process.stdout.write("ok " + s.objectId + "\\n");`,
    ),
    official: nodeModule(
      `import { ModalClient } from ${JSON.stringify(modalUrl)};
const client = new ModalClient();
const s = await client.secrets.fromObject({ BENCH: "1" });
await s._hydrate(client);
process.stdout.write("ok " + s.secretId + "\\n");
client.close();`,
    ),
    oursFromName: nodeModule(
      `import { Secret } from ${JSON.stringify(pkgUrl)};
const s = await Secret.fromName("bench-warm").hydrate();
process.stdout.write("ok " + s.objectId + "\\n");`,
    ),
    officialFromName: nodeModule(
      `import { ModalClient } from ${JSON.stringify(modalUrl)};
const client = new ModalClient();
const s = await client.secrets.fromName("bench-warm");
process.stdout.write("ok " + s.secretId + "\\n");
client.close();`,
    ),
    python: [
      PY_MODAL,
      [
        "-c",
        "import modal\ns = modal.Secret.from_dict({'BENCH': '1'})\ns.hydrate()\nprint('ok', s.object_id, flush=True)",
      ],
    ],
  };
  // One untimed run of each first: file-system caches warm for every contender alike.
  for (const [name, [cmd, args]] of Object.entries(scripts)) {
    const { out } = await timeToFirstAnswer(cmd, args);
    if (name === "ours" && !/\ntransport http2\n/.test(out)) {
      throw new Error(`cold: the package's default client in Node does not use HTTP/2:\n${out}`);
    }
  }
  figures.cold = await interleaved(Object.keys(scripts), COLD_RUNS, (v) => timeToFirstAnswer(...scripts[v]));
  figures.cold.scripts = scripts;
}

const nodeTask = (...args) => runJson(process.execPath, [TASKS, ...args]);

const LOOKUP_VARIANTS = ["ours", "ours-fetch", "floor", "floor-h2", "official"];
const LOOKUP_LABELS = {
  ours: "ours (defaults: HTTP/2)",
  "ours-fetch": 'ours, `transport: "fetch"`',
  floor: "raw fetch floor (HTTP/1.1)",
  "floor-h2": "HTTP/2 floor (bare `node:http2`)",
  official: "JS SDK (HTTP/2)",
};

/** Every run of ours used HTTP/2 (the default in Node) and every run of ours-fetch used fetch. */
function checkTransports(figure, name) {
  for (const [v, want] of [["ours", "http2"], ["ours-fetch", "fetch"]]) {
    const seen = new Set(figure[v].runs.map((r) => r.transport));
    if (seen.size !== 1 || !seen.has(want)) throw new Error(`${name}: ${v} used ${[...seen]}, not ${want}`);
  }
}

async function warm() {
  figures.warm = await interleaved(LOOKUP_VARIANTS, RUNS, (v) => nodeTask("warm", v, String(WARM_CALLS)));
  checkTransports(figures.warm, "warm");
}

async function concurrent() {
  figures.concurrent = await interleaved(LOOKUP_VARIANTS, RUNS, (v) => nodeTask("concurrent", v, String(CONCURRENT)));
  checkTransports(figures.concurrent, "concurrent");
}

async function list(listToken) {
  const extraEnv = { MODAL_TOKEN_ID: listToken.tokenId, MODAL_TOKEN_SECRET: listToken.tokenSecret };
  const variants = ["ours", "ours-fetch", "python", "floor", "floor-h2"];
  figures.list = await interleaved(variants, RUNS, (v) =>
    v === "python"
      ? runJson(PY_MODAL, [PY_TASKS, "list"], { extraEnv })
      : runJson(process.execPath, [TASKS, "list", v], { extraEnv }),
  );
  checkTransports(figures.list, "list");
  for (const v of variants) {
    const counts = new Set(figures.list[v].runs.map((r) => r.count));
    if (counts.size !== 1 || !counts.has(LIST_SIZE)) throw new Error(`list: ${v} listed ${[...counts]} secrets, not ${LIST_SIZE}`);
  }
  figures.list.extraEnv = extraEnv;
}

async function dotenv(file) {
  figures.dotenv = await interleaved(["ours", "python", "npm"], RUNS, (v) =>
    v === "python" ? runJson(PY_DOTENV, [PY_TASKS, "dotenv", file]) : nodeTask("dotenv", v, file),
  );
  figures.dotenv.file = file;
  figures.dotenv.bytes = statSync(file).size;
}

async function dotenvBig(file) {
  figures.dotenvBig = await interleaved(["ours", "npm"], RUNS, (v) => nodeTask("dotenv", v, file));
  figures.dotenvBig.file = file;
  figures.dotenvBig.bytes = statSync(file).size;
}

async function memory() {
  const points = MEM_POINTS.map(String);
  const local = ["parse", "handles", "handles-yield", "handles-gc"];
  figures.memory = await interleaved(local, RUNS, (v) =>
    runJson(process.execPath, [...(v === "handles-gc" ? ["--expose-gc"] : []), TASKS, "memory", v, ...points]),
  );
  // One run of real hydrations.
  Object.assign(figures.memory, await interleaved(["hydrate"], 1, () => nodeTask("memory", "hydrate", ...MEM_HYDRATE_POINTS.map(String))));
}

// ---- the report --------------------------------------------------------------------------------------

const fmt = (x, digits = 1) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(digits));
const kb = (b) => `${(b / 1000).toFixed(1)} KB`;
const kib = (b) => `${(b / 1024).toFixed(0)} KiB`;
const cell = (s, unit, digits) => `${fmt(s.median, digits)} ${unit} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
const yes = (ok) => (ok ? "**yes**" : "**no**");

function versions() {
  const read = (p) => {
    try {
      return JSON.parse(readFileSync(p, "utf8")).version;
    } catch {
      return "?";
    }
  };
  const py = (bin, code) => {
    try {
      return execFileSync(bin, ["-c", code], { encoding: "utf8" }).trim();
    } catch {
      return "?";
    }
  };
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    try {
      // bench/RESULTS.md itself is rewritten by the sections that ran before this one.
      execFileSync("git", ["diff", "--quiet", "HEAD", "--", ".", ":(exclude)bench/RESULTS.md"], { cwd: ROOT });
    } catch {
      commit += " + local changes";
    }
  } catch {}
  return {
    commit,
    node: process.version,
    pkg: read(join(PKG_DIR, "package.json")),
    modalJs: read(join(OFFICIAL_JS, "node_modules/modal/package.json")),
    dotenvJs: read(join(DOTENV_JS, "node_modules/dotenv/package.json")),
    esbuild: execFileSync(ESBUILD, ["--version"], { encoding: "utf8" }).trim(),
    pythonModal: py(PY_MODAL, "import sys, modal; print(f'Python {sys.version.split()[0]}, modal {modal.__version__}')"),
    pythonDotenv: py(
      PY_DOTENV,
      "import sys, importlib.metadata as m; print(f'Python {sys.version.split()[0]}, python-dotenv {m.version(\"python-dotenv\")}')",
    ),
    server: execFileSync(SERVER_BIN, ["--version"], { encoding: "utf8" }).trim(),
    pkgBuilt: `${statSync(join(PKG_DIR, "modal_secrets_node_bg.wasm")).mtime.toISOString().slice(0, 16)}Z`,
  };
}

async function report(loadStart, seedNote) {
  const v = versions();
  const loadEnd = loadavg().map((x) => x.toFixed(2)).join(" ");
  const lines = [];
  const cpu = cpus();
  if (QUICK) {
    lines.push(
      `**Quick check (BENCH_QUICK=1): ${RUNS} run(s) per figure, ${WARM_CALLS} warm calls, a ${LIST_SIZE.toLocaleString("en")}-secret list. Not a result.**`,
      "",
    );
  }
  lines.push(
    `Measured ${new Date().toISOString().slice(0, 16)}Z at ${v.commit} with \`npm run bench\` (\`bash bench/client.sh\`, ` +
      `\`node bench/client.mjs\`); this section took ${((performance.now() - started) / 60000).toFixed(1)} min.`,
    "",
    `- Machine: ${cpu.length} CPUs (${cpu[0]?.model?.trim() ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, ` +
      `${execFileSync("uname", ["-sr"], { encoding: "utf8" }).trim()}; load average ${loadStart} at the start, ${loadEnd} at the end. ` +
      "**The machine is shared with other work while this runs, so every figure carries that noise**; " +
      "the contenders take turns run by run so that it falls on all of them alike.",
    `- Node ${v.node} (its global \`fetch\` is undici: HTTP/1.1; \`node:http2\` for the package's default transport and the HTTP/2 floor); modal-secrets ${v.pkg} (pkg/ as built by \`npm run build\` at ${v.pkgBuilt}); ` +
      `Modal's JS SDK modal@${v.modalJs} (HTTP/2); ${v.pythonModal}; ${v.pythonDotenv}; npm dotenv ${v.dotenvJs}; esbuild ${v.esbuild}; ${v.server}.`,
    `- One local server (release build, fresh temporary store, port 0, \`--max-connections-per-address 4096\` so that the fetch contenders' ` +
      `1,000 HTTP/1.1 connections are not capped; other limits at their defaults, among them 100 HTTP/2 streams per connection) serves every contender; ` +
      `it shares the CPUs with them. ${seedNote}`,
    "- Transports: \"ours\" is the package with its defaults, which in Node is plain gRPC over one `node:http2` session per client (h2c here); " +
      "\"ours, fetch\" is `new Client({ …, transport: \"fetch\" })` (gRPC-web over undici's fetch, HTTP/1.1). Their floors: bench/floor.mjs " +
      "over the global fetch (\"fetch floor\") and over one bare `node:http2` session (\"HTTP/2 floor\"). Each run checks which transport ours used.",
    `- Each figure: median of ${RUNS} runs (cold start: ${COLD_RUNS}) with min–max; every run of every contender is a fresh process. ` +
      "Ratio = our median ÷ the baseline's median, both from this run.",
    "",
  );

  // One row (and one details section) per measurement below: alike in shape only, each with its own
  // figures, baseline and target, so they are written out rather than generated.
  const rows = [];
  const details = [];
  const missed = [];

  if (figures.size) {
    // The download that matters is a browser's or a worker's (issue 18); Node reads its files from
    // disk (node.cjs unminified, for readable stack traces), so its row is said raw as well.
    const web = figures.size.ours.find((r) => r.runtime.startsWith("browsers"));
    const node = figures.size.ours.find((r) => r.runtime.startsWith("Node"));
    const off = figures.size.official.gz;
    const ratio = web.totalGz / off;
    const ok = ratio <= 1 / 8;
    rows.push([
      "bytes a browser downloads, gzip -9 (browser.js + chunks + .wasm)",
      kb(web.totalGz),
      `official JS SDK bundled: ${kb(off)}`,
      `${ratio.toFixed(3)} (1/${(1 / ratio).toFixed(1)})`,
      "≤ 1/8 (0.125); aim 1/15",
      yes(ok),
    ]);
    if (!ok) missed.push("size");
    details.push(
      "### Size",
      "",
      "Deterministic (one measurement). Ours: `node scripts/sizes.mjs pkg --json` (the entry, the chunks it imports and the `.wasm`, each gzip -9). " +
        "Official: `esbuild --bundle --minify --platform=node --format=esm` of `export { ModalClient } from \"modal\"` " +
        "(an `export`, since the SDK's `\"sideEffects\": false` lets a bare unused import be dropped), gzip -9.",
      "",
      "| runtime | .wasm gzip | JS gzip | total gzip | ÷ official bundle |",
      "|---|---|---|---|---|",
      ...figures.size.ours.map(
        (r) => `| ${r.runtime} | ${kb(r.wasmGz)} | ${kb(r.jsGz)} | ${kb(r.totalGz)} | ${(r.totalGz / off).toFixed(3)} |`,
      ),
      `| official JS SDK bundle (${kb(figures.size.official.raw)} raw) | – | ${kb(off)} | ${kb(off)} | 1 |`,
      "",
      `Node reads ${kb(node.totalRaw)} from disk (node.cjs ${kb(node.jsRaw)}, unminified, + .wasm ${kb(node.wasmRaw)}); ` +
        `the official SDK bundle is ${kb(figures.size.official.raw)} raw.`,
      "",
      ok
        ? ""
        : `Not met: browsers and workerd download ${kb(web.totalGz)}, the target ${kb(off / 8)} (1/8), the aim ${kb(off / 15)} (1/15). ` +
            `The .wasm is ${((100 * web.wasmGz) / web.totalGz).toFixed(0)}% of it; where its bytes go, and what each step saved, ` +
            "is in the section \"Size, step by step (issue 18)\" below (written by hand: twiggy profiles are not run here).",
      "",
    );
  }

  if (figures.cold) {
    const c = figures.cold;
    const ratio = c.ours.median / c.official.median;
    const ok = ratio <= 0.5;
    rows.push([
      "cold start: process start → first answer, Node defaults (HTTP/2, opening the session included) (`fromDict(...).hydrate()`)",
      cell(c.ours, "ms"),
      `JS SDK ${cell(c.official, "ms")}; ours, fetch ${cell(c.oursFetch, "ms")}`,
      `${ratio.toFixed(2)}× JS SDK; ${(c.ours.median / c.python.median).toFixed(2)}× Python; ${(c.ours.median / c.bare.median).toFixed(2)}× bare node; ` +
        `fetch: ${(c.oursFetch.median / c.official.median).toFixed(2)}× JS SDK`,
      "≤ 0.5× JS SDK",
      yes(ok),
    ]);
    if (!ok) missed.push("cold");
    details.push(
      "### Cold start",
      "",
      "Time from just before the process is spawned to the first line it prints after its first answer (its exit is not counted). " +
        "Configuration from `MODAL_SERVER_URL`/`MODAL_TOKEN_ID`/`MODAL_TOKEN_SECRET`, an empty `HOME`. " +
        "The JS SDK's closest operation to `Secret.fromDict(...).hydrate()` is `client.secrets.fromObject(...)`, but that is lazy " +
        "(it calls nothing until a sandbox uses it); its hydration, the same ephemeral `SecretGetOrCreate` request, is the SDK's internal " +
        "`secret._hydrate(client)`, which is what is timed. The public `client.secrets.fromName` is measured as well, against our `fromName`. " +
        "Ours uses the default client (`Client.fromEnv()`, made at the first call): in Node, HTTP/2, whose session (the TCP connection and " +
        "the HTTP/2 preface and SETTINGS) is opened by that first call, inside the timed span; the untimed first run checks that it is HTTP/2. " +
        "\"Ours, fetch\" makes `Client.fromEnv({ transport: \"fetch\" })` and passes it to `hydrate`.",
      "",
      "| process | median ms | min | max | ÷ JS SDK |",
      "|---|---|---|---|---|",
      ...[
        ["ours: `Secret.fromDict({…}).hydrate()` (ESM import of pkg/node.mjs; defaults: HTTP/2)", "ours", "official"],
        ["ours, fetch: the same with `Client.fromEnv({ transport: \"fetch\" })`", "oursFetch", "official"],
        ["JS SDK: `new ModalClient()`, `secrets.fromObject({…})`, `_hydrate`", "official", "official"],
        ["Python SDK: `modal.Secret.from_dict({…}).hydrate()`", "python", "official"],
        ["bare `node -e` (prints one line)", "bare", "official"],
        ["ours: `Secret.fromName(name).hydrate()`", "oursFromName", "officialFromName"],
        ["JS SDK: `client.secrets.fromName(name)`", "officialFromName", "officialFromName"],
      ].map(
        ([label, k, base]) =>
          `| ${label} | ${fmt(c[k].median)} | ${fmt(c[k].min)} | ${fmt(c[k].max)} | ${(c[k].median / c[base].median).toFixed(2)} |`,
      ),
      "",
      `Above the bare process, ours takes ${fmt(c.ours.median - c.bare.median)} ms and the JS SDK ${fmt(c.official.median - c.bare.median)} ms ` +
        `(${((c.ours.median - c.bare.median) / (c.official.median - c.bare.median)).toFixed(2)}×).`,
      "",
    );
  }

  if (figures.warm) {
    const w = figures.warm;
    const us = (s) => ({ median: s.median * 1000, min: s.min * 1000, max: s.max * 1000 });
    const f = w["ours-fetch"];
    const ratio = f.median / w.floor.median;
    const ok = ratio <= 1.25;
    rows.push([
      `warm call: sequential lookups, per call, Node, \`transport: "fetch"\` (${WARM_CALLS} per run after 200 warm-up)`,
      cell(us(f), "µs"),
      `fetch floor ${cell(us(w.floor), "µs")}; JS SDK ${cell(us(w.official), "µs")}`,
      `${ratio.toFixed(2)}× fetch floor; ${(f.median / w.official.median).toFixed(2)}× JS SDK`,
      "≤ 1.25× fetch floor; aim 1.1×",
      yes(ok),
    ]);
    if (!ok) missed.push("warm-fetch");
    const vsSdk = w.ours.median / w.official.median;
    const vsFloor = w.ours.median / w["floor-h2"].median;
    rows.push([
      `warm call: sequential lookups, per call, Node defaults (HTTP/2), against the JS SDK (${WARM_CALLS} per run after 200 warm-up)`,
      cell(us(w.ours), "µs"),
      `JS SDK ${cell(us(w.official), "µs")}; HTTP/2 floor ${cell(us(w["floor-h2"]), "µs")}`,
      `${vsSdk.toFixed(2)}× JS SDK; ${vsFloor.toFixed(2)}× HTTP/2 floor`,
      "≤ 0.9× JS SDK",
      yes(vsSdk <= 0.9),
    ]);
    rows.push([
      `warm call: sequential lookups, per call, Node defaults (HTTP/2), against the HTTP/2 floor (${WARM_CALLS} per run after 200 warm-up)`,
      cell(us(w.ours), "µs"),
      `HTTP/2 floor ${cell(us(w["floor-h2"]), "µs")}`,
      `${vsFloor.toFixed(2)}× HTTP/2 floor`,
      "≤ 1.15× HTTP/2 floor",
      yes(vsFloor <= 1.15),
    ]);
    if (vsSdk > 0.9 || vsFloor > 1.15) missed.push("warm");
    details.push(
      "### Warm call",
      "",
      `Each run: a fresh process makes its client, does 200 untimed lookups, then times ${WARM_CALLS} sequential ones of an existing secret ` +
        "(3 keys). Ours: `await Secret.fromName(name).hydrate({ client })`, a new handle each time, with the client's defaults (HTTP/2) or " +
        "`transport: \"fetch\"`; floors: bench/floor.mjs (the same request bytes and headers over the global fetch as gRPC-web, or over one bare " +
        "`node:http2` session as gRPC with `te: trailers`; each reads the status, the id and the key names); JS SDK: `await client.secrets.fromName(name)`.",
      "",
      "| contender | µs per call, median | min | max | ÷ fetch floor | ÷ HTTP/2 floor | ÷ JS SDK |",
      "|---|---|---|---|---|---|---|",
      ...LOOKUP_VARIANTS.map((k) => {
        const s = us(w[k]);
        return (
          `| ${LOOKUP_LABELS[k]} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${(w[k].median / w.floor.median).toFixed(2)} | ` +
          `${(w[k].median / w["floor-h2"].median).toFixed(2)} | ${(w[k].median / w.official.median).toFixed(2)} |`
        );
      }),
      "",
    );
  }

  if (figures.list) {
    const l = figures.list;
    const ratio = l.ours.median / l.python.median;
    const ok = ratio <= 0.5;
    rows.push([
      `list ${LIST_SIZE.toLocaleString("en")} secrets into an array, Node defaults (HTTP/2)`,
      cell(l.ours, "ms"),
      `Python SDK ${cell(l.python, "ms")}; HTTP/2 floor ${cell(l["floor-h2"], "ms")}`,
      `${ratio.toFixed(2)}× Python; ${(l.ours.median / l["floor-h2"].median).toFixed(2)}× the HTTP/2 floor`,
      "≤ 0.5× Python",
      yes(ok),
    ]);
    if (!ok) missed.push("list");
    const f = l["ours-fetch"];
    const ratioFetch = f.median / l.python.median;
    const okFetch = ratioFetch <= 0.5;
    rows.push([
      `list ${LIST_SIZE.toLocaleString("en")} secrets into an array, \`transport: "fetch"\``,
      cell(f, "ms"),
      `Python SDK ${cell(l.python, "ms")}; fetch floor ${cell(l.floor, "ms")}`,
      `${ratioFetch.toFixed(2)}× Python; ${(f.median / l.floor.median).toFixed(2)}× the raw fetch floor`,
      "≤ 0.5× Python",
      yes(okFetch),
    ]);
    if (!okFetch) missed.push("list-fetch");
    details.push(
      "### List",
      "",
      `A workspace of its own holding ${l.ours.runs[0].count.toLocaleString("en")} secrets (one key each). Each run: a fresh process lists it once untimed, then times ` +
        "a second full listing: ours `await Secret.objects.list({ client })` (Node; defaults, i.e. HTTP/2, or `transport: \"fetch\"`), Python " +
        `\`modal.Secret.objects.list()\`. Both page 100 at a time (${Math.floor(LIST_SIZE / 100) + 1} SecretList calls). For reference, the floors ` +
        "(bench/floor.mjs, over the global fetch or one bare `node:http2` session) list the same pages with the same requests and read each item's " +
        "name, id, creation time and key names into plain objects.",
      "",
      "| contender | ms, median | min | max | ÷ Python |",
      "|---|---|---|---|---|",
      ...[
        ["ours (defaults: HTTP/2)", "ours"],
        ['ours, `transport: "fetch"`', "ours-fetch"],
        ["Python SDK", "python"],
        ["raw fetch floor (reference)", "floor"],
        ["HTTP/2 floor (reference)", "floor-h2"],
      ].map(([label, k]) => `| ${label} | ${fmt(l[k].median)} | ${fmt(l[k].min)} | ${fmt(l[k].max)} | ${(l[k].median / l.python.median).toFixed(2)} |`),
      "",
    );
  }

  if (figures.concurrent) {
    const c = figures.concurrent;
    const f = c["ours-fetch"];
    const ratio = f.median / c.floor.median;
    const ok = ratio <= 1.1;
    rows.push([
      `${CONCURRENT.toLocaleString("en")} concurrent \`fromName\` hydrations, one process, \`transport: "fetch"\``,
      cell(f, "ms"),
      `fetch floor (HTTP/1.1) ${cell(c.floor, "ms")}; JS SDK (HTTP/2) ${cell(c.official, "ms")}`,
      `${ratio.toFixed(2)}× fetch floor; ${(f.median / c.official.median).toFixed(2)}× JS SDK (fetch floor ÷ JS SDK: ${(c.floor.median / c.official.median).toFixed(2)})`,
      "≤ 1.1× fetch floor",
      yes(ok),
    ]);
    if (!ok) missed.push("concurrent-fetch");
    const vsSdk = c.ours.median / c.official.median;
    const vsFloor = c.ours.median / c["floor-h2"].median;
    rows.push([
      `${CONCURRENT.toLocaleString("en")} concurrent \`fromName\` hydrations, one process, Node defaults (HTTP/2), against the JS SDK`,
      cell(c.ours, "ms"),
      `JS SDK ${cell(c.official, "ms")}; HTTP/2 floor ${cell(c["floor-h2"], "ms")}`,
      `${vsSdk.toFixed(2)}× JS SDK; ${vsFloor.toFixed(2)}× HTTP/2 floor`,
      "≤ 0.8× JS SDK",
      yes(vsSdk <= 0.8),
    ]);
    rows.push([
      `${CONCURRENT.toLocaleString("en")} concurrent \`fromName\` hydrations, one process, Node defaults (HTTP/2), against the HTTP/2 floor`,
      cell(c.ours, "ms"),
      `HTTP/2 floor ${cell(c["floor-h2"], "ms")}`,
      `${vsFloor.toFixed(2)}× HTTP/2 floor`,
      "≤ 1.15× HTTP/2 floor",
      yes(vsFloor <= 1.15),
    ]);
    if (vsSdk > 0.8 || vsFloor > 1.15) missed.push("concurrent");
    details.push(
      "### 1,000 concurrent lookups",
      "",
      `Each run: a fresh process makes its client, runs one untimed round (which opens the connections), then times one round of ${CONCURRENT} lookups started together ` +
        "(`Promise.all`). Ours with `transport: \"fetch\"` and the fetch floor use Node's global fetch (undici, HTTP/1.1: one connection per request in flight, kept alive " +
        "between rounds); ours with its defaults, the HTTP/2 floor and the JS SDK multiplex over one HTTP/2 connection (the server lets 100 streams run at once on it; " +
        "the rest wait their turn in the client's HTTP/2 stack).",
      "",
      "| contender | ms per round, median | min | max | ÷ fetch floor | ÷ HTTP/2 floor | ÷ JS SDK |",
      "|---|---|---|---|---|---|---|",
      ...LOOKUP_VARIANTS.map(
        (k) =>
          `| ${LOOKUP_LABELS[k]} | ${fmt(c[k].median)} | ${fmt(c[k].min)} | ${fmt(c[k].max)} | ${(c[k].median / c.floor.median).toFixed(2)} | ` +
          `${(c[k].median / c["floor-h2"].median).toFixed(2)} | ${(c[k].median / c.official.median).toFixed(2)} |`,
      ),
      "",
    );
  }

  if (figures.dotenv) {
    const d = figures.dotenv;
    const speedPy = d.python.median / d.ours.median;
    const speedNpm = d.npm.median / d.ours.median;
    const ok = speedPy >= 5 && speedNpm >= 1;
    rows.push([
      "`parseDotenv` on a 1 MiB .env",
      cell(d.ours, "ms"),
      `python-dotenv ${cell(d.python, "ms")}; npm dotenv ${cell(d.npm, "ms")}`,
      `${(d.ours.median / d.python.median).toFixed(3)}× python-dotenv (${speedPy.toFixed(1)}× faster); ${(d.ours.median / d.npm.median).toFixed(2)}× npm dotenv (${speedNpm.toFixed(2)}× as fast)`,
      "≥ 5× as fast as python-dotenv, ≥ 1× npm dotenv",
      yes(ok),
    ]);
    if (!ok) missed.push("dotenv");
    details.push(
      "### parseDotenv",
      "",
      `One generated .env of ${DOTENV_BYTES.toLocaleString("en")}+ bytes (${d.ours.runs[0].keys} keys): plain, \`export\`, double-quoted with ` +
        "escapes and `${VAR}`, single-quoted, comments, multi-line values, `${VAR:-default}`, spaces around `=`, long values, empty values. " +
        "Each run: a fresh process reads it, parses twice untimed (python-dotenv: not at all, it has no JIT and one parse takes seconds), then times one parse of the text already in memory. " +
        "Ours: `parseDotenv(text, { env: {} })`; python-dotenv: `dotenv_values(stream=io.StringIO(text))`; npm dotenv: `dotenv.parse(text)`. " +
        "**npm dotenv does no interpolation** (`${VAR}` stays as written; that is dotenv-expand's job), so it does less work than the other two. " +
        (d.ours.runs[0].digest === d.python.runs[0].digest
          ? "Our result and python-dotenv's are identical (the same SHA-256 of the sorted JSON)."
          : "**Our result differs from python-dotenv's** (the SHA-256 of the sorted JSON differs)."),
      "",
      "| parser | ms, median | min | max | keys | ours is × as fast |",
      "|---|---|---|---|---|---|",
      ...["ours", "python", "npm"].map(
        (k) =>
          `| ${{ ours: "ours (wasm)", python: "python-dotenv", npm: "npm dotenv (no interpolation)" }[k]} | ${fmt(d[k].median)} | ${fmt(d[k].min)} | ${fmt(d[k].max)} | ${d[k].runs[0].keys} | ${(d[k].median / d.ours.median).toFixed(2)} |`,
      ),
      "",
    );
  }

  if (figures.dotenvBig) {
    const b = figures.dotenvBig;
    const speedNpm = b.npm.median / b.ours.median;
    const mbps = (f, bytes) => bytes / 1e3 / f.median;
    const big = mbps(b.ours, b.bytes);
    const small = figures.dotenv ? mbps(figures.dotenv.ours, figures.dotenv.bytes) : undefined;
    const linear = small === undefined ? undefined : big / small;
    const ok = speedNpm >= 1 && linear !== undefined && linear >= 0.8;
    rows.push([
      "`parseDotenv` on a 16 MiB .env",
      cell(b.ours, "ms"),
      `npm dotenv ${cell(b.npm, "ms")}`,
      `${(b.ours.median / b.npm.median).toFixed(2)}× npm dotenv (${speedNpm.toFixed(2)}× as fast); ${fmt(big)} MB/s, ` +
        (linear === undefined ? "no 1 MiB row to compare" : `${linear.toFixed(2)}× the 1 MiB row's ${fmt(small)} MB/s`),
      "≥ 1× npm dotenv; MB/s ≥ 0.8× the 1 MiB row's (linear)",
      yes(ok),
    ]);
    if (!ok) missed.push("dotenvBig");
    details.push(
      "### parseDotenv, 16 MiB",
      "",
      `The same generator at ${DOTENV_BIG_BYTES.toLocaleString("en")}+ bytes (${b.ours.runs[0].keys} keys), measured the same way; python-dotenv is left out ` +
        "(at its 1 MiB rate, a parse would take over a minute). MB/s are 10^6 bytes of the file per second of the timed parse.",
      "",
      "| parser | ms, median | min | max | keys | MB/s | ours is × as fast |",
      "|---|---|---|---|---|---|---|",
      ...["ours", "npm"].map(
        (k) =>
          `| ${{ ours: "ours (wasm)", npm: "npm dotenv (no interpolation)" }[k]} | ${fmt(b[k].median)} | ${fmt(b[k].min)} | ${fmt(b[k].max)} | ${b[k].runs[0].keys} | ${fmt(mbps(b[k], b.bytes))} | ${(b[k].median / b.ours.median).toFixed(2)} |`,
      ),
      "",
    );
  }

  if (figures.memory) {
    const m = figures.memory;
    const labels = {
      parse: "`parseDotenv` (small .env, interpolation)",
      handles: "handles, one synchronous loop",
      "handles-yield": "handles, back to the event loop every 1,000 calls",
      "handles-gc": "handles, a forced GC (`--expose-gc`) and back to the event loop every 1,000 calls",
      hydrate: "real hydrations, `fromName(name).hydrate({ client })` (defaults: HTTP/2), 16 in flight",
    };
    const [n1, , nLast] = MEM_POINTS;
    const at = (k, i) => stats(m[k].runs.map((r) => r.points[i].bytes));
    const growth = (k) => `+${kib(m[k].median)}${m[k].n > 1 ? ` (${kib(m[k].min)}–${kib(m[k].max)})` : ""}`;
    let allFlat = true;
    for (const k of Object.keys(labels)) {
      if (!m[k]) continue;
      const ok = m[k].median <= PAGE;
      allFlat &&= ok;
      const last = (k === "hydrate" ? MEM_HYDRATE_POINTS : MEM_POINTS).at(-1);
      rows.push([
        `wasm memory after ${last.toLocaleString("en")} calls vs after ${n1.toLocaleString("en")}: ${labels[k]}${m[k].n === 1 ? " (1 run)" : ""}`,
        `${kib(at(k, 3).median)} vs ${kib(at(k, 1).median)}: ${growth(k)}`,
        `after ${n1.toLocaleString("en")} calls`,
        `${(at(k, 3).median / at(k, 1).median).toFixed(2)}×`,
        "flat (growth ≤ one 64 KiB page)",
        yes(ok),
      ]);
    }
    if (!allFlat) missed.push("memory");
    const h = m.hydrate;
    details.push(
      "### wasm memory",
      "",
      "The size of the instance's `WebAssembly.Memory` (`memory.buffer.byteLength`; wasm memory never shrinks, so this is its high-water mark), " +
        "after 1,000, 10,000 and 100,000 calls in one process. The package does not expose its instance; the benchmark process installs a " +
        "subclass of `WebAssembly.Instance` before importing pkg/node.mjs and keeps the instance the glue makes: no change to the package and " +
        "no hook needed. \"Handles\" are `Secret.fromDict({…})`, `Secret.fromName(name, { requiredKeys })` and `Secret.fromDotenvText(text)` " +
        "in turn (no server involved), each dropped at once. No GC is forced except in the `-gc` row. " +
        (h ? `The hydrations are one run (${fmt(h.runs[0].secs)} s).` : ""),
      "",
      "| calls | runs | at start | after 1,000 | after 10,000 | after 100,000 (hydrations: 25,000) | growth from 1,000 to the last, median (min–max) | `arrayBuffers` after 1,000 → the last |",
      "|---|---|---|---|---|---|---|---|",
      ...Object.keys(labels)
        .filter((k) => m[k])
        .map(
          (k) =>
            `| ${labels[k]} | ${m[k].n} | ${kib(at(k, 0).median)} | ${kib(at(k, 1).median)} | ${kib(at(k, 2).median)} | ${kib(at(k, 3).median)} | ` +
            `${growth(k)} | ${kb(stats(m[k].runs.map((r) => r.points[1].arrayBuffers)).median)} → ${kb(stats(m[k].runs.map((r) => r.points[3].arrayBuffers)).median)} |`,
        ),
      "",
    );
    const perHandle = m.handles.median / (nLast - n1);
    if (m.handles.median > PAGE && m["handles-gc"].median <= PAGE) {
      details.push(
        `Handles: the wasm heap grows by about ${fmt(perHandle, 0)} bytes per dropped handle until a GC runs *and* the event loop turns ` +
          "(the row with both stays flat), so this is not a leak but finalization lag: the glue frees a handle's Rust half only in its " +
          "`FinalizationRegistry` callback, there is no public `free()`/`[Symbol.dispose]`, and V8 does not count the wasm heap as memory " +
          "pressure, so a loop that makes many handles without yielding keeps growing the heap (and wasm memory never shrinks).",
        "",
      );
    }
    if (h) {
      const p = h.runs[0].points;
      details.push(
        `Hydrations: ${kib(p[1].bytes)} after 1,000, ${kib(p[2].bytes)} after 10,000, ${kib(p[3].bytes)} after ${MEM_HYDRATE_POINTS.at(-1).toLocaleString("en")}` +
          (p[3].bytes <= p[2].bytes + PAGE
            ? ": the growth comes early (buffers reaching their working size) and stops; at most one page more after 10,000. " +
              "(A longer run made while writing this benchmark, 100,000 hydrations, stayed at the 10,000 figure.)"
            : "."),
        "",
      );
    }
  }

  // Profiles of the figures that missed (this package's side).
  const profiles = [];
  const toProfile = (
    env.BENCH_PROFILE === "all"
      ? ["cold", "warm", "warm-fetch", "concurrent", "concurrent-fetch", "list", "list-fetch", "dotenv", "dotenvBig"].filter(
          (f) => figures[f.replace(/-fetch$/, "")],
        )
      : missed
  ).filter((f) => f !== "size" && f !== "memory");
  const named = toProfile.length ? namedPackage() : null;
  const measuredEnv = childEnv;
  if (named) childEnv = { ...childEnv, BENCH_PKG: named };
  for (const figure of toProfile) {
    if (figure === "size" || figure === "memory") continue;
    log(`profiling ${figure}${missed.includes(figure) ? " (target not met)" : ""}`);
    let lines;
    try {
      if (figure === "cold") {
        const args = figures.cold.scripts.ours[1];
        const code = named ? args[2].replace(JSON.stringify(pathToFileURL(PKG_ENTRY).href), JSON.stringify(pathToFileURL(named).href)) : args[2];
        const p = await profileNode([args[0], args[1], code], { answerOnly: true });
        profiles.push(`- **Cold start**, ours with its defaults (HTTP/2) (\`node --cpu-prof\` of the whole process, which exits by itself after answering):`, ...profileMarkdown(p));
      } else if (figure === "warm" || figure === "warm-fetch") {
        // Ours and its floor doing the same calls: the difference is what the package adds.
        const [v, floorV, what] = figure === "warm" ? ["ours", "floor-h2", "HTTP/2"] : ["ours-fetch", "floor", "fetch"];
        const calls = WARM_CALLS * 5;
        const ours = await profileTask(["warm", v, String(calls)]);
        const floor = await profileTask(["warm", floorV, String(calls)]);
        profiles.push(
          `- **Warm call, ${what}**: ours and the ${what} floor, each ${calls} sequential lookups (the timed loop only); ours:`,
          ...profileMarkdown(ours),
          "  Ours against the floor:",
          ...diffMarkdown(ours, floor, { calls }),
        );
      } else if (figure === "concurrent" || figure === "concurrent-fetch") {
        const [v, floorV, what] = figure === "concurrent" ? ["ours", "floor-h2", "HTTP/2"] : ["ours-fetch", "floor", "fetch"];
        const rounds = 3;
        const ours = await profileTask(["concurrent", v, String(CONCURRENT), String(rounds)]);
        const floor = await profileTask(["concurrent", floorV, String(CONCURRENT), String(rounds)]);
        profiles.push(
          `- **1,000 concurrent lookups, ${what}**: ours and the ${what} floor, ${rounds} timed rounds each (the timed rounds only); ours:`,
          ...profileMarkdown(ours),
          "  Ours against the floor:",
          ...diffMarkdown(ours, floor, { calls: rounds * CONCURRENT }),
        );
      } else if (figure === "list" || figure === "list-fetch") {
        const [v, floorV, what] = figure === "list" ? ["ours", "floor-h2", "HTTP/2"] : ["ours-fetch", "floor", "fetch"];
        const times = 5;
        const ours = await profileTask(["list", v, String(times)], figures.list.extraEnv);
        const floor = await profileTask(["list", floorV, String(times)], figures.list.extraEnv);
        const pages = times * (Math.floor(LIST_SIZE / 100) + 1);
        profiles.push(
          `- **List ${LIST_SIZE.toLocaleString("en")}, ${what}**: ours and the ${what} floor, ${times} full listings each (the timed listings only; "per call" = per page); ours:`,
          ...profileMarkdown(ours),
          "  Ours against the floor:",
          ...diffMarkdown(ours, floor, { calls: pages }),
        );
      } else if (figure === "dotenv") {
        const p = await profileTask(["dotenv", "ours", figures.dotenv.file, "10"]);
        profiles.push("- **parseDotenv**, ours (ten parses of the 1 MiB text, the timed loop only):", ...profileMarkdown(p));
      } else if (figure === "dotenvBig") {
        const p = await profileTask(["dotenv", "ours", figures.dotenvBig.file, "2"]);
        profiles.push("- **parseDotenv, 16 MiB**, ours (two parses of the 16 MiB text, the timed loop only):", ...profileMarkdown(p));
      }
    } catch (e) {
      profiles.push(`- ${figure}: profiling failed: ${e.message.split("\n")[0]}`);
    }
  }
  childEnv = measuredEnv;

  lines.push(
    "| figure | ours: median (min–max) | baseline(s), same run | ratio | target | holds? |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
  );
  const held = rows.filter((r) => r[5].includes("yes")).length;
  lines.push(`${held} of ${rows.length} rows meet their target${missed.length ? `; not met: ${missed.join(", ")}` : ""}.`, "");
  if (profiles.length) {
    lines.push(
      `Where the time goes, for each speed target ${env.BENCH_PROFILE === "all" ? "(BENCH_PROFILE=all)" : "not met"}: a V8 CPU profile of one more run made right after the measurements ` +
        "(of the timed part only, through `node:inspector`; cold start: `node --cpu-prof` of the whole process), " +
        `${PROFILE_INTERVAL_US} µs sampling; self time` +
        (named
          ? "; pkg/ with its .wasm rebuilt from the same cargo output keeping function names (`wasm-bindgen --keep-debug`, `wasm-opt -Oz --debuginfo`), so wasm functions appear by their Rust names):"
          : "; `wasm-function[N]` is a function of the stripped .wasm):"),
      "",
      ...profiles,
      "",
    );
  }
  lines.push(...details, ...notes);
  writeFileSync(outFile, `${lines.join("\n").replace(/\n{3,}/g, "\n\n").trim()}\n`);
}

// ---- main --------------------------------------------------------------------------------------------

async function main() {
  const loadStart = loadavg().map((x) => x.toFixed(2)).join(" ");
  const server = await startServer();
  log(`server at ${server.url}`);
  const main = server.token("local");
  const listTok = server.token("bench-list");
  const home = join(tmp, "home");
  mkdirSync(home);
  childEnv = { ...env };
  for (const k of ["MODAL_PROFILE", "MODAL_ENVIRONMENT", "MODAL_CONFIG_PATH", "NODE_OPTIONS"]) delete childEnv[k];
  Object.assign(childEnv, {
    HOME: home,
    MODAL_CONFIG_PATH: join(home, ".modal.toml"),
    MODAL_SERVER_URL: server.url,
    MODAL_TOKEN_ID: main.tokenId,
    MODAL_TOKEN_SECRET: main.tokenSecret,
    BENCH_PKG: PKG_ENTRY,
    BENCH_OFFICIAL_JS: OFFICIAL_JS,
    BENCH_DOTENV_JS: DOTENV_JS,
    BENCH_SECRET: "bench-warm",
  });

  // Seed: the looked-up secret, and (for the list figure) 10,000 secrets in a workspace of their own.
  const { Client, Secret } = await import(pathToFileURL(PKG_ENTRY).href);
  const client = new Client({ serverUrl: server.url, tokenId: main.tokenId, tokenSecret: main.tokenSecret });
  await Secret.objects.create("bench-warm", { USER: "app", PASSWORD: "hunter2", HOST: "db" }, { client });
  let seedNote = "";
  if (want("list")) {
    const listClient = new Client({ serverUrl: server.url, tokenId: listTok.tokenId, tokenSecret: listTok.tokenSecret });
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < LIST_SIZE) {
        const i = next++;
        await Secret.objects.create(`bench-list-${String(i).padStart(5, "0")}`, { VALUE: String(i) }, { client: listClient });
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    const secs = (performance.now() - t0) / 1000;
    log(`seeded ${LIST_SIZE} secrets in ${secs.toFixed(1)} s`);
    seedNote = `Seeding the ${LIST_SIZE.toLocaleString("en")} secrets of the list figure (64 concurrent \`Secret.objects.create\` calls of this package) took ${secs.toFixed(1)} s.`;
  }

  const steps = [
    ["size", () => sizes()],
    ["cold", () => cold()],
    ["warm", () => warm()],
    ["concurrent", () => concurrent()],
    ["list", () => list(listTok)],
    [
      "dotenv",
      async () => {
        const file = join(tmp, "bench.env");
        writeFileSync(file, makeDotenv(DOTENV_BYTES));
        await dotenv(file);
        const big = join(tmp, "bench-16m.env");
        writeFileSync(big, makeDotenv(DOTENV_BIG_BYTES));
        await dotenvBig(big);
      },
    ],
    ["memory", () => memory()],
  ];
  for (const [name, step] of steps) {
    if (!want(name)) continue;
    const t0 = performance.now();
    log(`${name}…`);
    await step();
    log(`${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  await report(loadStart, seedNote);
}

try {
  await main();
} finally {
  stopServer();
  rmSync(tmp, { recursive: true, force: true });
}
