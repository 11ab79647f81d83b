// The checker of the secrets audit (issue 8, "done when" 2): every secret value and token secret
// recorded in an audit directory (secrets-*.jsonl, written by tests/support/audit.mjs, the starters,
// tests/official and the Rust tests), searched for in every other file there (server-*.log: what a
// server process logged; printed-*.log: what a process printed). tests/audit/audit.test.mjs runs it
// over the directory of the whole `npm test` run; tests/audit/checker.test.mjs shows it can fail.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";

/** Values shorter than this are not searched for (too likely by chance), only counted. */
export const MIN_LENGTH = 8;
/** Nor are values of fewer distinct characters than this ("xxxxxxxxxx" from a size test). */
export const MIN_VARIETY = 4;

/** Whether `value` can be meaningfully searched for. */
export const searchable = (value, minLength = MIN_LENGTH) => value.length >= minLength && new Set(value).size >= MIN_VARIETY;

/** A short fingerprint of a secret, never the secret: a few leading characters, length, SHA-256 prefix. */
export function fingerprint(value) {
  const shown = Math.min(4, Math.floor(value.length / 4));
  const hash = createHash("sha256").update(value, "utf8").digest("hex").slice(0, 12);
  return `${JSON.stringify(value.slice(0, shown) + "…")} (${value.length} chars, sha256 ${hash})`;
}

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

const isRecord = (path) => /^secrets-.*\.jsonl$/.test(basename(path));

/** The kind of a searched file, by name: "server", "printed" or "other". */
export function fileKind(path) {
  const name = basename(path);
  if (name.startsWith("server-")) return "server";
  if (name.startsWith("printed-")) return "printed";
  return "other";
}

/**
 * The recorded secrets of `files` (secrets-*.jsonl): Map value → { kinds: Set, from: Set }.
 * A line that is not a record is an error (a recorder writing garbage would hide secrets).
 */
export function readSecrets(files) {
  const secrets = new Map();
  for (const file of files) {
    const lines = readFileSync(file, "utf8").split("\n");
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      let record;
      try {
        record = JSON.parse(line);
      } catch {
        throw new Error(`${file}:${i + 1}: not a JSON record`);
      }
      if (typeof record.value !== "string" || !["value", "token"].includes(record.kind)) {
        throw new Error(`${file}:${i + 1}: not a {kind: value|token, value} record`);
      }
      if (record.value === "") return;
      const entry = secrets.get(record.value) ?? { kinds: new Set(), from: new Set() };
      entry.kinds.add(record.kind);
      if (record.from) entry.from.add(String(record.from));
      secrets.set(record.value, entry);
    });
  }
  return secrets;
}

/** The forms a secret could take in a log: as is, JSON/Rust-escaped, percent-encoded (grpc-message). */
function forms(value) {
  const set = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]);
  // Bytes as latin1 characters: files are searched byte for byte.
  return [...set].map((f) => Buffer.from(f, "utf8").toString("latin1"));
}

/**
 * Searches `files` for every secret of `secrets` (from readSecrets) at least `minLength` long.
 * Returns { leaks: [{ file, line, kind, fingerprint, from }], stats }.
 */
export function search(secrets, files, { minLength = MIN_LENGTH, root, maxLeaks = 200 } = {}) {
  const stats = {
    values: 0,
    tokens: 0,
    shortValues: 0,
    shortTokens: 0,
    maxLength: 0,
    files: { server: 0, printed: 0, other: 0 },
    bytes: 0,
  };
  const needles = new Map(); // prefix of minLength → [{ needle, secret }]
  const first = new Uint8Array(256);
  const list = [...secrets.entries()].map(([value, meta]) => ({ value, kind: meta.kinds.has("token") ? "token" : "value", meta }));
  for (const secret of list) {
    const long = searchable(secret.value, minLength);
    if (secret.kind === "token") long ? stats.tokens++ : stats.shortTokens++;
    else long ? stats.values++ : stats.shortValues++;
    if (!long) continue;
    stats.maxLength = Math.max(stats.maxLength, secret.value.length);
    for (const needle of forms(secret.value)) {
      const key = needle.slice(0, minLength);
      if (!needles.has(key)) needles.set(key, []);
      needles.get(key).push({ needle, secret });
      first[needle.charCodeAt(0)] = 1;
    }
  }

  const leaks = [];
  for (const file of files) {
    const kind = fileKind(file);
    stats.files[kind]++;
    const buffer = readFileSync(file);
    stats.bytes += buffer.length;
    const text = buffer.toString("latin1");
    let lineAt = 0;
    let line = 1;
    const reported = new Set();
    for (let i = 0; i + minLength <= text.length; i++) {
      if (!first[text.charCodeAt(i)]) continue;
      const candidates = needles.get(text.substr(i, minLength));
      if (!candidates) continue;
      for (const { needle, secret } of candidates) {
        if (!text.startsWith(needle, i)) continue;
        for (; lineAt < i; lineAt++) if (text.charCodeAt(lineAt) === 10) line++;
        const key = `${line}\0${secret.value}`;
        if (reported.has(key)) continue;
        reported.add(key);
        if (leaks.length < maxLeaks) {
          leaks.push({
            file: root ? relative(root, file) : file,
            line,
            kind: secret.kind,
            fingerprint: fingerprint(secret.value),
            from: [...secret.meta.from].sort().join(", "),
          });
        } else stats.truncated = true;
      }
    }
  }
  return { leaks, stats };
}

/** Why an audit that found nothing proves nothing (an empty list when it checked enough). */
export function emptiness(stats) {
  const why = [];
  if (stats.values === 0) why.push(`no secret value of ${MIN_LENGTH}+ characters was recorded`);
  if (stats.tokens === 0) why.push("no token secret was recorded");
  if (stats.files.server === 0) why.push("no server log was written");
  if (stats.files.printed === 0) why.push("no printed output was written");
  if (stats.bytes === 0) why.push("no byte was searched");
  return why;
}

/** The whole audit of directory `dir`. */
export function auditDir(dir, options = {}) {
  statSync(dir); // a missing directory is an error, not an empty audit
  const all = walk(dir);
  const secrets = readSecrets(all.filter(isRecord));
  const result = search(secrets, all.filter((f) => !isRecord(f)), { root: dir, ...options });
  return { ...result, recordFiles: all.filter(isRecord).length };
}

/** One line per leak, for a failure message. */
export function describeLeaks(leaks) {
  return leaks.map((l) => `${l.file}:${l.line}: ${l.kind === "token" ? "token secret" : "secret value"} ${l.fingerprint}, recorded by ${l.from || "?"}`);
}

/** The counts, for the report. */
export function describeStats(stats, recordFiles) {
  const f = stats.files;
  return (
    `checked ${stats.values} secret values and ${stats.tokens} token secrets ` +
    `(${recordFiles} record files; the longest ${stats.maxLength} characters; skipped as shorter than ${MIN_LENGTH} characters ` +
    `or of fewer than ${MIN_VARIETY} distinct ones: ${stats.shortValues} values, ${stats.shortTokens} tokens) ` +
    `in ${f.server + f.printed + f.other} files (${f.server} server logs, ${f.printed} printed outputs, ${f.other} other), ${stats.bytes} bytes`
  );
}
