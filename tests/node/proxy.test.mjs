// Issue 8: the real built package against the real server through a TCP fault proxy
// (tests/support/fault-proxy.mjs): latency, dropped connections, answers reset mid-body, partial
// gRPC-web frames, stalls. Each test asserts what WIRE.md ("Errors and retries") and the README /
// index.d.ts document: which faults are retried and how often (counted at the proxy), one
// idempotency key per logical call, the error class and code when the attempts run out, timeouts and
// aborts in about their time, typed errors for truncated answers, and that the same loaded module
// works right after every fault. Timing bounds are wide (a shared, loaded machine): a lower bound
// that follows from the documented waits, and a generous upper bound.
import { test, describe, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startServer, pkg } from "./support/server.mjs";
import { timed, waitFor } from "./support/timing.mjs";
import { startFaultProxy, faults, connectionFaults } from "../support/fault-proxy.mjs";

const { Client, Secret, ModalError, ConnectionError, TimeoutError, InternalError, ServiceError, NotFoundError } = pkg;

const server = await startServer();
const token = server.token();
const direct = server.client(token);
const proxy = await startFaultProxy({ target: server.url });
after(() => proxy.close());

/** A client of the server through the proxy (which speaks HTTP/1.1: fetch; HTTP/2's faults are in
 * http2.test.mjs). */
const via = (options = {}) =>
  new Client({ serverUrl: proxy.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, transport: "fetch", ...options });

const PROBE = "proxy-probe";
await Secret.objects.create(PROBE, { P: "1" }, { client: direct });
const probeId = (await Secret.fromName(PROBE, { client: direct }).hydrate()).objectId;

let counter = 0;
const uniq = (prefix) => `${prefix}-${++counter}`;
const lookup = (client, options) => Secret.fromName(PROBE, { client }).hydrate(options);

/** Every test fails rather than hangs. */
const T = { timeout: 20_000 };

beforeEach(() => proxy.reset());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const header = (name) => proxy.requests.map((r) => r.headers[name]);

/** The attempts the proxy saw were one logical call: one idempotency key, attempts 0, 1, 2, … */
function assertOneCall(n, rpc) {
  const reqs = rpc ? proxy.calls(rpc) : proxy.requests;
  assert.equal(reqs.length, n, `attempts seen at the proxy: ${reqs.map((r) => r.fault).join(", ")}`);
  const key = reqs[0].headers["x-idempotency-key"];
  assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(
    reqs.map((r) => r.headers["x-idempotency-key"]),
    reqs.map(() => key),
    "the same x-idempotency-key on every attempt",
  );
  assert.deepEqual(
    reqs.map((r) => r.headers["x-retry-attempt"]),
    reqs.map((_, i) => String(i)),
  );
  for (const r of reqs) assert.deepEqual(r.body, reqs[0].body, "the same request body on every attempt");
  return reqs;
}

/** Waits between attempts are at least the documented backoff (0.1, 0.2, 0.4 s; less 5 ms of clock slack). */
function assertBackoff(reqs) {
  [100, 200, 400].slice(0, reqs.length - 1).forEach((ms, i) => {
    const gap = reqs[i + 1].at - reqs[i].at;
    assert.ok(gap >= ms - 5, `wait ${i + 1}: ${gap.toFixed(1)} ms, documented ${ms} ms`);
  });
}

function assertTyped(error, cls, code) {
  assert.ok(error instanceof cls, `expected ${cls.name}, got ${error?.name}: ${error?.message}`);
  assert.ok(error instanceof ModalError && error instanceof Error);
  assert.equal(error.name, cls.name);
  assert.equal(error.code, code);
  assert.ok(error.message.length > 0 && error.message.length < 500, error.message);
  assert.ok(!error.message.includes(token.tokenSecret), "no token secret in the message");
}

/** The same loaded module, right after a fault: a clean lookup through the proxy (one attempt) and directly. */
async function stillWorks() {
  proxy.reset();
  const through = await lookup(via());
  assert.equal(through.objectId, probeId);
  assert.deepEqual(through.keys, ["P"]);
  assert.equal(proxy.requests.length, 1, "one clean attempt");
  assert.equal(proxy.requests[0].status, 200);
  assert.deepEqual(proxy.errors, [], "the proxy understood all the traffic");
  assert.equal((await lookup(direct)).objectId, probeId);
}

/** How many secrets named `name` the server lists. */
async function countNamed(name) {
  const all = await Secret.objects.list({ client: direct });
  return all.filter((s) => s.name === name).length;
}

// ---- the proxy itself ------------------------------------------------------------------------------

/** A lookup of PROBE as raw HTTP/1.1 bytes (the package's own request, written out). */
function rawLookup() {
  const message = Buffer.concat([Buffer.from([0x0a, PROBE.length]), Buffer.from(PROBE)]);
  const body = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
  const head =
    "POST /modal.client.ModalClient/SecretGetOrCreate HTTP/1.1\r\nhost: x\r\n" +
    "content-type: application/grpc-web+proto\r\n" +
    `x-modal-token-id: ${token.tokenId}\r\nx-modal-token-secret: ${token.tokenSecret}\r\n` +
    `connection: close\r\ncontent-length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

/** Sends `bytes` on a new connection to the proxy; resolves to what came back and how it ended. */
function rawExchange(bytes) {
  return new Promise((resolve) => {
    const s = net.connect(proxy.port, "127.0.0.1");
    const got = [];
    let error = null;
    let ended = false;
    s.on("data", (d) => got.push(d));
    s.on("end", () => (ended = true));
    s.on("error", (e) => (error = e));
    s.on("close", () => resolve({ text: Buffer.concat(got).toString("latin1"), bytes: Buffer.concat(got), error, ended }));
    s.write(bytes);
    setTimeout(() => s.destroy(), 3000);
  });
}

describe("the proxy itself", () => {
  test("passes calls through, counting each, with keep-alive connections reused", T, async () => {
    const c = via();
    for (let i = 0; i < 3; i++) assert.equal((await lookup(c)).objectId, probeId);
    assert.equal(proxy.requests.length, 3);
    assert.deepEqual(proxy.requests.map((r) => r.fault), ["pass", "pass", "pass"]);
    const conns = proxy.requests.map((r) => r.connection);
    assert.ok(new Set(conns).size < conns.length, `a connection carried several requests (keep-alive): ${conns}`);
    assert.deepEqual(proxy.requests.map((r) => r.rpc), ["SecretGetOrCreate", "SecretGetOrCreate", "SecretGetOrCreate"]);
    assert.equal(proxy.requests[0].headers["x-modal-token-secret"], "<redacted>");
    assert.equal(new Set(header("x-idempotency-key")).size, 3, "a new idempotency key per logical call");
  });

  test("cutBody: the server's head, N body bytes in its framing, then an RST; partialFrame: a complete truncated answer, then a FIN", T, async () => {
    proxy.push(faults.cutBody(3));
    const cut = await rawExchange(rawLookup());
    assert.match(cut.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(cut.text, /transfer-encoding: chunked\r\n/i);
    assert.ok(cut.text.endsWith("\r\n\r\n3\r\n\x00\x00\x00\r\n"), JSON.stringify(cut.text.slice(-20)));
    assert.equal(cut.error?.code, "ECONNRESET");

    proxy.push(faults.partialFrame(3));
    const partial = await rawExchange(rawLookup());
    assert.match(partial.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(partial.text, /transfer-encoding|content-length/i);
    assert.match(partial.text, /\r\nconnection: close\r\n/);
    assert.ok(partial.text.endsWith("\r\n\r\n\x00\x00\x00"));
    assert.equal(partial.error, null);
    assert.equal(partial.ended, true, "a clean FIN");
    assert.equal(proxy.requests.length, 2);
    assert.deepEqual(proxy.errors, []);
  });
});

// ---- lost connections: retried -------------------------------------------------------------------

describe("a connection lost before any answer is retried (3 retries, the same idempotency key)", () => {
  test("an RST on the first attempt: the second attempt answers", T, async () => {
    proxy.push(faults.drop({ rst: true }));
    const s = await lookup(via());
    assert.equal(s.objectId, probeId);
    const reqs = assertOneCall(2);
    assert.deepEqual(reqs.map((r) => r.fault), ["drop", "pass"]);
    assertBackoff(reqs);
    await stillWorks();
  });

  test("a FIN on the first two attempts: the third answers", T, async () => {
    proxy.push(faults.drop({ rst: false }), faults.drop({ rst: false }));
    const s = await lookup(via());
    assert.equal(s.objectId, probeId);
    assertBackoff(assertOneCall(3));
    await stillWorks();
  });

  test("dropped on every attempt: ConnectionError (UNAVAILABLE, retryable) after 4 attempts and ≥ 0.7 s of waits", T, async () => {
    proxy.fallback = faults.drop();
    const { error, ms } = await timed(lookup(via()));
    assertTyped(error, ConnectionError, "UNAVAILABLE");
    assert.equal(error.retryable, true);
    assert.match(error.message, /could not reach the Modal server/);
    assertBackoff(assertOneCall(4));
    assert.ok(ms >= 690 && ms < 8000, `${ms.toFixed(0)} ms`);
    await sleep(300);
    assert.equal(proxy.requests.length, 4, "no fifth attempt");
    await stillWorks();
  });

  test("maxRetries: 1 makes 2 attempts, maxRetries: 0 one", T, async () => {
    proxy.fallback = faults.drop();
    assertTyped((await timed(lookup(via({ maxRetries: 1 })))).error, ConnectionError, "UNAVAILABLE");
    assertOneCall(2);
    proxy.requests = [];
    assertTyped((await timed(lookup(via({ maxRetries: 0 })))).error, ConnectionError, "UNAVAILABLE");
    assertOneCall(1);
    await stillWorks();
  });

  test("a new connection reset as it is accepted (before any request is read) is retried too", T, async () => {
    const c = via();
    await lookup(c); // a connection in the pool …
    await proxy.closeIdle(); // … closed, so the next attempt must connect anew
    proxy.reset();
    proxy.pushConnection(connectionFaults.drop({ rst: true }));
    const s = await lookup(c);
    assert.equal(s.objectId, probeId);
    assert.ok(proxy.connections >= 2, `${proxy.connections} connections`);
    assert.equal(proxy.requests.length, 1, "the reset connection carried no request the proxy read");
    assert.ok(Number(proxy.requests[0].headers["x-retry-attempt"]) >= 1, "the answered attempt was a retry");
    await stillWorks();
  });
});

describe("an HTTP 502/503 page of a load balancer in the way: UNAVAILABLE, retried", () => {
  const page = (status) => faults.respond(status, { body: `<html><h1>${status}</h1></html>` });

  test("503 on the first two attempts: the third (forwarded) answers", T, async () => {
    proxy.push(page(503), page(503));
    assert.equal((await lookup(via())).objectId, probeId);
    const reqs = assertOneCall(3);
    assert.deepEqual(reqs.map((r) => r.status), [503, 503, 200]);
    assertBackoff(reqs);
    await stillWorks();
  });

  test("502 on every attempt: ServiceError UNAVAILABLE after 4 attempts", T, async () => {
    proxy.fallback = page(502);
    const { error } = await timed(lookup(via()));
    assertTyped(error, ServiceError, "UNAVAILABLE");
    assert.equal(error.retryable, true);
    assert.match(error.message, /HTTP 502/);
    assertBackoff(assertOneCall(4));
    await stillWorks();
  });
});

// ---- answers cut mid-body --------------------------------------------------------------------------

describe("an answer reset mid-body (head sent, body cut) is a lost connection: retried", () => {
  test("RST inside the 5-byte frame header, first attempt only: the call succeeds", T, async () => {
    proxy.push(faults.cutBody(3));
    assert.equal((await lookup(via())).objectId, probeId);
    const reqs = assertOneCall(2);
    assert.equal(reqs[0].status, 200, "the server answered the first attempt");
    assertBackoff(reqs);
    await stillWorks();
  });

  test("RST inside the message on every attempt: ConnectionError after 4 attempts", T, async () => {
    proxy.fallback = faults.cutBody(20);
    const { error } = await timed(lookup(via()));
    assertTyped(error, ConnectionError, "UNAVAILABLE");
    assert.equal(error.retryable, true);
    assertOneCall(4);
    await stillWorks();
  });

  test("a FIN after part of a chunked body (no last chunk): a transport failure, retried, then the answer", T, async () => {
    proxy.push(faults.cutBody(10, { rst: false }), faults.cutBody(40, { rst: false }));
    assert.equal((await lookup(via())).objectId, probeId);
    assertBackoff(assertOneCall(3));
    await stillWorks();
  });
});

// ---- partial frames in a complete HTTP answer --------------------------------------------------------

describe("a partial gRPC-web frame in a complete HTTP answer: a typed error, no hang, no wrong data", () => {
  // [what, fault, message]. The lookup's answer is one message frame (5 + 60-odd bytes) and a trailer frame.
  const cases = [
    ["an empty body, then a FIN", faults.partialFrame(0), /no grpc-status/],
    ["3 bytes: inside the frame header, then a FIN", faults.partialFrame(3), /frame header needs 5 bytes, 3 left/],
    ["12 bytes: inside the message, then a FIN", faults.partialFrame(12), /announces \d+ bytes but only 7 follow/],
    ["12 bytes, content-length rewritten (keep-alive)", faults.partialFrame(12, { framing: "length" }), /announces \d+ bytes but only 7 follow/],
    ["the message frame whole, its trailers cut off", "message-only", /no grpc-status/],
  ];
  for (const [what, theFault, re] of cases) {
    test(what, T, async () => {
      let fault = theFault;
      if (fault === "message-only") {
        // The length of the message frame of this answer, from a clean one seen at the proxy.
        await lookup(via());
        const body = proxy.requests[0].responseBody;
        assert.equal(body[0], 0, "the answer starts with a message frame");
        const frameLen = 5 + body.readUInt32BE(1);
        assert.ok(body.length > frameLen && body[frameLen] === 0x80, "a trailer frame follows it");
        proxy.reset();
        fault = faults.partialFrame(frameLen);
      }
      proxy.push(fault);
      const { error, value } = await timed(lookup(via()));
      assert.equal(value, undefined, "no success with a truncated answer");
      assertTyped(error, InternalError, "INTERNAL");
      assert.ok(error instanceof ServiceError);
      assert.match(error.message, /^malformed response from the server/);
      assert.match(error.message, re);
      // An answer that is not valid gRPC-web is not retried (error.retryable says so).
      assert.equal(error.retryable, false);
      assert.equal(proxy.requests.length, 1);
      await stillWorks();
    });
  }
});

// ---- latency, timeouts ---------------------------------------------------------------------------------

describe("latency and timeoutMs", () => {
  test("latency before the request is forwarded, no timeout: the call waits it out", T, async () => {
    proxy.push(faults.delayRequest(400));
    const { value, ms } = await timed(lookup(via()));
    assert.equal(value?.objectId, probeId);
    assert.ok(ms >= 395, `${ms.toFixed(0)} ms`);
    assert.equal(proxy.requests.length, 1);
  });

  test("a new connection held 300 ms before it is read: the call waits it out, one attempt", T, async () => {
    const c = via();
    await lookup(c);
    await proxy.closeIdle();
    proxy.reset();
    proxy.pushConnection(connectionFaults.delay(300));
    const { value, ms } = await timed(lookup(c));
    assert.equal(value?.objectId, probeId);
    assert.ok(ms >= 295, `${ms.toFixed(0)} ms`);
    assert.equal(proxy.requests.length, 1);
    assert.equal(proxy.requests[0].headers["x-retry-attempt"], "0");
  });

  test("latency before the answer beyond the client's timeoutMs: TimeoutError in about the timeout, not retried", T, async () => {
    proxy.push(faults.delayResponse(4000));
    const { error, ms } = await timed(lookup(via({ timeoutMs: 300 })));
    assertTyped(error, TimeoutError, "DEADLINE_EXCEEDED");
    assert.equal(error.retryable, false);
    assert.match(error.message, /300 ms/);
    assert.ok(ms >= 290 && ms < 3000, `${ms.toFixed(0)} ms for a 300 ms timeout (the answer was 4 s away)`);
    assert.equal(proxy.requests.length, 1, "a timed-out call is not retried");
    await waitFor(() => proxy.requests[0].clientClosed, "the client gave up the connection (the fetch was aborted)");
    await stillWorks();
  });

  test("latency before the request is forwarded beyond a per-call timeoutMs: TimeoutError", T, async () => {
    proxy.push(faults.delayRequest(4000));
    const { error, ms } = await timed(lookup(via({ timeoutMs: 10_000 }), { timeoutMs: 250 }));
    assertTyped(error, TimeoutError, "DEADLINE_EXCEEDED");
    assert.match(error.message, /250 ms/);
    assert.ok(ms >= 240 && ms < 3000, `${ms.toFixed(0)} ms`);
    assert.equal(proxy.requests.length, 1);
    await stillWorks();
  });

  test("a body dripping 1 byte per 100 ms past timeoutMs: TimeoutError (the timeout covers reading the body)", T, async () => {
    proxy.push(faults.drip({ bytes: 1, everyMs: 100 }));
    const { error, ms } = await timed(lookup(via({ timeoutMs: 400 })));
    assertTyped(error, TimeoutError, "DEADLINE_EXCEEDED");
    assert.ok(ms >= 390 && ms < 3000, `${ms.toFixed(0)} ms`);
    assert.equal(proxy.requests.length, 1);
    assert.equal(proxy.requests[0].status, 200, "the head had arrived");
    await waitFor(() => proxy.requests[0].clientClosed, "the client gave up the connection");
    await stillWorks();
  });

  test("a body dripping within the timeout: the whole answer, intact", T, async () => {
    proxy.push(faults.drip({ bytes: 16, everyMs: 30 }));
    const { value, error, ms } = await timed(lookup(via({ timeoutMs: 10_000 })));
    assert.equal(error, undefined, String(error));
    assert.equal(value.objectId, probeId);
    assert.deepEqual(value.keys, ["P"]);
    assert.ok(ms >= 100, `${ms.toFixed(0)} ms: the drip took at least 4 pieces × 30 ms`);
    assert.equal(proxy.requests.length, 1);
  });

  test("timeoutMs covers the retries: a drop, then a stalled attempt, ends at the deadline", T, async () => {
    proxy.push(faults.drop(), faults.stall());
    const { error, ms } = await timed(lookup(via({ timeoutMs: 700 })));
    assertTyped(error, TimeoutError, "DEADLINE_EXCEEDED");
    assert.ok(ms >= 690 && ms < 3500, `${ms.toFixed(0)} ms`);
    assertOneCall(2);
    await stillWorks();
  });
});

// ---- AbortSignal ---------------------------------------------------------------------------------------

describe("AbortSignal", () => {
  test("aborts a stalled call: TimeoutError CANCELLED at once, the connection given up, no retry", T, async () => {
    proxy.push(faults.stall());
    const controller = new AbortController();
    const pending = timed(lookup(via(), { signal: controller.signal }));
    await waitFor(() => proxy.requests.length === 1, "the request reached the proxy");
    await sleep(100);
    const t0 = performance.now();
    controller.abort();
    const { error } = await pending;
    const ms = performance.now() - t0;
    assertTyped(error, TimeoutError, "CANCELLED");
    assert.equal(error.retryable, false);
    assert.ok(ms < 1500, `rejected ${ms.toFixed(0)} ms after the abort`);
    await waitFor(() => proxy.requests[0].clientClosed, "the client gave up the connection");
    await sleep(300);
    assert.equal(proxy.requests.length, 1, "not retried");
    await stillWorks();
  });

  test("aborts a call stalled on a new connection the proxy never reads", T, async () => {
    const c = via();
    await lookup(c);
    await proxy.closeIdle();
    proxy.reset();
    proxy.pushConnection(connectionFaults.stall());
    const { error, ms } = await timed(lookup(c, { signal: AbortSignal.timeout(300) }));
    assertTyped(error, TimeoutError, "CANCELLED");
    assert.ok(ms >= 290 && ms < 3000, `${ms.toFixed(0)} ms`);
    assert.equal(proxy.requests.length, 0, "nothing was read");
    assert.ok(proxy.connections >= 1);
    await stillWorks();
  });
});

// ---- writes under faults -------------------------------------------------------------------------------

describe("writes whose answer is lost mid-body are retried with the same idempotency key", () => {
  test("create: one secret, with the keys sent, the same request twice", T, async () => {
    const name = uniq("lost-create");
    proxy.push(faults.cutBody(10, { method: "SecretGetOrCreate" }));
    await timed(Secret.objects.create(name, { A: "1", B: "2" }, { client: via() }));
    const reqs = assertOneCall(2, "SecretGetOrCreate");
    assert.equal(reqs[0].status, 200, "the first attempt created it; only its answer was lost");
    assert.equal(await countNamed(name), 1, "no duplicate");
    assert.deepEqual((await Secret.fromName(name, { client: direct }).hydrate()).keys, ["A", "B"]);
    await stillWorks();
  });

  test(
    "create: the call itself succeeds (no AlreadyExistsError for the secret its own first attempt made)",
    T,
    async () => {
      const name = uniq("lost-create-ok");
      proxy.push(faults.cutBody(10, { method: "SecretGetOrCreate" }));
      const { error } = await timed(Secret.objects.create(name, { A: "1" }, { client: via() }));
      if (error) assert.fail(`create rejected: ${error.name} ${error.code}: ${error.message}`);
      assert.equal(proxy.calls("SecretGetOrCreate").length, 2);
    },
  );

  test("create with allowExisting: succeeds, one secret", T, async () => {
    const name = uniq("lost-create-allow");
    proxy.push(faults.cutBody(10, { method: "SecretGetOrCreate" }));
    await Secret.objects.create(name, { A: "1" }, { client: via(), allowExisting: true });
    assertOneCall(2, "SecretGetOrCreate");
    assert.equal(await countNamed(name), 1);
    await stillWorks();
  });

  test("update: applied once, the keys as asked", T, async () => {
    const name = uniq("lost-update");
    await Secret.objects.create(name, { A: "1", B: "2" }, { client: direct });
    const s = await Secret.fromName(name, { client: via() }).hydrate();
    proxy.reset();
    proxy.push(faults.cutBody(3, { method: "SecretUpdate" }));
    await s.update({ B: "3", C: "4", A: null });
    assertOneCall(2, "SecretUpdate");
    assert.equal(proxy.calls("SecretUpdate")[0].status, 200);
    assert.deepEqual(s.keys, ["B", "C"]);
    assert.deepEqual((await Secret.fromName(name, { client: direct }).hydrate()).keys, ["B", "C"]);
    await stillWorks();
  });

  test("delete: the secret is gone", T, async () => {
    const name = uniq("lost-delete");
    await Secret.objects.create(name, { A: "1" }, { client: direct });
    proxy.push(faults.cutBody(3, { method: "SecretDelete" }));
    await timed(Secret.objects.delete(name, { client: via() }));
    assertOneCall(2, "SecretDelete");
    assert.equal(proxy.calls("SecretDelete")[0].status, 200, "the first attempt deleted it");
    await assert.rejects(Secret.fromName(name, { client: direct }).hydrate(), NotFoundError);
    await stillWorks();
  });

  test(
    "delete: the call itself succeeds (no NotFoundError for the secret its own first attempt deleted)",
    T,
    async () => {
      const name = uniq("lost-delete-ok");
      await Secret.objects.create(name, { A: "1" }, { client: direct });
      proxy.push(faults.cutBody(3, { method: "SecretDelete" }));
      const { error } = await timed(Secret.objects.delete(name, { client: via() }));
      if (error) assert.fail(`delete rejected: ${error.name} ${error.code}: ${error.message}`);
      assert.equal(proxy.calls("SecretDelete").length, 2, "the first answer was lost");
    },
  );
});
