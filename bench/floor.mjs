// The "raw fetch floor" of the client benchmarks (issue 7): the least JavaScript that looks a secret
// up by name (and, for reference, lists a workspace). It sends the same gRPC-web requests the package
// sends for `Secret.fromName(name).hydrate()` and `Secret.objects.list()` (the same URL, headers and
// body bytes) with the global `fetch`, and reads the answer: the gRPC status (trailers-only headers or
// the trailer frame) and, from the response message, each secret's id, name and key names. No
// library, no retries, no validation beyond what reading the answer needs. It is the floor the
// package's per-call cost is compared to. makeH2FloorClient (at the end) is the same over bare
// node:http2 (plain gRPC), the floor of the package's default transport in Node (issue 15).

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function varint(n, out) {
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
}

/** A gRPC-web frame holding SecretGetOrCreateRequest { deployment_name: name } (lookup only). */
function requestBody(name) {
  const nameBytes = textEncoder.encode(name);
  const message = [0x0a];
  varint(nameBytes.length, message);
  const out = new Uint8Array(message.length + nameBytes.length);
  out.set(message);
  out.set(nameBytes, message.length);
  return frame(out);
}

function readVarint(bytes, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, pos];
    shift += 7;
  }
}

/** Calls fn(field, wireType, start, end) for each field of a message (length-delimited ones only get start/end). */
function fields(bytes, start, end, fn) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = readVarint(bytes, pos);
    const type = key & 7;
    if (type === 0) {
      [, pos] = readVarint(bytes, pos);
    } else if (type === 1) {
      pos += 8;
    } else if (type === 5) {
      pos += 4;
    } else if (type === 2) {
      let len;
      [len, pos] = readVarint(bytes, pos);
      fn(key >>> 3, pos, pos + len);
      pos += len;
    } else {
      throw new Error(`floor: unexpected wire type ${type}`);
    }
  }
}

/** { secretId, keys } from a SecretGetOrCreateResponse. */
function decodeResponse(bytes, start, end) {
  let secretId = "";
  const keys = [];
  fields(bytes, start, end, (field, s, e) => {
    if (field === 1) secretId = textDecoder.decode(bytes.subarray(s, e));
    else if (field === 2) {
      fields(bytes, s, e, (f, ks, ke) => {
        if (f === 3) keys.push(textDecoder.decode(bytes.subarray(ks, ke)));
      });
    }
  });
  return { secretId, keys };
}

/** A gRPC-web frame around a message. */
function frame(message) {
  const out = new Uint8Array(5 + message.length);
  const len = message.length;
  out[1] = len >>> 24;
  out[2] = (len >>> 16) & 0xff;
  out[3] = (len >>> 8) & 0xff;
  out[4] = len & 0xff;
  out.set(message, 5);
  return out;
}

/** SecretListRequest { pagination: { max_objects: 100, created_before } } (0 = from the newest). */
function listBody(createdBefore) {
  const pagination = [0x08, 100];
  if (createdBefore) {
    pagination.push(0x11, ...new Uint8Array(new Float64Array([createdBefore]).buffer));
  }
  return frame(new Uint8Array([0x12, pagination.length, ...pagination]));
}

/** The items of a SecretListResponse: [{ name, secretId, createdAt, keys }]. */
function decodeList(bytes, start, end) {
  const items = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  fields(bytes, start, end, (field, s, e) => {
    if (field !== 1) return;
    const item = { name: "", secretId: "", createdAt: 0, keys: [] };
    // created_at (field 2) is a fixed64 double, which fields() skips: read it by hand here.
    let pos = s;
    while (pos < e) {
      let key;
      [key, pos] = readVarint(bytes, pos);
      const type = key & 7;
      const f = key >>> 3;
      if (type === 1) {
        if (f === 2) item.createdAt = view.getFloat64(pos, true);
        pos += 8;
      } else if (type === 0) {
        [, pos] = readVarint(bytes, pos);
      } else if (type === 5) {
        pos += 4;
      } else if (type === 2) {
        let len;
        [len, pos] = readVarint(bytes, pos);
        if (f === 1) item.name = textDecoder.decode(bytes.subarray(pos, pos + len));
        else if (f === 5) item.secretId = textDecoder.decode(bytes.subarray(pos, pos + len));
        else if (f === 6) {
          fields(bytes, pos, pos + len, (mf, ks, ke) => {
            if (mf === 3) item.keys.push(textDecoder.decode(bytes.subarray(ks, ke)));
          });
        }
        pos += len;
      } else {
        throw new Error(`floor: unexpected wire type ${type}`);
      }
    }
    items.push(item);
  });
  return items;
}

/**
 * The floor's two calls over `call(method, body)` → [bytes, start, end] of the answer message (one
 * per transport below): lookup(name) → { secretId, keys } (one SecretGetOrCreate, lookup only), and
 * listAll() → every named secret, newest first (SecretList pages of 100, as the package pages).
 */
function floorCalls(call) {
  return {
    lookup: async (name) => decodeResponse(...(await call("SecretGetOrCreate", requestBody(name)))),
    async listAll() {
      const all = [];
      let before = 0;
      for (;;) {
        const page = decodeList(...(await call("SecretList", listBody(before))));
        all.push(...page);
        if (page.length < 100) return all;
        before = page[page.length - 1].createdAt;
      }
    },
  };
}

/**
 * The floor's calls over gRPC-web with `fetchImpl` (default: the global fetch, undici's, HTTP/1.1
 * keep-alive): lookup(name) → { secretId, keys } (one SecretGetOrCreate, lookup only), and
 * listAll() → every named secret, newest first (SecretList pages of 100, as the package pages).
 */
export function makeFloorClient({ serverUrl, tokenId, tokenSecret, fetchImpl = globalThis.fetch }) {
  const base = `${serverUrl.replace(/\/$/, "")}/modal.client.ModalClient/`;
  const host = new URL(serverUrl).host;
  /** The answer message's bytes and where it lies: [bytes, start, end]. */
  async function call(method, body) {
    const res = await fetchImpl(base + method, {
      method: "POST",
      headers: {
        "content-type": "application/grpc-web+proto",
        "x-idempotency-key": crypto.randomUUID(),
        "x-modal-client-type": "8",
        "x-modal-client-version": "1.0.0",
        "x-modal-host": host,
        "x-modal-token-id": tokenId,
        "x-modal-token-secret": tokenSecret,
        "x-retry-attempt": "0",
      },
      body,
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    let status = res.headers.get("grpc-status");
    let answer;
    for (let pos = 0; pos + 5 <= bytes.length; ) {
      const flag = bytes[pos];
      const len = ((bytes[pos + 1] << 24) | (bytes[pos + 2] << 16) | (bytes[pos + 3] << 8) | bytes[pos + 4]) >>> 0;
      const start = pos + 5;
      if (flag & 0x80) {
        const m = /grpc-status:\s*(\d+)/i.exec(textDecoder.decode(bytes.subarray(start, start + len)));
        if (m) status = m[1];
      } else {
        answer = [bytes, start, start + len];
      }
      pos = start + len;
    }
    if (res.status !== 200 || status !== "0" || !answer) {
      throw new Error(`floor: ${method}: HTTP ${res.status}, grpc-status ${status}`);
    }
    return answer;
  }
  return floorCalls(call);
}

/** lookup(name) → { secretId, keys } alone (see makeFloorClient). */
export function makeFloor(options) {
  return makeFloorClient(options).lookup;
}

/**
 * The HTTP/2 floor (issue 15): the same calls as makeFloorClient, as plain gRPC over one bare
 * `node:http2` session (h2c with prior knowledge for http://, TLS with ALPN h2 for https://), the
 * way the package's default transport in Node sends them: the same 5-byte frames, the same
 * x-modal-* headers, `content-type: application/grpc`, `te: trailers`. It reads the body and the
 * trailers (or the headers of a trailers-only answer) for grpc-status. One session, opened at the
 * first call and shared by every call (streams multiplex on it); close() ends it. No retries, no
 * pings, no reconnects, no deadline: the least that does the job.
 */
export async function makeH2FloorClient({ serverUrl, tokenId, tokenSecret }) {
  const { connect } = await import("node:http2");
  const url = new URL(serverUrl);
  const prefix = `${url.pathname.replace(/\/$/, "")}/modal.client.ModalClient/`;
  let session;
  function call(method, body) {
    if (!session || session.closed || session.destroyed) session = connect(url.origin);
    return new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": prefix + method,
        "content-type": "application/grpc",
        te: "trailers",
        "x-modal-token-id": tokenId,
        "x-modal-token-secret": tokenSecret,
        "x-modal-client-type": "8",
        "x-modal-client-version": "1.0.0",
        "x-modal-host": url.host,
        "x-idempotency-key": crypto.randomUUID(),
        "x-retry-attempt": "0",
      });
      let status;
      let grpcStatus;
      const chunks = [];
      stream.on("response", (h) => {
        status = h[":status"];
        grpcStatus = h["grpc-status"];
      });
      stream.on("trailers", (t) => {
        grpcStatus = t["grpc-status"] ?? grpcStatus;
      });
      stream.on("data", (chunk) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("end", () => {
        const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const len = bytes.length >= 5 ? bytes.readUInt32BE(1) : -1;
        if (status !== 200 || grpcStatus !== "0" || len < 0 || bytes.length < 5 + len) {
          reject(new Error(`floor (http2): ${method}: HTTP ${status}, grpc-status ${grpcStatus}`));
        } else resolve([bytes, 5, 5 + len]);
      });
      stream.end(body);
    });
  }
  return {
    ...floorCalls(call),
    close() {
      session?.close();
    },
  };
}
