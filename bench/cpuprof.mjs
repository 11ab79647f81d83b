// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, and per origin
// (the package's wasm, its JS glue, undici, node:http2, other Node internals, GC, ...). Used by bench/client.mjs
// for the figures whose target does not hold; also usable by hand:
//   node bench/cpuprof.mjs FILE.cpuprofile [TOP]
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";

export function origin(frame) {
  const { functionName: name, url } = frame;
  if (name === "(garbage collector)") return "garbage collection";
  if (name === "(idle)") return "idle (waiting for I/O)";
  if (name === "(program)" || name === "(root)") return "V8/native, unattributed";
  if (url.startsWith("wasm://") || /^\$?(wasm-function|func)\b/.test(name)) return "the package's wasm";
  if (/\/pkg\/[^/]+\.(c|m)?js$/.test(url)) return "the package's JS glue (pkg/)";
  if (url.includes("undici")) return "undici (fetch)";
  if (url.includes("/node_modules/modal/")) return "Modal's JS SDK";
  if (url.includes("/node_modules/")) return "other npm packages";
  if (/^node:(internal\/)?http2\b/.test(url)) return "node:http2";
  if (url.startsWith("node:")) return "Node internals (other than undici and http2)";
  if (url.includes("/bench/")) return "the benchmark harness";
  if (url === "") return "V8 builtins / native";
  return "other";
}

/** { totalMs, functions: [{ name, where, origin, ms }], origins: [{ origin, ms }] }, both sorted by ms. */
export function summarise(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the interval after it to sample i.
    const dt = (i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0) / 1000;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  const functions = new Map();
  const origins = new Map();
  let totalMs = 0;
  for (const [id, ms] of self) {
    const frame = byId.get(id).callFrame;
    const o = origin(frame);
    const wasm = o === "the package's wasm";
    const where = frame.url && !wasm ? `${basename(frame.url)}:${frame.lineNumber + 1}` : "";
    // Rust names carry a crate hash (`core[6ea1fe0cb44a73e7]::…`): dropped for reading.
    const name = (frame.functionName || "(anonymous)").replace(/\[[0-9a-f]{16}\]/g, "");
    const key = `${name}\u0000${where}`;
    const f = functions.get(key) ?? { name, where, origin: o, ms: 0 };
    f.ms += ms;
    functions.set(key, f);
    origins.set(o, (origins.get(o) ?? 0) + ms);
    totalMs += ms;
  }
  const sort = (a, b) => b.ms - a.ms;
  return {
    totalMs,
    functions: [...functions.values()].sort(sort),
    origins: [...origins].map(([o, ms]) => ({ origin: o, ms })).sort(sort),
  };
}

/** Markdown lines: the origins, then the top `top` functions (idle excluded from the shares). */
export function markdown(profile, { top = 8 } = {}) {
  const s = summarise(profile);
  const idle = s.origins.find((o) => o.origin.startsWith("idle"))?.ms ?? 0;
  const busy = s.totalMs - idle;
  const pct = (ms) => `${((100 * ms) / busy).toFixed(1)}%`;
  const lines = [];
  lines.push(
    `  Busy ${busy.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled (idle = waiting for I/O). ` +
      `Self time by origin: ` +
      s.origins
        .filter((o) => !o.origin.startsWith("idle"))
        .slice(0, 6)
        .map((o) => `${o.origin} ${pct(o.ms)}`)
        .join(", ") +
      ".",
  );
  lines.push(
    "  Top self time: " +
      s.functions
        .filter((f) => !f.origin.startsWith("idle"))
        .slice(0, top)
        .map((f) => `\`${f.name}\`${f.where ? ` (${f.where})` : ""} ${pct(f.ms)}`)
        .join(", ") +
      ".",
  );
  return lines;
}

/**
 * Markdown lines comparing two profiles of the same work (`calls` calls each): where `a` spends more
 * self time than `b`, per call, by origin and by function.
 */
export function diffMarkdown(a, b, { calls, top = 8, labelA = "ours", labelB = "the floor" } = {}) {
  const sa = summarise(a);
  const sb = summarise(b);
  const perCall = (ms) => (1000 * ms) / calls;
  const busy = (s) => s.totalMs - (s.origins.find((o) => o.origin.startsWith("idle"))?.ms ?? 0);
  const lines = [];
  lines.push(
    `  Busy CPU per call: ${labelA} ${perCall(busy(sa)).toFixed(0)} µs, ${labelB} ${perCall(busy(sb)).toFixed(0)} µs ` +
      `(+${perCall(busy(sa) - busy(sb)).toFixed(0)} µs).`,
  );
  const originsB = new Map(sb.origins.map((o) => [o.origin, o.ms]));
  const originDiff = sa.origins
    .filter((o) => !o.origin.startsWith("idle"))
    .map((o) => ({ origin: o.origin, a: o.ms, b: originsB.get(o.origin) ?? 0 }))
    .concat(sb.origins.filter((o) => !sa.origins.some((x) => x.origin === o.origin) && !o.origin.startsWith("idle")).map((o) => ({ origin: o.origin, a: 0, b: o.ms })))
    .sort((x, y) => y.a - y.b - (x.a - x.b));
  lines.push(
    `  By origin, µs per call (${labelA} vs ${labelB}): ` +
      originDiff.map((o) => `${o.origin} ${perCall(o.a).toFixed(0)} vs ${perCall(o.b).toFixed(0)}`).join(", ") +
      ".",
  );
  const key = (f) => `${f.name}\u0000${f.where}`;
  const fb = new Map(sb.functions.map((f) => [key(f), f.ms]));
  const extra = sa.functions
    .filter((f) => !f.origin.startsWith("idle"))
    .map((f) => ({ ...f, extra: f.ms - (fb.get(key(f)) ?? 0) }))
    .sort((x, y) => y.extra - x.extra)
    .slice(0, top);
  lines.push(
    `  Largest extra self time of ${labelA}, µs per call: ` +
      extra.map((f) => `\`${f.name}\`${f.where ? ` (${f.where})` : ""} +${perCall(f.extra).toFixed(1)}`).join(", ") +
      ".",
  );
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // node bench/cpuprof.mjs A.cpuprofile [TOP]  |  node bench/cpuprof.mjs A.cpuprofile B.cpuprofile CALLS
  const [file, second, third] = process.argv.slice(2);
  const load = (f) => JSON.parse(readFileSync(f, "utf8"));
  if (third) console.log(diffMarkdown(load(file), load(second), { calls: Number(third), top: 15 }).join("\n"));
  else console.log(markdown(load(file), { top: Number(second) || 15 }).join("\n"));
}
