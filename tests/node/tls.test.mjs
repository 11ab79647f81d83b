// Issue 15, "done when" 1: an endpoint shaped like Modal's public API (tests/support/tls-front.mjs:
// TLS with a certificate made here, ALPN h2 only, plain gRPC only, no CORS) in front of the real
// server. With only MODAL_SERVER_URL, MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (and NODE_EXTRA_CA_CERTS
// for the test CA), the package's defaults and `npx modal-secrets` create, look up (200 at once),
// update, info, list and delete, and the process exits by itself. fetch cannot get through (why the
// HTTP/2 transport exists). Modal's JS SDK through the same front: tests/official/run.sh.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, pkg, PKG_ENTRY, ROOT } from "./support/server.mjs";
import { startTlsFront } from "../support/tls-front.mjs";

const { Client, Secret, ConnectionError } = pkg;

const server = await startServer();
const token = server.token();
const dir = mkdtempSync(join(tmpdir(), "modal-secrets-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const front = await startTlsFront({ upstream: server.url, dir });
after(() => front.close());

const ENV = {
  PATH: process.env.PATH,
  HOME: dir, // no ~/.modal.toml
  MODAL_SERVER_URL: front.url,
  MODAL_TOKEN_ID: token.tokenId,
  MODAL_TOKEN_SECRET: token.tokenSecret,
  NODE_EXTRA_CA_CERTS: front.ca,
  // The secrets audit of npm test (tests/audit/): the child records and tees too.
  MODAL_SECRETS_AUDIT_DIR: process.env.MODAL_SECRETS_AUDIT_DIR,
  NODE_OPTIONS: process.env.MODAL_SECRETS_AUDIT_DIR ? process.env.NODE_OPTIONS : undefined,
};
for (const [k, v] of Object.entries(ENV)) if (v === undefined) delete ENV[k];

/** Runs node with `args`, killed after 20 s: { code, out, ms }. */
function node(args, env = ENV) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, out, ms: performance.now() - t0 });
    });
  });
}

test("the package with its defaults: every operation, 200 lookups at once, and the process exits by itself", async () => {
  const script = `
    import { Secret, Client } from ${JSON.stringify(PKG_ENTRY)};
    const name = "tls-" + process.pid;
    await Secret.objects.create(name, { A: "1", B: "2" });
    const found = await Promise.all(Array.from({ length: 200 }, () => Secret.fromName(name).hydrate()));
    const s = found[0];
    await s.update({ B: null, C: "3" });
    const info = await s.info();
    const listed = (await Secret.objects.list()).map((x) => x.name);
    await Secret.objects.delete(name);
    console.log(JSON.stringify({ transport: Client.fromEnv().transport, n: found.length, keys: s.keys, info: info.name === name, listed: listed.includes(name) }));
    globalThis.doneAt = performance.now();
    process.on("exit", () => console.log("lingered", Math.round(performance.now() - globalThis.doneAt)));
  `;
  const before = front.requests;
  const { code, out } = await node(["--input-type=module", "-e", script]);
  assert.equal(code, 0, out);
  const [json, lingered] = out.trim().split("\n");
  assert.deepEqual(JSON.parse(json), { transport: "http2", n: 200, keys: ["A", "C"], info: true, listed: true });
  assert.ok(Number(lingered.split(" ")[1]) < 200, out);
  assert.ok(front.requests - before >= 205, "every call went through the TLS front");
});

test("npx modal-secrets: create, list, info, update, delete through the front", async () => {
  const cli = (...args) => node([join(ROOT, "pkg/cli.cjs"), ...args]);
  const name = `tls-cli-${process.pid}`;
  let r = await cli("create", name, "A=1", "B=2");
  assert.equal(r.code, 0, r.out);
  r = await cli("list", "--json");
  assert.equal(r.code, 0, r.out);
  assert.ok(JSON.parse(r.out).some((s) => s.Name === name || s.name === name), r.out);
  r = await cli("info", name);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /A/);
  r = await cli("update", name, "C=3", "--unset", "A");
  assert.equal(r.code, 0, r.out);
  r = await cli("delete", name, "--yes");
  assert.equal(r.code, 0, r.out);
  assert.ok(r.ms < 10_000);
});

test("fetch cannot reach it (HTTP/1.1 only: no application protocol), nor gRPC-web over HTTP/2", async () => {
  const script = `
    import { Client, Secret } from ${JSON.stringify(PKG_ENTRY)};
    const client = Client.fromEnv({ transport: "fetch", maxRetries: 0 });
    await Secret.objects.list({ client }).catch((e) => console.log(e.name, e.message));
  `;
  const { code, out } = await node(["--input-type=module", "-e", script]);
  assert.equal(code, 0, out);
  assert.match(out, /ConnectionError .*no application protocol/);
  // gRPC-web, even over HTTP/2: refused by the front (415), as Modal's API refuses it.
  const { connect } = await import("node:http2");
  const session = connect(front.url, { ca: (await import("node:fs")).readFileSync(front.ca) });
  const status = await new Promise((resolve) => {
    const s = session.request({ ":method": "POST", ":path": "/modal.client.ModalClient/SecretList", "content-type": "application/grpc-web+proto" });
    s.on("response", (h) => resolve(h[":status"]));
    s.end();
  });
  // destroy, not close: close waits for the stream, whose body nobody reads (it kept the process
  // alive after the tests).
  session.destroy();
  assert.equal(status, 415);
});

test("an untrusted certificate: a ConnectionError naming it, no hang", async () => {
  const c = new Client({ serverUrl: front.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, maxRetries: 0 });
  const error = await Secret.objects.list({ client: c }).catch((e) => e);
  assert.ok(error instanceof ConnectionError, String(error));
  assert.match(error.message, /certificate/);
});
