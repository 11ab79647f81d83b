// Test-only wire helpers: a tiny protobuf encoder/decoder for the messages of WIRE.md, gRPC-web
// framing, and a scripted server that answers each request as a test says: gRPC-web over HTTP/1.1
// (node:http) and plain gRPC over h2c (node:http2) on one port, each answer in the protocol the
// request came in (the package's two transports).
//
// This fake server is the one place where the suites use a mock: it exists to produce faults and
// malformed answers the real server never gives. Where a test needs real answers around a fault,
// the fake forwards requests to the real server (pass-through proxy).
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

/** The transport the suites' clients use: MODAL_SECRETS_TEST_TRANSPORT, else the package's default. */
export const TEST_TRANSPORT = process.env.MODAL_SECRETS_TEST_TRANSPORT || undefined;

// ---- protobuf ----------------------------------------------------------------------------------

function varint(n) {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return Buffer.from(out);
}

const tag = (no, wire) => varint((no << 3) | wire);
const len = (no, bytes) => Buffer.concat([tag(no, 2), varint(bytes.length), bytes]);

/** Field encoders: each returns the bytes of one field. */
export const pb = {
  string: (no, s) => len(no, Buffer.from(s, "utf8")),
  bytes: (no, b) => len(no, Buffer.from(b)),
  message: (no, ...parts) => len(no, Buffer.concat(parts)),
  int: (no, n) => Buffer.concat([tag(no, 0), varint(n)]),
  double: (no, x) => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(x);
    return Buffer.concat([tag(no, 1), b]);
  },
  float: (no, x) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(x);
    return Buffer.concat([tag(no, 5), b]);
  },
};

/** Decodes one message into [{ no, wire, value }] (value: number, bigint-free; Buffer for wire 2). */
export function decodeFields(buf) {
  const fields = [];
  let i = 0;
  const readVarint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error("truncated varint");
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    const no = key >> 3;
    const wire = key & 7;
    let value;
    if (wire === 0) value = Number(BigInt.asIntN(64, readVarint()));
    else if (wire === 1) {
      value = buf.readDoubleLE(i);
      i += 8;
    } else if (wire === 5) {
      value = buf.readFloatLE(i);
      i += 4;
    } else if (wire === 2) {
      const n = Number(readVarint());
      value = buf.subarray(i, i + n);
      i += n;
    } else throw new Error(`wire type ${wire}`);
    fields.push({ no, wire, value });
  }
  return fields;
}

const str = (fields, no) => fields.filter((f) => f.no === no).map((f) => f.value.toString("utf8"));
const one = (fields, no) => fields.find((f) => f.no === no)?.value;

/** The message of a request body (strips the 5-byte frame header, checking it). */
export function requestMessage(body) {
  const b = Buffer.from(body);
  if (b.length < 5 || b[0] !== 0 || b.readUInt32BE(1) !== b.length - 5) {
    throw new Error(`not one uncompressed gRPC-web frame: ${b.length} bytes`);
  }
  return b.subarray(5);
}

/** SecretGetOrCreateRequest → { name, environment, type, envDict, requiredKeys }. */
export function decodeGetOrCreate(body) {
  const f = decodeFields(requestMessage(body));
  const envDict = {};
  for (const entry of f.filter((x) => x.no === 5)) {
    const e = decodeFields(entry.value);
    envDict[str(e, 1)[0] ?? ""] = str(e, 2)[0] ?? "";
  }
  return {
    name: str(f, 1)[0] ?? "",
    environment: str(f, 3)[0] ?? "",
    type: one(f, 4) ?? 0,
    envDict,
    requiredKeys: str(f, 7),
  };
}

/** SecretListRequest → { environment, maxObjects, createdBefore }. */
export function decodeList(body) {
  const f = decodeFields(requestMessage(body));
  const page = one(f, 2);
  const p = page ? decodeFields(page) : [];
  return { environment: str(f, 1)[0] ?? "", maxObjects: one(p, 1) ?? 0, createdBefore: one(p, 2) ?? 0 };
}

/** SecretUpdateRequest → { secretId, updates: [{ key, value (undefined = remove) }] }. */
export function decodeUpdate(body) {
  const f = decodeFields(requestMessage(body));
  return {
    secretId: str(f, 1)[0] ?? "",
    updates: f
      .filter((x) => x.no === 2)
      .map((u) => {
        const g = decodeFields(u.value);
        return { key: str(g, 1)[0] ?? "", value: str(g, 2)[0] };
      }),
  };
}

/** SecretMetadata bytes. */
export function metadata({ name = "", keys = [], environment = "main", createdAt = 0, createdBy = "", lastUsed = 0 } = {}) {
  return Buffer.concat([
    name ? pb.string(1, name) : Buffer.alloc(0),
    pb.message(2, createdAt ? pb.double(1, createdAt) : Buffer.alloc(0), createdBy ? pb.string(2, createdBy) : Buffer.alloc(0)),
    ...keys.map((k) => pb.string(3, k)),
    environment ? pb.string(4, environment) : Buffer.alloc(0),
    lastUsed ? pb.double(5, lastUsed) : Buffer.alloc(0),
  ]);
}

/** SecretGetOrCreateResponse bytes. */
export function getOrCreateResponse({ id = "st-fakefakefakefakefake01", ...meta } = {}) {
  return Buffer.concat([id ? pb.string(1, id) : Buffer.alloc(0), pb.message(2, metadata(meta))]);
}

/** SecretListResponse bytes from items { id, name, createdAt, keys }. */
export function listResponse(items) {
  return Buffer.concat(
    items.map((it) =>
      pb.message(
        1,
        pb.string(1, it.name),
        pb.double(2, it.createdAt),
        pb.string(4, "main"),
        pb.string(5, it.id),
        pb.message(6, metadata({ name: it.name, keys: it.keys ?? [], createdAt: it.createdAt, createdBy: "w" })),
      ),
    ),
  );
}

/** base64 of RPCStatus { code, message, details: [Any(RPCRetryPolicy { retry_after_secs })] }. */
export function retryPolicyDetails(retryAfterSecs, code = 8, typeUrl = "type.modal.com/modal.client.RPCRetryPolicy") {
  const policy = pb.float(1, retryAfterSecs);
  const any = Buffer.concat([pb.string(1, typeUrl), pb.bytes(2, policy)]);
  return Buffer.concat([pb.int(1, code), pb.string(2, "slow down"), pb.message(3, any)]).toString("base64");
}

// ---- gRPC-web framing --------------------------------------------------------------------------

export const GRPC_WEB = "application/grpc-web+proto";
export const GRPC = "application/grpc";

/** Whether `req` is a plain gRPC request (HTTP/2, application/grpc), to be answered in kind. */
export const isGrpc = (req) => req.httpVersionMajor === 2 && /^application\/grpc(\+proto)?$/.test(req.headers["content-type"] ?? "");

/** One frame: flags byte, 4-byte big-endian length (or `announced`), payload. */
export function frame(payload, { flags = 0, announced } = {}) {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(announced ?? payload.length, 1);
  return Buffer.concat([head, Buffer.from(payload)]);
}

/** A trailer frame from `name: value` pairs (an object) or raw text/bytes. */
export function trailerFrame(trailers) {
  const text =
    typeof trailers === "string" || Buffer.isBuffer(trailers)
      ? trailers
      : Object.entries(trailers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join("");
  return frame(Buffer.from(text), { flags: 0x80 });
}

// ---- responders: (req, res, entry) => void | Promise ---------------------------------------------

/** 200 with the message and OK trailers (a trailer frame, or HTTP/2 trailers for gRPC). */
export const ok = (message, { headers = {}, trailers = {} } = {}) => (req, res) => {
  const t = { "grpc-status": 0, ...trailers };
  if (isGrpc(req)) {
    res.writeHead(200, { "content-type": GRPC, ...headers });
    res.addTrailers(t);
    res.end(frame(message));
    return;
  }
  res.writeHead(200, { "content-type": GRPC_WEB, ...headers });
  res.end(Buffer.concat([frame(message), trailerFrame(t)]));
};

/** A non-OK gRPC status, in trailers (a frame, or HTTP/2's) or (trailersOnly) in the HTTP headers. */
export const status = (code, message = "", { details, trailersOnly = false, headers = {} } = {}) => (req, res) => {
  const t = { "grpc-status": code, "grpc-message": encodeURIComponent(message) };
  if (details) t["grpc-status-details-bin"] = details;
  const contentType = isGrpc(req) ? GRPC : GRPC_WEB;
  if (trailersOnly) {
    res.writeHead(200, { "content-type": contentType, ...t, ...headers });
    res.end();
  } else if (isGrpc(req)) {
    res.writeHead(200, { "content-type": contentType, ...headers });
    res.addTrailers(t);
    res.end();
  } else {
    res.writeHead(200, { "content-type": contentType, ...headers });
    res.end(trailerFrame(t));
  }
};

/** Any HTTP answer. */
export const raw = (code, headers, body = Buffer.alloc(0)) => (req, res) => {
  res.writeHead(code, headers);
  res.end(body);
};

/** `responder` after `ms` (skipped if the client went away meanwhile). */
export const after = (ms, responder) => (req, res, entry) =>
  new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (!entry.aborted) Promise.resolve(responder(req, res, entry)).then(resolve, resolve);
      else resolve();
    }, ms);
    res.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Never answers. */
export const hang = () => () => {};

/** Drops the connection without an answer (over HTTP/2: the whole session, every stream on it). */
export const destroy = () => (req) => (req.stream ? req.stream.session.destroy() : req.socket.destroy());

// ---- the scripted server --------------------------------------------------------------------------

/**
 * A gRPC-web server on 127.0.0.1:0. Each request takes the next responder of the queue (`push`);
 * when the queue is empty, `fallback` answers (by default: forward to `upstream` if given, else
 * UNIMPLEMENTED). Every request is recorded in `requests`: { index, at, path, method, headers, body,
 * aborted (the client closed before the answer was complete), closedAt }.
 */
export async function startFaultServer({ upstream } = {}) {
  const requests = [];
  const queue = [];
  const forward = async (req, res, entry) => {
    if (isGrpc(req)) return forwardGrpc(upstream, req, res, entry);
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (!["host", "content-length", "connection", "keep-alive"].includes(k)) headers[k] = v;
    }
    const answer = await fetch(upstream + req.url, { method: "POST", headers, body: entry.body });
    const body = Buffer.from(await answer.arrayBuffer());
    const out = {};
    answer.headers.forEach((v, k) => {
      if (!["content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"].includes(k)) out[k] = v;
    });
    res.writeHead(answer.status, out);
    res.end(body);
  };
  const fake = {
    requests,
    url: "",
    fallback: upstream ? forward : status(12, "no script for this request"),
    forward,
    /** Queues responders for the next requests, in order. */
    push(...responders) {
      queue.push(...responders);
      return fake;
    },
    /** Forgets queued responders and recorded requests. */
    reset() {
      queue.length = 0;
      requests.length = 0;
      fake.fallback = upstream ? forward : status(12, "no script for this request");
    },
    /** The gRPC methods called, in order. */
    methods: () => requests.map((r) => r.path.split("/").pop()),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const handle = async (req, res) => {
    const entry = { index: requests.length, at: performance.now(), path: req.url, method: req.method, headers: req.headers, aborted: false };
    requests.push(entry);
    const chunks = [];
    for await (const c of req) chunks.push(c);
    entry.body = Buffer.concat(chunks);
    res.once("close", () => {
      entry.closedAt = performance.now();
      // (An HTTP/2 response reads as finished even when the client reset the stream.)
      if (!res.writableFinished || req.stream?.rstCode) entry.aborted = true;
    });
    const responder = queue.length ? queue.shift() : fake.fallback;
    try {
      await responder(req, res, entry);
    } catch (error) {
      entry.error = error;
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(error));
    }
  };
  // One port, both protocols: a connection that opens with HTTP/2's preface goes to the h2c
  // server, any other to the HTTP/1.1 one.
  const h1 = http.createServer(handle);
  const h2 = http2.createServer(handle);
  h2.on("sessionError", () => {});
  const sockets = new Set();
  const server = net.createServer((socket) => {
    fake.connections++;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const sniff = () => {
      const head = socket.read(3);
      if (head === null) return socket.once("readable", sniff);
      socket.unshift(head);
      (head.toString("latin1") === "PRI" ? h2 : h1).emit("connection", socket);
    };
    socket.once("readable", sniff);
    socket.on("error", () => {});
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${server.address().port}`;
  fake.sockets = sockets; // open connections
  fake.connections = 0; // connections ever accepted
  return fake;
}

/** Forwards a plain gRPC request to `upstream` over h2c, trailers and all. */
function forwardGrpc(upstream, req, res, entry) {
  return new Promise((resolve) => {
    const session = http2.connect(upstream);
    session.on("error", () => {});
    const headers = { ":method": "POST", ":path": req.url };
    for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(":")) headers[k] = v;
    const stream = session.request(headers);
    const chunks = [];
    stream.on("response", (h) => {
      const out = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(":")) out[k] = v;
      res.writeHead(h[":status"], out);
    });
    stream.on("trailers", (t) => res.addTrailers(t));
    stream.on("data", (c) => chunks.push(c));
    stream.on("close", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end(Buffer.concat(chunks));
      session.close();
      resolve();
    });
    stream.end(entry.body);
  });
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort() {
  const s = http.createServer();
  await new Promise((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** `{ transport }` of the suites' run (MODAL_SECRETS_TEST_TRANSPORT), unless `options` chose one. */
export function transportOption(options = {}) {
  return TEST_TRANSPORT && options.fetch === undefined && options.transport === undefined ? { transport: TEST_TRANSPORT } : {};
}

/**
 * The real server and the scripted fake in front of it, for a test file: one token, a client of the
 * real server, and `viaFake(options)` for clients that go through the fake (reset before each test,
 * closed after the file).
 */
export async function realAndFake() {
  const { startServer, pkg } = await import("./server.mjs");
  const { after: afterAll, beforeEach } = await import("node:test");
  const server = await startServer();
  const token = server.token();
  const real = server.client(token);
  const fake = await startFaultServer({ upstream: server.url });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());
  const viaFake = (options = {}) =>
    new pkg.Client({ serverUrl: fake.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, ...transportOption(options), ...options });
  return { server, token, real, fake, viaFake };
}
