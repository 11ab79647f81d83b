// Issue 4, "done when" 1: every function and option of the package against the real server, and every
// argument's bad inputs, each a typed error raised before any request is sent (a counting `fetch`
// proves nothing left).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startServer, countingFetch, pkg } from "./support/server.mjs";
import { decodeGetOrCreate, decodeList, decodeUpdate } from "./support/grpcweb.mjs";

const {
  Client,
  Secret,
  ModalError,
  InvalidError,
  ConflictError,
  NotFoundError,
  AlreadyExistsError,
  AuthError,
} = pkg;

const server = await startServer();
const token = server.token(); // workspace "local"
const otherToken = server.token("other");
server.env("dev");
server.env("bulk");

const spy = countingFetch();
const client = server.client(token, { fetch: spy });
const other = server.client(otherToken);

let counter = 0;
const uniq = (prefix) => `${prefix}-${process.pid}-${++counter}`;

const scratch = mkdtempSync(join(tmpdir(), "modal-secrets-client-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Rejects (or throws) with exactly `cls`, `code`, and a message matching `re`. */
function isError(error, cls, code, re) {
  assert.ok(error instanceof cls, `expected ${cls.name}, got ${error?.name}: ${error?.message}`);
  assert.ok(error instanceof ModalError && error instanceof Error);
  assert.equal(error.name, cls.name);
  assert.equal(error.code, code);
  if (re) assert.match(error.message, re);
  return true;
}

/** The env dict sent by the n-th recorded call (a SecretGetOrCreate). */
const sentDict = (call) => decodeGetOrCreate(call.body).envDict;

// ---- Client ---------------------------------------------------------------------------------------

describe("Client", () => {
  test("new Client: getters reflect the options; defaults are no timeout and 3 retries", () => {
    const c = new Client({
      serverUrl: server.url + "/",
      tokenId: token.tokenId,
      tokenSecret: token.tokenSecret,
      environment: "dev",
      timeoutMs: 2500,
      maxRetries: 5,
      maxThrottleWaitMs: 1000,
      onWarning: () => {},
      fetch: spy,
    });
    assert.equal(c.serverUrl, server.url, "trailing slash removed");
    assert.equal(c.tokenId, token.tokenId);
    assert.equal(c.environment, "dev");
    assert.equal(c.timeoutMs, 2500);
    assert.equal(c.maxRetries, 5);
    const d = server.client(token);
    assert.equal(d.timeoutMs, undefined);
    assert.equal(d.maxRetries, 3);
    assert.equal(d.environment, "");
    assert.ok(!("tokenSecret" in d), "no tokenSecret property");
  });

  test("the fetch option carries every request, with the client headers of WIRE.md", async () => {
    spy.reset();
    await Secret.objects.list({ client, maxObjects: 1 });
    assert.equal(spy.calls.length, 1);
    const [call] = spy.calls;
    assert.equal(call.url, `${server.url}/modal.client.ModalClient/SecretList`);
    assert.equal(call.method, "POST");
    assert.equal(call.headers["content-type"], "application/grpc-web+proto");
    assert.equal(call.headers["x-modal-client-type"], "8");
    assert.equal(call.headers["x-modal-client-version"], "1.0.0");
    assert.equal(call.headers["x-modal-host"], new URL(server.url).host);
    assert.equal(call.headers["x-modal-token-id"], token.tokenId);
    assert.equal(call.headers["x-modal-token-secret"], token.tokenSecret);
    assert.equal(call.headers["x-retry-attempt"], "0");
    assert.equal(call.headers["x-retry-delay"], undefined);
    assert.match(call.headers["x-idempotency-key"], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await Secret.objects.list({ client, maxObjects: 1 });
    assert.notEqual(spy.calls[1].headers["x-idempotency-key"], call.headers["x-idempotency-key"], "one key per call");
  });

  test("a client whose serverUrl has a trailing slash still reaches the methods", async () => {
    const c = new Client({ serverUrl: server.url + "/", tokenId: token.tokenId, tokenSecret: token.tokenSecret });
    assert.ok(Array.isArray(await Secret.objects.list({ client: c, maxObjects: 1 })));
  });

  test("a wrong token secret or an unknown token id: AuthError, not retried", async () => {
    for (const bad of [
      { tokenId: token.tokenId, tokenSecret: "as-wrongwrongwrongwrong" },
      { tokenId: "ak-nosuchtokennosuchtoke", tokenSecret: token.tokenSecret },
    ]) {
      const f = countingFetch();
      const c = server.client(bad, { fetch: f });
      const err = await Secret.objects.list({ client: c }).catch((e) => e);
      isError(err, AuthError, "UNAUTHENTICATED");
      assert.equal(err.retryable, false);
      assert.equal(f.calls.length, 1, "UNAUTHENTICATED is not retried");
    }
  });

  test("no token anywhere: AuthError when the client is made", () => {
    assert.throws(
      () => new Client({ serverUrl: server.url }),
      (e) => isError(e, AuthError, "UNAUTHENTICATED", /token missing/),
    );
    assert.throws(
      () => Client.fromEnv({ env: { MODAL_CONFIG_PATH: join(scratch, "none.toml") } }),
      (e) => isError(e, AuthError, "UNAUTHENTICATED", /MODAL_TOKEN_ID/),
    );
  });

  test("Client.fromEnv({ env }): MODAL_* variables, MODAL_ENVIRONMENT included", async () => {
    const c = Client.fromEnv({
      env: {
        MODAL_SERVER_URL: server.url,
        MODAL_TOKEN_ID: token.tokenId,
        MODAL_TOKEN_SECRET: token.tokenSecret,
        MODAL_ENVIRONMENT: "dev",
        MODAL_CONFIG_PATH: join(scratch, "none.toml"),
      },
    });
    assert.equal(c.serverUrl, server.url);
    assert.equal(c.tokenId, token.tokenId);
    assert.equal(c.environment, "dev");
    const name = uniq("fromenv");
    await Secret.objects.create(name, { A: "1" }, { client: c });
    const found = await Secret.fromName(name, { environmentName: "dev", client }).info();
    assert.equal(found.environmentName, "dev");
    await assert.rejects(Secret.fromName(name, { client }).hydrate(), NotFoundError);
  });

  test("Client.fromEnv: explicit options win over MODAL_* variables", async () => {
    const c = Client.fromEnv({
      tokenSecret: token.tokenSecret,
      env: {
        MODAL_SERVER_URL: server.url,
        MODAL_TOKEN_ID: token.tokenId,
        MODAL_TOKEN_SECRET: "as-wrongwrongwrongwrong",
        MODAL_CONFIG_PATH: join(scratch, "none.toml"),
      },
    });
    assert.ok(Array.isArray(await Secret.objects.list({ client: c, maxObjects: 1 })));
  });

  describe("Client.fromEnv with a config file (MODAL_CONFIG_PATH)", () => {
    let path;
    before(() => {
      path = join(scratch, "modal.toml");
      writeFileSync(
        path,
        [
          "[wrong]",
          `token_id = "${token.tokenId}"`,
          'token_secret = "as-wrongwrongwrongwrong"',
          `server_url = "${server.url}"`,
          "active = true",
          "",
          "[good]",
          `token_id = "${token.tokenId}"`,
          `token_secret = "${token.tokenSecret}"`,
          `server_url = "${server.url}"`,
          'environment = "dev"',
          "",
          "[other]",
          `token_id = "${otherToken.tokenId}"`,
          `token_secret = "${otherToken.tokenSecret}"`,
          `server_url = "${server.url}"`,
          "",
        ].join("\n"),
      );
    });

    test("MODAL_PROFILE picks the profile: its token, server_url and environment are used", async () => {
      const c = Client.fromEnv({ env: { MODAL_CONFIG_PATH: path, MODAL_PROFILE: "good" } });
      assert.equal(c.serverUrl, server.url);
      assert.equal(c.environment, "dev");
      const name = uniq("toml");
      await Secret.objects.create(name, { T: "1" }, { client: c });
      assert.equal((await Secret.fromName(name, { environmentName: "dev", client }).info()).environmentName, "dev");
    });

    test("the profile option picks it too, and beats MODAL_PROFILE", async () => {
      const c = Client.fromEnv({ profile: "other", env: { MODAL_CONFIG_PATH: path, MODAL_PROFILE: "good" } });
      assert.equal(c.tokenId, otherToken.tokenId);
      assert.equal(c.environment, "");
      const name = uniq("profile-opt");
      await Secret.objects.create(name, { P: "1" }, { client: c });
      await Secret.fromName(name, { client: other }).hydrate();
      await assert.rejects(Secret.fromName(name, { client }).hydrate(), NotFoundError);
    });

    test("without MODAL_PROFILE the active profile is read (its wrong secret: AuthError)", async () => {
      const c = Client.fromEnv({ env: { MODAL_CONFIG_PATH: path } });
      assert.equal(c.tokenId, token.tokenId);
      await assert.rejects(Secret.objects.list({ client: c }), (e) => isError(e, AuthError, "UNAUTHENTICATED"));
    });

    test("a MODAL_* variable beats the profile", async () => {
      const c = Client.fromEnv({ env: { MODAL_CONFIG_PATH: path, MODAL_TOKEN_SECRET: token.tokenSecret } });
      assert.ok(Array.isArray(await Secret.objects.list({ client: c, maxObjects: 1 })));
    });

    test("Client.fromEnv() reads process.env: MODAL_CONFIG_PATH and MODAL_PROFILE, else ~/.modal.toml", async () => {
      const saved = { ...process.env };
      try {
        for (const k of Object.keys(process.env)) if (k.startsWith("MODAL_")) delete process.env[k];
        process.env.MODAL_CONFIG_PATH = path;
        process.env.MODAL_PROFILE = "good";
        const c = Client.fromEnv();
        assert.equal(c.environment, "dev");
        assert.ok(Array.isArray(await Secret.objects.list({ client: c, maxObjects: 1 })));

        // No MODAL_CONFIG_PATH: the file in the home directory, its active profile.
        delete process.env.MODAL_CONFIG_PATH;
        delete process.env.MODAL_PROFILE;
        const home = join(scratch, "home");
        mkdirSync(home, { recursive: true });
        writeFileSync(
          join(home, ".modal.toml"),
          `[mine]\ntoken_id = "${otherToken.tokenId}"\ntoken_secret = "${otherToken.tokenSecret}"\nserver_url = "${server.url}"\nactive = true\n`,
        );
        process.env.HOME = home;
        const h = Client.fromEnv();
        assert.equal(h.tokenId, otherToken.tokenId);
        assert.ok(Array.isArray(await Secret.objects.list({ client: h, maxObjects: 1 })));
      } finally {
        for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
        Object.assign(process.env, saved);
      }
    });

    test("a broken config file: InvalidError naming the position, never the line", () => {
      const broken = join(scratch, "broken.toml");
      writeFileSync(broken, `[default]\ntoken_secret = "as-brokenbrokenbroken\n`);
      assert.throws(
        () => Client.fromEnv({ env: { MODAL_CONFIG_PATH: broken } }),
        (e) => isError(e, InvalidError, "INVALID_ARGUMENT", /line 2/) && !e.message.includes("as-broken"),
      );
    });
  });

  test("default client: operations without `client` use Client.fromEnv() on process.env, made once", async () => {
    const saved = { ...process.env };
    try {
      for (const k of Object.keys(process.env)) if (k.startsWith("MODAL_")) delete process.env[k];
      process.env.MODAL_SERVER_URL = server.url;
      process.env.MODAL_TOKEN_ID = token.tokenId;
      process.env.MODAL_TOKEN_SECRET = token.tokenSecret;
      process.env.MODAL_CONFIG_PATH = join(scratch, "none.toml");

      const c = Client.fromEnv();
      assert.equal(c.tokenId, token.tokenId);
      assert.equal(c.serverUrl, server.url);

      const name = uniq("default");
      await Secret.objects.create(name, { D: "1" });
      const s = await Secret.fromName(name).hydrate();
      assert.deepEqual(s.keys, ["D"]);
      assert.ok((await Secret.objects.list()).some((x) => x.name === name));
      // The default client is cached: changing the variables now does not change it.
      process.env.MODAL_TOKEN_SECRET = "as-wrongwrongwrongwrong";
      await Secret.fromDict({ E: "1" }).hydrate();
      await Secret.objects.delete(name);
      await assert.rejects(Secret.fromName(name, { client }).hydrate(), NotFoundError);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  test("workspaces are isolated", async () => {
    const name = uniq("iso");
    await Secret.objects.create(name, { MINE: "1" }, { client });
    await assert.rejects(Secret.fromName(name, { client: other }).hydrate(), NotFoundError);
    assert.ok(!(await Secret.objects.list({ client: other })).some((s) => s.name === name));
    await assert.rejects(Secret.objects.delete(name, { client: other }), NotFoundError);
    // The same name is free in the other workspace, with its own contents.
    await Secret.objects.create(name, { THEIRS: "1" }, { client: other });
    assert.deepEqual((await Secret.fromName(name, { client: other }).hydrate()).keys, ["THEIRS"]);
    await Secret.objects.delete(name, { client: other });
    assert.deepEqual((await Secret.fromName(name, { client }).hydrate()).keys, ["MINE"]);
  });
});

// ---- create, fromName, hydrate ----------------------------------------------------------------------

describe("Secret.objects.create and Secret.fromName", () => {
  test("create: resolves to undefined; the secret is found with its keys (sorted)", async () => {
    const name = uniq("plain");
    spy.reset();
    assert.equal(await Secret.objects.create(name, { ZED: "z", ALPHA: "a", _u: "" }, { client }), undefined);
    assert.equal(spy.calls.length, 1);
    const sent = decodeGetOrCreate(spy.calls[0].body);
    assert.deepEqual(sent, {
      name,
      environment: "",
      type: 2, // CREATE_FAIL_IF_EXISTS
      envDict: { ZED: "z", ALPHA: "a", _u: "" },
      requiredKeys: [],
    });
    const s = await Secret.fromName(name, { client }).hydrate();
    assert.match(s.objectId, /^st-/);
    assert.equal(s.name, name);
    assert.deepEqual(s.keys, ["ALPHA", "ZED", "_u"]);
  });

  test("create of an existing name: AlreadyExistsError; allowExisting leaves it untouched", async () => {
    const name = uniq("dup");
    await Secret.objects.create(name, { A: "1" }, { client });
    await assert.rejects(Secret.objects.create(name, { B: "2" }, { client }), (e) =>
      isError(e, AlreadyExistsError, "ALREADY_EXISTS", new RegExp(name)),
    );
    spy.reset();
    await Secret.objects.create(name, { B: "2" }, { client, allowExisting: true });
    assert.equal(decodeGetOrCreate(spy.calls[0].body).type, 1, "CREATE_IF_MISSING");
    assert.deepEqual((await Secret.fromName(name, { client }).hydrate()).keys, ["A"]);
    // allowExisting on a new name creates it.
    const fresh = uniq("dup-new");
    await Secret.objects.create(fresh, { N: "1" }, { client, allowExisting: true });
    assert.deepEqual((await Secret.fromName(fresh, { client }).hydrate()).keys, ["N"]);
  });

  test("create with environmentName, and a client whose environment is set", async () => {
    const name = uniq("envd");
    await Secret.objects.create(name, { E: "1" }, { client, environmentName: "dev" });
    await assert.rejects(Secret.fromName(name, { client }).hydrate(), NotFoundError);
    const s = Secret.fromName(name, { client, environmentName: "dev" });
    assert.equal((await s.info()).environmentName, "dev");
    const devClient = server.client(token, { environment: "dev" });
    assert.deepEqual((await Secret.fromName(name, { client: devClient }).hydrate()).keys, ["E"]);
    // environmentName "" / "main" name the default environment explicitly.
    const name2 = uniq("envmain");
    await Secret.objects.create(name2, { M: "1" }, { client: devClient, environmentName: "main" });
    assert.equal((await Secret.fromName(name2, { client }).info()).environmentName, "main");
  });

  test("an unknown environment: NotFoundError from create, fromName, list and delete", async () => {
    const opts = { client, environmentName: "no-such-env" };
    const check = (e) => isError(e, NotFoundError, "NOT_FOUND", /no-such-env/);
    await assert.rejects(Secret.objects.create(uniq("x"), { A: "1" }, opts), check);
    await assert.rejects(Secret.fromName("x", opts).hydrate(), check);
    await assert.rejects(Secret.objects.list(opts), check);
    await assert.rejects(Secret.objects.delete("x", opts), check);
    await assert.rejects(Secret.objects.list({ client: server.client(token, { environment: "no-such-env" }) }), check);
  });

  test("fromName is lazy: no request until first use; info() hydrates with one lookup", async () => {
    const name = uniq("lazy");
    await Secret.objects.create(name, { K: "1" }, { client });
    spy.reset();
    const s = Secret.fromName(name, { client });
    assert.equal(spy.calls.length, 0);
    assert.equal(s.isHydrated, false);
    assert.equal(s.name, name);
    assert.equal(s.objectId, undefined);
    assert.equal(s.keys, undefined);
    const info = await s.info();
    assert.deepEqual(spy.methods(), ["SecretGetOrCreate"]);
    assert.equal(decodeGetOrCreate(spy.calls[0].body).type, 0, "a lookup");
    assert.equal(info.name, name);
    assert.equal(s.isHydrated, true);
    assert.match(s.objectId, /^st-/);
    assert.deepEqual(s.keys, ["K"]);
  });

  test("fromName then update(): hydrates first (lookup, then update)", async () => {
    const name = uniq("lazy-up");
    await Secret.objects.create(name, { K: "1" }, { client });
    spy.reset();
    const s = Secret.fromName(name, { client });
    await s.update({ L: "2" });
    assert.deepEqual(spy.methods(), ["SecretGetOrCreate", "SecretUpdate"]);
    assert.deepEqual(s.keys, ["K", "L"]);
  });

  test("hydrate() resolves to the same secret; a second hydrate sends nothing", async () => {
    const name = uniq("hyd");
    await Secret.objects.create(name, { K: "1" }, { client });
    const s = Secret.fromName(name);
    spy.reset();
    assert.equal(await s.hydrate({ client, timeoutMs: 5000, signal: new AbortController().signal }), s);
    assert.equal(await s.hydrate({ client }), s);
    assert.equal(spy.calls.length, 1);
  });

  test("fromName of a missing secret: NotFoundError, still unhydrated", async () => {
    const s = Secret.fromName(uniq("missing"), { client });
    await assert.rejects(s.hydrate(), (e) => isError(e, NotFoundError, "NOT_FOUND"));
    assert.equal(s.isHydrated, false);
  });

  test("requiredKeys: present keys pass, a missing one is a ConflictError (an InvalidError)", async () => {
    const name = uniq("req");
    await Secret.objects.create(name, { A: "1", B: "2" }, { client });
    spy.reset();
    await Secret.fromName(name, { client, requiredKeys: ["A", "B"] }).hydrate();
    assert.deepEqual(decodeGetOrCreate(spy.calls[0].body).requiredKeys, ["A", "B"]);
    const err = await Secret.fromName(name, { client, requiredKeys: ["A", "NOPE"] }).hydrate().catch((e) => e);
    isError(err, ConflictError, "FAILED_PRECONDITION", /missing key/i);
    assert.ok(err instanceof InvalidError);
    assert.match(err.message, /NOPE/);
  });

  test("fromName's client option, and the client given to hydrate()", async () => {
    const name = uniq("which");
    await Secret.objects.create(name, { O: "1" }, { client: other });
    assert.deepEqual((await Secret.fromName(name, { client: other }).hydrate()).keys, ["O"]);
    assert.deepEqual((await Secret.fromName(name).hydrate({ client: other })).keys, ["O"]);
    await assert.rejects(Secret.fromName(name).hydrate({ client }), NotFoundError);
  });
});

// ---- ephemeral secrets -------------------------------------------------------------------------------

describe("ephemeral secrets (fromDict, fromDotenvText, fromDotenv, fromLocalEnviron)", () => {
  /** Hydrates `secret`, checks it is a fresh ephemeral secret, and returns the env dict sent. */
  async function hydrateEphemeral(secret) {
    assert.equal(secret.isHydrated, false);
    assert.equal(secret.name, undefined);
    spy.reset();
    assert.equal(await secret.hydrate({ client }), secret);
    assert.equal(spy.calls.length, 1);
    const sent = decodeGetOrCreate(spy.calls[0].body);
    assert.equal(sent.type, 5, "OBJECT_CREATION_TYPE_EPHEMERAL");
    assert.equal(sent.name, "");
    assert.match(secret.objectId, /^st-/);
    assert.deepEqual(secret.keys, Object.keys(sent.envDict).sort());
    return sent.envDict;
  }

  test("fromDict: null and undefined values are dropped; not listed; info has no name", async () => {
    const s = Secret.fromDict({ A: "1", B: null, C: undefined, D: "" });
    assert.deepEqual(await hydrateEphemeral(s), { A: "1", D: "" });
    const info = await s.info();
    assert.equal(info.name, null);
    assert.equal(info.environmentName, "main");
    assert.ok(info.createdAt instanceof Date);
    const listed = await Secret.objects.list({ client });
    assert.ok(!listed.some((x) => x.objectId === s.objectId), "an ephemeral secret is not listed");
    // Once hydrated, the same secret is reused.
    spy.reset();
    await s.hydrate({ client });
    assert.equal(spy.calls.length, 0);
  });

  test("fromDict() with no argument is an empty secret; the client's environment is used", async () => {
    assert.deepEqual(await hydrateEphemeral(Secret.fromDict()), {});
    const s = Secret.fromDict({ X: "1" });
    await s.hydrate({ client: server.client(token, { environment: "dev" }) });
    assert.equal((await s.info()).environmentName, "dev");
  });

  test("fromDotenvText: python-dotenv parsing, ${VAR} from earlier keys then options.env", async () => {
    const text = 'A=1\nexport B="two words"\n# comment\nC\nD=${A}-x\nE=${FROM_ENV}\nF=${MISSING:-dflt}\n';
    const s = Secret.fromDotenvText(text, { env: { FROM_ENV: "e" } });
    assert.deepEqual(await hydrateEphemeral(s), { A: "1", B: "two words", C: "", D: "1-x", E: "e", F: "dflt" });
  });

  describe("fromDotenv: finds the file as Modal does", () => {
    let root;
    before(() => {
      root = join(scratch, "dotenv");
      mkdirSync(join(root, "sub", "deeper"), { recursive: true });
      writeFileSync(join(root, ".env"), "ROOT_KEY=r\nQUOTED='q'\n");
      writeFileSync(join(root, "sub", ".env.local"), "LOCAL=l\n");
      writeFileSync(join(root, "sub", "deeper", "file.txt"), "not a dotenv\n");
      mkdirSync(join(root, "crlf"));
      writeFileSync(join(root, "crlf", ".env"), 'A=1\r\nB="x\r\ny"\r\nC=3\r\n');
      // python-dotenv 1.2.4 drops one leading byte order mark; Python's "utf-8" reading keeps it for
      // the parser, so a second one is part of the first key (not a valid secret key).
      mkdirSync(join(root, "bom"));
      writeFileSync(join(root, "bom", ".env"), "\ufeffexport A=1\r\nB= #comment\r\n");
      mkdirSync(join(root, "bom2"));
      writeFileSync(join(root, "bom2", ".env"), "\ufeff\ufeffA=1\n");
      mkdirSync(join(root, "latin1"));
      writeFileSync(join(root, "latin1", ".env"), Buffer.from([0x41, 0x3d, 0xe9, 0x0a]));
    });

    test("in the given directory", async () => {
      assert.deepEqual(await hydrateEphemeral(Secret.fromDotenv(root)), { ROOT_KEY: "r", QUOTED: "q" });
    });

    test("walking up from a deeper directory, from a file's path, and from a file URL", async () => {
      const want = { ROOT_KEY: "r", QUOTED: "q" };
      assert.deepEqual(await hydrateEphemeral(Secret.fromDotenv(join(root, "sub", "deeper"))), want);
      assert.deepEqual(await hydrateEphemeral(Secret.fromDotenv(join(root, "sub", "deeper", "file.txt"))), want);
      assert.deepEqual(await hydrateEphemeral(Secret.fromDotenv(pathToFileURL(join(root, "sub")))), want);
    });

    test("the filename option", async () => {
      const s = Secret.fromDotenv(join(root, "sub", "deeper"), { filename: ".env.local" });
      assert.deepEqual(await hydrateEphemeral(s), { LOCAL: "l" });
    });

    test("without a path: from the working directory up", async () => {
      const cwd = process.cwd();
      process.chdir(join(root, "sub", "deeper"));
      try {
        const s = Secret.fromDotenv();
        assert.deepEqual(await hydrateEphemeral(s), { ROOT_KEY: "r", QUOTED: "q" });
        assert.deepEqual(await hydrateEphemeral(Secret.fromDotenv(undefined, { filename: ".env.local" })), { LOCAL: "l" });
      } finally {
        process.chdir(cwd);
      }
    });

    test("a CRLF file reads as Python's universal newlines do", async () => {
      assert.deepEqual(await hydrateEphemeral(Secret.fromDotenv(join(root, "crlf"))), { A: "1", B: "x\ny", C: "3" });
    });

    test("a byte order mark: one is dropped, as python-dotenv 1.2.4 does; a second stays in the key", async () => {
      assert.deepEqual(await hydrateEphemeral(Secret.fromDotenv(join(root, "bom"))), { A: "1", B: "" });
      assert.throws(
        () => Secret.fromDotenv(join(root, "bom2")),
        (e) => e instanceof InvalidError && e.message.includes("\ufeffA"),
      );
    });

    test("no such file up to the root: NotFoundError; a missing start path or bad UTF-8: InvalidError", () => {
      assert.throws(
        () => Secret.fromDotenv(join(root, "sub"), { filename: "no-such.env" }),
        (e) => isError(e, NotFoundError, "NOT_FOUND", /no-such\.env/),
      );
      assert.throws(
        () => Secret.fromDotenv(join(root, "does-not-exist")),
        (e) => isError(e, InvalidError, "INVALID_ARGUMENT", /does-not-exist/),
      );
      assert.throws(
        () => Secret.fromDotenv(join(root, "latin1")),
        (e) => isError(e, InvalidError, "INVALID_ARGUMENT", /UTF-8/),
      );
    });
  });

  test("fromLocalEnviron: from options.env, and from process.env by default", async () => {
    const s = Secret.fromLocalEnviron(["A", "B"], { env: { A: "1", B: "2", C: "3" } });
    assert.deepEqual(await hydrateEphemeral(s), { A: "1", B: "2" });
    process.env.MODAL_SECRETS_NODE_TEST_VAR = "from-process";
    try {
      const t = Secret.fromLocalEnviron(["MODAL_SECRETS_NODE_TEST_VAR"]);
      assert.deepEqual(await hydrateEphemeral(t), { MODAL_SECRETS_NODE_TEST_VAR: "from-process" });
    } finally {
      delete process.env.MODAL_SECRETS_NODE_TEST_VAR;
    }
    assert.throws(
      () => Secret.fromLocalEnviron(["MODAL_SECRETS_NODE_TEST_VAR"]),
      (e) => isError(e, InvalidError, "INVALID_ARGUMENT", /MODAL_SECRETS_NODE_TEST_VAR/),
    );
  });
});

// ---- update, info, delete ----------------------------------------------------------------------------

describe("secret.update, secret.info, Secret.objects.delete", () => {
  test("update sets and removes keys in one request", async () => {
    const name = uniq("upd");
    await Secret.objects.create(name, { A: "1", B: "2" }, { client });
    const s = await Secret.fromName(name, { client }).hydrate();
    spy.reset();
    assert.equal(await s.update({ C: "3", A: null, B: "22" }, { timeoutMs: 5000, signal: new AbortController().signal }), undefined);
    assert.deepEqual(spy.methods(), ["SecretUpdate"]);
    const sent = decodeUpdate(spy.calls[0].body);
    assert.equal(sent.secretId, s.objectId);
    assert.deepEqual(sent.updates, [
      { key: "C", value: "3" },
      { key: "A", value: undefined },
      { key: "B", value: "22" },
    ]);
    assert.deepEqual(s.keys, ["B", "C"]);
    assert.deepEqual((await Secret.fromName(name, { client }).hydrate()).keys, ["B", "C"]);
  });

  test("update of an ephemeral secret, and of a secret deleted meanwhile (NotFoundError)", async () => {
    const e = await Secret.fromDict({ A: "1" }).hydrate({ client });
    await e.update({ B: "2" });
    assert.deepEqual(e.keys, ["A", "B"]);
    const name = uniq("upd-gone");
    await Secret.objects.create(name, { A: "1" }, { client });
    const s = await Secret.fromName(name, { client }).hydrate();
    await Secret.objects.delete(name, { client });
    await assert.rejects(s.update({ B: "2" }), (err) => isError(err, NotFoundError, "NOT_FOUND"));
  });

  test("info: Dates, creator and environment; cached from hydration unless refresh", async () => {
    const name = uniq("info");
    const t0 = Date.now();
    await Secret.objects.create(name, { A: "1" }, { client, environmentName: "dev" });
    const t1 = Date.now();
    const s = await Secret.fromName(name, { client, environmentName: "dev" }).hydrate();
    spy.reset();
    const info = await s.info();
    assert.equal(spy.calls.length, 0, "cached");
    assert.deepEqual(Object.keys(info).sort(), ["createdAt", "createdBy", "environmentName", "lastUsed", "name"]);
    assert.equal(info.name, name);
    assert.equal(info.environmentName, "dev");
    assert.ok(info.createdAt instanceof Date);
    assert.ok(info.createdAt.getTime() >= t0 - 2000 && info.createdAt.getTime() <= t1 + 2000, info.createdAt.toISOString());
    assert.equal(typeof info.createdBy, "string");
    assert.ok(info.createdBy.length > 0);
    assert.equal(info.lastUsed, null);

    const fresh = await s.info({ refresh: true, timeoutMs: 5000, signal: new AbortController().signal });
    assert.deepEqual(spy.methods(), ["SecretGetInfo"]);
    assert.deepEqual(fresh, info);
    await Secret.objects.delete(name, { client, environmentName: "dev" });
    assert.deepEqual(await s.info(), info, "still cached");
    await assert.rejects(s.info({ refresh: true }), (e) => isError(e, NotFoundError, "NOT_FOUND"));
  });

  test("delete: a lookup then a delete; missing → NotFoundError; allowMissing swallows it", async () => {
    const name = uniq("del");
    await Secret.objects.create(name, { A: "1" }, { client });
    spy.reset();
    assert.equal(await Secret.objects.delete(name, { client, timeoutMs: 5000, signal: new AbortController().signal }), undefined);
    assert.deepEqual(spy.methods(), ["SecretGetOrCreate", "SecretDelete"]);
    await assert.rejects(Secret.fromName(name, { client }).hydrate(), NotFoundError);
    await assert.rejects(Secret.objects.delete(name, { client }), (e) => isError(e, NotFoundError, "NOT_FOUND", new RegExp(name)));
    spy.reset();
    assert.equal(await Secret.objects.delete(name, { client, allowMissing: true }), undefined);
    assert.deepEqual(spy.methods(), ["SecretGetOrCreate"]);
  });

  test("delete with environmentName removes only that environment's secret", async () => {
    const name = uniq("del-env");
    await Secret.objects.create(name, { MAIN: "1" }, { client });
    await Secret.objects.create(name, { DEV: "1" }, { client, environmentName: "dev" });
    await Secret.objects.delete(name, { client, environmentName: "dev" });
    await assert.rejects(Secret.fromName(name, { client, environmentName: "dev" }).hydrate(), NotFoundError);
    assert.deepEqual((await Secret.fromName(name, { client }).hydrate()).keys, ["MAIN"]);
  });
});

// ---- list and iterate --------------------------------------------------------------------------------

describe("Secret.objects.list and iterate (205 secrets in environment bulk)", () => {
  const TOTAL = 205;
  const bulk = countingFetch();
  const bc = server.client(token, { fetch: bulk, environment: "bulk" });
  let all; // newest first, as listed

  before(async () => {
    for (let i = 0; i < TOTAL; i++) {
      await Secret.objects.create(`bulk-${String(i).padStart(3, "0")}`, { [`K${i}`]: "v" }, { client: bc });
    }
  });

  test("list(): every secret, newest first, hydrated, in pages of 100 with the created_before cursor", async () => {
    bulk.reset();
    all = await Secret.objects.list({ client: bc });
    assert.equal(all.length, TOTAL);
    const expected = Array.from({ length: TOTAL }, (_, i) => `bulk-${String(TOTAL - 1 - i).padStart(3, "0")}`);
    assert.deepEqual(
      all.map((s) => s.name),
      expected,
    );
    for (const s of all) {
      assert.ok(s instanceof Secret && s.isHydrated);
      assert.match(s.objectId, /^st-/);
      assert.deepEqual(s.keys, [`K${Number(s.name.slice(5))}`]);
    }
    const pages = bulk.calls.map((c) => decodeList(c.body));
    assert.deepEqual(
      pages.map((p) => [p.environment, p.maxObjects]),
      [
        ["bulk", 100],
        ["bulk", 100],
        ["bulk", 100],
      ],
    );
    assert.equal(pages[0].createdBefore, 0);
    const infos = await Promise.all(all.map((s) => s.info()));
    assert.equal(bulk.calls.length, 3, "listed secrets carry their info");
    for (let i = 1; i < infos.length; i++) {
      assert.ok(infos[i - 1].createdAt >= infos[i].createdAt, "newest first");
    }
    assert.equal(Math.floor(pages[1].createdBefore * 1000), infos[99].createdAt.getTime());
    assert.equal(Math.floor(pages[2].createdBefore * 1000), infos[199].createdAt.getTime());
  });

  test("maxObjects: exact counts and page sizes (0 sends nothing)", async () => {
    for (const [max, sizes] of [
      [150, [100, 50]],
      [100, [100]],
      [7, [7]],
      [1000, [100, 100, 100]],
      [0, []],
    ]) {
      bulk.reset();
      const got = await Secret.objects.list({ client: bc, maxObjects: max });
      assert.deepEqual(
        got.map((s) => s.name),
        all.slice(0, max).map((s) => s.name),
        `maxObjects ${max}`,
      );
      assert.deepEqual(
        bulk.calls.map((c) => decodeList(c.body).maxObjects),
        sizes,
        `pages for maxObjects ${max}`,
      );
    }
  });

  test("createdBefore as a Date, a date string and a number of ms: only strictly older secrets", async () => {
    const infos = await Promise.all(all.map((s) => s.info()));
    const cut = infos[60].createdAt;
    const expected = all.filter((_, i) => infos[i].createdAt.getTime() < cut.getTime()).map((s) => s.name);
    assert.ok(expected.length >= 100 && expected.length <= TOTAL - 61, `${expected.length} older`);
    for (const createdBefore of [cut, cut.toISOString(), cut.getTime()]) {
      const got = await Secret.objects.list({ client: bc, createdBefore });
      assert.deepEqual(
        got.map((s) => s.name),
        expected,
        `createdBefore ${typeof createdBefore}`,
      );
    }
    const few = await Secret.objects.list({ client: bc, createdBefore: cut, maxObjects: 3 });
    assert.deepEqual(
      few.map((s) => s.name),
      expected.slice(0, 3),
    );
    assert.deepEqual(await Secret.objects.list({ client: bc, createdBefore: new Date(1000) }), []);
  });

  test("environmentName picks the environment; other environments' secrets are not listed", async () => {
    const fromMain = await Secret.objects.list({ client: bc, environmentName: "main" });
    assert.ok(!fromMain.some((s) => s.name.startsWith("bulk-")));
    const fromBulk = await Secret.objects.list({ client, environmentName: "bulk", maxObjects: 5 });
    assert.deepEqual(
      fromBulk.map((s) => s.name),
      all.slice(0, 5).map((s) => s.name),
    );
    assert.equal((await fromBulk[0].info()).environmentName, "bulk");
  });

  test("secrets with the most key names the server takes still list whole (issue 14, finding 5)", async () => {
    // 64 keys of 250 bytes: 16,000 bytes of names, just under the server's 16 KiB per secret; 120 of
    // them. Each page stays under the server's byte budget and the package's answer limit.
    const keys = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`K${String(i).padStart(2, "0")}_${"x".repeat(246)}`, "v"]));
    const wide = server.client(server.token("wide-keys"));
    for (let i = 0; i < 120; i++) await Secret.objects.create(`wide-${i}`, keys, { client: wide });
    const listed = await Secret.objects.list({ client: wide });
    assert.equal(listed.length, 120);
    assert.equal(listed[0].name, "wide-119");
    assert.equal(listed[0].keys.length, 64);
    // Two more names of 250 bytes (16,500 in all) are over it: refused, naming the limit.
    const over = { ...keys, [`Y_${"y".repeat(248)}`]: "v", [`Z_${"z".repeat(248)}`]: "v" };
    await assert.rejects(Secret.objects.create("wide-over", over, { client: wide }), (e) => e.code === "INVALID_ARGUMENT" && /key names/.test(e.message));
  });

  test("iterate: the same secrets as list, a page at a time (lazily), stoppable", async () => {
    bulk.reset();
    const it = Secret.objects.iterate({ client: bc, timeoutMs: 10_000, signal: new AbortController().signal });
    assert.equal(bulk.calls.length, 0, "nothing sent before the first next()");
    const names = [];
    for await (const s of it) {
      names.push(s.name);
      if (names.length === 100) assert.equal(bulk.calls.length, 1, "the second page is asked only when needed");
    }
    assert.deepEqual(
      names,
      all.map((s) => s.name),
    );
    assert.equal(bulk.calls.length, 3);

    bulk.reset();
    const firstFive = [];
    for await (const s of Secret.objects.iterate({ client: bc })) {
      firstFive.push(s.name);
      if (firstFive.length === 5) break;
    }
    assert.deepEqual(
      firstFive,
      all.slice(0, 5).map((s) => s.name),
    );
    assert.equal(bulk.calls.length, 1);

    const limited = [];
    for await (const s of Secret.objects.iterate({ client: bc, maxObjects: 120, createdBefore: new Date(Date.now() + 60_000) })) {
      limited.push(s.name);
    }
    assert.deepEqual(
      limited,
      all.slice(0, 120).map((s) => s.name),
    );
  });
});

// ---- bad inputs ------------------------------------------------------------------------------------

describe("bad inputs: a typed error with a useful message, and no request sent", () => {
  const BIG = "x".repeat(5 << 20); // 5 MiB, over the 4 MiB request limit
  const none = countingFetch(() => {
    throw new Error("no request should be sent");
  });
  const nc = server.client(token, { fetch: none });
  const realFetch = globalThis.fetch;
  const globalSpy = countingFetch(realFetch);
  before(() => {
    globalThis.fetch = globalSpy;
  });
  after(() => {
    globalThis.fetch = realFetch;
    assert.equal(globalSpy.calls.length, 0, "the global fetch was never called");
  });

  const I = [InvalidError, "INVALID_ARGUMENT"];
  const LONG = "n".repeat(65);
  const APP_ID = "ap-" + "a1B2c3D4e5F6g7H8i9J0kL";

  /** [label, fn, [cls, code], message pattern]; `fn` is sync (throws) or async (rejects). */
  const syncCases = [
    // Secret.fromName
    ["fromName: name not a string", () => Secret.fromName(5), I, /Secret\.fromName: name must be a string, got a number/],
    ["fromName: no name", () => Secret.fromName(), I, /name must be a string, got undefined/],
    ["fromName: empty name", () => Secret.fromName(""), I, /name must not be empty/],
    ["fromName: 65 characters", () => Secret.fromName(LONG), I, /65 characters, at most 64/],
    ["fromName: a space", () => Secret.fromName("a b"), I, /"a b".*space/],
    ["fromName: a slash", () => Secret.fromName("a/b"), I, /'\/' is not allowed/],
    ["fromName: non-ASCII", () => Secret.fromName("naïve"), I, /'ï' is not allowed/],
    ["fromName: an app id", () => Secret.fromName(APP_ID), I, /looks like an app id/],
    ["fromName: a 5 MiB name (quoted short)", () => Secret.fromName("n".repeat(5 << 20)), I, /5242880 characters/],
    ["fromName: options a string", () => Secret.fromName("a", "dev"), I, /options must be an object, got a string/],
    ["fromName: options an array", () => Secret.fromName("a", []), I, /options must be an object, got an array/],
    ["fromName: unknown option", () => Secret.fromName("a", { environment: "dev" }), I, /unknown option "environment"/],
    ["fromName: environmentName a number", () => Secret.fromName("a", { environmentName: 5 }), I, /options\.environmentName must be a string/],
    ["fromName: environmentName invalid", () => Secret.fromName("a", { environmentName: "bad env" }), I, /invalid environment name "bad env"/],
    ["fromName: requiredKeys a string", () => Secret.fromName("a", { requiredKeys: "A" }), I, /requiredKeys must be an array of strings/],
    ["fromName: requiredKeys [1]", () => Secret.fromName("a", { requiredKeys: [1] }), I, /requiredKeys must be an array of strings, got a number/],
    ["fromName: requiredKeys invalid key", () => Secret.fromName("a", { requiredKeys: ["1A"] }), I, /invalid secret key "1A"/],
    ["fromName: requiredKeys empty key", () => Secret.fromName("a", { requiredKeys: [""] }), I, /key must not be empty/],
    ["fromName: client not a Client", () => Secret.fromName("a", { client: {} }), I, /options\.client must be a Client/],
    // Secret.fromDict
    ["fromDict: a string", () => Secret.fromDict("A=1"), I, /envDict must be an object of string values, got a string/],
    ["fromDict: an array", () => Secret.fromDict([["A", "1"]]), I, /got an array/],
    ["fromDict: null", () => Secret.fromDict(null), I, /got null/],
    ["fromDict: a Map", () => Secret.fromDict(new Map([["A", "1"]])), I, /not a Map/],
    ["fromDict: a number value", () => Secret.fromDict({ A: 1 }), I, /the value of "A" must be a string, got a number/],
    ["fromDict: a boolean value", () => Secret.fromDict({ A: true }), I, /the value of "A" must be a string, got a boolean/],
    ["fromDict: an object value", () => Secret.fromDict({ A: {} }), I, /the value of "A" must be a string, got an object/],
    ["fromDict: key starting with a digit", () => Secret.fromDict({ "1A": "x" }), I, /invalid secret key "1A"/],
    ["fromDict: empty key", () => Secret.fromDict({ "": "x" }), I, /key must not be empty/],
    ["fromDict: key with a dash", () => Secret.fromDict({ "A-B": "x" }), I, /invalid secret key "A-B": '-'/],
    // Secret.fromDotenvText
    ["fromDotenvText: not a string", () => Secret.fromDotenvText(5), I, /fromDotenvText: text must be a string, got a number/],
    ["fromDotenvText: no text", () => Secret.fromDotenvText(), I, /text must be a string, got undefined/],
    ["fromDotenvText: unknown option", () => Secret.fromDotenvText("A=1", { environ: {} }), I, /unknown option "environ"/],
    ["fromDotenvText: env not an object", () => Secret.fromDotenvText("A=1", { env: "x" }), I, /options\.env must be an object of strings/],
    ["fromDotenvText: an invalid key in the text", () => Secret.fromDotenvText("GOOD=1\nBAD-KEY=2"), I, /invalid secret key "BAD-KEY"/],
    // Secret.fromDotenv
    ["fromDotenv: path a number", () => Secret.fromDotenv(5), I, /path must be a string or a file URL, got a number/],
    ["fromDotenv: empty filename", () => Secret.fromDotenv(scratch, { filename: "" }), I, /filename must be a non-empty string/],
    ["fromDotenv: filename a number", () => Secret.fromDotenv(scratch, { filename: 5 }), I, /filename must be a non-empty string/],
    ["fromDotenv: unknown option", () => Secret.fromDotenv(scratch, { file: ".env" }), I, /unknown option "file"/],
    ["fromDotenv: options a string", () => Secret.fromDotenv(scratch, ".env"), I, /options must be an object, got a string/],
    // Secret.fromLocalEnviron
    ["fromLocalEnviron: keys a string", () => Secret.fromLocalEnviron("A", { env: { A: "1" } }), I, /keys must be an array/],
    ["fromLocalEnviron: a key not a string", () => Secret.fromLocalEnviron([1], { env: {} }), I, /each key must be a string, got a number/],
    ["fromLocalEnviron: a missing variable", () => Secret.fromLocalEnviron(["NOPE"], { env: { A: "1" } }), I, /local environment variable "NOPE"/],
    ["fromLocalEnviron: env not an object", () => Secret.fromLocalEnviron(["A"], { env: 5 }), I, /options\.env must be an object of strings/],
    ["fromLocalEnviron: an invalid key", () => Secret.fromLocalEnviron(["A-B"], { env: { "A-B": "1" } }), I, /invalid secret key "A-B"/],
    // new Client
    ["new Client: options a string", () => new Client("x"), I, /new Client: options must be an object, got a string/],
    ["new Client: serverUrl a number", () => new Client({ serverUrl: 5, tokenId: "ak-1", tokenSecret: "as-1" }), I, /options\.serverUrl must be a string/],
    ["new Client: serverUrl not a URL", () => new Client({ serverUrl: "localhost:8787", tokenId: "ak-1", tokenSecret: "as-1" }), I, /serverUrl option must be an http:\/\/ or https:\/\/ URL/],
    ["new Client: serverUrl ftp", () => new Client({ serverUrl: "ftp://example.com", tokenId: "ak-1", tokenSecret: "as-1" }), I, /serverUrl option must be/],
    ["new Client: tokenId a number", () => new Client({ tokenId: 5, tokenSecret: "as-1" }), I, /options\.tokenId must be a string/],
    ["new Client: tokenSecret a number", () => new Client({ tokenId: "ak-1", tokenSecret: 5 }), I, /options\.tokenSecret must be a string/],
    ["new Client: tokenSecret with a space", () => new Client({ tokenId: "ak-1", tokenSecret: "as-a b" }), I, /tokenSecret option may contain only visible ASCII/],
    ["new Client: environment a number", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", environment: 5 }), I, /options\.environment must be a string/],
    ["new Client: environment invalid", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", environment: "-dev" }), I, /invalid environment name "-dev"/],
    ["new Client: fetch not a function", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", fetch: "fetch" }), I, /options\.fetch must be a function/],
    ["new Client: timeoutMs negative", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", timeoutMs: -5 }), I, /timeoutMs must be a finite number of milliseconds ≥ 0, got -5/],
    ["new Client: timeoutMs 0", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", timeoutMs: 0 }), I, /timeoutMs must be between 1 and 2147483647 ms, got 0/],
    ["new Client: timeoutMs a string", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", timeoutMs: "100" }), I, /timeoutMs must be a number of milliseconds, got a string/],
    ["new Client: timeoutMs NaN", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", timeoutMs: NaN }), I, /timeoutMs .*got NaN/],
    ["new Client: timeoutMs over 2^31-1", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", timeoutMs: 2 ** 31 }), I, /timeoutMs must be between 1 and 2147483647/],
    ["new Client: maxRetries negative", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", maxRetries: -1 }), I, /maxRetries must be a whole number ≥ 0, got -1/],
    ["new Client: maxRetries fractional", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", maxRetries: 1.5 }), I, /maxRetries .*got 1\.5/],
    ["new Client: maxRetries a string", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", maxRetries: "3" }), I, /maxRetries must be a whole number, got a string/],
    ["new Client: maxRetries over 100", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", maxRetries: 101 }), I, /maxRetries must be at most 100/],
    ["new Client: maxThrottleWaitMs negative", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", maxThrottleWaitMs: -1 }), I, /maxThrottleWaitMs must be a finite number/],
    ["new Client: onWarning not a function", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", onWarning: "log" }), I, /options\.onWarning must be a function/],
    ["new Client: unknown option", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", token: "x" }), I, /unknown option "token"; the options are serverUrl/],
    ["new Client: fromEnv-only option env", () => new Client({ tokenId: "ak-1", tokenSecret: "as-1", env: {} }), I, /unknown option "env"/],
    // Client.fromEnv
    ["Client.fromEnv: options a number", () => Client.fromEnv(5), I, /Client\.fromEnv: options must be an object, got a number/],
    ["Client.fromEnv: env not an object", () => Client.fromEnv({ env: "MODAL_TOKEN_ID=x" }), I, /must be an object of strings, got a string/],
    ["Client.fromEnv: profile a number", () => Client.fromEnv({ profile: 5, env: {} }), I, /options\.profile must be a string/],
    ["Client.fromEnv: unknown option", () => Client.fromEnv({ profiles: "a", env: {} }), I, /unknown option "profiles"/],
    [
      "Client.fromEnv: a bad MODAL_SERVER_URL",
      () => Client.fromEnv({ env: { MODAL_SERVER_URL: "nope", MODAL_TOKEN_ID: "ak-1", MODAL_TOKEN_SECRET: "as-1" } }),
      I,
      /MODAL_SERVER_URL must be an http/,
    ],
  ];

  for (const [label, fn, [cls, code], re] of syncCases) {
    test(label, () => {
      none.reset();
      assert.throws(fn, (e) => isError(e, cls, code, re) && e.message.length < 400);
      assert.equal(none.calls.length, 0);
    });
  }

  test("fromLocalEnviron: an unknown option", () => {
    assert.throws(
      () => Secret.fromLocalEnviron(["A"], { env: { A: "1" }, foo: 1 }),
      (e) => isError(e, InvalidError, "INVALID_ARGUMENT", /unknown option "foo"/),
    );
  });

  // Async operations: a rejected promise (never a synchronous throw), and no request.
  const unhydrated = () => Secret.fromName("bad-inputs-target", { client: nc });
  const asyncCases = [
    // Secret.objects.create
    ["create: name not a string", () => Secret.objects.create(5, { A: "1" }, { client: nc }), I, /create: name must be a string/],
    ["create: empty name", () => Secret.objects.create("", { A: "1" }, { client: nc }), I, /name must not be empty/],
    ["create: 65 characters", () => Secret.objects.create(LONG, { A: "1" }, { client: nc }), I, /at most 64/],
    ["create: bad characters", () => Secret.objects.create("a*b", { A: "1" }, { client: nc }), I, /'\*' is not allowed/],
    ["create: an app id", () => Secret.objects.create(APP_ID, { A: "1" }, { client: nc }), I, /app id/],
    ["create: envDict missing", () => Secret.objects.create("a", undefined, { client: nc }), I, /envDict must be an object of string values, got undefined/],
    ["create: envDict a string", () => Secret.objects.create("a", "A=1", { client: nc }), I, /envDict must be an object/],
    ["create: a number value", () => Secret.objects.create("a", { A: 5 }, { client: nc }), I, /the value of "A" must be a string, got a number/],
    ["create: a null value", () => Secret.objects.create("a", { A: null }, { client: nc }), I, /the value of "A" must be a string, got null/],
    ["create: an invalid key", () => Secret.objects.create("a", { "has space": "1" }, { client: nc }), I, /invalid secret key "has space"/],
    ["create: allowExisting a string", () => Secret.objects.create("a", {}, { client: nc, allowExisting: "yes" }), I, /allowExisting must be a boolean/],
    ["create: environmentName a number", () => Secret.objects.create("a", {}, { client: nc, environmentName: 1 }), I, /environmentName must be a string/],
    ["create: environmentName invalid", () => Secret.objects.create("a", {}, { client: nc, environmentName: "a b" }), I, /invalid environment name/],
    ["create: unknown option", () => Secret.objects.create("a", {}, { client: nc, force: true }), I, /unknown option "force"/],
    ["create: client not a Client", () => Secret.objects.create("a", {}, { client: "c" }), I, /options\.client must be a Client/],
    ["create: timeoutMs negative", () => Secret.objects.create("a", {}, { client: nc, timeoutMs: -1 }), I, /timeoutMs must be a finite number/],
    ["create: timeoutMs 0", () => Secret.objects.create("a", {}, { client: nc, timeoutMs: 0 }), I, /timeoutMs must be between 1/],
    ["create: signal not an AbortSignal", () => Secret.objects.create("a", {}, { client: nc, signal: {} }), I, /signal must be an AbortSignal/],
    ["create: options a string", () => Secret.objects.create("a", {}, "dev"), I, /options must be an object, got a string/],
    ["create: a 5 MiB value", () => Secret.objects.create("a", { A: BIG }, { client: nc }), I, /over the limit of 4194304 bytes \(4 MiB\)/],
    // hydrate / info / update
    ["hydrate: unknown option", () => unhydrated().hydrate({ refresh: true }), I, /secret\.hydrate: unknown option "refresh"/],
    ["hydrate: timeoutMs NaN", () => unhydrated().hydrate({ timeoutMs: NaN }), I, /timeoutMs .*got NaN/],
    ["hydrate: signal a boolean", () => unhydrated().hydrate({ signal: true }), I, /signal must be an AbortSignal/],
    ["hydrate: client not a Client", () => Secret.fromName("a").hydrate({ client: 1 }), I, /options\.client must be a Client/],
    ["hydrate: options a string", () => unhydrated().hydrate("now"), I, /options must be an object/],
    ["hydrate: fromDict over 4 MiB", () => Secret.fromDict({ A: BIG }).hydrate({ client: nc }), I, /over the limit of 4194304 bytes/],
    ["hydrate: fromDotenvText over 4 MiB", () => Secret.fromDotenvText(`A=${BIG}`).hydrate({ client: nc }), I, /over the limit/],
    ["info: refresh a string", () => unhydrated().info({ refresh: "yes" }), I, /refresh must be a boolean/],
    ["info: unknown option", () => unhydrated().info({ fresh: true }), I, /unknown option "fresh"/],
    ["info: timeoutMs Infinity", () => unhydrated().info({ timeoutMs: Infinity }), I, /timeoutMs .*Infinity/],
    ["update: envDict null", () => unhydrated().update(null), I, /secret\.update: envDict must be an object of string values, got null/],
    ["update: envDict a string", () => unhydrated().update("A=1"), I, /envDict must be an object/],
    ["update: a number value", () => unhydrated().update({ A: 1 }), I, /the value of "A" must be a string, got a number/],
    ["update: an undefined value", () => unhydrated().update({ A: undefined }), I, /the value of "A" must be a string, got undefined/],
    ["update: an invalid key", () => unhydrated().update({ "bad key": "v" }), I, /invalid secret key "bad key"/],
    ["update: removing an invalid key", () => unhydrated().update({ "9": null }), I, /invalid secret key "9"/],
    ["update: unknown option", () => unhydrated().update({ A: "1" }, { merge: true }), I, /unknown option "merge"/],
    // delete
    ["delete: name not a string", () => Secret.objects.delete(null, { client: nc }), I, /delete: name must be a string, got null/],
    ["delete: empty name", () => Secret.objects.delete("", { client: nc }), I, /must not be empty/],
    ["delete: bad characters", () => Secret.objects.delete("a:b", { client: nc }), I, /':' is not allowed/],
    ["delete: allowMissing a number", () => Secret.objects.delete("a", { client: nc, allowMissing: 1 }), I, /allowMissing must be a boolean/],
    ["delete: environmentName invalid", () => Secret.objects.delete("a", { client: nc, environmentName: "x y" }), I, /invalid environment name/],
    ["delete: unknown option", () => Secret.objects.delete("a", { client: nc, force: true }), I, /unknown option "force"/],
    // list / iterate
    ["list: options a string", () => Secret.objects.list("dev"), I, /list: options must be an object, got a string/],
    ["list: maxObjects negative", () => Secret.objects.list({ client: nc, maxObjects: -1 }), I, /maxObjects must be a whole number ≥ 0, got -1/],
    ["list: maxObjects fractional", () => Secret.objects.list({ client: nc, maxObjects: 2.5 }), I, /got 2\.5/],
    ["list: maxObjects a string", () => Secret.objects.list({ client: nc, maxObjects: "10" }), I, /maxObjects must be a whole number, got a string/],
    ["list: createdBefore not a date", () => Secret.objects.list({ client: nc, createdBefore: "yesterday" }), I, /createdBefore is not a valid date/],
    ["list: createdBefore an object", () => Secret.objects.list({ client: nc, createdBefore: {} }), I, /createdBefore must be a Date, a date string or a number of ms/],
    ["list: createdBefore an invalid Date", () => Secret.objects.list({ client: nc, createdBefore: new Date(NaN) }), I, /not a valid date/],
    ["list: createdBefore before 1970", () => Secret.objects.list({ client: nc, createdBefore: new Date("1960-01-01") }), I, /at or after 1970/],
    ["list: environmentName invalid", () => Secret.objects.list({ client: nc, environmentName: "bad env" }), I, /invalid environment name/],
    ["list: unknown option", () => Secret.objects.list({ client: nc, limit: 5 }), I, /unknown option "limit"/],
    ["list: client not a Client", () => Secret.objects.list({ client: {} }), I, /options\.client must be a Client/],
    ["iterate: unknown option", () => Secret.objects.iterate({ client: nc, pageSize: 5 }).next(), I, /iterate: unknown option "pageSize"/],
    ["iterate: maxObjects NaN", () => Secret.objects.iterate({ client: nc, maxObjects: NaN }).next(), I, /maxObjects .*NaN/],
  ];

  for (const [label, fn, [cls, code], re] of asyncCases) {
    test(label, async () => {
      none.reset();
      let promise;
      assert.doesNotThrow(() => {
        promise = fn();
      }, "an async function rejects rather than throws");
      assert.ok(promise instanceof Promise);
      await assert.rejects(promise, (e) => isError(e, cls, code, re) && e.message.length < 400);
      assert.equal(none.calls.length, 0);
    });
  }

  test("update over 4 MiB on a hydrated secret: InvalidError, nothing sent", async () => {
    const name = uniq("bigupd");
    await Secret.objects.create(name, { A: "1" }, { client });
    const f = countingFetch(realFetch);
    const s = await Secret.fromName(name, { client: server.client(token, { fetch: f }) }).hydrate();
    f.reset();
    await assert.rejects(s.update({ A: BIG }), (e) => isError(e, InvalidError, "INVALID_ARGUMENT", /over the limit of 4194304 bytes/));
    assert.equal(f.calls.length, 0);
  });

  test("update over 4 MiB on a secret not yet hydrated: InvalidError before the lookup", async () => {
    const name = uniq("bigupd-lazy");
    await Secret.objects.create(name, { A: "1" }, { client });
    const f = countingFetch(realFetch);
    const s = Secret.fromName(name, { client: server.client(token, { fetch: f }) });
    await assert.rejects(s.update({ A: BIG }), (e) => isError(e, InvalidError, "INVALID_ARGUMENT", /over the limit/));
    assert.equal(f.calls.length, 0);
    assert.equal(s.isHydrated, false);
  });

  test("an already aborted signal: TimeoutError (CANCELLED), nothing sent", async () => {
    none.reset();
    const signal = AbortSignal.abort();
    for (const call of [
      () => Secret.objects.create("a", { A: "1" }, { client: nc, signal }),
      () => Secret.objects.list({ client: nc, signal }),
      () => Secret.objects.delete("a", { client: nc, signal }),
      () => unhydrated().hydrate({ signal }),
    ]) {
      await assert.rejects(call(), (e) => isError(e, pkg.TimeoutError, "CANCELLED"));
    }
    assert.equal(none.calls.length, 0);
  });

  test("Secret has no public constructor", () => {
    assert.throws(() => new Secret(), TypeError);
  });
});
