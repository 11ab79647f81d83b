// The second transport: plain gRPC over HTTP/2 with node:http2, which is what Modal's own API
// (TLS, ALPN h2 only, no gRPC-web) speaks. Imported only by the entries of runtimes that have
// node:http2 (node.js), never by the browser or workerd ones. Like host.js's `send` it only moves
// bytes: the request's headers and bytes come from the wasm, and the answer (status, headers,
// body, trailers) goes back to it; retries, deadlines and what an answer means are decided there.
//
// One HTTP/2 session per client, opened at its first call and shared by all its calls (streams
// multiplex on it). A session that got GOAWAY, closed, failed or missed a ping is dropped, and the
// next call opens a new one. The session holds the event loop only while a stream is open (ref'd
// then, unref'd when idle), so a process exits by itself after its last call.
import { connect, constants } from "node:http2";
import { FAILURE, fail, headerLines, headerObject, wantedHeaders } from "./abi.js";
import { concatBytes } from "./host.js";

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = constants;

// A session idle this long is pinged when it is used again (a NAT or a load balancer may have
// dropped it silently), and one with streams open is pinged this often; no PONG within
// PING_TIMEOUT_MS ends it, and its streams fail as "connection" (which the wasm retries).
const PING_IDLE_MS = 10_000;
const PING_TIMEOUT_MS = 10_000;

// The names of the RST_STREAM / GOAWAY codes, for messages.
const CODE_NAMES = Object.fromEntries(
  Object.entries(constants)
    .filter(([name]) => /^NGHTTP2_(NO_ERROR|PROTOCOL_ERROR|INTERNAL_ERROR|FLOW_CONTROL_ERROR|SETTINGS_TIMEOUT|STREAM_CLOSED|FRAME_SIZE_ERROR|REFUSED_STREAM|CANCEL|COMPRESSION_ERROR|CONNECT_ERROR|ENHANCE_YOUR_CALM|INADEQUATE_SECURITY|HTTP_1_1_REQUIRED)$/.test(name))
    .map(([name, code]) => [code, name.slice(8)]),
);
const codeName = (code) => CODE_NAMES[code] ?? `code ${code}`;

// Header lines of the `names` in a node:http2 header object (repeated headers come joined with
// ", ", as fetch's Headers.get joins them).
function pick(headers, names) {
  return headerLines(names, (name) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  });
}

// Why a session failed, in a few words (never a header value).
function describe(error) {
  if (!(error instanceof Error)) return String(error);
  const text = error.message || error.name;
  return error.code && !text.includes(error.code) ? `${text} (${error.code})` : text;
}

/**
 * The transport of one client whose server URL is `serverUrl`: `send` as host.js's (plus the
 * trailers in the answer), `close`. `options` are for tests: { pingIdleMs, pingTimeoutMs }.
 */
export function http2Transport(serverUrl, options = {}) {
  const base = new URL(serverUrl);
  const origin = base.origin;
  const secure = base.protocol === "https:";
  const pingIdleMs = options.pingIdleMs ?? PING_IDLE_MS;
  const pingTimeoutMs = options.pingTimeoutMs ?? PING_TIMEOUT_MS;
  let current; // { session, active, idleSince, settled (has the peer's SETTINGS), pending: Set }

  function retire(entry) {
    if (current === entry) current = undefined;
  }

  function open() {
    const session = connect(origin);
    const entry = { session, active: 0, idleSince: performance.now(), connected: false, settled: false, pending: new Set() };
    session.on("connect", () => {
      entry.connected = true;
    });
    session.on("remoteSettings", () => {
      entry.settled = true;
    });
    session.on("goaway", () => {
      retire(entry);
      if (entry.active === 0) session.close();
    });
    session.on("error", (error) => {
      entry.failure ??= error;
      retire(entry);
    });
    session.on("close", () => {
      retire(entry);
      clearInterval(entry.keepalive);
    });
    session.unref();
    current = entry;
    return entry;
  }

  // Sends a PING; no PONG in time (or an error) ends the session.
  function ping(entry) {
    const { session } = entry;
    if (session.closed || session.destroyed || entry.pinging) return;
    entry.pinging = true;
    const timer = setTimeout(() => {
      session.destroy(new Error(`no answer to an HTTP/2 ping in ${pingTimeoutMs} ms`));
    }, pingTimeoutMs);
    timer.unref?.();
    try {
      session.ping((error) => {
        entry.pinging = false;
        clearTimeout(timer);
        if (error && !session.destroyed) session.destroy(error);
      });
    } catch (error) {
      clearTimeout(timer);
      session.destroy(error);
    }
  }

  function acquire() {
    let entry = current;
    const session = entry?.session;
    if (!entry || session.closed || session.destroyed) entry = open();
    else if (entry.active === 0 && performance.now() - entry.idleSince >= pingIdleMs) ping(entry);
    if (entry.active++ === 0) {
      entry.session.ref();
      // While streams are open, a ping every pingIdleMs finds a connection that died silently.
      entry.keepalive = setInterval(() => ping(entry), pingIdleMs);
      entry.keepalive.unref?.();
    }
    return entry;
  }

  function release(entry) {
    if (--entry.active === 0) {
      clearInterval(entry.keepalive);
      entry.idleSince = performance.now();
      if (entry.session.destroyed) return;
      entry.session.unref();
      // A session replaced (after GOAWAY) closes once its last stream is done.
      if (entry !== current) entry.session.close();
    }
  }

  // One attempt on `entry`'s session; rejects with a transport failure, whose `refused` is true
  // when the server cannot have seen the request (it is then sent once more on a new session).
  function attempt(entry, path, headers, body, timeoutMs, signal, maxBodyBytes, names) {
    return new Promise((resolve, reject) => {
      let stream;
      let timer;
      let settled = false;
      let status;
      let responseHeaders = "";
      let trailers;
      let chunks = [];
      let total = 0;
      const settle = (failure, answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        entry.pending.delete(cancel);
        release(entry);
        if (failure) {
          if (stream && !stream.closed) stream.close(NGHTTP2_CANCEL);
          reject(failure);
        } else resolve(answer);
      };
      const cancel = (failure) => settle(failure);
      const onAbort = () => settle(fail(FAILURE.aborted));
      entry.pending.add(cancel);
      if (signal) signal.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs >= 0) timer = setTimeout(() => settle(fail(FAILURE.timeout)), timeoutMs);

      try {
        stream = entry.session.request({ ":method": "POST", ":path": path, ...headers }, { endStream: false });
      } catch (error) {
        // The session closed between the check and the request: nothing was sent.
        retire(entry);
        return settle(Object.assign(fail(FAILURE.connection, describe(error)), { refused: true }));
      }
      stream.on("response", (h) => {
        status = h[":status"];
        responseHeaders = pick(h, names);
      });
      stream.on("trailers", (t) => {
        trailers = pick(t, names);
      });
      stream.on("data", (chunk) => {
        if (settled) return;
        total += chunk.length;
        if (total > maxBodyBytes) {
          chunks = [];
          settle(fail(FAILURE.tooLarge));
        } else chunks.push(chunk);
      });
      stream.on("end", () => {
        if (status === undefined) return; // closed without an answer: see "close"
        settle(undefined, [status, responseHeaders, concatBytes(chunks, total), trailers ?? ""]);
      });
      // The "close" that follows says what happened; the error, why (a refused connection …).
      let streamError;
      stream.on("error", (error) => {
        streamError = error;
      });
      stream.on("close", () => {
        if (settled) return;
        const code = stream.rstCode;
        const session = entry.session;
        if (code === NGHTTP2_REFUSED_STREAM) {
          return settle(Object.assign(fail(FAILURE.connection, "the server refused the stream (REFUSED_STREAM)"), { refused: true }));
        }
        if (session.destroyed || session.closed) return settle(fail(FAILURE.connection, sessionFailure(entry, streamError)));
        settle(fail(FAILURE.connection, `the server reset the stream (${codeName(code)}) before the answer was complete`));
      });
      stream.end(body);
    });
  }

  // Why `entry`'s session ended, for a stream that had no answer.
  function sessionFailure(entry, streamError) {
    const error = entry.failure ?? streamError;
    const why = error ? describe(error) : "the HTTP/2 connection closed";
    const alpn = error?.code === "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL";
    if ((entry.connected && !entry.settled) || alpn) {
      // Connected, but no HTTP/2 SETTINGS ever came (or TLS refused h2): an HTTP/1.1 server.
      return (
        `${origin} does not speak HTTP/2${secure ? "" : " (h2c)"} (${why}); for a server or proxy ` +
        `that speaks only HTTP/1.1, pass transport: "fetch" (gRPC-web)`
      );
    }
    return entry.settled ? `${why} before the answer was complete` : why;
  }

  return {
    /** Sends a send step (abi.js readStep); resolves to [status, header lines, body, trailer lines]. */
    async send({ url, headers: headerText, body, timeoutMs, maxBodyBytes, wanted }, signal) {
      if (signal?.aborted) throw fail(FAILURE.aborted);
      const path = url.startsWith(origin) ? url.slice(origin.length) : new URL(url).pathname;
      const headers = headerObject(headerText);
      const names = wantedHeaders(wanted);
      const started = performance.now();
      try {
        return await attempt(acquire(), path, headers, body, timeoutMs, signal, maxBodyBytes, names);
      } catch (failure) {
        if (!failure?.refused) throw failure;
        // Never seen by the server (gRPC's transparent retry): once more, on a new session, within
        // what is left of the attempt's time.
        const left = timeoutMs < 0 ? -1 : Math.max(0, timeoutMs - (performance.now() - started));
        return attempt(acquire(), path, headers, body, left, signal, maxBodyBytes, names);
      }
    },

    /** Ends the session at once: calls in flight fail as aborted; a later call opens a new one. */
    close() {
      const entry = current;
      current = undefined;
      if (!entry) return;
      for (const cancel of [...entry.pending]) cancel(fail(FAILURE.aborted));
      entry.session.destroy();
    },
  };
}
