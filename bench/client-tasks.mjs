// One measurement of the client benchmarks, in a fresh Node process (bench/client.mjs starts one
// per run and interleaves the contenders): `node bench/client-tasks.mjs TASK VARIANT [ARGS...]`.
// Prints one JSON line with the figure. The server and token come from MODAL_SERVER_URL,
// MODAL_TOKEN_ID and MODAL_TOKEN_SECRET; where the packages are from BENCH_PKG (pkg/node.mjs),
// BENCH_OFFICIAL_JS and BENCH_DOTENV_JS (directories holding node_modules/modal, node_modules/dotenv).
//
//   warm VARIANT CALLS           sequential lookups of secret BENCH_SECRET, ms per call
//   concurrent VARIANT N [ROUNDS]  N lookups at once (Promise.all), ms per round (after one untimed;
//                                mean of ROUNDS, default 1)
//   list ours|ours-fetch|floor|floor-h2 [TIMES]  Secret.objects.list() of the whole workspace, ms
//                                (after an untimed one; the mean of TIMES, default 1)
//   dotenv VARIANT FILE [TIMES]  one parse of FILE, ms (after two untimed ones; mean of TIMES)
//   memory VARIANT N1 N2...      wasm memory (bytes) after N1, N2, ... calls; VARIANT: parse, handles,
//                                handles-yield, handles-gc (needs --expose-gc), hydrate
// VARIANT: ours (this package with its defaults: in Node, gRPC over node:http2), ours-fetch (this
// package with `transport: "fetch"`: gRPC-web over the global fetch), floor (bench/floor.mjs over
// the global fetch), floor-h2 (bench/floor.mjs over bare node:http2), official (Modal's JS SDK),
// npm (npm dotenv). Every lookup/list result says which transport the package's client used.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [task, variant, ...args] = process.argv.slice(2);
const env = process.env;
const serverUrl = env.MODAL_SERVER_URL;
const tokenId = env.MODAL_TOKEN_ID;
const tokenSecret = env.MODAL_TOKEN_SECRET;
const secretName = env.BENCH_SECRET || "bench-warm";

// The wasm instance's memory, seen from outside the package: the Node entry instantiates its module
// with `new WebAssembly.Instance(...)`, so a subclass installed before the import sees every instance
// made (and its exported `memory`). Nothing in the package changes. Only the memory task uses it.
const instances = [];
if (task === "memory") {
  const Original = WebAssembly.Instance;
  WebAssembly.Instance = class extends Original {
    constructor(...a) {
      super(...a);
      instances.push(this);
    }
  };
}

async function ours() {
  return import(pathToFileURL(resolve(env.BENCH_PKG)).href);
}
function requireFrom(dir) {
  return createRequire(join(resolve(dir), "noop.js"));
}

/** lookup(name) of each contender, and close(). */
async function contender(which) {
  if (which === "ours" || which === "ours-fetch") {
    const { Client, Secret } = await ours();
    const client = new Client({ serverUrl, tokenId, tokenSecret, ...(which === "ours-fetch" ? { transport: "fetch" } : {}) });
    return {
      lookup: async (name) => {
        const s = await Secret.fromName(name).hydrate({ client });
        return s.objectId;
      },
      close: () => client.close(),
      transport: client.transport,
    };
  }
  if (which === "floor") {
    const { makeFloor } = await import("./floor.mjs");
    const lookup = makeFloor({ serverUrl, tokenId, tokenSecret });
    return { lookup: async (name) => (await lookup(name)).secretId, close() {} };
  }
  if (which === "floor-h2") {
    const { makeH2FloorClient } = await import("./floor.mjs");
    const floor = await makeH2FloorClient({ serverUrl, tokenId, tokenSecret });
    return { lookup: async (name) => (await floor.lookup(name)).secretId, close: () => floor.close() };
  }
  if (which === "official") {
    // Modal's JS SDK reads MODAL_SERVER_URL from the environment (it has no option for it).
    const { ModalClient } = await import(pathToFileURL(requireFrom(env.BENCH_OFFICIAL_JS).resolve("modal")).href);
    const client = new ModalClient({ tokenId, tokenSecret });
    return {
      lookup: async (name) => (await client.secrets.fromName(name)).secretId,
      close: () => client.close(),
    };
  }
  throw new Error(`unknown variant ${which}`);
}

// BENCH_CPU_PROFILE=FILE: a V8 CPU profile of the timed part only (not the start-up, the client's
// creation or the warm-up), written to FILE as a .cpuprofile. bench/client.mjs uses it to say where
// the time goes when a target does not hold; the figure printed is then not one of the results.
let session;
async function startProfile() {
  if (!env.BENCH_CPU_PROFILE) return;
  const { Session } = await import("node:inspector/promises");
  session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: Number(env.BENCH_CPU_PROFILE_INTERVAL_US) || 100 });
  await session.post("Profiler.start");
}
async function stopProfile() {
  if (!session) return;
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(env.BENCH_CPU_PROFILE, JSON.stringify(profile));
  session.disconnect();
  session = undefined;
}

function check(id) {
  if (typeof id !== "string" || !id.startsWith("st-")) throw new Error(`not a secret id: ${id}`);
}

async function warm(calls) {
  const c = await contender(variant);
  for (let i = 0; i < 200; i++) check(await c.lookup(secretName));
  await startProfile();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) check(await c.lookup(secretName));
  const ms = performance.now() - t0;
  await stopProfile();
  await c.close();
  return { value: ms / calls, calls, transport: c.transport };
}

async function concurrent(n, rounds) {
  const c = await contender(variant);
  const round = async () => (await Promise.all(Array.from({ length: n }, () => c.lookup(secretName)))).forEach(check);
  await round();
  await startProfile();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await round();
  const ms = (performance.now() - t0) / rounds;
  await stopProfile();
  await c.close();
  return { value: ms, n, transport: c.transport };
}

async function list(times) {
  let listAll;
  let close = () => {};
  let transport;
  if (variant === "ours" || variant === "ours-fetch") {
    const { Client, Secret } = await ours();
    const client = new Client({ serverUrl, tokenId, tokenSecret, ...(variant === "ours-fetch" ? { transport: "fetch" } : {}) });
    listAll = () => Secret.objects.list({ client });
    close = () => client.close();
    transport = client.transport;
  } else if (variant === "floor") {
    const { makeFloorClient } = await import("./floor.mjs");
    listAll = makeFloorClient({ serverUrl, tokenId, tokenSecret }).listAll;
  } else if (variant === "floor-h2") {
    const { makeH2FloorClient } = await import("./floor.mjs");
    const floor = await makeH2FloorClient({ serverUrl, tokenId, tokenSecret });
    listAll = floor.listAll;
    close = () => floor.close();
  } else {
    throw new Error(`unknown variant ${variant}`);
  }
  const warmup = await listAll();
  let all;
  await startProfile();
  const t0 = performance.now();
  for (let i = 0; i < times; i++) all = await listAll();
  const ms = (performance.now() - t0) / times;
  await stopProfile();
  await close();
  if (!Array.isArray(all) || all.length !== warmup.length) throw new Error("list: inconsistent lengths");
  return { value: ms, count: all.length, first: all[0]?.name, transport };
}

async function dotenv(file, times) {
  const text = readFileSync(file, "utf8");
  let parse;
  if (variant === "ours") {
    const { parseDotenv } = await ours();
    parse = (t) => parseDotenv(t, { env: {} });
  } else if (variant === "npm") {
    const dotenvPkg = requireFrom(env.BENCH_DOTENV_JS)("dotenv");
    parse = (t) => dotenvPkg.parse(t);
  } else {
    throw new Error(`unknown variant ${variant}`);
  }
  parse(text);
  parse(text);
  let out;
  await startProfile();
  const t0 = performance.now();
  for (let i = 0; i < times; i++) out = parse(text);
  const ms = (performance.now() - t0) / times;
  await stopProfile();
  // A digest of the result (keys sorted, compact JSON), as bench/client-tasks.py makes for python-dotenv.
  const sorted = Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
  const digest = createHash("sha256").update(JSON.stringify(sorted)).digest("hex");
  return { value: ms, keys: Object.keys(out).length, digest };
}

async function memory(checkpoints) {
  const pkg = await ours();
  const mem = () => {
    const wasmMem = instances.map((i) => i.exports.memory).find((m) => m instanceof WebAssembly.Memory);
    if (!wasmMem) throw new Error("memory: no wasm instance with an exported memory was seen");
    return wasmMem.buffer.byteLength;
  };
  const text = 'HOST=db\nPORT=5432\nURL="postgres://${HOST}:${PORT}/app" # comment\nexport TOKEN=\'t0k3n\'\nFLAG\n';
  const handle = [
    (i) => pkg.Secret.fromDict({ A: String(i), B: "two" }),
    (i) => pkg.Secret.fromName(`name-${i % 100}`, { requiredKeys: ["A"] }),
    () => pkg.Secret.fromDotenvText(text),
  ];
  const tick = () => new Promise((r) => setTimeout(r, 0));
  // Each variant: run(from, to) makes calls number from+1 … to.
  let run;
  if (variant === "parse") {
    // parseDotenv only: a plain object comes back, nothing stays in the wasm heap.
    run = async (from, to) => {
      for (let i = from; i < to; i++) {
        if (pkg.parseDotenv(text, { env: {} }).URL !== "postgres://db:5432/app") throw new Error("memory: wrong parse");
      }
    };
  } else if (variant === "handles" || variant === "handles-yield" || variant === "handles-gc") {
    // Handles made from values, names and text, dropped at once (fromDict, fromName, fromDotenvText in turn).
    // handles: one synchronous loop; -yield: back to the event loop every 1,000 calls;
    // -gc: also a forced GC (node --expose-gc) there, so finalizers can free what was dropped.
    const yieldEvery = variant === "handles" ? 0 : 1000;
    run = async (from, to) => {
      for (let i = from; i < to; i++) {
        handle[i % 3](i);
        if (yieldEvery && (i + 1) % yieldEvery === 0) {
          if (variant === "handles-gc") globalThis.gc();
          await tick();
        }
      }
    };
  } else if (variant === "hydrate") {
    const client = new pkg.Client({ serverUrl, tokenId, tokenSecret });
    const call = async () => check((await pkg.Secret.fromName(secretName).hydrate({ client })).objectId);
    run = async (from, to) => {
      for (let i = from; i < to; i += 16) {
        await Promise.all(Array.from({ length: Math.min(16, to - i) }, call));
      }
    };
  } else {
    throw new Error(`unknown variant ${variant}`);
  }
  const points = [{ calls: 0, bytes: mem(), arrayBuffers: process.memoryUsage().arrayBuffers }];
  const t0 = performance.now();
  let done = 0;
  for (const n of checkpoints) {
    await run(done, n);
    done = n;
    points.push({ calls: n, bytes: mem(), arrayBuffers: process.memoryUsage().arrayBuffers });
  }
  const first = points[1];
  const last = points[points.length - 1];
  return { value: last.bytes - first.bytes, points, secs: (performance.now() - t0) / 1000 };
}

let result;
if (task === "warm") result = await warm(Number(args[0]));
else if (task === "concurrent") result = await concurrent(Number(args[0]), Number(args[1] ?? 1));
else if (task === "list") result = await list(Number(args[0] ?? 1));
else if (task === "dotenv") result = await dotenv(args[0], Number(args[1] ?? 1));
else if (task === "memory") result = await memory(args.map(Number));
else throw new Error(`unknown task ${task}`);
process.stdout.write(`${JSON.stringify(result)}\n`);
