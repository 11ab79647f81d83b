// A stand-in for Modal's public endpoint in front of a modal-secrets-server: TLS with a certificate
// made here (its own CA), ALPN `h2` only (HTTP/1.1 clients fail the handshake), plain gRPC only
// (gRPC-web and anything else: 415), no CORS. Plain gRPC is forwarded to the server over h2c,
// trailers and all.
//
// As a module: `makeCertificates(dir)` and `startTlsFront({ upstream, dir })`. As a script (for
// tests/official/run.sh): `node tests/support/tls-front.mjs UPSTREAM DIR` writes DIR/ca.pem and
// prints `listening on https://127.0.0.1:PORT`, then serves until killed.
import http2 from "node:http2";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** A CA and a certificate for localhost / 127.0.0.1 signed by it, in `dir`: { ca, key, cert } paths. */
export function makeCertificates(dir) {
  const p = (name) => join(dir, name);
  const openssl = (...args) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
    "-subj", "/CN=modal-secrets test CA", "-keyout", p("ca-key.pem"), "-out", p("ca.pem"));
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-subj", "/CN=localhost", "-keyout", p("key.pem"), "-out", p("csr.pem"));
  writeFileSync(p("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", p("csr.pem"), "-CA", p("ca.pem"), "-CAkey", p("ca-key.pem"), "-CAcreateserial",
    "-days", "2", "-extfile", p("ext.cnf"), "-out", p("cert.pem"));
  return { ca: p("ca.pem"), key: p("key.pem"), cert: p("cert.pem") };
}

const GRPC = /^application\/grpc(\+proto)?$/;

/**
 * Starts the front on 127.0.0.1:0 with certificates made in `dir`. Resolves to
 * { url (https://127.0.0.1:PORT), ca (path), requests (count of forwarded calls), refused, close() }.
 */
export async function startTlsFront({ upstream, dir }) {
  const certs = makeCertificates(dir);
  let session;
  const upstreamSession = () => {
    if (!session || session.closed || session.destroyed) {
      session = http2.connect(upstream);
      session.on("error", () => {});
    }
    return session;
  };
  const front = {
    url: "",
    ca: certs.ca,
    requests: 0,
    refused: 0,
    close: () =>
      new Promise((resolve) => {
        session?.destroy();
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
  const sessions = new Set();
  const server = http2.createSecureServer({
    key: readFileSync(certs.key),
    cert: readFileSync(certs.cert),
    ALPNProtocols: ["h2"],
    allowHTTP1: false,
  });
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("sessionError", () => {});
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    if (headers[":method"] !== "POST" || !GRPC.test(headers["content-type"] ?? "")) {
      front.refused++;
      stream.respond({ ":status": 415, "content-type": "text/plain" });
      stream.end("plain gRPC only\n");
      return;
    }
    front.requests++;
    const out = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(":")) out[k] = v;
    const up = upstreamSession().request({ ":method": "POST", ":path": headers[":path"], ...out });
    up.on("error", () => {});
    stream.pipe(up);
    let trailers;
    up.on("response", (h, flags) => {
      const answer = {};
      for (const [k, v] of Object.entries(h)) if (k === ":status" || !k.startsWith(":")) answer[k] = v;
      if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) return stream.respond(answer, { endStream: true });
      stream.respond(answer, { waitForTrailers: true });
      up.pipe(stream);
    });
    up.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("wantTrailers", () => stream.sendTrailers(trailers ?? { "grpc-status": "14", "grpc-message": "no trailers upstream" }));
    up.on("close", () => {
      if (!stream.headersSent && !stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    stream.on("close", () => {
      if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  front.url = `https://127.0.0.1:${server.address().port}`;
  return front;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [upstream, dir] = process.argv.slice(2);
  const front = await startTlsFront({ upstream, dir });
  console.log(`listening on ${front.url}`);
}
