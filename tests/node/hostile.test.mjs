// Issue 4, "done when" 3: malformed answers from a hostile server (the scripted fake of
// support/grpcweb.mjs, the only mock here) each give a typed error, and right after each one the same
// loaded module still works against the real server, directly and through the fake.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { pkg } from "./support/server.mjs";
import {
  realAndFake,
  GRPC_WEB,
  frame,
  trailerFrame,
  ok,
  raw,
  status,
  pb,
  getOrCreateResponse,
  listResponse,
} from "./support/grpcweb.mjs";

const { Secret, InternalError, ServiceError, UnimplementedError, AuthError, PermissionDeniedError, NotFoundError, ConnectionError, TimeoutError, ModalError } = pkg;

// These answers are gRPC-web's (trailer frames in the body): the clients here use fetch. The same
// faults in plain gRPC are in core/src/grpc_web/grpc_tests.rs and tests/node/http2.test.mjs.
const { token, real, fake, viaFake: viaFakeAny } = await realAndFake();
const viaFake = (options = {}) => viaFakeAny({ transport: "fetch", ...options });

const PROBE = "hostile-probe";
await Secret.objects.create(PROBE, { P: "1" }, { client: real });

const valid = getOrCreateResponse({ id: "st-hostilehostilehostile1", name: "x", keys: ["A"], createdAt: 1.7e9 });
const ok0 = trailerFrame({ "grpc-status": 0 });
const body = (...parts) => raw(200, { "content-type": GRPC_WEB }, Buffer.concat(parts));
const FIVE_MIB = 5 << 20;

/** A page of 100 list items, all created at `createdAt`. */
const stuckPage = (createdAt) =>
  listResponse(Array.from({ length: 100 }, (_, i) => ({ id: `st-stuck${String(i).padStart(17, "0")}`, name: `s${i}`, createdAt })));

const lookup = (client) => Secret.fromName("x", { client }).hydrate();
const list = (client) => Secret.objects.list({ client });

const INTERNAL = [InternalError, "INTERNAL"];

/**
 * [name, responder (answers every request until the case ends), operation, [class, code], message
 *  pattern, attempts]. Malformed answers are not retried (1 attempt); transient ones are (4).
 */
const cases = [
  ["an empty body", body(), lookup, INTERNAL, /no grpc-status/, 1],
  ["a truncated frame header (3 bytes)", body(Buffer.from([0, 0, 0])), lookup, INTERNAL, /frame header needs 5 bytes, 3 left/, 1],
  ["a truncated frame (announces 100, has 10)", body(frame(Buffer.alloc(10), { announced: 100 })), lookup, INTERNAL, /announces 100 bytes but only 10 follow/, 1],
  ["a huge announced length (4 GiB)", body(frame(Buffer.alloc(16), { announced: 0xffffffff })), lookup, INTERNAL, /announces 4294967295 bytes, over the limit/, 1],
  ["a frame of 4 MiB + 1 byte", body(frame(Buffer.alloc((4 << 20) + 1)), ok0), lookup, INTERNAL, /over the limit of 4194304/, 1],
  ["a body over 4 MiB (content-length)", raw(200, { "content-type": GRPC_WEB }, Buffer.alloc(FIVE_MIB)), lookup, INTERNAL, /body is over the limit/, 1],
  [
    "a body over 4 MiB (chunked, no length)",
    (req, res) => {
      res.writeHead(200, { "content-type": GRPC_WEB });
      const chunk = Buffer.alloc(256 << 10);
      for (let i = 0; i < 20; i++) res.write(chunk);
      res.end();
    },
    lookup,
    INTERNAL,
    /body is over the limit/,
    1,
  ],
  ["invalid protobuf", body(frame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])), ok0), lookup, INTERNAL, /does not decode as SecretGetOrCreateResponse/, 1],
  ["protobuf with a wrong wire type", body(frame(Buffer.from([0x08, 0x01])), ok0), lookup, INTERNAL, /does not decode as SecretGetOrCreateResponse/, 1],
  ["protobuf with a truncated field", body(frame(Buffer.from([0x0a, 0x20, 0x73, 0x74])), ok0), lookup, INTERNAL, /does not decode/, 1],
  ["invalid UTF-8 in a string field", body(frame(pb.bytes(1, [0x73, 0x74, 0x2d, 0xff, 0xfe])), ok0), lookup, INTERNAL, /does not decode as SecretGetOrCreateResponse/, 1],
  ["invalid UTF-8 in the trailers", body(frame(valid), trailerFrame(Buffer.from("grpc-status: 0\r\nx-bad: \xff\xfe\r\n", "latin1"))), lookup, INTERNAL, /trailer frame/, 1],
  ["trailers that are not name: value lines", body(frame(valid), trailerFrame("grpc-status 0\r\n")), lookup, INTERNAL, /trailer frame/, 1],
  ["trailers without grpc-status", body(frame(valid), trailerFrame({ "grpc-message": "fine" })), lookup, INTERNAL, /no grpc-status/, 1],
  ["no trailer frame at all", body(frame(valid)), lookup, INTERNAL, /no grpc-status/, 1],
  ["grpc-status not a number", body(frame(valid), trailerFrame({ "grpc-status": "OK" })), lookup, INTERNAL, /grpc-status "OK" is not a number/, 1],
  ["grpc-status out of range (99): UNKNOWN", body(trailerFrame({ "grpc-status": 99, "grpc-message": "odd" })), lookup, [ServiceError, "UNKNOWN"], /odd/, 4],
  ["status OK but no message", body(ok0), lookup, INTERNAL, /no response message/, 1],
  ["trailers-only with grpc-status 0", raw(200, { "content-type": GRPC_WEB, "grpc-status": "0" }), lookup, INTERNAL, /no response message/, 1],
  [
    "an HTML 502 from a proxy",
    raw(502, { "content-type": "text/html" }, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    lookup,
    [ServiceError, "UNAVAILABLE"],
    /HTTP 502 without a gRPC status/,
    4,
  ],
  ["an HTML 200 page (wrong content-type)", raw(200, { "content-type": "text/html; charset=utf-8" }, "<html>hello</html>"), lookup, INTERNAL, /content-type is "text\/html; charset=utf-8", not application\/grpc-web/, 1],
  ["JSON instead of gRPC-web", raw(200, { "content-type": "application/json" }, '{"secret_id":"st-1"}'), lookup, INTERNAL, /content-type is "application\/json"/, 1],
  [
    "grpc-web-text (base64) instead of binary",
    raw(200, { "content-type": "application/grpc-web-text" }, Buffer.concat([frame(valid), ok0]).toString("base64")),
    lookup,
    INTERNAL,
    /content-type is "application\/grpc-web-text"/,
    1,
  ],
  ["no content-type", raw(200, {}, Buffer.concat([frame(valid), ok0])), lookup, INTERNAL, /content-type is "", not application\/grpc-web/, 1],
  ["plain gRPC (application/grpc)", raw(200, { "content-type": "application/grpc" }, Buffer.concat([frame(valid), ok0])), lookup, INTERNAL, /content-type is "application\/grpc"/, 1],
  ["the compressed flag", body(frame(valid, { flags: 1 }), ok0), lookup, INTERNAL, /compressed/, 1],
  ["unknown frame flags (0x02)", body(frame(valid, { flags: 2 }), ok0), lookup, INTERNAL, /unknown flags 0x02/, 1],
  ["two messages in a unary answer", body(frame(valid), frame(valid), ok0), lookup, INTERNAL, /answered with 2 messages/, 1],
  ["data after the trailers", body(frame(valid), ok0, frame(valid)), lookup, INTERNAL, /data follows the trailer frame/, 1],
  ["a response without secret_id", body(frame(getOrCreateResponse({ id: "", name: "x" })), ok0), lookup, INTERNAL, /no secret_id/, 1],
  ["a list item without secret_id", body(frame(listResponse([{ id: "", name: "a", createdAt: 1.7e9 }])), ok0), list, INTERNAL, /no secret_id/, 1],
  ["a list whose full page does not advance the cursor", body(frame(stuckPage(1.7e9)), ok0), list, INTERNAL, /paging would not end/, 2],
  ["a full list page without timestamps", body(frame(stuckPage(0)), ok0), list, INTERNAL, /paging would not end/, 1],
  ["HTTP 404 (not a gRPC-web endpoint)", raw(404, { "content-type": "text/plain" }, "Not Found"), lookup, [UnimplementedError, "UNIMPLEMENTED"], /HTTP 404 .*does not answer gRPC-web/, 1],
  ["HTTP 401 from a proxy", raw(401, { "content-type": "text/plain" }, "no"), lookup, [AuthError, "UNAUTHENTICATED"], /HTTP 401/, 1],
  ["HTTP 403 from a proxy", raw(403, { "content-type": "text/html" }, "<h1>Forbidden</h1>"), lookup, [PermissionDeniedError, "PERMISSION_DENIED"], /HTTP 403/, 1],
  [
    "a grpc-message with broken percent-escapes and bad UTF-8",
    body(trailerFrame({ "grpc-status": 5, "grpc-message": "gone %ZZ %C3%28 %" })),
    lookup,
    [NotFoundError, "NOT_FOUND"],
    /^gone %ZZ \uFFFD\( %$/,
    1,
  ],
  [
    "the connection dropped mid-body",
    (req, res) => {
      res.writeHead(200, { "content-type": GRPC_WEB, "content-length": "1000" });
      res.write(frame(valid));
      setTimeout(() => res.destroy(), 5);
    },
    lookup,
    [ConnectionError, "UNAVAILABLE"],
    /could not reach the Modal server/,
    4,
  ],
];

describe("malformed answers: a typed error each, and the module still works after", () => {
  test(`at least 20 cases (${cases.length})`, () => {
    assert.ok(cases.length >= 20);
  });

  for (const [name, responder, op, [cls, code], re, attempts] of cases) {
    test(name, async () => {
      fake.fallback = responder;
      const error = await op(viaFake()).then(
        (value) => assert.fail(`resolved to ${value}`),
        (e) => e,
      );
      assert.ok(error instanceof cls, `expected ${cls.name}, got ${error?.name}: ${error?.message}`);
      assert.ok(error instanceof ModalError);
      assert.equal(error.name, cls.name);
      assert.equal(error.code, code);
      assert.match(error.message, re);
      assert.ok(error.message.length < 500, `message of ${error.message.length} characters`);
      assert.equal(fake.requests.length, attempts, "attempts");
      await stillWorks();
    });
  }

  test("messages quote the server's content-type and grpc-status once", async () => {
    fake.fallback = raw(200, { "content-type": "application/json" }, "{}");
    const e1 = await lookup(viaFake()).catch((e) => e);
    assert.equal(e1.message, 'malformed response from the server: content-type is "application/json", not application/grpc-web');
    fake.fallback = body(frame(valid), trailerFrame({ "grpc-status": "OK" }));
    const e2 = await lookup(viaFake()).catch((e) => e);
    assert.equal(e2.message, 'malformed response from the server: grpc-status "OK" is not a number');
  });

  test("a stalled body (headers, then nothing) ends with the call's timeout", async () => {
    fake.fallback = (req, res) => {
      res.writeHead(200, { "content-type": GRPC_WEB });
      res.write(frame(valid).subarray(0, 3));
    };
    const t0 = performance.now();
    const error = await lookup(viaFake({ timeoutMs: 200 })).catch((e) => e);
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.code, "DEADLINE_EXCEEDED");
    assert.ok(performance.now() - t0 < 500);
    await stillWorks();
  });

  test("nonsense timestamps are not errors: dates stay valid, 'never used' stays null", async () => {
    for (const [createdAt, lastUsed] of [
      [NaN, Infinity],
      [-1, -5],
      [0, NaN],
    ]) {
      fake.reset();
      fake.fallback = body(frame(getOrCreateResponse({ name: "x", keys: ["A"], createdAt, lastUsed })), ok0);
      const s = await lookup(viaFake());
      const info = await s.info();
      assert.ok(info.createdAt instanceof Date);
      assert.ok(Number.isFinite(info.createdAt.getTime()), `createdAt from ${createdAt}`);
      assert.equal(info.lastUsed, null, `lastUsed from ${lastUsed}`);
      await stillWorks();
    }
  });
});

/** The same loaded module, right after: a real lookup directly and one through the (now honest) fake. */
async function stillWorks() {
  fake.reset();
  const direct = await Secret.fromName(PROBE, { client: real }).hydrate();
  assert.deepEqual(direct.keys, ["P"]);
  const through = await Secret.fromName(PROBE, { client: viaFake() }).hydrate();
  assert.equal(through.objectId, direct.objectId);
  assert.equal(fake.requests.length, 1);
}
