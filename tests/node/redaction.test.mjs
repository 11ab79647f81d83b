// Issue 4, "done when" 4: no token secret and no secret value in util.inspect (plain and deep),
// JSON.stringify, String() or console output of a client, of secrets from every constructor (before
// and after hydration), or of an error of every class, each provoked for real where the real server
// can (the rest through the scripted fake of support/grpcweb.mjs, the only mock here).
import { test, describe, after, before } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, pkg } from "./support/server.mjs";
import { startFaultServer, transportOption, closedPort, status, after as answerAfter, hang, retryPolicyDetails, raw } from "./support/grpcweb.mjs";

const { Client, Secret } = pkg;

const server = await startServer();
const token = server.token();
const fake = await startFaultServer({ upstream: server.url });
after(() => fake.close());
const scratch = mkdtempSync(join(tmpdir(), "modal-secrets-redaction-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A random value nobody could print by accident. */
const sentinel = (prefix) => `${prefix}${randomBytes(18).toString("base64url")}`;
const V = {
  create: sentinel("vcreate"),
  dict: sentinel("vdict"),
  dotenvText: sentinel("vtext"),
  dotenvFile: sentinel("vfile"),
  environ: sentinel("venv"),
  update: sentinel("vupd"),
  bad: sentinel("vbad"),
  wrongToken: `as-${sentinel("wrong")}`,
};
const SECRETS = [token.tokenSecret, ...Object.values(V)];

/** Throws if `text` holds any secret, or any 10-character piece of one (past a 3-char prefix). */
function assertClean(text, label) {
  assert.equal(typeof text, "string", label);
  for (const [n, secret] of SECRETS.entries()) {
    for (let i = 3; i + 10 <= secret.length; i++) {
      const at = text.indexOf(secret.slice(i, i + 10));
      // The report says where, never what: the text holds a secret.
      if (at >= 0) assert.fail(`${label} leaks a secret (secret #${n}, characters ${i}..${i + 10}, at offset ${at} of ${text.length})`);
    }
  }
}

test("the leak check itself catches a leak, whole or in part", () => {
  assert.throws(() => assertClean(`x ${token.tokenSecret} y`, "control"), /leaks a secret/);
  assert.throws(() => assertClean(`x ${V.dict.slice(4, 20)} y`, "control"), /leaks a secret/);
  assert.throws(() => assertClean(inspect({ nested: { deep: [V.update] } }, { depth: Infinity }), "control"), /leaks/);
  assertClean("nothing here", "control");
});

/** Captures what console[method] writes. */
function captured(method, ...args) {
  const stream = method === "log" || method === "dir" ? process.stdout : process.stderr;
  const original = stream.write;
  let out = "";
  stream.write = (chunk, ...rest) => {
    out += String(chunk);
    const cb = rest.find((r) => typeof r === "function");
    if (cb) cb();
    return true;
  };
  try {
    console[method](...args);
  } finally {
    stream.write = original;
  }
  return out;
}

/** Every rendering of `x`; each must be clean. Returns them for further checks. */
function renderings(x) {
  const r = {
    inspect: inspect(x),
    deep: inspect(x, { showHidden: true, depth: Infinity, getters: true }),
    raw: inspect(x, { customInspect: false, showHidden: true, depth: Infinity, getters: true }),
    json: JSON.stringify(x) ?? "undefined",
    string: String(x),
    template: `${x}`,
    log: captured("log", x),
    logFormat: captured("log", "%o %O %s %j", x, x, x, x),
    error: captured("error", x),
    dir: captured("dir", x, { showHidden: true, depth: null }),
  };
  if (x instanceof Error) {
    r.stack = String(x.stack);
    r.message = x.message;
    r.props = JSON.stringify(Object.fromEntries(Object.getOwnPropertyNames(x).map((k) => [k, String(x[k])])));
  }
  return r;
}

function assertAllClean(x, label) {
  const r = renderings(x);
  for (const [how, text] of Object.entries(r)) assertClean(text, `${label} (${how})`);
  return r;
}

// ---- clients -----------------------------------------------------------------------------------

describe("clients", () => {
  test("new Client with every option", () => {
    const c = server.client(token, { environment: "main", timeoutMs: 1000, maxRetries: 2, maxThrottleWaitMs: 500, fetch: fetch, onWarning: () => {} });
    const r = assertAllClean(c, "client");
    assert.match(r.inspect, new RegExp(token.tokenId), "the inspection shows the token id");
    assert.match(r.json, new RegExp(token.tokenId));
    assert.match(r.string, /^Client\(http:\/\/127\.0\.0\.1:\d+\)$/);
    assert.match(r.log, /Client .*tokenId/s, "console.log was captured");
    assert.match(r.dir, /Client/, "console.dir was captured");
    assertClean(inspect(Object.getOwnPropertyDescriptors(c), { depth: Infinity, showHidden: true }), "descriptors");
    assertClean(Reflect.ownKeys(c).map(String).join(","), "own keys");
  });

  test("Client.fromEnv from variables and from a config file", () => {
    const fromVars = Client.fromEnv({
      env: { MODAL_SERVER_URL: server.url, MODAL_TOKEN_ID: token.tokenId, MODAL_TOKEN_SECRET: token.tokenSecret, MODAL_CONFIG_PATH: join(scratch, "none") },
    });
    assertAllClean(fromVars, "fromEnv (variables)");
    const path = join(scratch, "modal.toml");
    writeFileSync(path, `[p]\ntoken_id = "${token.tokenId}"\ntoken_secret = "${token.tokenSecret}"\nserver_url = "${server.url}"\nactive = true\n`);
    assertAllClean(Client.fromEnv({ env: { MODAL_CONFIG_PATH: path } }), "fromEnv (file)");
  });

  test("the default client (from process.env) once used", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      MODAL_SERVER_URL: server.url,
      MODAL_TOKEN_ID: token.tokenId,
      MODAL_TOKEN_SECRET: token.tokenSecret,
      MODAL_CONFIG_PATH: join(scratch, "none"),
    });
    try {
      const s = await Secret.fromDict({ D: V.dict }).hydrate();
      assertAllClean(s, "secret of the default client");
      assertAllClean(Client.fromEnv(), "Client.fromEnv() on process.env");
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

// ---- secrets -----------------------------------------------------------------------------------

describe("secrets, before and after hydration", () => {
  const client = server.client(token);
  before(async () => {
    await Secret.objects.create("redaction-named", { NAMED: V.create }, { client });
    writeFileSync(join(scratch, ".env.redaction"), `FILE_KEY=${V.dotenvFile}\nOTHER="${V.dotenvFile}"\n`);
  });

  const makers = {
    fromName: () => Secret.fromName("redaction-named", { client }),
    fromDict: () => Secret.fromDict({ DICT: V.dict, DROPPED: null }),
    fromDotenvText: () => Secret.fromDotenvText(`TEXT=${V.dotenvText}\nREF=\${TEXT}`),
    fromDotenv: () => Secret.fromDotenv(scratch, { filename: ".env.redaction" }),
    fromLocalEnviron: () => Secret.fromLocalEnviron(["LOCAL"], { env: { LOCAL: V.environ } }),
  };

  for (const [how, make] of Object.entries(makers)) {
    test(how, async () => {
      const s = make();
      const before = assertAllClean(s, `${how} (unhydrated)`);
      await s.hydrate({ client });
      const after = assertAllClean(s, `${how} (hydrated)`);
      assert.match(after.inspect, /st-/, "the hydrated inspection shows the id");
      assert.notEqual(before.inspect, after.inspect);
      await s.update({ ADDED: V.update });
      assertAllClean(s, `${how} (updated)`);
      assertAllClean(await s.info(), `${how} info()`);
      assertAllClean(await s.info({ refresh: true }), `${how} info({ refresh })`);
    });
  }

  test("listed secrets and a listing iterator", async () => {
    const listed = await Secret.objects.list({ client });
    assert.ok(listed.length >= 1);
    assertAllClean(listed, "list()");
    const it = Secret.objects.iterate({ client });
    assertAllClean(it, "iterate()");
    assertAllClean((await it.next()).value, "iterated secret");
  });
});

// ---- errors ------------------------------------------------------------------------------------

describe("an error of every class", () => {
  const client = server.client(token);
  const viaFake = (options = {}) =>
    new Client({ serverUrl: fake.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret, maxRetries: 0, ...transportOption(options), ...options });
  const reject = (promise) =>
    promise.then(
      () => assert.fail("expected a rejection"),
      (e) => e,
    );
  const throwing = (fn) => {
    try {
      fn();
    } catch (e) {
      return e;
    }
    assert.fail("expected a throw");
  };
  /** Fake answers for the classes the real server never produces. */
  const fromFake = (responder, options) => async () => {
    fake.reset();
    fake.fallback = responder;
    return reject(Secret.objects.create("redaction-fake", { K: V.create }, { client: viaFake(options) }));
  };

  const provoke = {
    AuthError: () => reject(Secret.objects.create("r-auth", { K: V.create }, { client: server.client({ tokenId: token.tokenId, tokenSecret: V.wrongToken }) })),
    "AuthError (no token)": async () => throwing(() => new Client({ serverUrl: server.url, tokenId: token.tokenId })),
    NotFoundError: () => reject(Secret.fromName("redaction-missing", { client }).hydrate()),
    AlreadyExistsError: async () => {
      await Secret.objects.create("redaction-dup", { K: V.create }, { client, allowExisting: true });
      return reject(Secret.objects.create("redaction-dup", { K: V.create }, { client }));
    },
    ConflictError: () => reject(Secret.fromName("redaction-named", { client, requiredKeys: ["NOPE"] }).hydrate()),
    "InvalidError (bad key beside a value)": async () => throwing(() => Secret.fromDict({ "bad key": V.bad })),
    "InvalidError (non-string value)": async () => throwing(() => Secret.fromDict({ GOOD: V.bad, BAD: 5 })),
    "InvalidError (huge value)": () => reject(Secret.objects.create("r-huge", { K: V.bad.repeat(300_000) }, { client })),
    "InvalidError (bad token secret)": async () => throwing(() => new Client({ tokenId: token.tokenId, tokenSecret: `${V.wrongToken} \n` })),
    "InvalidError (broken config file)": async () => {
      const path = join(scratch, "broken.toml");
      writeFileSync(path, `[x]\ntoken_secret = "${V.wrongToken}\nactive = true\n`);
      return throwing(() => Client.fromEnv({ env: { MODAL_CONFIG_PATH: path } }));
    },
    "InvalidError (dotenv text with a bad key)": async () => throwing(() => Secret.fromDotenvText(`OK=${V.bad}\nBAD-KEY=${V.bad}`)),
    "InvalidError (missing local variable)": async () => throwing(() => Secret.fromLocalEnviron(["A", "NOPE"], { env: { A: V.environ } })),
    "InvalidError (from the server, INVALID_ARGUMENT)": fromFake(status(3, "bad request")),
    "TimeoutError (timeoutMs)": fromFake(answerAfter(2000, status(0)), { timeoutMs: 50 }),
    "TimeoutError (aborted)": async () => {
      fake.reset();
      fake.fallback = hang();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 30);
      return reject(Secret.objects.create("r-abort", { K: V.create }, { client: viaFake(), signal: controller.signal }));
    },
    ConnectionError: async () => {
      const port = await closedPort();
      const c = new Client({ serverUrl: `http://127.0.0.1:${port}`, tokenId: token.tokenId, tokenSecret: token.tokenSecret, maxRetries: 0, ...transportOption() });
      return reject(Secret.objects.create("r-conn", { K: V.create }, { client: c }));
    },
    ServiceError: fromFake(status(14, "unavailable")),
    InternalError: fromFake(status(13, "internal")),
    "InternalError (malformed answer)": fromFake(raw(200, { "content-type": "text/html" }, "<h1>oops</h1>")),
    UnimplementedError: fromFake(status(12, "unimplemented")),
    DataLossError: fromFake(status(15, "data loss")),
    PermissionDeniedError: fromFake(status(7, "denied")),
    ResourceExhaustedError: fromFake(status(8, "quota", { details: retryPolicyDetails(30) }), { maxThrottleWaitMs: 1000 }),
  };

  const seen = new Set();
  for (const [label, make] of Object.entries(provoke)) {
    test(label, async () => {
      const error = await make();
      const cls = label.split(" ")[0];
      assert.ok(error instanceof pkg[cls], `expected ${cls}, got ${error?.name}: ${error?.message}`);
      assert.equal(error.name, cls);
      assert.ok(error instanceof pkg.ModalError);
      seen.add(cls);
      const r = assertAllClean(error, label);
      assert.match(r.inspect, new RegExp(cls), "the inspection names the class");
      assert.match(r.error, new RegExp(cls), "console.error was captured");
      assert.ok(r.message.length > 0);
      assertClean(inspect({ wrapped: error, cause: new Error("outer", { cause: error }) }, { depth: Infinity, showHidden: true }), `${label} (nested)`);
    });
  }

  test("every exported error class was covered (ModalError is only ever a base class)", () => {
    const classes = Object.keys(pkg).filter((k) => k.endsWith("Error") && k !== "ModalError");
    assert.deepEqual([...seen].sort(), classes.sort());
    assertAllClean(new pkg.ModalError("base", { code: "UNKNOWN" }), "ModalError");
  });
});
