// Issue 15: the node:http2 transport (src/js/http2.js), Node's default. Its choice and options, one
// multiplexed session per client, close(), the process exiting by itself, and HTTP/2's own faults
// (GOAWAY mid-burst, a session reset with streams open, a stream reset mid-answer, a stalled
// stream, a server restarted between calls, a failed ping, an HTTP/1.1-only server) against the
// scripted server of support/grpcweb.mjs, which speaks h2c and forwards to the real server.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { spawn } from "node:child_process";
import { pkg, PKG_ENTRY } from "./support/server.mjs";
import { timed, waitFor } from "./support/timing.mjs";
import { realAndFake, status, hang, frame, getOrCreateResponse, GRPC } from "./support/grpcweb.mjs";
import { http2Transport } from "../../src/js/http2.js";

const { Client, Secret, InvalidError, ConnectionError, TimeoutError, ServiceError } = pkg;

const { server, token, real, fake } = await realAndFake();
const h2 = (options = {}) =>
  new Client({ serverUrl: fake.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, transport: "http2", ...options });

let counter = 0;
const uniq = (prefix) => `${prefix}-${process.pid}-${++counter}`;

/** Drops every connection to the fake (earlier tests' idle sessions), so a test counts its own. */
async function fresh() {
  for (const socket of fake.sockets) socket.destroy();
  await waitFor(() => fake.sockets.size === 0, "no connection to the fake");
}

/** `{ name }` made on the real server, for lookups through the fake. */
async function made(prefix, dict = { A: "1" }) {
  const name = uniq(prefix);
  await Secret.objects.create(name, dict, { client: real });
  return name;
}

describe("choosing the transport", () => {
  const base = { serverUrl: server.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret };

  test("Node's default is http2; fetch or transport: \"fetch\" give gRPC-web", () => {
    assert.equal(new Client(base).transport, "http2");
    assert.equal(new Client({ ...base, transport: "http2" }).transport, "http2");
    assert.equal(new Client({ ...base, transport: "fetch" }).transport, "fetch");
    assert.equal(new Client({ ...base, fetch: globalThis.fetch }).transport, "fetch");
    assert.equal(new Client({ ...base, fetch: globalThis.fetch, transport: "fetch" }).transport, "fetch");
    const env = { MODAL_SERVER_URL: server.url, MODAL_TOKEN_ID: token.tokenId, MODAL_TOKEN_SECRET: token.tokenSecret, MODAL_CONFIG_PATH: "/nonexistent" };
    assert.equal(Client.fromEnv({ env }).transport, "http2");
    assert.equal(Client.fromEnv({ env, transport: "fetch" }).transport, "fetch");
  });

  test("a bad transport, or http2 with a fetch, is an InvalidError naming the option", () => {
    assert.throws(() => new Client({ ...base, transport: "grpc" }), (e) => e instanceof InvalidError && /transport must be "http2" or "fetch", got "grpc"/.test(e.message));
    assert.throws(() => new Client({ ...base, transport: 2 }), (e) => e instanceof InvalidError && /transport/.test(e.message));
    assert.throws(() => new Client({ ...base, transport: "http2", fetch }), (e) => e instanceof InvalidError && /options\.fetch/.test(e.message));
  });

  test("every operation over http2 against the real server", async () => {
    const c = new Client({ ...base, transport: "http2" });
    const name = uniq("h2-ops");
    await Secret.objects.create(name, { A: "1", B: "2" }, { client: c });
    const s = await Secret.fromName(name, { client: c }).hydrate();
    assert.deepEqual(s.keys, ["A", "B"]);
    await s.update({ B: null, C: "3" });
    assert.deepEqual((await s.info()).name, name);
    assert.deepEqual((await Secret.fromName(name, { client: c }).hydrate()).keys.sort(), ["A", "C"]);
    assert.ok((await Secret.objects.list({ client: c })).some((x) => x.name === name));
    const eph = await Secret.fromDict({ X: "1" }).hydrate({ client: c });
    assert.match(eph.objectId, /^st-/);
    await Secret.objects.delete(name, { client: c });
    await assert.rejects(Secret.fromName(name, { client: c }).hydrate(), pkg.NotFoundError);
    await c.close();
  });
});

describe("one session per client", () => {
  test("200 concurrent lookups share one connection; another client has its own", async () => {
    await fresh();
    const name = await made("h2-burst");
    const c = h2();
    const results = await Promise.all(Array.from({ length: 200 }, () => Secret.fromName(name, { client: c }).hydrate()));
    assert.ok(results.every((s) => s.keys[0] === "A"));
    assert.equal(fake.requests.length, 200);
    assert.equal(fake.sockets.size, 1, "one TCP connection for the whole burst");
    await Secret.fromName(name, { client: h2() }).hydrate();
    assert.equal(fake.sockets.size, 2, "a second client opened its own session");
    // The session stays open between calls and is reused.
    await Secret.fromName(name, { client: c }).hydrate();
    assert.equal(fake.sockets.size, 2);
  });

  test("close() ends the session at once: a call in flight is aborted, a later call reconnects", async () => {
    await fresh();
    const name = await made("h2-close");
    const c = h2();
    await Secret.fromName(name, { client: c }).hydrate();
    fake.push(hang());
    const pending = timed(Secret.fromName(name, { client: c }).hydrate());
    await waitFor(() => fake.requests.length === 2, "the second request arrived");
    await c.close();
    const { error, ms } = await pending;
    assert.ok(error instanceof TimeoutError && error.code === "CANCELLED", String(error));
    assert.ok(ms < 1000);
    await waitFor(() => fake.sockets.size === 0, "the connection closed");
    assert.deepEqual((await Secret.fromName(name, { client: c }).hydrate()).keys, ["A"]);
    await c.close();
    await c.close(); // idempotent
  });
});

describe("HTTP/2 faults", () => {
  test("GOAWAY in the middle of a burst: every call succeeds, the refused ones on a new session", async () => {
    await fresh();
    const name = await made("h2-goaway");
    const c = h2();
    await Secret.fromName(name, { client: c }).hydrate(); // the session is up
    fake.reset();
    let sent = false;
    fake.fallback = (req, res, entry) => {
      if (!sent && entry.index === 10) {
        sent = true;
        // Graceful: streams up to this one are served, later ones are refused.
        req.stream.session.goaway(http2.constants.NGHTTP2_NO_ERROR, req.stream.id);
      }
      return fake.forward(req, res, entry);
    };
    const before = fake.connections;
    const results = await Promise.all(Array.from({ length: 50 }, () => Secret.fromName(name, { client: c }).hydrate()));
    assert.ok(results.every((s) => s.keys[0] === "A"));
    assert.ok(sent);
    assert.equal(fake.connections, before + 1, "one new session after the GOAWAY");
    // The refused streams were sent again at once on the new session (gRPC's transparent retry),
    // not after a backoff: every request is a first attempt.
    assert.ok(fake.requests.every((r) => r.headers["x-retry-attempt"] === "0"));
    await waitFor(() => fake.sockets.size === 1, "the old session closed, the new one stays");
  });

  test("a session reset with streams open: the calls in flight are retried on a new session", async () => {
    const name = await made("h2-reset-session");
    const c = h2();
    await Secret.fromName(name, { client: c }).hydrate();
    fake.reset();
    fake.push(hang(), hang(), hang(), hang(), (req) => req.stream.session.destroy());
    const results = await Promise.all(Array.from({ length: 5 }, () => Secret.fromName(name, { client: c }).hydrate()));
    assert.ok(results.every((s) => s.keys[0] === "A"));
    const retried = fake.requests.filter((r) => r.headers["x-retry-attempt"] === "1");
    assert.equal(retried.length, 5, "each call retried once (WIRE.md: a lost connection is retried)");
    assert.equal(new Set(retried.map((r) => r.headers["x-idempotency-key"])).size, 5);
  });

  test("a stream reset mid-answer: retried; with maxRetries 0 a ConnectionError naming the code", async () => {
    const name = await made("h2-reset-stream");
    const midAnswer = () => (req, res) => {
      res.writeHead(200, { "content-type": GRPC });
      res.write(frame(getOrCreateResponse({ name })).subarray(0, 7));
      setTimeout(() => req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR), 20);
    };
    fake.push(midAnswer());
    assert.deepEqual((await Secret.fromName(name, { client: h2() }).hydrate()).keys, ["A"]);
    assert.equal(fake.requests.length, 2);

    fake.reset();
    fake.push(midAnswer());
    const { error } = await timed(Secret.fromName(name, { client: h2({ maxRetries: 0 }) }).hydrate());
    assert.ok(error instanceof ConnectionError, String(error));
    assert.match(error.message, /reset the stream \(INTERNAL_ERROR\)/);
  });

  test("a stalled stream: the deadline cancels it (RST_STREAM) and the session stays usable", async () => {
    await fresh();
    const name = await made("h2-stall");
    const c = h2({ timeoutMs: 300 });
    await Secret.fromName(name, { client: c }).hydrate();
    fake.reset();
    fake.push(hang());
    const { error, ms } = await timed(Secret.fromName(name, { client: c }).hydrate());
    assert.ok(error instanceof TimeoutError && error.code === "DEADLINE_EXCEEDED", String(error));
    assert.ok(ms >= 295 && ms < 600, `${ms} ms`);
    await waitFor(() => fake.requests[0].aborted, "the server saw the stream cancelled");
    assert.deepEqual((await Secret.fromName(name, { client: c }).hydrate()).keys, ["A"]);
    assert.equal(fake.sockets.size, 1, "the same session");
  });

  test("an AbortSignal cancels the stream at once", async () => {
    fake.push(hang());
    const controller = new AbortController();
    const pending = timed(Secret.objects.list({ client: h2(), signal: controller.signal }));
    await waitFor(() => fake.requests.length === 1, "the request arrived");
    controller.abort();
    const { error, ms } = await pending;
    assert.ok(error instanceof TimeoutError && error.code === "CANCELLED", String(error));
    assert.ok(ms < 1000);
    await waitFor(() => fake.requests[0].aborted, "the server saw the stream cancelled");
  });

  test("the server restarted between calls: the next call opens a new session, no retry needed", async () => {
    const name = await made("h2-restart");
    const c = h2();
    await Secret.fromName(name, { client: c }).hydrate();
    for (const socket of fake.sockets) socket.destroy(); // what a restart does to open connections
    await new Promise((r) => setTimeout(r, 50));
    fake.reset();
    assert.deepEqual((await Secret.fromName(name, { client: c }).hydrate()).keys, ["A"]);
    assert.deepEqual(fake.requests.map((r) => r.headers["x-retry-attempt"]), ["0"]);
  });

  test("the server down, then back: retried, typed errors, then it works again", async () => {
    const name = await made("h2-down");
    const c = h2({ maxRetries: 1 });
    fake.push(status(14, "restarting", { trailersOnly: true }), status(14, "restarting"));
    const { error } = await timed(Secret.fromName(name, { client: c }).hydrate());
    assert.ok(error instanceof ServiceError && error.code === "UNAVAILABLE", String(error));
    assert.deepEqual((await Secret.fromName(name, { client: c }).hydrate()).keys, ["A"]);
  });

  test("a server that speaks only HTTP/1.1: a ConnectionError that names transport: \"fetch\"", async () => {
    const h1 = http.createServer((req, res) => res.writeHead(404).end());
    await new Promise((r) => h1.listen(0, "127.0.0.1", r));
    after(() => h1.close());
    const c = new Client({ serverUrl: `http://127.0.0.1:${h1.address().port}`, tokenId: token.tokenId, tokenSecret: token.tokenSecret, maxRetries: 1 });
    const { error, ms } = await timed(Secret.objects.list({ client: c }));
    assert.ok(error instanceof ConnectionError, String(error));
    assert.match(error.message, /does not speak HTTP\/2/);
    assert.match(error.message, /transport: "fetch"/);
    assert.ok(ms < 2000, `${ms} ms`);
  });

  test("a closed port: ConnectionError after the retries", async () => {
    const probe = net.createServer();
    await new Promise((r) => probe.listen(0, "127.0.0.1", r));
    const { port } = probe.address();
    await new Promise((r) => probe.close(r));
    const c = new Client({ serverUrl: `http://127.0.0.1:${port}`, tokenId: token.tokenId, tokenSecret: token.tokenSecret });
    const { error, ms } = await timed(Secret.objects.list({ client: c }));
    assert.ok(error instanceof ConnectionError, String(error));
    assert.match(error.message, /ECONNREFUSED/);
    assert.ok(ms >= 690 && ms < 2000, `${ms} ms`);
  });
});

describe("the transport itself (src/js/http2.js)", () => {
  test("a ping with no answer ends a session found idle, and the call fails as a connection failure", async () => {
    // A TCP relay to the fake that can black-hole both directions.
    let blackHole = false;
    const relay = net.createServer((inbound) => {
      const outbound = net.connect(Number(new URL(fake.url).port), "127.0.0.1");
      inbound.on("data", (d) => blackHole || outbound.write(d));
      outbound.on("data", (d) => blackHole || inbound.write(d));
      const end = () => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on("error", end).on("close", end);
      outbound.on("error", end).on("close", end);
    });
    await new Promise((r) => relay.listen(0, "127.0.0.1", r));
    after(() => relay.close());
    const url = `http://127.0.0.1:${relay.address().port}`;
    const transport = http2Transport(url, { pingIdleMs: 100, pingTimeoutMs: 200 });
    const path = "/modal.client.ModalClient/SecretList";
    const send = () =>
      transport.send(
        { url: url + path, headers: `content-type\n${GRPC}\nte\ntrailers\n`, body: frame(Buffer.alloc(0)), timeoutMs: -1, maxBodyBytes: 1 << 20, wanted: "content-type\ngrpc-status" },
        undefined,
      );
    fake.push(status(5, "first"));
    const first = await send();
    assert.equal(first[0], 200);
    assert.match(first[3], /grpc-status\n5\n/, "the status in the trailers");
    await new Promise((r) => setTimeout(r, 150)); // idle past pingIdleMs
    blackHole = true;
    const t0 = performance.now();
    const failure = await send().then(
      () => assert.fail("answered through a black hole"),
      (f) => f,
    );
    assert.equal(failure.modalTransportFailure, "connection");
    assert.match(failure.message, /ping/);
    assert.ok(performance.now() - t0 < 1000);
    blackHole = false;
    fake.push(status(5, "after"));
    assert.match((await send())[3], /grpc-status\n5\n/, "a new session after the failed ping");
    transport.close();
  });
});

describe("the process exits by itself", () => {
  async function run(script, env = {}) {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const t0 = performance.now();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await new Promise((r) => child.on("exit", (c, s) => r(c ?? s)));
    clearTimeout(timer);
    return { code, out, ms: performance.now() - t0 };
  }

  const script = (close) => `
    import { Client, Secret } from ${JSON.stringify(PKG_ENTRY)};
    const client = new Client({ serverUrl: process.env.URL, tokenId: process.env.TID, tokenSecret: process.env.TSEC });
    const name = "exit-" + process.pid;
    await Secret.objects.create(name, { A: "1" }, { client });
    await Promise.all(Array.from({ length: 20 }, () => Secret.fromName(name, { client }).hydrate()));
    await Secret.objects.delete(name, { client });
    ${close ? "await client.close();" : ""}
    globalThis.doneAt = performance.now();
    process.on("exit", () => console.log("exit after last call", Math.round(performance.now() - globalThis.doneAt), "ms"));
  `;

  for (const close of [false, true]) {
    test(`after the last call, ${close ? "with" : "without"} close()`, async () => {
      const { code, out, ms } = await run(script(close), { URL: server.url, TID: token.tokenId, TSEC: token.tokenSecret });
      assert.equal(code, 0, out);
      const m = /exit after last call (\d+) ms/.exec(out);
      assert.ok(m, out);
      assert.ok(Number(m[1]) < 200, `lingered ${m[1]} ms after the last call`);
      assert.ok(ms < 5000, `${ms} ms`);
    });
  }
});
