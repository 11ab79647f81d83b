// A TCP fault proxy for tests (issue 8): it sits between a client (the package's `fetch`) and a real
// modal-secrets-server, forwards HTTP/1.1 both ways, and injects transport faults on request:
// latency, dropped connections (FIN or RST), answers cut mid-body, partial gRPC-web frames, stalls,
// and canned HTTP answers of a load balancer in the way (a 502/503 page).
//
// Keep-alive is kept: the proxy parses just enough HTTP/1.1 (request line, headers, a request body by
// content-length or chunked; a response by content-length, chunked, or up to the close) to know where
// each request and its answer begin and end, so faults apply per request even when the client reuses
// a connection. One upstream connection per client connection; requests on a connection are handled
// one at a time, in order (pipelined requests wait their turn, as HTTP/1.1 requires).
//
// Faults are plain objects made by the functions of `faults` below. `proxy.push(...)` queues request
// faults: each request takes the first queued fault that applies to it (a fault may name the gRPC
// `method` it is for), then, with the queue empty, `proxy.fallback` (null: pass through).
// `proxy.pushConnection(...)` queues faults for the next new connections, applied when they are
// accepted, before anything is read. Every connection and request is counted (`proxy.connections`,
// `proxy.requests`) so tests can assert how many attempts were made.
//
// Request records keep the request's headers with the token secret (and any authorization) replaced
// by "<redacted>", so a failing assertion never prints a credential.
import net from "node:net";

const CRLF2 = Buffer.from("\r\n\r\n");
const REDACTED_HEADERS = new Set(["x-modal-token-secret", "authorization", "x-modal-auth-token", "cookie"]);
/** Bytes a head may take before the proxy gives up on the connection (no real head is this long). */
const MAX_HEAD = 64 << 10;

/** Fault constructors. Each returns a plain object; `method` (a gRPC method name) restricts a request fault. */
export const faults = {
  /** Forward as is (a placeholder in a queue: "this attempt passes"). */
  pass: (opts = {}) => ({ kind: "pass", ...opts }),
  /** Hold the request `ms` before forwarding it to the server. */
  delayRequest: (ms, opts = {}) => ({ kind: "delayRequest", ms, ...opts }),
  /** Forward the request, hold the whole answer `ms` before its first byte goes to the client. */
  delayResponse: (ms, opts = {}) => ({ kind: "delayResponse", ms, ...opts }),
  /**
   * Send the answer's head at once, then its body `bytes` at a time, each piece `everyMs` after the
   * previous one (in the answer's own framing: one chunk per piece when it is chunked).
   */
  drip: ({ bytes = 1, everyMs = 50, ...opts } = {}) => ({ kind: "drip", bytes, everyMs, ...opts }),
  /**
   * Read the request, forward nothing, close the client's connection before any answer: with an RST
   * (`rst: true`, the default, socket.resetAndDestroy()) or a FIN (`rst: false`).
   */
  drop: ({ rst = true, ...opts } = {}) => ({ kind: "drop", rst, ...opts }),
  /**
   * Forward the request; send the answer's head and only its first `bytes` body bytes (in its own
   * framing: the client still expects more), then reset (`rst: true`, default) or close with a FIN.
   * Either way the HTTP message is incomplete: a transport failure for the client.
   */
  cutBody: (bytes, { rst = true, ...opts } = {}) => ({ kind: "cutBody", bytes, rst, ...opts }),
  /**
   * Forward the request; answer with the server's status and headers but only the first `bytes` of
   * its body, as a *complete* HTTP message, so the client reads a truncated gRPC-web body: a partial
   * frame header (bytes < 5) or a partial message. `framing: "close"` (default) drops the length
   * and chunking, says `connection: close` and ends with a clean FIN after the bytes; `"length"`
   * rewrites `content-length` to `bytes` and keeps the connection alive.
   */
  partialFrame: (bytes, { framing = "close", ...opts } = {}) => ({ kind: "partialFrame", bytes, framing, ...opts }),
  /** Read the request and never answer; the connection stays open until the client leaves. */
  stall: (opts = {}) => ({ kind: "stall", ...opts }),
  /**
   * Answer the request itself, without forwarding it, as a load balancer in the way would: e.g.
   * `respond(503, { body: "<h1>Service Unavailable</h1>" })`. Keeps the connection alive.
   */
  respond: (status, { headers = { "content-type": "text/html" }, body = "", ...opts } = {}) => ({
    kind: "respond",
    status,
    headers,
    body,
    ...opts,
  }),
};

/** Connection faults, applied when a new connection is accepted, before anything is read. */
export const connectionFaults = {
  /** Close the new connection at once: RST (default) or FIN. */
  drop: ({ rst = true } = {}) => ({ kind: "drop", rst }),
  /** Accept, forward nothing, answer nothing (what arrives is read and dropped). */
  stall: () => ({ kind: "stall" }),
  /** Wait `ms` before reading from the connection and connecting to the server. */
  delay: (ms) => ({ kind: "delay", ms }),
};

/**
 * Starts a proxy on 127.0.0.1 (a free port) in front of `target` (an http:// URL). Resolves to the
 * proxy: { url, port, push, pushConnection, fallback, connections, requests, live, reset,
 * closeIdle, close }.
 */
export async function startFaultProxy({ target }) {
  const upstream = new URL(target);
  if (upstream.protocol !== "http:") throw new Error(`the fault proxy speaks cleartext HTTP/1.1 only, not ${upstream.protocol}`);
  const upstreamPort = Number(upstream.port || 80);
  const upstreamHost = upstream.hostname;

  const queue = [];
  const connectionQueue = [];
  const live = new Set();
  const timers = new Set();
  let nextConnection = 0;
  let nextRequest = 0;
  let closed = false;

  const sleep = (ms) =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  function takeFault(record) {
    const i = queue.findIndex((f) => !f.method || f.method === record.rpc);
    if (i >= 0) return queue.splice(i, 1)[0];
    return proxy.fallback;
  }

  const server = net.createServer((client) => {
    client.on("error", () => {});
    if (closed) return client.destroy();
    proxy.connections += 1;
    const conn = new Connection(++nextConnection, client);
    live.add(conn);
    client.once("close", () => {
      live.delete(conn);
      conn.onClientClosed();
    });
    const fault = connectionQueue.shift();
    conn.start(fault);
  });

  class Connection {
    constructor(id, client) {
      this.id = id;
      this.client = client;
      this.upstream = null;
      this.inBuf = Buffer.alloc(0);
      this.upBuf = Buffer.alloc(0);
      this.upEnded = false;
      this.pending = []; // parsed requests waiting their turn
      this.busy = false; // a request is in flight
      this.current = null; // its record
      this.waitingResponse = null; // resolve(parsed response | null)
      this.dead = false;
      this.stalled = false;
    }

    async start(fault) {
      const client = this.client;
      if (fault?.kind === "drop") return this.kill(fault.rst);
      if (fault?.kind === "stall") {
        // Reads (and drops) what comes, so that the client's leaving is noticed; answers nothing.
        this.stalled = true;
        client.on("data", () => {});
        return;
      }
      if (fault?.kind === "delay") {
        client.pause();
        await sleep(fault.ms);
        if (this.dead) return;
      }
      client.on("data", (chunk) => this.onClientData(chunk));
      client.on("end", () => {
        // The client half-closed: nothing more will come; let an answer in flight finish.
        if (!this.busy && this.pending.length === 0) this.kill(false);
      });
      client.resume();
    }

    kill(rst) {
      if (this.dead) return;
      this.dead = true;
      if (rst) {
        try {
          this.client.resetAndDestroy();
        } catch {
          this.client.destroy();
        }
      } else {
        this.client.end();
        this.client.destroySoon?.();
      }
      this.upstream?.destroy();
    }

    onClientClosed() {
      this.dead = true;
      this.upstream?.destroy();
      if (this.current && !this.current.answered) this.current.clientClosed = true;
      this.waitingResponse?.(null);
      this.waitingResponse = null;
    }

    onClientData(chunk) {
      if (this.dead || this.stalled) return;
      this.inBuf = this.inBuf.length ? Buffer.concat([this.inBuf, chunk]) : chunk;
      for (;;) {
        let parsed;
        try {
          parsed = parseRequest(this.inBuf);
        } catch (error) {
          proxy.errors.push(`connection ${this.id}: ${error.message}`);
          return this.kill(true);
        }
        if (!parsed) break;
        this.inBuf = this.inBuf.subarray(parsed.length);
        this.pending.push(parsed);
      }
      this.next();
    }

    async next() {
      if (this.busy || this.dead) return;
      const request = this.pending.shift();
      if (!request) return;
      this.busy = true;
      try {
        await this.handle(request);
      } catch (error) {
        proxy.errors.push(`connection ${this.id}: ${error.message}`);
        this.kill(true);
      }
      this.busy = false;
      this.current = null;
      if (!this.dead) {
        if (this.client.readableEnded && this.pending.length === 0) this.kill(false);
        else this.next();
      }
    }

    connectUpstream() {
      if (this.upstream) return;
      const up = net.connect(upstreamPort, upstreamHost);
      this.upstream = up;
      up.on("error", () => {});
      up.on("data", (chunk) => {
        this.upBuf = this.upBuf.length ? Buffer.concat([this.upBuf, chunk]) : chunk;
        this.tryResponse();
      });
      up.on("end", () => {
        this.upEnded = true;
        this.tryResponse();
      });
      up.on("close", () => {
        this.upEnded = true;
        this.tryResponse();
        // The server went away between answers: so does the client's connection.
        if (!this.busy) this.kill(false);
      });
    }

    tryResponse() {
      if (!this.waitingResponse) return;
      let parsed;
      try {
        parsed = parseResponse(this.upBuf, this.upEnded, this.current?.method === "HEAD");
      } catch (error) {
        proxy.errors.push(`connection ${this.id}: ${error.message}`);
        parsed = null;
      }
      if (parsed === undefined) {
        if (!this.upEnded) return; // wait for more
        parsed = null; // the server closed mid-answer
      }
      if (parsed) this.upBuf = this.upBuf.subarray(parsed.length);
      const resolve = this.waitingResponse;
      this.waitingResponse = null;
      resolve(parsed);
    }

    /** Forwards `request` and resolves to the server's whole answer (null: none came). */
    exchange(request) {
      this.connectUpstream();
      return new Promise((resolve) => {
        this.waitingResponse = resolve;
        this.upstream.write(request.raw);
        this.tryResponse();
      });
    }

    write(bytes) {
      return new Promise((resolve) => {
        if (this.dead || this.client.destroyed) return resolve();
        this.client.write(bytes, () => resolve());
      });
    }

    async handle(request) {
      const record = {
        id: ++nextRequest,
        connection: this.id,
        method: request.method,
        path: request.path,
        rpc: request.path.split("/").pop(),
        headers: redact(request.headers),
        body: request.body,
        at: performance.now(),
        fault: "pass",
        status: undefined,
        responseBody: undefined,
        answered: false,
        clientClosed: false,
      };
      proxy.requests.push(record);
      this.current = record;
      const fault = takeFault(record) ?? faults.pass();
      record.fault = fault.kind;
      const waitFor = (ms) => sleep(ms).then(() => !this.dead);

      switch (fault.kind) {
        case "drop":
          return this.kill(fault.rst);
        case "stall":
          this.stalled = true; // later bytes are read and dropped, so the client's leaving is noticed
          return new Promise(() => {}); // the connection is never used again; `close` frees it
        case "delayRequest":
          if (!(await waitFor(fault.ms))) return;
          break;
        case "respond": {
          const body = Buffer.from(fault.body);
          const lines = [`HTTP/1.1 ${fault.status} Fault Proxy`];
          for (const [name, value] of Object.entries(fault.headers)) lines.push(`${name}: ${value}`);
          lines.push(`content-length: ${body.length}`);
          record.status = fault.status;
          await this.write(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]));
          record.answered = true;
          return;
        }
        default:
          break;
      }

      const response = await this.exchange(request);
      if (this.dead) return;
      if (!response) return this.kill(false); // the server closed without an answer: so do we
      record.status = response.status;
      record.responseBody = response.body; // the server's whole body (de-chunked), whatever reached the client

      switch (fault.kind) {
        case "delayResponse":
          if (!(await waitFor(fault.ms))) return;
          await this.write(response.raw);
          break;
        case "drip": {
          await this.write(response.head);
          for (let at = 0; at < response.body.length; at += fault.bytes) {
            if (!(await waitFor(fault.everyMs))) return;
            await this.write(frameBody(response, response.body.subarray(at, at + fault.bytes)));
          }
          await this.write(endBody(response));
          break;
        }
        case "cutBody": {
          await this.write(Buffer.concat([response.head, frameBody(response, response.body.subarray(0, fault.bytes))]));
          // Let the bytes reach the client before the reset (an RST discards unsent data).
          if (!(await waitFor(25))) return;
          record.answered = true;
          return this.kill(fault.rst);
        }
        case "partialFrame": {
          const body = response.body.subarray(0, fault.bytes);
          const head = rewriteHead(response, fault.framing === "length" ? { "content-length": String(body.length) } : { connection: "close" });
          await this.write(Buffer.concat([head, body]));
          record.answered = true;
          if (fault.framing !== "length") {
            if (!(await waitFor(25))) return;
            return this.kill(false);
          }
          return;
        }
        default:
          await this.write(response.raw);
      }
      record.answered = true;
      if (response.closeAfter) this.kill(false);
    }
  }

  const proxy = {
    url: "",
    port: 0,
    /** Connections accepted since the last reset. */
    connections: 0,
    /**
     * One record per request seen: { id, connection, method, path, rpc, headers, body, at, fault,
     * status and responseBody (the server's answer, when it was asked), answered (the client was
     * sent an answer, whole or cut as the fault says), clientClosed (the client left first) }.
     */
    requests: [],
    /** Protocol problems the proxy met (unparseable traffic); a test may assert it stays empty. */
    errors: [],
    /** The fault of a request when the queue has none for it (null: pass through). */
    fallback: null,
    /** Queues request faults, consumed in order (each by the first request it applies to). */
    push(...fs) {
      queue.push(...fs);
    },
    /** Queues faults for the next new connections. */
    pushConnection(...fs) {
      connectionQueue.push(...fs);
    },
    /** Faults still queued (request faults, connection faults). */
    get queued() {
      return { requests: queue.length, connections: connectionQueue.length };
    },
    /** Open client connections now. */
    get live() {
      return live.size;
    },
    /** The requests of one gRPC method (e.g. "SecretGetOrCreate"). */
    calls(rpc) {
      return proxy.requests.filter((r) => r.rpc === rpc);
    },
    /** Clears the counters, the queues and the fallback. */
    reset() {
      queue.length = 0;
      connectionQueue.length = 0;
      proxy.fallback = null;
      proxy.connections = 0;
      proxy.requests = [];
      proxy.errors = [];
    },
    /**
     * Closes every client connection with no request in flight (a FIN), so that the client's next
     * request opens a new connection (and meets the connection faults); waits `settleMs` for the
     * client to notice.
     */
    async closeIdle(settleMs = 50) {
      for (const conn of live) {
        if (!conn.busy && !conn.stalled) conn.kill(false);
      }
      await sleep(settleMs);
    },
    /** Stops listening and destroys every connection. */
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const conn of live) {
        conn.dead = true;
        conn.client.destroy();
        conn.upstream?.destroy();
      }
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  proxy.port = server.address().port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  return proxy;
}

// ---- HTTP/1.1, just enough -----------------------------------------------------------------------

function redact(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) out[name] = REDACTED_HEADERS.has(name) ? "<redacted>" : value;
  return out;
}

/** Splits a head into its first line and headers (lowercase names; repeated ones joined by ", "). */
function parseHead(buf) {
  const end = buf.indexOf(CRLF2);
  if (end < 0) {
    if (buf.length > MAX_HEAD) throw new Error("a head over 64 KiB");
    return null;
  }
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const headers = {};
  const list = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`a header line without a name: ${JSON.stringify(line.slice(0, 40))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    list.push([name, value]);
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { start: lines[0], headers, list, headLength: end + 4 };
}

/**
 * Reads a body after `at` framed by `headers`: returns { body, end } or undefined if incomplete.
 * `untilClose`: no length and not chunked means "up to the close" (responses only).
 */
function readBody(buf, at, headers, { untilClose = false, ended = false } = {}) {
  const te = (headers["transfer-encoding"] ?? "").toLowerCase();
  if (te) {
    if (!/(^|,)\s*chunked\s*$/.test(te)) throw new Error(`transfer-encoding ${te} is not supported`);
    const parts = [];
    let i = at;
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", i);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(i, lineEnd).toString("latin1").split(";")[0].trim(), 16);
      if (!Number.isFinite(size) || size < 0) throw new Error("a bad chunk size");
      i = lineEnd + 2;
      if (size === 0) {
        // Optional trailer fields, then an empty line.
        for (;;) {
          const e = buf.indexOf("\r\n", i);
          if (e < 0) return undefined;
          const empty = e === i;
          i = e + 2;
          if (empty) return { body: Buffer.concat(parts), end: i };
        }
      }
      if (buf.length < i + size + 2) return undefined;
      parts.push(buf.subarray(i, i + size));
      i += size + 2;
    }
  }
  if (headers["content-length"] !== undefined) {
    const n = Number(headers["content-length"].split(",")[0].trim());
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`a bad content-length ${headers["content-length"]}`);
    if (buf.length < at + n) return undefined;
    return { body: buf.subarray(at, at + n), end: at + n };
  }
  if (untilClose) {
    if (!ended) return undefined;
    return { body: buf.subarray(at), end: buf.length, closeAfter: true };
  }
  return { body: Buffer.alloc(0), end: at };
}

/** One whole request at the start of `buf`, or null if it has not all arrived. */
function parseRequest(buf) {
  const head = parseHead(buf);
  if (!head) return null;
  const [method, path, version] = head.start.split(" ");
  if (!method || !path || !/^HTTP\/1\.[01]$/.test(version ?? "")) throw new Error(`not an HTTP/1.x request line: ${JSON.stringify(head.start.slice(0, 60))}`);
  const body = readBody(buf, head.headLength, head.headers);
  if (!body) return null;
  return { method, path, headers: head.headers, body: Buffer.from(body.body), raw: Buffer.from(buf.subarray(0, body.end)), length: body.end };
}

/**
 * One whole response at the start of `buf` (interim 1xx answers are kept in `raw` and skipped), or
 * undefined if it has not all arrived. `ended`: the server has closed its side.
 */
function parseResponse(buf, ended, forHead) {
  let offset = 0;
  for (;;) {
    const head = parseHead(buf.subarray(offset));
    if (!head) return undefined;
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head.start);
    if (!m) throw new Error(`not an HTTP/1.x status line: ${JSON.stringify(head.start.slice(0, 60))}`);
    const status = Number(m[1]);
    const headStart = offset;
    const headEnd = offset + head.headLength;
    if (status >= 100 && status < 200 && status !== 101) {
      offset = headEnd;
      continue;
    }
    const noBody = forHead || status === 204 || status === 304;
    const body = noBody ? { body: Buffer.alloc(0), end: headEnd } : readBody(buf, headEnd, head.headers, { untilClose: true, ended });
    if (!body) return undefined;
    const te = (head.headers["transfer-encoding"] ?? "").toLowerCase();
    return {
      status,
      headers: head.headers,
      list: head.list,
      statusLine: head.start,
      framing: noBody ? "none" : te ? "chunked" : head.headers["content-length"] !== undefined ? "length" : "close",
      head: Buffer.from(buf.subarray(0, headEnd)), // with any interim (1xx) answers before it
      interim: Buffer.from(buf.subarray(0, headStart)),
      body: Buffer.from(body.body),
      raw: Buffer.from(buf.subarray(0, body.end)),
      length: body.end,
      closeAfter: Boolean(body.closeAfter) || /\bclose\b/i.test(head.headers.connection ?? ""),
    };
  }
}

/** `piece` of a response body, in the response's framing. */
function frameBody(response, piece) {
  if (response.framing !== "chunked") return Buffer.from(piece);
  if (piece.length === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]);
}

/** What ends a response body in its framing (the last chunk), after every piece was sent. */
function endBody(response) {
  return response.framing === "chunked" ? Buffer.from("0\r\n\r\n") : Buffer.alloc(0);
}

/** The response's interim answers and head, without its framing headers, plus `extra` headers. */
function rewriteHead(response, extra) {
  const drop = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", ...Object.keys(extra)]);
  const lines = [response.statusLine];
  for (const [name, value] of response.list) if (!drop.has(name)) lines.push(`${name}: ${value}`);
  for (const [name, value] of Object.entries(extra)) lines.push(`${name}: ${value}`);
  return Buffer.concat([response.interim, Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1")]);
}
