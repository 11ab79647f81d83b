// The secrets audit of `npm test` (issue 8, "done when" 2): scripts/test.sh sets
// MODAL_SECRETS_AUDIT_DIR and preloads this module in every Node process of the run
// (NODE_OPTIONS=--import=<this file>). In each process it
//  - records every secret value and token secret sent to a server through the global `fetch`
//    (SecretGetOrCreate env_dict values and SecretUpdate values, decoded from the gRPC-web body;
//    the x-modal-token-secret header) in secrets-<label>-<pid>.jsonl;
//  - tees everything the process writes to stdout and stderr into printed-<label>-<pid>.log.
// Test support records what it knows besides (token secrets from `token new`, values typed into a
// browser) with recordSecret(), and writes server logs and other processes' output with
// auditLog(). tests/audit/ then searches every log for every recorded secret.
// Without MODAL_SECRETS_AUDIT_DIR every export is a no-op and nothing is installed.
import { appendFileSync, mkdirSync, closeSync, openSync, writeSync } from "node:fs";
import { basename, join } from "node:path";

export const AUDIT_DIR = process.env.MODAL_SECRETS_AUDIT_DIR || null;

const STATE = Symbol.for("modal-secrets.audit");

/** A label for this process's files: the script it runs (node:test children run their test file). */
function processLabel() {
  const script = process.argv[1] ? basename(process.argv[1]) : "node";
  return script.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 60) || "node";
}

function state() {
  if (!AUDIT_DIR) return null;
  if (!globalThis[STATE]) {
    mkdirSync(AUDIT_DIR, { recursive: true });
    globalThis[STATE] = { label: processLabel(), seen: new Set(), secretsPath: null, printedFd: null, files: 0 };
  }
  return globalThis[STATE];
}

/**
 * Records a secret value (kind "value") or a token secret (kind "token") as used in this run;
 * `from` says by whom (default: this process's script). Empty values are not recorded.
 */
export function recordSecret(value, kind = "value", from) {
  const s = state();
  if (!s || typeof value !== "string" || value === "") return;
  const key = `${kind}\0${value}`;
  if (s.seen.has(key)) return;
  s.seen.add(key);
  s.secretsPath ??= join(AUDIT_DIR, `secrets-${s.label}-${process.pid}.jsonl`);
  appendFileSync(s.secretsPath, `${JSON.stringify({ kind, value, from: from ?? s.label })}\n`);
}

/** Records a token secret. */
export const recordToken = (value, from) => recordSecret(value, "token", from);

/**
 * A new log file in the audit directory, for `kind` "server" (a server process's log) or "printed"
 * (what a process printed): returns `append(chunk)`, a no-op without the audit.
 */
export function auditLog(kind, label) {
  const s = state();
  if (!s) return () => {};
  const safe = String(label).replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 60);
  const path = join(AUDIT_DIR, `${kind}-${safe}-${process.pid}-${++s.files}.log`);
  return (chunk) => {
    if (chunk === undefined || chunk === null) return;
    appendFileSync(path, typeof chunk === "string" ? chunk : Buffer.from(chunk.buffer ?? chunk, chunk.byteOffset, chunk.byteLength));
  };
}

// ---- a protobuf walker for the two requests that carry values (field numbers: WIRE.md) -------------

/** The fields of one protobuf message: [{ field, wire, value }] (value: bigint-free number or bytes). */
export function protoFields(bytes) {
  const fields = [];
  let i = 0;
  const varint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= bytes.length) throw new Error("truncated varint");
      const b = bytes[i++];
      if (shift < 49) result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return result;
      if (shift > 63) throw new Error("varint too long");
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) fields.push({ field, wire, value: varint() });
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (i + n > bytes.length) throw new Error("truncated fixed field");
      fields.push({ field, wire, value: bytes.subarray(i, i + n) });
      i += n;
    } else if (wire === 2) {
      const n = varint();
      if (i + n > bytes.length) throw new Error("truncated length-delimited field");
      fields.push({ field, wire, value: bytes.subarray(i, i + n) });
      i += n;
    } else throw new Error(`wire type ${wire}`);
  }
  return fields;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** The messages of a gRPC-web body (frames of flag byte + u32 length; trailer frames skipped). */
export function grpcWebMessages(body) {
  const messages = [];
  let i = 0;
  while (i + 5 <= body.length) {
    const flags = body[i];
    const n = ((body[i + 1] << 24) >>> 0) + (body[i + 2] << 16) + (body[i + 3] << 8) + body[i + 4];
    const end = Math.min(body.length, i + 5 + n);
    if (!(flags & 0x80)) messages.push(body.subarray(i + 5, end));
    i = end;
  }
  return messages;
}

/**
 * The secret values in a request message of `method`: SecretGetOrCreateRequest.env_dict (field 5,
 * map entries: 1 key, 2 value) and SecretUpdateRequest.updates (field 2: 1 key, 2 optional value).
 */
export function valuesOfRequest(method, message) {
  const outer = method === "SecretGetOrCreate" ? 5 : method === "SecretUpdate" ? 2 : null;
  if (outer === null) return [];
  const values = [];
  for (const f of protoFields(message)) {
    if (f.field !== outer || f.wire !== 2) continue;
    for (const g of protoFields(f.value)) {
      if (g.field === 2 && g.wire === 2) values.push(utf8.decode(g.value));
    }
  }
  return values;
}

function headerValue(headers, name) {
  if (!headers) return undefined;
  if (typeof headers.get === "function") return headers.get(name) ?? undefined;
  if (Array.isArray(headers)) return headers.find(([k]) => String(k).toLowerCase() === name)?.[1];
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

async function bodyBytes(input, init) {
  const body = init?.body;
  if (body === undefined || body === null) {
    if (typeof Request === "function" && input instanceof Request && input.body) return new Uint8Array(await input.clone().arrayBuffer());
    return new Uint8Array();
  }
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (typeof Blob === "function" && body instanceof Blob) return new Uint8Array(await body.arrayBuffer());
  return new Uint8Array(); // a stream: not read (the package never sends one)
}

/** Records the token secret and the values of one fetch call, if it is a Modal call. */
async function recordCall(input, init) {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input?.url;
  if (typeof url !== "string" || !url.includes("/modal.client.ModalClient/")) return;
  const headers = init?.headers ?? (typeof Request === "function" && input instanceof Request ? input.headers : undefined);
  const token = headerValue(headers, "x-modal-token-secret");
  if (token) recordToken(String(token));
  const method = url.split("?")[0].split("/").pop();
  if (method !== "SecretGetOrCreate" && method !== "SecretUpdate") return;
  let body = await bodyBytes(input, init);
  const type = String(headerValue(headers, "content-type") ?? "");
  if (type.includes("grpc-web-text")) body = new Uint8Array(Buffer.from(utf8.decode(body), "base64"));
  for (const message of grpcWebMessages(body)) {
    let values;
    try {
      values = valuesOfRequest(method, message);
    } catch {
      continue; // a deliberately malformed body (tests of the server's decoder)
    }
    for (const v of values) recordSecret(v);
  }
}

function install() {
  const s = state();
  if (!s || s.installed) return;
  s.installed = true;

  if (typeof globalThis.fetch === "function") {
    const inner = globalThis.fetch;
    const audited = async function fetch(input, init) {
      try {
        await recordCall(input, init);
      } catch {
        // Recording never changes what the call does.
      }
      return inner.call(this, input, init);
    };
    globalThis.fetch = audited;
  }

  const printedPath = join(AUDIT_DIR, `printed-${s.label}-${process.pid}.log`);
  const tee = (chunk, encoding) => {
    try {
      s.printedFd ??= openSync(printedPath, "a");
      if (typeof chunk === "string") writeSync(s.printedFd, Buffer.from(chunk, typeof encoding === "string" ? encoding : "utf8"));
      else if (chunk && chunk.byteLength !== undefined) writeSync(s.printedFd, Buffer.from(chunk.buffer ?? chunk, chunk.byteOffset ?? 0, chunk.byteLength));
    } catch {
      // Never break the process's own output.
    }
  };
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write;
    stream.write = function (chunk, encoding, callback) {
      tee(chunk, encoding);
      return write.call(this, chunk, encoding, callback);
    };
  }
  process.once("exit", () => {
    if (s.printedFd !== null) closeSync(s.printedFd);
  });
}

install();
