// The I/O of the package: `drive` runs one operation of the wasm (an OperationHandle,
// src/operation.rs) to its end, sending what it says to send with `fetch` and sleeping when it says
// to wait. Only mechanics here: what to send, when to retry and how to read the answer are decided
// in Rust. The wasm also takes `randomBytes` and `warn` from here. No Node API is used, so this
// runs in every runtime. The formats it exchanges with the wasm are abi.js's.
import { FAILURE, fail, headerLines, headerObject, readFailure, readOutcome, readStep, wantedHeaders } from "./abi.js";

// Why fetch failed, in a few words (undici hides the reason in `cause`): never a header value.
function describe(error) {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = cause?.code ?? error.code;
  let text = error.message || error.name;
  if (cause?.message && !text.includes(cause.message)) text += `: ${cause.message}`;
  else if (code && !text.includes(code)) text += ` (${code})`;
  return text;
}

// Reads at most `limit` bytes of the body; a longer one is refused without reading it all.
async function readBody(response, limit) {
  const declared = Number(response.headers.get("content-length"));
  if (declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw fail(FAILURE.tooLarge);
  }
  // A declared length within the limit (the usual case) is read in one piece; without one
  // (chunked), the body is read as a stream and cut off at the limit.
  const hasLength = response.headers.has("content-length") && declared >= 0;
  if (hasLength || !response.body || typeof response.body.getReader !== "function") {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > limit) throw fail(FAILURE.tooLarge);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw fail(FAILURE.tooLarge);
    }
    chunks.push(value);
  }
  return concatBytes(chunks, total);
}

// The chunks of a body (`total` bytes in all) as one Uint8Array (no Buffer: Deno has none as a
// global). Shared with http2.js.
export function concatBytes(chunks, total) {
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

// Runs `op` to its end and resolves to its outcome (abi.js readOutcome), or rejects with its typed
// error. `signal` is the caller's AbortSignal; `transport`, the client's HTTP/2 transport
// (http2.js), else fetch. The OperationHandle is freed at the end, whatever happens.
export async function drive(op, signal, transport) {
  try {
    for (;;) {
      const step = op.step(now());
      if (step === null) return readOutcome(op.finish());
      if (typeof step === "number") {
        let completed = true;
        try {
          await sleep(step, signal);
        } catch {
          completed = false;
        }
        op.slept(completed);
        continue;
      }
      const send = readStep(step);
      let answer;
      try {
        answer = transport ? await transport.send(send, signal) : await fetchSend(op.fetch, send, signal);
      } catch (failure) {
        const [kind, message] = readFailure(failure);
        op.failed(now(), kind, message);
        continue;
      }
      op.answer(now(), answer[0], answer[1], answer[2], answer[3]);
    }
  } finally {
    op.free();
  }
}

// POSTs a send step (abi.js readStep) with fetch and resolves to [status, header lines, body
// bytes]: of the answer's headers, only the wanted ones, each as `Headers.get` combines it.
// `signal` is the caller's AbortSignal.
async function fetchSend(fetchFn, { url, headers, body, timeoutMs, maxBodyBytes, wanted }, signal) {
  const doFetch = fetchFn ?? globalThis.fetch;
  if (typeof doFetch !== "function") {
    throw fail(FAILURE.connection, "this runtime has no global fetch; pass { fetch } to new Client()");
  }
  if (signal?.aborted) throw fail(FAILURE.aborted);
  // Only a call that can be cut short needs a controller (most have neither timeout nor signal).
  const controller = timeoutMs >= 0 || signal ? new AbortController() : undefined;
  let timedOut = false;
  const timer =
    timeoutMs >= 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timeoutMs)
      : undefined;
  const onAbort = () => controller?.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const requestHeaders = headerObject(headers);
    // Never follow a redirect: the token and the values go only to the configured server. A 3xx
    // (an opaque redirect, status 0, in browsers) is reported as the answer, and Rust refuses it.
    const init = { method: "POST", headers: requestHeaders, body, redirect: "manual" };
    if (controller) init.signal = controller.signal;
    const response = await doFetch(url, init);
    const bytes = await readBody(response, maxBodyBytes);
    const responseHeaders = headerLines(wantedHeaders(wanted), (name) => response.headers.get(name));
    return [response.status, responseHeaders, bytes];
  } catch (error) {
    if (error?.modalTransportFailure) throw error;
    if (timedOut) throw fail(FAILURE.timeout);
    if (signal?.aborted) throw fail(FAILURE.aborted);
    throw fail(FAILURE.connection, describe(error));
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

// Resolves after `ms`, or rejects at once when `signal` aborts.
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(fail(FAILURE.aborted));
    const onAbort = () => {
      clearTimeout(timer);
      reject(fail(FAILURE.aborted));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// Milliseconds from a monotonic clock where there is one.
function now() {
  return globalThis.performance?.now() ?? Date.now();
}

// 16 random bytes (crypto.getRandomValues exists in Node 20, browsers, workers, Deno and Bun), cut
// from a pool filled 4 KiB at a time: one getRandomValues per call cost Node ~3 µs a call.
let pool = new Uint8Array(0);
let poolAt = 0;
export function randomBytes() {
  if (poolAt + 16 > pool.length) {
    pool = globalThis.crypto.getRandomValues(new Uint8Array(4096));
    poolAt = 0;
  }
  const bytes = pool.slice(poolAt, poolAt + 16);
  // Each key's bytes are used once.
  pool.fill(0, poolAt, (poolAt += 16));
  return bytes;
}

// A server's warning (x-modal-warning): to the client's onWarning, else console.warn.
export function warn(onWarning, message) {
  if (typeof onWarning === "function") onWarning(message);
  else console.warn(`modal-secrets: the server warns: ${message}`);
}
