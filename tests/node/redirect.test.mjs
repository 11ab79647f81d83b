// Issue 14, findings 1 and 8: the token and the values go only to the configured server. A redirect
// (every 3xx) is a typed, non-retryable error naming its status and the target's origin, and nothing
// reaches the target; text a hostile server says back (grpc-message, x-modal-warning, content-type)
// never repeats the token secret or a value sent in that call. The servers here are real sockets on
// 127.0.0.1: the scripted fake of support/grpcweb.mjs (the only mock) and a "trap" that records
// whatever reaches it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startFaultServer, transportOption, raw, status, ok, getOrCreateResponse } from "./support/grpcweb.mjs";
import { startServer, pkg } from "./support/server.mjs";

const server = await startServer();
const token = server.token();
const { Client, Secret, ConnectionError, ModalError } = pkg;

// Whatever reaches the trap is a leak.
const reached = [];
const trap = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    reached.push({ method: req.method, headers: req.headers, body: Buffer.concat(chunks) });
    res.writeHead(200, { "content-type": "text/plain" }).end("trapped");
  });
});
await new Promise((resolve) => trap.listen(0, "127.0.0.1", resolve));
const trapOrigin = `http://localhost:${trap.address().port}`;
after(() => trap.close());

const fake = await startFaultServer();
after(() => fake.close());

const client = () => new Client({ serverUrl: fake.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, ...transportOption() });
const VALUE = "redirect-test-value-7f3a";

for (const code of [301, 302, 303, 307, 308]) {
  for (const [what, call] of [
    ["a lookup", (c) => Secret.fromName("db", { client: c }).hydrate()],
    ["a create with values", (c) => Secret.objects.create("db", { PASSWORD: VALUE }, { client: c })],
  ]) {
    test(`HTTP ${code} on ${what}: a typed error naming the status and origin; nothing reaches the target`, async () => {
      fake.reset();
      reached.length = 0;
      const target = `${trapOrigin}/sign-in?next=%2F&as=${encodeURIComponent(token.tokenSecret)}`;
      fake.fallback = raw(code, { location: target, "content-type": "text/html" }, "<a>moved</a>");
      const error = await call(client()).then(
        () => assert.fail("the call succeeded"),
        (e) => e,
      );
      assert.ok(error instanceof ConnectionError && error instanceof ModalError, `${error?.name}: ${error?.message}`);
      assert.equal(error.name, "ConnectionError");
      assert.equal(error.retryable, false);
      assert.match(error.message, new RegExp(`HTTP ${code}, a redirect to "${trapOrigin}"; redirects are never followed`));
      assert.ok(!error.message.includes("sign-in") && !error.message.includes(token.tokenSecret), error.message);
      // One attempt (not retried), and nothing sent to the target.
      assert.equal(fake.requests.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(reached, []);
    });
  }
}

test("a relative redirect is refused the same way, and says it stays on the same server", async () => {
  fake.reset();
  fake.fallback = raw(307, { location: "/elsewhere" });
  const error = await Secret.fromName("db", { client: client() }).hydrate().catch((e) => e);
  assert.ok(error instanceof ConnectionError);
  assert.match(error.message, /HTTP 307, a redirect to another path of the same server/);
  assert.equal(fake.requests.length, 1);
});

test("the same client works right after a redirect, against the real server", async () => {
  const c = server.client(token);
  await Secret.objects.create("after-redirect", { A: "1" }, { client: c, allowExisting: true });
  const s = await Secret.fromName("after-redirect", { client: c }).hydrate();
  assert.deepEqual(s.keys, ["A"]);
});

test("a server's message, warning and content type never repeat the token secret or a value sent", async () => {
  fake.reset();
  const echo = `token ${token.tokenSecret} and value ${VALUE} and short v=ab`;
  const warnings = [];
  const c = new Client({ serverUrl: fake.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, onWarning: (w) => warnings.push(w) });
  fake.push(status(7, echo, { headers: { "x-modal-warning": encodeURIComponent(`saw ${VALUE}`) } }));
  const error = await Secret.objects.create("db", { PASSWORD: VALUE, SHORT: "ab" }, { client: c }).catch((e) => e);
  assert.equal(error.name, "PermissionDeniedError");
  assert.equal(error.message, "token *** and value *** and short v=***");
  assert.deepEqual(warnings, ["saw ***"]);

  // Updates: the values set are hidden too (the lookup that hydrates first answers normally).
  fake.push(ok(getOrCreateResponse({ name: "db", keys: ["KEY"], createdAt: 1.7e9 })), status(9, `rejected ${VALUE}-2 for KEY`));
  const secret = Secret.fromName("db", { client: c });
  const updateError = await secret.update({ KEY: `${VALUE}-2` }).catch((e) => e);
  assert.equal(updateError.name, "ConflictError");
  assert.equal(updateError.message, "rejected *** for KEY");

  // A content type is the server's text too.
  fake.push(raw(200, { "content-type": `text/${token.tokenSecret}` }));
  const lookupError = await Secret.fromName("db", { client: c }).hydrate().catch((e) => e);
  assert.equal(lookupError.name, "InternalError");
  assert.ok(!lookupError.message.includes(token.tokenSecret), lookupError.message);
  assert.match(lookupError.message, /content-type is "text\/\*\*\*"/);
});
