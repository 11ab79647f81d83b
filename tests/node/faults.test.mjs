// Issue 4, "done when" 2: retries, throttling, timeouts and aborts, against a fault-injecting
// gRPC-web server (support/grpcweb.mjs: the scripted fake, the only mock of these suites) that
// forwards to the real server whenever a test has not scripted a fault.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { countingFetch, pkg } from "./support/server.mjs";
import { timed, waitFor } from "./support/timing.mjs";
import {
  realAndFake,
  closedPort,
  status,
  ok,
  after as answerAfter,
  hang,
  destroy,
  retryPolicyDetails,
  getOrCreateResponse,
  decodeGetOrCreate,
} from "./support/grpcweb.mjs";

const { Client, Secret, ServiceError, InternalError, ConnectionError, TimeoutError, ResourceExhaustedError, NotFoundError } = pkg;

const { token, real, fake, viaFake } = await realAndFake();

let counter = 0;
const uniq = (prefix) => `${prefix}-${++counter}`;

/** Gaps in ms between the arrivals of the recorded requests. */
const gaps = () => fake.requests.slice(1).map((r, i) => r.at - fake.requests[i].at);

/** `gap` is a wait of about `ms`: never shorter, at most 150 ms longer (a loaded machine). */
function aboutWait(gap, ms, what) {
  assert.ok(gap >= ms - 5 && gap <= ms + 150, `${what}: waited ${gap.toFixed(1)} ms, expected ≈${ms} ms`);
}

const header = (i, name) => fake.requests[i].headers[name];

describe("retries", () => {
  test("UNAVAILABLE: 4 attempts waiting 0.1/0.2/0.4 s, attempt headers, one idempotency key → ServiceError", async () => {
    fake.push(status(14, "down"), status(14, "down"), status(14, "down"), status(14, "still down"));
    const { error } = await timed(Secret.objects.list({ client: viaFake() }));
    assert.ok(error instanceof ServiceError, String(error));
    assert.equal(error.code, "UNAVAILABLE");
    assert.equal(error.retryable, true);
    assert.match(error.message, /still down/);
    assert.equal(fake.requests.length, 4);
    const g = gaps();
    [100, 200, 400].forEach((ms, i) => aboutWait(g[i], ms, `wait ${i + 1}`));
    const key = header(0, "x-idempotency-key");
    assert.match(key, /^[0-9a-f-]{36}$/);
    for (let i = 0; i < 4; i++) {
      assert.equal(header(i, "x-idempotency-key"), key, `attempt ${i} key`);
      assert.equal(header(i, "x-retry-attempt"), String(i));
      assert.equal(header(i, "x-modal-client-type"), "8");
      assert.equal(header(i, "x-modal-client-version"), "1.0.0");
      assert.equal(header(i, "x-modal-token-id"), token.tokenId);
    }
    assert.equal(header(0, "x-retry-delay"), undefined, "no x-retry-delay on the first attempt");
    // The client counts from the first attempt's start, the fake from its arrival: at least the
    // waits so far, and close to what the fake measured (generous: a loaded machine delays arrivals).
    const waitedSoFar = [0, 0.1, 0.3, 0.7];
    for (let i = 1; i < 4; i++) {
      const sent = Number(header(i, "x-retry-delay"));
      const measured = (fake.requests[i].at - fake.requests[0].at) / 1000;
      assert.ok(sent >= waitedSoFar[i] - 0.002, `x-retry-delay ${sent} < ${waitedSoFar[i]} s of waits`);
      assert.ok(Math.abs(sent - measured) < 0.3, `x-retry-delay ${sent} vs ${measured.toFixed(3)} s since the first attempt`);
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fake.requests.length, 4, "no fifth attempt");
  });

  test("INTERNAL three times, then the real server answers: the call succeeds once", async () => {
    const name = uniq("retried");
    fake.push(status(13, "oops"), status(13, "oops"), status(13, "oops"));
    await Secret.objects.create(name, { A: "1" }, { client: viaFake() });
    assert.equal(fake.requests.length, 4);
    assert.deepEqual(
      fake.requests.map((r) => r.headers["x-retry-attempt"]),
      ["0", "1", "2", "3"],
    );
    assert.equal(new Set(fake.requests.map((r) => r.headers["x-idempotency-key"])).size, 1);
    assert.deepEqual(
      fake.requests.map((r) => decodeGetOrCreate(r.body).name),
      [name, name, name, name],
      "the same request each time",
    );
    assert.deepEqual((await Secret.fromName(name, { client: real }).hydrate()).keys, ["A"]);
  });

  test("INTERNAL after the retries: InternalError (a ServiceError)", async () => {
    fake.push(...Array.from({ length: 4 }, () => status(13, "broken")));
    const { error } = await timed(Secret.fromName("x", { client: viaFake() }).hydrate());
    assert.ok(error instanceof InternalError && error instanceof ServiceError, String(error));
    assert.equal(error.code, "INTERNAL");
    assert.equal(fake.requests.length, 4);
    [100, 200, 400].forEach((ms, i) => aboutWait(gaps()[i], ms, `wait ${i + 1}`));
  });

  test("every gRPC status: the class of WIRE.md, retried only when transient", async () => {
    const table = [
      [1, "CANCELLED", "ServiceError", true],
      [2, "UNKNOWN", "ServiceError", true],
      [3, "INVALID_ARGUMENT", "InvalidError", false],
      [4, "DEADLINE_EXCEEDED", "ServiceError", true],
      [5, "NOT_FOUND", "NotFoundError", false],
      [6, "ALREADY_EXISTS", "AlreadyExistsError", false],
      [7, "PERMISSION_DENIED", "PermissionDeniedError", false],
      [8, "RESOURCE_EXHAUSTED", "ResourceExhaustedError", false],
      [9, "FAILED_PRECONDITION", "ConflictError", false],
      [10, "ABORTED", "ConflictError", false],
      [11, "OUT_OF_RANGE", "InvalidError", false],
      [12, "UNIMPLEMENTED", "UnimplementedError", false],
      [13, "INTERNAL", "InternalError", true],
      [14, "UNAVAILABLE", "ServiceError", true],
      [15, "DATA_LOSS", "DataLossError", false],
      [16, "UNAUTHENTICATED", "AuthError", false],
    ];
    const client = viaFake({ maxRetries: 1 });
    for (const [number, code, cls, transient] of table) {
      fake.reset();
      fake.push(status(number, `status ${number}`), status(number, `status ${number}`));
      const { error } = await timed(Secret.objects.list({ client }));
      assert.ok(error instanceof pkg[cls], `${number}: ${error?.name}`);
      assert.equal(error.name, cls);
      assert.equal(error.code, code, `${number}`);
      assert.equal(error.retryable, transient, `${number} retryable`);
      assert.equal(error.message, `status ${number}`);
      assert.equal(fake.requests.length, transient ? 2 : 1, `${code}: attempts`);
    }
  });

  test("maxRetries: 0 makes one attempt; 5 waits 0.1, 0.2, 0.4, 0.8 then 1 s (the cap)", async () => {
    fake.push(status(14));
    await assert.rejects(Secret.objects.list({ client: viaFake({ maxRetries: 0 }) }), ServiceError);
    assert.equal(fake.requests.length, 1);
    fake.reset();
    fake.push(...Array.from({ length: 6 }, () => status(14)));
    await assert.rejects(Secret.objects.list({ client: viaFake({ maxRetries: 5 }) }), ServiceError);
    assert.equal(fake.requests.length, 6);
    [100, 200, 400, 800, 1000].forEach((ms, i) => aboutWait(gaps()[i], ms, `wait ${i + 1}`));
    assert.equal(header(5, "x-retry-attempt"), "5");
  });

  test("a dropped connection is retried like UNAVAILABLE, then the real answer", async () => {
    const name = uniq("dropped");
    await Secret.objects.create(name, { A: "1" }, { client: real });
    fake.push(destroy(), destroy());
    const s = await Secret.fromName(name, { client: viaFake() }).hydrate();
    assert.deepEqual(s.keys, ["A"]);
    assert.equal(fake.requests.length, 3);
    aboutWait(gaps()[0], 100, "wait 1");
    aboutWait(gaps()[1], 200, "wait 2");
  });

  test("a refused connection (closed port): ConnectionError after 4 attempts", async () => {
    const port = await closedPort();
    const f = countingFetch();
    const c = new Client({ serverUrl: `http://127.0.0.1:${port}`, tokenId: token.tokenId, tokenSecret: token.tokenSecret, fetch: f });
    const { error, ms } = await timed(Secret.objects.list({ client: c }));
    assert.ok(error instanceof ConnectionError, String(error));
    assert.equal(error.code, "UNAVAILABLE");
    assert.equal(error.retryable, true);
    assert.match(error.message, /could not reach the Modal server/);
    assert.equal(f.calls.length, 4);
    assert.deepEqual(
      f.calls.map((c) => c.headers["x-retry-attempt"]),
      ["0", "1", "2", "3"],
    );
    assert.ok(ms >= 690 && ms < 1500, `took ${ms} ms, expected ≈700 ms of waits`);
  });
});

describe("throttling (RPCRetryPolicy in grpc-status-details-bin)", () => {
  test("honoured: waits retry_after, not counted as a retry, same idempotency key, then succeeds", async () => {
    const name = uniq("throttled");
    await Secret.objects.create(name, { A: "1" }, { client: real });
    fake.push(status(8, "slow down", { details: retryPolicyDetails(0.3) }));
    const s = await Secret.fromName(name, { client: viaFake() }).hydrate();
    assert.deepEqual(s.keys, ["A"]);
    assert.equal(fake.requests.length, 2);
    aboutWait(gaps()[0], 300, "throttle wait");
    assert.equal(header(1, "x-retry-attempt"), "0", "a throttle wait is not a retry");
    assert.equal(header(1, "x-idempotency-key"), header(0, "x-idempotency-key"));
  });

  test("throttle waits are not counted against the retries; details also in trailers-only answers", async () => {
    const throttle = status(14, "busy", { details: retryPolicyDetails(0.05), trailersOnly: true });
    fake.push(throttle, throttle, status(14), status(14), status(14), status(14, "gave up"));
    const { error } = await timed(Secret.objects.list({ client: viaFake() }));
    assert.ok(error instanceof ServiceError);
    assert.match(error.message, /gave up/);
    assert.deepEqual(
      fake.requests.map((r) => r.headers["x-retry-attempt"]),
      ["0", "0", "0", "1", "2", "3"],
    );
    // A throttle wait shorter than 0.1 s is lengthened to 0.1 s.
    aboutWait(gaps()[0], 100, "first throttle wait");
    aboutWait(gaps()[1], 100, "second throttle wait");
  });

  test("capped by maxThrottleWaitMs: a wait past the cap fails at once with retryAfter", async () => {
    fake.push(status(8, "quota", { details: retryPolicyDetails(1) }));
    const { error, ms } = await timed(Secret.objects.list({ client: viaFake({ maxThrottleWaitMs: 250 }) }));
    assert.ok(error instanceof ResourceExhaustedError, String(error));
    assert.equal(error.code, "RESOURCE_EXHAUSTED");
    assert.equal(error.retryAfter, 1);
    assert.equal(fake.requests.length, 1);
    assert.ok(ms < 200, `failed after ${ms} ms, expected at once`);
  });

  test("the cap counts the call's whole time: waits of 0.2 s under a 450 ms cap stop at the third", async () => {
    const policy = retryPolicyDetails(0.2);
    fake.push(...Array.from({ length: 5 }, () => status(8, "quota", { details: policy })));
    const { error, ms } = await timed(Secret.objects.list({ client: viaFake({ maxThrottleWaitMs: 450 }) }));
    assert.ok(error instanceof ResourceExhaustedError);
    assert.ok(Math.abs(error.retryAfter - 0.2) < 1e-6, String(error.retryAfter));
    assert.equal(fake.requests.length, 3);
    assert.ok(ms >= 395 && ms < 600, `${ms} ms`);
  });

  test("maxThrottleWaitMs: 0 (or MODAL_MAX_THROTTLE_WAIT=0) disables throttle waits", async () => {
    const policy = retryPolicyDetails(0.2);
    fake.push(status(8, "quota", { details: policy }));
    await assert.rejects(Secret.objects.list({ client: viaFake({ maxThrottleWaitMs: 0 }) }), ResourceExhaustedError);
    assert.equal(fake.requests.length, 1);
    fake.reset();
    fake.push(status(8, "quota", { details: policy }));
    const fromEnv = Client.fromEnv({
      env: {
        MODAL_SERVER_URL: fake.url,
        MODAL_TOKEN_ID: token.tokenId,
        MODAL_TOKEN_SECRET: token.tokenSecret,
        MODAL_MAX_THROTTLE_WAIT: "0",
        MODAL_CONFIG_PATH: "/nonexistent/modal.toml",
      },
    });
    await assert.rejects(Secret.objects.list({ client: fromEnv }), ResourceExhaustedError);
    assert.equal(fake.requests.length, 1);
  });

  test("unreadable details are ignored: the status stands", async () => {
    fake.push(status(8, "quota", { details: "!!!not base64!!!" }));
    const { error } = await timed(Secret.objects.list({ client: viaFake() }));
    assert.ok(error instanceof ResourceExhaustedError);
    assert.equal(error.retryAfter, undefined);
    assert.equal(fake.requests.length, 1);
  });
});

describe("timeouts", () => {
  test("a slow answer beyond the client's timeoutMs: TimeoutError, the request aborted", async () => {
    fake.push(answerAfter(2000, fake.forward));
    const { error, ms } = await timed(Secret.objects.list({ client: viaFake({ timeoutMs: 300 }) }));
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.code, "DEADLINE_EXCEEDED");
    assert.equal(error.retryable, false);
    assert.match(error.message, /300 ms/);
    assert.ok(ms >= 295 && ms < 500, `${ms} ms`);
    assert.equal(fake.requests.length, 1, "a timed-out attempt is not retried");
    await waitFor(() => fake.requests[0].aborted, "the fetch was aborted");
  });

  test("per call: timeoutMs overrides the client's, shorter or longer", async () => {
    fake.push(answerAfter(2000, fake.forward));
    let r = await timed(Secret.objects.list({ client: viaFake(), timeoutMs: 200 }));
    assert.ok(r.error instanceof TimeoutError, String(r.error));
    assert.ok(r.ms >= 195 && r.ms < 400, `${r.ms} ms`);

    fake.reset();
    fake.push(answerAfter(2000, fake.forward));
    r = await timed(Secret.objects.list({ client: viaFake({ timeoutMs: 10_000 }), timeoutMs: 250 }));
    assert.ok(r.error instanceof TimeoutError, String(r.error));
    assert.ok(r.ms >= 245 && r.ms < 450, `${r.ms} ms`);

    fake.reset();
    fake.push(answerAfter(400, fake.forward));
    r = await timed(Secret.objects.list({ client: viaFake({ timeoutMs: 150 }), timeoutMs: 3000, maxObjects: 1 }));
    assert.ok(Array.isArray(r.value), String(r.error));
    assert.ok(r.ms >= 395, `${r.ms} ms`);
  });

  test("per call on every operation: hydrate, info, update, create, delete, iterate", async () => {
    const name = uniq("slow-ops");
    await Secret.objects.create(name, { A: "1" }, { client: real });
    const c = viaFake();
    const slow = () => fake.push(answerAfter(1500, fake.forward));
    const s = Secret.fromName(name, { client: c });
    const ops = [
      () => s.hydrate({ timeoutMs: 100 }),
      () => s.info({ timeoutMs: 100 }),
      () => s.update({ B: "2" }, { timeoutMs: 100 }),
      () => Secret.objects.create(uniq("slow"), { A: "1" }, { client: c, timeoutMs: 100 }),
      () => Secret.objects.delete(name, { client: c, timeoutMs: 100 }),
      () => Secret.objects.iterate({ client: c, timeoutMs: 100 }).next(),
    ];
    for (const op of ops) {
      fake.reset();
      slow();
      const { error, ms } = await timed(op());
      assert.ok(error instanceof TimeoutError, String(error));
      assert.ok(ms < 400, `${ms} ms`);
    }
    // Nothing happened: the secret is still there, unchanged.
    assert.deepEqual((await Secret.fromName(name, { client: real }).hydrate()).keys, ["A"]);
  });

  test("timeoutMs covers the whole call: retries stop before the deadline", async () => {
    fake.fallback = status(14, "down");
    let r = await timed(Secret.objects.list({ client: viaFake({ timeoutMs: 250 }) }));
    // Modal's rule: when the next wait would cross the deadline, the last error is reported.
    assert.ok(r.error instanceof ServiceError, String(r.error));
    assert.ok(r.ms < 260, `${r.ms} ms`);
    assert.equal(fake.requests.length, 2, "attempts at 0 and 0.1 s; the next would resume at 0.3 s");

    fake.reset();
    fake.push(status(14), hang());
    r = await timed(Secret.objects.list({ client: viaFake({ timeoutMs: 400 }) }));
    assert.ok(r.error instanceof TimeoutError, String(r.error));
    assert.ok(r.ms >= 395 && r.ms < 600, `the second attempt got what was left of 400 ms: ${r.ms} ms`);
  });
});

describe("AbortSignal", () => {
  test("an abort mid-call rejects at once and aborts the fetch", async () => {
    fake.push(hang());
    const controller = new AbortController();
    const pending = timed(Secret.objects.list({ client: viaFake(), signal: controller.signal }));
    await waitFor(() => fake.requests.length === 1, "the request arrived");
    const t0 = performance.now();
    controller.abort();
    const { error } = await pending;
    const ms = performance.now() - t0;
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.code, "CANCELLED");
    assert.equal(error.retryable, false);
    assert.ok(ms < 100, `rejected ${ms} ms after the abort`);
    await waitFor(() => fake.requests[0].aborted, "the server saw the request go away");
    assert.equal(fake.requests.length, 1, "not retried");
  });

  test("an abort during a throttle wait rejects at once", async () => {
    fake.push(status(14, "wait", { details: retryPolicyDetails(5) }));
    const controller = new AbortController();
    const pending = timed(Secret.fromName("x", { client: viaFake() }).hydrate({ signal: controller.signal }));
    await waitFor(() => fake.requests.length === 1 && fake.requests[0].closedAt, "the first answer went out");
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    controller.abort();
    const { error } = await pending;
    assert.ok(error instanceof TimeoutError && error.code === "CANCELLED", String(error));
    assert.ok(performance.now() - t0 < 100);
    assert.equal(fake.requests.length, 1);
  });

  test("an abort during a backoff wait between retries rejects at once", async () => {
    fake.fallback = status(14, "down");
    const controller = new AbortController();
    const t0 = performance.now();
    const pending = timed(Secret.objects.delete("x", { client: viaFake(), signal: controller.signal }));
    setTimeout(() => controller.abort(), 500); // during the 0.4 s wait, from ≈0.3 s to ≈0.7 s
    const { error } = await pending;
    const ms = performance.now() - t0;
    assert.ok(error instanceof TimeoutError && error.code === "CANCELLED", String(error));
    assert.ok(ms >= 495 && ms < 600, `${ms} ms`);
    assert.equal(fake.requests.length, 3);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(fake.requests.length, 3, "nothing sent after the abort");
  });

  test("an abort while iterating a listing rejects the pending page", async () => {
    fake.push(hang());
    const controller = new AbortController();
    const it = Secret.objects.iterate({ client: viaFake(), signal: controller.signal });
    const next = timed(it.next());
    await waitFor(() => fake.requests.length === 1, "the page was asked for");
    controller.abort();
    const { error, ms } = await next;
    assert.ok(error instanceof TimeoutError && error.code === "CANCELLED", String(error));
    assert.ok(ms < 300);
  });

  test("a signal that never fires changes nothing", async () => {
    const name = uniq("signal-ok");
    const signal = new AbortController().signal;
    await Secret.objects.create(name, { A: "1" }, { client: viaFake(), signal });
    assert.deepEqual((await Secret.fromName(name, { client: viaFake() }).hydrate({ signal })).keys, ["A"]);
  });
});

describe("server warnings (x-modal-warning)", () => {
  const answer = getOrCreateResponse({ name: "warned", keys: ["A"], createdAt: 1.7e9 });

  test("onWarning receives each warning, percent-decoded, from headers and trailers", async () => {
    const seen = [];
    fake.push(
      ok(answer, {
        headers: { "x-modal-warning": encodeURIComponent("Deprecated: upgrade to 1.1 ✓") },
        trailers: { "x-modal-warning": encodeURIComponent("second, in the trailers") },
      }),
    );
    const s = await Secret.fromName("warned", { client: viaFake({ onWarning: (m) => seen.push(m) }) }).hydrate();
    assert.deepEqual(s.keys, ["A"]);
    assert.deepEqual(seen, ["Deprecated: upgrade to 1.1 ✓", "second, in the trailers"]);
  });

  test("a warning on an error answer is delivered too; without onWarning it goes to console.warn", async () => {
    const seen = [];
    fake.push(status(5, "gone", { headers: { "x-modal-warning": "careful" } }));
    await assert.rejects(Secret.objects.list({ client: viaFake({ onWarning: (m) => seen.push(m) }) }), NotFoundError);
    assert.deepEqual(seen, ["careful"]);

    const warned = [];
    const original = console.warn;
    console.warn = (...args) => warned.push(args.join(" "));
    try {
      fake.push(ok(answer, { headers: { "x-modal-warning": "to%20the%20console" } }));
      await Secret.fromName("warned", { client: viaFake() }).hydrate();
    } finally {
      console.warn = original;
    }
    assert.equal(warned.length, 1);
    assert.match(warned[0], /to the console/);
  });
});
