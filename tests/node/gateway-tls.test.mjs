// Issue 15: the gateway in front of an endpoint shaped like Modal's public API. fetch (gRPC-web) →
// our gateway (`serve --upstream https://… --upstream-ca ca.pem`, on loopback) → the TLS stand-in
// (tests/support/tls-front.mjs: a certificate made here, ALPN h2 only, plain gRPC only, no CORS) →
// the real local server. With the stand-in's CA given, every operation works; without it, the
// gateway answers UNAVAILABLE saying the upstream's certificate is not trusted, and the client gets
// a typed error naming it. A bad --upstream-ca is a startup error naming the flag and the path.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, pkg, SERVER_BIN } from "./support/server.mjs";
import { startTlsFront } from "../support/tls-front.mjs";
import { spawnServer } from "../support/server.mjs";

const { Client, Secret, ModalError } = pkg;

const server = await startServer();
const token = server.token();
const dir = mkdtempSync(join(tmpdir(), "modal-secrets-gateway-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const front = await startTlsFront({ upstream: server.url, dir });
after(() => front.close());

/** Starts `serve --upstream <front> ...extra` on a free loopback port: { url, log(), stop() }. */
async function startGateway(extra = [], env = {}) {
  const childEnv = { ...process.env, ...env };
  if (!("SSL_CERT_FILE" in env)) delete childEnv.SSL_CERT_FILE;
  const gateway = await spawnServer(
    ["serve", "--upstream", front.url, "--listen", "127.0.0.1:0", "--www", join(dir, "no-www"), "--pkg", join(dir, "no-pkg"), ...extra],
    { env: childEnv, auditKind: "gateway", label: "node", what: "the gateway" },
  );
  after(() => gateway.stop());
  return gateway;
}

const clientOf = (gateway, options = {}) =>
  new Client({ serverUrl: gateway.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, transport: "fetch", ...options });

test("fetch → gateway --upstream-ca → TLS h2-only gRPC-only front: create, lookup, list, update, info, delete", async () => {
  const gateway = await startGateway(["--upstream-ca", front.ca]);
  assert.match(gateway.log(), new RegExp(`also trusting the CAs in ${front.ca.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(--upstream-ca\\)`));
  const client = clientOf(gateway);
  assert.equal(client.transport, "fetch");
  const name = `gw-tls-${process.pid}`;
  const value = `v-${process.pid}-not-in-any-log`;
  const before = front.requests;

  await Secret.objects.create(name, { A: value, B: "2" }, { client });
  const found = await Secret.fromName(name, { requiredKeys: ["A"] }).hydrate({ client });
  assert.match(found.objectId, /^st-/);
  assert.deepEqual([...found.keys].sort(), ["A", "B"]);
  const listed = await Secret.objects.list({ client });
  assert.ok(listed.some((s) => s.name === name && s.objectId === found.objectId));
  await found.update({ B: null, C: "3" });
  const again = await Secret.fromName(name).hydrate({ client });
  assert.deepEqual([...again.keys].sort(), ["A", "C"]);
  const info = await again.info();
  assert.equal(info.name, name);
  await Secret.objects.delete(name, { client });
  const gone = await Secret.fromName(name).hydrate({ client }).catch((e) => e);
  assert.equal(gone.code, "NOT_FOUND", String(gone));

  assert.ok(front.requests - before >= 8, "every call went through the TLS front");
  assert.doesNotMatch(gateway.log(), new RegExp(value));
  assert.doesNotMatch(gateway.log(), new RegExp(token.tokenSecret));
  assert.match(gateway.log(), /CALL SecretGetOrCreate OK .* upstream/);
});

test("without --upstream-ca: UNAVAILABLE from the gateway, saying the upstream's certificate is not trusted", async () => {
  const gateway = await startGateway();
  const client = clientOf(gateway, { maxRetries: 0 });
  const before = front.requests;
  const error = await Secret.objects.list({ client }).catch((e) => e);
  assert.ok(error instanceof ModalError, String(error));
  assert.equal(error.code, "UNAVAILABLE", String(error));
  assert.ok(error instanceof pkg.ServiceError, String(error));
  assert.match(error.message, new RegExp(`the gateway got no answer from its upstream ${front.url}`));
  assert.match(error.message, /certificate is not signed by a CA this gateway trusts/);
  assert.match(error.message, /--upstream-ca/);
  assert.equal(front.requests, before, "no call got through the front");
});

test("SSL_CERT_FILE is honoured as one more CA file", async () => {
  const gateway = await startGateway([], { SSL_CERT_FILE: front.ca });
  assert.match(gateway.log(), /\(SSL_CERT_FILE\)/);
  const listed = await Secret.objects.list({ client: clientOf(gateway) });
  assert.ok(Array.isArray(listed));
});

test("a bad --upstream-ca is a startup error naming the flag and the path", () => {
  const run = (...extra) =>
    spawnSync(SERVER_BIN, ["serve", "--upstream", front.url, "--listen", "127.0.0.1:0", ...extra], {
      encoding: "utf8",
      timeout: 10_000,
      env: { PATH: process.env.PATH },
    });
  const missing = join(dir, "missing.pem");
  const empty = join(dir, "empty.pem");
  writeFileSync(empty, "no certificate here\n");
  const keyOnly = join(dir, "key.pem"); // the front's private key: no certificate, and never quoted
  const broken = join(dir, "broken.pem");
  writeFileSync(broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  for (const [path, why] of [
    [missing, /cannot read it/],
    [empty, /holds no PEM certificate/],
    [keyOnly, /holds no PEM certificate/],
    [broken, /not a usable CA certificate/],
    [dir, /cannot read it/],
  ]) {
    const r = run("--upstream-ca", front.ca, "--upstream-ca", path);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.signal, null);
    assert.match(r.stderr, new RegExp(`^modal-secrets-server: --upstream-ca ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stderr, /panick|PRIVATE|AAAA/);
  }
  const r = spawnSync(SERVER_BIN, ["serve", "--upstream", front.url, "--listen", "127.0.0.1:0"], {
    encoding: "utf8",
    timeout: 10_000,
    env: { PATH: process.env.PATH, SSL_CERT_FILE: missing },
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /SSL_CERT_FILE .*missing\.pem: cannot read it/);
});
