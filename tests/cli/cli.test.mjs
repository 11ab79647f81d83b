// Issue 9, "done when" 1 and 3: the `modal-secrets` command line (pkg/cli.cjs, the package's bin),
// run as a subprocess against the real server, for every command and flag and their bad inputs:
// the output shapes, one-line errors naming their kind, exit codes (0 ok, 1 error, 2 usage), and
// no value ever in the output. A recording proxy in front of the server (tests/node/support/
// grpcweb.mjs, forwarding every request) shows what was sent: a sync is one SecretUpdate, with
// the file's values. Terminal behaviour (confirmation, hidden prompt, progress) runs under
// util-linux `script`.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, pkg } from "../node/support/server.mjs";
import { startFaultServer, decodeGetOrCreate, decodeUpdate, after as delayed } from "../node/support/grpcweb.mjs";
import { CLI, ROOT, cliEnv, hasScript, runCli, runCliOnTerminal, tempDir } from "./support.mjs";

const server = await startServer();
const token = server.token();
server.env("dev");
const client = server.client(token);
const proxy = await startFaultServer({ upstream: server.url });
after(() => proxy.close());

const home = tempDir();
mkdirSync(join(home, "files"));
const env = cliEnv(server, token, home);
const viaProxy = cliEnv({ url: proxy.url }, token, home);

let counter = 0;
const uniq = (prefix) => `${prefix}-${process.pid}-${++counter}`;

// Every value a test hands the CLI is made here, so each run can be checked for all of them.
const VALUES = new Set();
const value = (label) => {
  const v = `v4l-${label}-${Math.random().toString(36).slice(2, 10)}`;
  VALUES.add(v);
  return v;
};

/** Runs the CLI; fails the test if any value made by `value()` is in its output. */
async function cli(args, options = {}) {
  const result = await runCli(args, { env, ...options });
  for (const v of VALUES) {
    assert.ok(!result.stdout.includes(v) && !result.stderr.includes(v), `a value is in the output of ${args[0]}:\n${result.stdout}${result.stderr}`);
  }
  return result;
}

/** Expects exit `code` and a last stderr line `Error: <kind>: …` matching `re`. */
function failed(result, code, kind, re) {
  assert.equal(result.code, code, `exit code ${result.code}, stderr:\n${result.stderr}`);
  const last = result.stderr.trimEnd().split("\n").at(-1);
  assert.match(last, new RegExp(`^Error: ${kind}: `), result.stderr);
  if (re) assert.match(last, re);
  return last;
}

/** Expects exit 0, and nothing on stderr (not a terminal: no progress line). */
function ok(result) {
  assert.equal(result.code, 0, `exit code ${result.code}, stderr:\n${result.stderr}`);
  assert.equal(result.stderr, "");
  return result.stdout;
}

const file = (name, text) => {
  const path = join(home, "files", name);
  writeFileSync(path, text);
  return path;
};

const keysOf = async (name, environmentName) => (await pkg.Secret.fromName(name, { client, environmentName }).hydrate()).keys;
const exists = (name, environmentName) =>
  pkg.Secret.fromName(name, { client, environmentName })
    .hydrate()
    .then(
      () => true,
      (e) => (e instanceof pkg.NotFoundError ? false : Promise.reject(e)),
    );

/** The gRPC methods the proxy forwarded since `proxy.reset()`. */
const methods = () => proxy.methods();
const requestsOf = (method) => proxy.requests.filter((r) => r.path.endsWith(`/${method}`));
const sentUpdates = () => requestsOf("SecretUpdate").map((r) => decodeUpdate(r.body).updates);

// ---- help ---------------------------------------------------------------------------------------

describe("help", () => {
  test("--help: the usage line, the commands with one line each, exit 0", async () => {
    const out = ok(await cli(["--help"]));
    assert.match(out, /^Usage: modal-secrets \[OPTIONS\] COMMAND \[ARGS\]\.\.\.\n\n {2}Manage Modal Secrets/);
    for (const command of ["list", "create", "info", "update", "delete", "sync"]) {
      assert.match(out, new RegExp(`^ {2}${command} +\\S`, "m"), command);
    }
    assert.match(out, /^ {2}-h, --help +Show this message and exit\.$/m);
    assert.equal(ok(await cli(["-h"])), out);
  });

  test("no arguments: the help, exit 2 (as click's no_args_is_help)", async () => {
    const r = await cli([]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /^Usage: modal-secrets \[OPTIONS\] COMMAND/);
  });

  test("--version: the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "pkg/package.json"), "utf8"));
    assert.equal(ok(await cli(["--version"])), `modal-secrets ${version}\n`);
  });

  const expected = {
    list: ["-e, --env TEXT", "--json", "--profile TEXT"],
    create: ["SECRET_NAME", "[KEYVALUES]...", "-e, --env TEXT", "--from-dotenv PATH", "--from-json PATH", "--force", "--profile TEXT"],
    info: ["NAME", "-e, --env TEXT", "--json", "--profile TEXT"],
    update: ["NAME", "[KEYVALUES]...", "--unset KEY", "-e, --env TEXT", "--profile TEXT"],
    delete: ["NAME", "--allow-missing", "-y, --yes", "-e, --env TEXT", "--profile TEXT"],
    sync: ["NAME", "--from-dotenv PATH", "--prune", "--dry-run", "--json", "-e, --env TEXT", "--profile TEXT"],
  };
  for (const [command, flags] of Object.entries(expected)) {
    test(`${command} --help: Modal's layout (usage, description, options), every flag, lines ≤ 80`, async () => {
      const out = ok(await cli([command, "--help"]));
      assert.match(out, new RegExp(`^Usage: modal-secrets ${command} \\[OPTIONS\\]`));
      assert.match(out, /\n\n {2}\S.*\n(.*\n)*\nOptions:\n/);
      for (const flag of [...flags, "-h, --help"]) {
        assert.ok(out.split("\n").some((l) => l.startsWith(`  ${flag}`)), `${command}: ${flag} missing:\n${out}`);
      }
      assert.ok(out.split("\n").every((l) => l.length <= 80), out);
      assert.equal(ok(await cli([command, "-h"])), out);
      // -h wins wherever it is, as click's eager --help.
      assert.equal(ok(await cli([command, "some-name", "--json", "-h"])), out);
    });
  }

  test("the shared --env help is Modal's text", async () => {
    const out = ok(await cli(["list", "--help"]));
    assert.match(out, /-e, --env TEXT {2}Environment to interact with\. If unspecified, defers to\n {18}`MODAL_ENVIRONMENT`, your active local profile, or your\n {18}workspace default, in that order\./);
  });

  test("a command that needs arguments, given none: its help, exit 2", async () => {
    for (const command of ["create", "info", "update", "delete", "sync"]) {
      const r = await cli([command]);
      assert.equal(r.code, 2, command);
      assert.match(r.stdout, new RegExp(`^Usage: modal-secrets ${command} `));
    }
  });
});

// ---- bad command lines ------------------------------------------------------------------------------

describe("bad command lines: click's usage lines, one error line, exit 2", () => {
  const usage = (r, command, kind, re) => {
    const line = failed(r, 2, kind, re);
    const lines = r.stderr.split("\n");
    assert.match(lines[0], command ? new RegExp(`^Usage: modal-secrets ${command} \\[OPTIONS\\]`) : /^Usage: modal-secrets \[OPTIONS\]/);
    assert.equal(lines[1], command ? `Try 'modal-secrets ${command} -h' for help.` : "Try 'modal-secrets -h' for help.");
    assert.equal(r.stdout, "");
    return line;
  };

  test("an unknown command or top-level option", async () => {
    usage(await cli(["bogus"]), null, "UsageError", /No such command 'bogus'\.$/);
    usage(await cli(["--bogus"]), null, "UsageError", /No such option '--bogus'\.$/);
  });

  test("an unknown option (named, never what follows its =)", async () => {
    const secret = value("unknown-option");
    const line = usage(await cli(["list", `--bogus=${secret}`]), "list", "UsageError", /No such option '--bogus'\.$/);
    assert.ok(!line.includes(secret));
    usage(await cli(["create", "x", "A=1", "-X"]), "create", "UsageError", /No such option '-X'\.$/);
    usage(await cli(["sync", "x", "--from-dotenv", "f", "--purge"]), "sync", "UsageError", /No such option '--purge'\.$/);
    usage(await cli(["delete", "x", "--force"]), "delete", "UsageError", /No such option '--force'\.$/);
  });

  test("an option without its argument, a flag given a value", async () => {
    usage(await cli(["list", "--env"]), "list", "UsageError", /Option '--env' requires an argument\.$/);
    usage(await cli(["sync", "x", "--from-dotenv"]), "sync", "UsageError", /Option '--from-dotenv' requires an argument\.$/);
    usage(await cli(["list", "--json=yes"]), "list", "UsageError", /Option '--json' does not take a value\.$/);
  });

  test("a missing argument, extra arguments (not echoed: they may be values)", async () => {
    usage(await cli(["info", "--json"]), "info", "UsageError", /Missing argument 'NAME'\.$/);
    const secret = value("extra");
    const line = usage(await cli(["delete", "x", `PASSWORD=${secret}`, "--yes"]), "delete", "UsageError", /Got 1 unexpected extra argument\.$/);
    assert.ok(!line.includes(secret));
    usage(await cli(["list", "a", "b"]), "list", "UsageError", /Got 2 unexpected extra arguments\.$/);
  });

  test("sync without --from-dotenv", async () => {
    usage(await cli(["sync", "x", "--prune"]), "sync", "UsageError", /Missing option '--from-dotenv'\.$/);
  });
});

// ---- create -----------------------------------------------------------------------------------------

describe("create", () => {
  test("KEY=VALUE...: Modal's message and code sample (key names only), exit 0; the secret has those keys", async () => {
    const name = uniq("create");
    const out = ok(await cli(["create", name, `USER=${value("user")}`, `PASSWORD=${value("pw")}`]));
    assert.equal(
      out,
      `Created a new secret '${name}' with the keys 'USER', 'PASSWORD'\n\nUse it in your Modal app:\n\n` +
        `@app.function(secrets=[modal.Secret.from_name("${name}")])\ndef some_function():\n` +
        `    os.getenv("USER")\n    os.getenv("PASSWORD")\n`,
    );
    assert.deepEqual(await keysOf(name), ["PASSWORD", "USER"]);
    const one = uniq("create-one");
    assert.match(ok(await cli(["create", one, `K=${value("k")}`])), new RegExp(`^Created a new secret '${one}' with the key 'K'\n`));
  });

  test("the values sent are the ones given (a value may hold '=' and be empty)", async () => {
    const name = uniq("create-values");
    const a = value("a");
    proxy.reset();
    ok(await cli(["create", name, `A=${a}=x`, "EMPTY="], { env: viaProxy }));
    const creates = requestsOf("SecretGetOrCreate");
    assert.equal(creates.length, 1);
    assert.deepEqual(decodeGetOrCreate(creates[0].body).envDict, { A: `${a}=x`, EMPTY: "" });
  });

  test("an existing name: AlreadyExistsError, exit 1, the secret untouched", async () => {
    const name = uniq("create-twice");
    ok(await cli(["create", name, `A=${value("a")}`]));
    failed(await cli(["create", name, `B=${value("b")}`]), 1, "AlreadyExistsError", new RegExp(`Secret '${name}' already exists`));
    assert.deepEqual(await keysOf(name), ["A"]);
  });

  test("--force: replaces the keys and values of an existing secret in one update (same object)", async () => {
    const name = uniq("create-force");
    ok(await cli(["create", name, `OLD=${value("old")}`, `SAME=${value("same1")}`]));
    const before = await pkg.Secret.fromName(name, { client }).hydrate();
    const same = value("same2");
    const fresh = value("new");
    proxy.reset();
    const out = ok(await cli(["create", name, `SAME=${same}`, `NEW=${fresh}`, "--force"], { env: viaProxy }));
    assert.match(out, new RegExp(`^Created a new secret '${name}' with the keys 'SAME', 'NEW'\n`));
    assert.deepEqual(methods(), ["SecretGetOrCreate", "SecretGetOrCreate", "SecretUpdate"]);
    assert.deepEqual(sentUpdates(), [
      [
        { key: "NEW", value: fresh },
        { key: "OLD", value: undefined },
        { key: "SAME", value: same },
      ],
    ]);
    const after = await pkg.Secret.fromName(name, { client }).hydrate();
    assert.deepEqual(after.keys, ["NEW", "SAME"]);
    assert.equal(after.objectId, before.objectId);
  });

  test("--force on a new name: a plain create", async () => {
    const name = uniq("create-force-new");
    proxy.reset();
    ok(await cli(["create", name, `A=${value("a")}`, "--force"], { env: viaProxy }));
    assert.deepEqual(methods(), ["SecretGetOrCreate"]);
    assert.deepEqual(await keysOf(name), ["A"]);
  });

  test("--from-dotenv (with ${VAR} from the environment) and --from-json; later sources win, in Modal's order", async () => {
    const name = uniq("create-files");
    const fromEnv = value("from-env");
    const dotenv = file(
      `${name}.env`,
      `# a comment\nexport HOST=${value("host")}\nURL="https://\${HOST}/\${REGION:-eu}"\nFROM_ENV=\${CLI_TEST_VAR}\nBOTH=${value("dotenv")}\n`,
    );
    const jsonValue = value("json");
    const json = file(`${name}.json`, JSON.stringify({ BOTH: jsonValue, J: value("j") }));
    proxy.reset();
    const out = ok(
      await cli(["create", name, `ARG=${value("arg")}`, `BOTH=${value("arg-both")}`, "--from-dotenv", dotenv, "--from-json", json], {
        env: { ...viaProxy, CLI_TEST_VAR: fromEnv },
      }),
    );
    assert.match(out, /with the keys 'ARG', 'BOTH', 'HOST', 'URL', 'FROM_ENV', 'J'\n/);
    const sent = decodeGetOrCreate(requestsOf("SecretGetOrCreate")[0].body).envDict;
    assert.equal(sent.BOTH, jsonValue);
    assert.equal(sent.FROM_ENV, fromEnv);
    assert.match(sent.URL, /^https:\/\/v4l-host-\w+\/eu$/);
    assert.deepEqual(Object.keys(sent).sort(), ["ARG", "BOTH", "FROM_ENV", "HOST", "J", "URL"]);
  });

  test("--env: created in that environment only", async () => {
    const name = uniq("create-env");
    ok(await cli(["create", name, `A=${value("a")}`, "--env", "dev"]));
    assert.equal(await exists(name, "dev"), true);
    assert.equal(await exists(name), false);
    ok(await cli(["create", name, `A=${value("a")}`, "-e", "dev", "--force"]));
    failed(await cli(["create", name, `A=${value("a")}`, "-e", "no-such-env"]), 1, "NotFoundError", /Environment 'no-such-env' not found/);
  });

  test("bad input: invalid name and key (InvalidError), nothing sent", async () => {
    proxy.reset();
    failed(await cli(["create", "bad name", `A=${value("a")}`], { env: viaProxy }), 1, "InvalidError", /invalid secret name "bad name": a space/);
    failed(await cli(["create", "x".repeat(65), `A=${value("a")}`], { env: viaProxy }), 1, "InvalidError", /65 characters, at most 64/);
    failed(await cli(["create", uniq("k"), `1A=${value("a")}`], { env: viaProxy }), 1, "InvalidError", /invalid secret key "1A"/);
    failed(await cli(["create", uniq("k"), `=${value("a")}`], { env: viaProxy }), 1, "InvalidError", /secret key must not be empty/);
    assert.deepEqual(methods(), []);
  });

  test("bad input: an item without '=' (not echoed), no keys at all", async () => {
    const secret = value("bare");
    const line = failed(await cli(["create", uniq("k"), "A=1", secret]), 2, "UsageError", /form KEY=VALUE \(argument 2 of the KEYVALUES is not\)/);
    assert.ok(!line.includes(secret));
    failed(await cli(["create", uniq("k"), "--force"]), 2, "UsageError", /at least one key/);
    failed(await cli(["create", uniq("k"), "--from-dotenv", file("only-comments.env", "# nothing\n")]), 2, "UsageError", /at least one key/);
  });

  test("bad files: missing, a directory, not UTF-8, a key without a value, bad JSON (no value quoted)", async () => {
    const name = uniq("create-bad-files");
    failed(await cli(["create", name, "--from-dotenv", join(home, "nope.env")]), 2, "UsageError", /Could not read \.env file at .*nope\.env$/);
    failed(await cli(["create", name, "--from-dotenv", join(home, "files")]), 2, "UsageError", /Could not read \.env file at/);
    failed(await cli(["create", name, "--from-json", join(home, "nope.json")]), 2, "UsageError", /Could not read JSON file at/);
    const binary = file("binary.env", Buffer.from([0x41, 0x3d, 0xff, 0xfe, 0x0a]));
    failed(await cli(["create", name, "--from-dotenv", binary]), 2, "UsageError", /Could not parse \.env file at .*: it is not UTF-8 text$/);
    const flag = file("flag.env", `A=${value("a")}\nFLAG\n`);
    failed(await cli(["create", name, "--from-dotenv", flag]), 1, "InvalidError", /key "FLAG" has no value \(write FLAG= for an empty one\)/);
    const badKey = file("bad-key.env", `MY-KEY=${value("a")}\n`);
    failed(await cli(["create", name, "--from-dotenv", badKey]), 1, "InvalidError", /invalid secret key "MY-KEY"/);
    const secret = value("json");
    const broken = file("broken.json", `{"A": "${secret}"`);
    failed(await cli(["create", name, "--from-json", broken]), 2, "UsageError", /Could not parse JSON file at .*: it is not valid JSON$/);
    failed(await cli(["create", name, "--from-json", file("list.json", "[1]")]), 2, "UsageError", /it must hold one object/);
    failed(await cli(["create", name, "--from-json", file("number.json", '{"A": 1}')]), 2, "UsageError", /Non-string value for secret 'A'/);
    failed(await cli(["create", name, "--from-json", file("null.json", '{"A": null}')]), 2, "UsageError", /Non-string value for secret 'A'/);
    assert.equal(await exists(name), false);
  });

  test("KEY=- reads the value from stdin (one trailing newline dropped); only one may", async () => {
    const name = uniq("create-stdin");
    const secret = value("stdin");
    proxy.reset();
    ok(await cli(["create", name, "TOKEN=-", `B=${value("b")}`], { env: viaProxy, input: `${secret}\n` }));
    assert.equal(decodeGetOrCreate(requestsOf("SecretGetOrCreate")[0].body).envDict.TOKEN, secret);
    failed(await cli(["create", uniq("k"), "A=-", "B=-"], { input: "x" }), 2, "UsageError", /Only one KEY=- can read standard input/);
  });

  test("KEY=- on a terminal: a hidden prompt, the typed value never shown", { skip: !hasScript && "no util-linux script" }, async () => {
    const name = uniq("create-tty");
    const secret = value("typed");
    proxy.reset();
    const r = await runCliOnTerminal(["create", name, "TOKEN=-"], { env: viaProxy, answers: [["Value for TOKEN (hidden): ", `${secret}\r`]] });
    assert.equal(r.code, 0, r.output);
    assert.ok(!r.output.includes(secret), r.output);
    assert.match(r.output, new RegExp(`Created a new secret '${name}' with the key 'TOKEN'`));
    assert.equal(decodeGetOrCreate(requestsOf("SecretGetOrCreate")[0].body).envDict.TOKEN, secret);
  });
});

// ---- list ---------------------------------------------------------------------------------------------

describe("list", () => {
  test("a table in rich's style (Modal's columns, 'Secrets' centred above), newest first; exit 0", async () => {
    const names = [uniq("list-a"), uniq("list-b")];
    for (const name of names) await pkg.Secret.objects.create(name, { A: value("a") }, { client });
    const lines = ok(await cli(["list"])).trimEnd().split("\n");
    assert.equal(lines[0].trim(), "Secrets");
    const width = lines[1].length;
    assert.ok(Math.abs(lines[0].indexOf("S") - (width - 7) / 2) <= 1, lines[0]);
    assert.match(lines[1], /^┏━+┳━+┳━+┳━+┓$/);
    assert.match(lines[2], /^┃ Name +┃ Created at +┃ Created by +┃ Last used at ┃$/);
    assert.match(lines[3], /^┡━+╇━+╇━+╇━+┩$/);
    assert.match(lines.at(-1), /^└─+┴─+┴─+┴─+┘$/);
    const rows = lines.slice(4, -1);
    assert.ok(rows.every((r) => r.length === width), "every line as wide");
    const cells = rows.map((r) => r.split("│").slice(1, -1).map((c) => c.trim()));
    const at = cells.findIndex((c) => c[0] === names[1]);
    assert.deepEqual(cells[at + 1][0], names[0], "newest first");
    assert.match(cells[at][1], /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    assert.deepEqual(cells[at].slice(2), ["local", "-"]);
  });

  test("--json: Modal's keys (name, created_at, created_by, last_used_at), Python's isoformat times", async () => {
    const name = uniq("list-json");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client });
    const rows = JSON.parse(ok(await cli(["list", "--json"])));
    const row = rows.find((r) => r.name === name);
    assert.deepEqual(Object.keys(row), ["name", "created_at", "created_by", "last_used_at"]);
    assert.match(row.created_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00$/);
    assert.equal(row.created_by, "local");
    assert.equal(row.last_used_at, "-");
    const created = (await pkg.Secret.fromName(name, { client }).info()).createdAt;
    assert.equal(row.created_at, created.toISOString().slice(0, 19).replace("T", " ") + "+00:00");
  });

  test("times are local: TZ moves them and the zone's name", async () => {
    const name = uniq("list-tz");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client });
    const rows = JSON.parse(ok(await cli(["list", "--json"], { env: { ...env, TZ: "Asia/Kolkata" } })));
    assert.match(rows.find((r) => r.name === name).created_at, /\+05:30$/);
    assert.match(ok(await cli(["list"], { env: { ...env, TZ: "Asia/Kolkata" } })), /│ \d{4}-\d\d-\d\d \d\d:\d\d GMT\+5:30 │/);
  });

  test("--env / -e / MODAL_ENVIRONMENT: that environment's secrets, titled with it; an unknown one is NotFoundError", async () => {
    const name = uniq("list-env");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client, environmentName: "dev" });
    for (const run of [["list", "--env", "dev"], ["list", "-e", "dev"]]) {
      const out = ok(await cli(run));
      assert.equal(out.split("\n")[0].trim(), "Secrets in environment 'dev'");
      assert.ok(out.includes(` ${name} `));
    }
    const viaVariable = JSON.parse(ok(await cli(["list", "--json"], { env: { ...env, MODAL_ENVIRONMENT: "dev" } })));
    assert.ok(viaVariable.some((r) => r.name === name));
    assert.ok(!JSON.parse(ok(await cli(["list", "--json"]))).some((r) => r.name === name));
    failed(await cli(["list", "--env", "no-such-env"]), 1, "NotFoundError", /Environment 'no-such-env' not found/);
    failed(await cli(["list", "--env", "bad env"]), 1, "InvalidError", /invalid environment name "bad env"/);
  });

  test("an empty environment: the header alone; [] in JSON", async () => {
    server.env("empty");
    const lines = ok(await cli(["list", "-e", "empty"])).trimEnd().split("\n");
    assert.equal(lines.length, 5);
    assert.equal(ok(await cli(["list", "-e", "empty", "--json"])), "[]\n");
  });

  test("~/.modal.toml: the active profile, --profile, and MODAL_* over the file", async () => {
    const other = server.token("other-ws");
    const name = uniq("list-profile");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client: server.client(other) });
    const toml = file(
      "modal.toml",
      [
        "[mine]",
        `token_id = "${token.tokenId}"`,
        `token_secret = "${token.tokenSecret}"`,
        `server_url = "${server.url}"`,
        "active = true",
        "",
        "[theirs]",
        `token_id = "${other.tokenId}"`,
        `token_secret = "${other.tokenSecret}"`,
        `server_url = "${server.url}"`,
        "",
      ].join("\n"),
    );
    const fileOnly = { PATH: process.env.PATH, HOME: home, TZ: "UTC", MODAL_CONFIG_PATH: toml };
    const names = async (args, e) => JSON.parse(ok(await cli([...args, "--json"], { env: e }))).map((r) => r.name);
    assert.ok(!(await names(["list"], fileOnly)).includes(name));
    assert.ok((await names(["list", "--profile", "theirs"], fileOnly)).includes(name));
    assert.ok((await names(["list"], { ...fileOnly, MODAL_PROFILE: "theirs" })).includes(name));
    // MODAL_TOKEN_* win over the file's active profile.
    assert.ok((await names(["list"], { ...fileOnly, MODAL_TOKEN_ID: other.tokenId, MODAL_TOKEN_SECRET: other.tokenSecret })).includes(name));
    failed(await cli(["list", "--profile", "nobody"], { env: fileOnly }), 1, "\\w+Error", /nobody/);
  });

  test("no token, a wrong token, no server: AuthError / ConnectionError, one line, exit 1, no token secret shown", async () => {
    const bare = { PATH: process.env.PATH, HOME: home, TZ: "UTC", MODAL_CONFIG_PATH: join(home, "none.toml"), MODAL_SERVER_URL: server.url };
    failed(await cli(["list"], { env: bare }), 1, "AuthError", /MODAL_TOKEN_ID/);
    const wrong = { ...env, MODAL_TOKEN_SECRET: "as-wrongwrongwrongwrongwrong" };
    const r = await cli(["list"], { env: wrong });
    failed(r, 1, "AuthError");
    assert.ok(!r.stderr.includes("as-wrongwrong"));
    const gone = await cli(["list"], { env: { ...env, MODAL_SERVER_URL: "http://127.0.0.1:9" } });
    failed(gone, 1, "ConnectionError");
    assert.equal(gone.stderr.split("\n").filter(Boolean).length, 1);
  });
});

// ---- info ---------------------------------------------------------------------------------------------

describe("info", () => {
  test("a field/value table with every key name, titled with the secret; --json with the list's time format", async () => {
    const name = uniq("info");
    await pkg.Secret.objects.create(name, { B: value("b"), A: value("a") }, { client });
    const secret = await pkg.Secret.fromName(name, { client }).hydrate();
    const lines = ok(await cli(["info", name])).trimEnd().split("\n");
    assert.equal(lines[0].trim(), `Secret '${name}'`);
    assert.match(lines[2], /^┃ Field +┃ Value +┃$/);
    const cells = lines.slice(4, -1).map((r) => r.split("│").slice(1, -1).map((c) => c.trim()));
    assert.deepEqual(cells, [
      ["Name", name],
      ["Object ID", secret.objectId],
      ["Environment", "main"],
      ["Created at", cells[3][1]],
      ["Created by", "local"],
      ["Last used at", "-"],
      ["Keys", "A"],
      ["", "B"],
    ]);
    assert.match(cells[3][1], /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);

    const data = JSON.parse(ok(await cli(["info", name, "--json"])));
    assert.deepEqual(Object.keys(data), ["name", "object_id", "environment_name", "created_at", "created_by", "last_used_at", "keys"]);
    assert.equal(data.object_id, secret.objectId);
    assert.deepEqual(data.keys, ["A", "B"]);
    assert.match(data.created_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00$/);
  });

  test("--env; a missing secret is NotFoundError, an invalid name InvalidError (exit 1)", async () => {
    const name = uniq("info-env");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client, environmentName: "dev" });
    assert.equal(JSON.parse(ok(await cli(["info", name, "-e", "dev", "--json"]))).environment_name, "dev");
    failed(await cli(["info", name]), 1, "NotFoundError", new RegExp(`^Error: NotFoundError: Secret '${name}' not found in environment 'main'$`));
    failed(await cli(["info", "no/such"]), 1, "InvalidError", /invalid secret name "no\/such"/);
  });
});

// ---- update -----------------------------------------------------------------------------------------

describe("update", () => {
  test("KEY=VALUE... and --unset KEY...: one SecretUpdate; other keys stay", async () => {
    const name = uniq("update");
    await pkg.Secret.objects.create(name, { KEEP: value("keep"), OLD: value("old"), OLD2: value("old2") }, { client });
    const fresh = value("new");
    proxy.reset();
    const out = ok(await cli(["update", name, `NEW=${fresh}`, "--unset", "OLD", "--unset", "OLD2"], { env: viaProxy }));
    assert.equal(out, `Updated secret '${name}': set 'NEW'; removed 'OLD', 'OLD2'\n`);
    assert.deepEqual(methods(), ["SecretGetOrCreate", "SecretUpdate"]);
    assert.deepEqual(sentUpdates()[0], [
      { key: "NEW", value: fresh },
      { key: "OLD", value: undefined },
      { key: "OLD2", value: undefined },
    ]);
    assert.deepEqual(await keysOf(name), ["KEEP", "NEW"]);
    assert.equal(ok(await cli(["update", name, "--unset", "NEW"])), `Updated secret '${name}': removed 'NEW'\n`);
    assert.equal(ok(await cli(["update", name, `KEEP=${value("k2")}`])), `Updated secret '${name}': set 'KEEP'\n`);
    assert.deepEqual(await keysOf(name), ["KEEP"]);
  });

  test("--env; KEY=- from stdin", async () => {
    const name = uniq("update-env");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client, environmentName: "dev" });
    const secret = value("stdin");
    proxy.reset();
    ok(await cli(["update", name, "B=-", "--env", "dev"], { env: viaProxy, input: secret }));
    assert.deepEqual(sentUpdates()[0], [{ key: "B", value: secret }]);
    assert.deepEqual(await keysOf(name, "dev"), ["A", "B"]);
  });

  test("bad input: nothing to do, a key both set and unset (usage); a missing secret, a bad key (exit 1)", async () => {
    const name = uniq("update-bad");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client });
    failed(await cli(["update", name, "--env", "main"]), 2, "UsageError", /at least one KEY=VALUE or --unset KEY/);
    failed(await cli(["update", name, `A=${value("a")}`, "--unset", "A"]), 2, "UsageError", /Key 'A' is both set and --unset/);
    failed(await cli(["update", name, "--unset"]), 2, "UsageError", /Option '--unset' requires an argument/);
    failed(await cli(["update", uniq("missing"), `A=${value("a")}`]), 1, "NotFoundError", /not found/);
    failed(await cli(["update", name, `B-C=${value("a")}`]), 1, "InvalidError", /invalid secret key "B-C"/);
    failed(await cli(["update", name, "--unset", "9X"]), 1, "InvalidError", /invalid secret key "9X"/);
    assert.deepEqual(await keysOf(name), ["A"]);
  });
});

// ---- delete -----------------------------------------------------------------------------------------

describe("delete", () => {
  test("--yes / -y: deleted, nothing printed (as Modal)", async () => {
    for (const flag of ["--yes", "-y"]) {
      const name = uniq("delete");
      await pkg.Secret.objects.create(name, { A: value("a") }, { client });
      assert.equal(ok(await cli(["delete", name, flag])), "");
      assert.equal(await exists(name), false);
    }
  });

  test("without --yes and no terminal: refused (Aborted, exit 1), the secret stays", async () => {
    const name = uniq("delete-no-tty");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client });
    failed(await cli(["delete", name]), 1, "Aborted", /no interactive terminal.*--yes \(-y\)/);
    assert.equal(await exists(name), true);
  });

  test("without --yes on a terminal: Modal's question; 'n' keeps it, 'y' deletes it", { skip: !hasScript && "no util-linux script" }, async () => {
    const name = uniq("delete-tty");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client });
    const question = `Are you sure you want to irrevocably delete the modal.Secret '${name}'? [y/N]: `;
    const no = await runCliOnTerminal(["delete", name], { env, answers: [[question, "n\r"]] });
    assert.equal(no.code, 1, no.output);
    assert.match(no.output, new RegExp(`Error: Aborted: '${name}' was not deleted`));
    assert.equal(await exists(name), true);
    const yes = await runCliOnTerminal(["delete", name], { env, answers: [[question, "y\r"]] });
    assert.equal(yes.code, 0, yes.output);
    assert.equal(await exists(name), false);
  });

  test("a missing secret: NotFoundError, exit 1; --allow-missing: exit 0; --env", async () => {
    const name = uniq("delete-missing");
    failed(await cli(["delete", name, "--yes"]), 1, "NotFoundError", new RegExp(`Secret '${name}' not found`));
    assert.equal(ok(await cli(["delete", name, "--yes", "--allow-missing"])), "");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client, environmentName: "dev" });
    failed(await cli(["delete", name, "-y"]), 1, "NotFoundError");
    ok(await cli(["delete", name, "-y", "--env", "dev"]));
    assert.equal(await exists(name, "dev"), false);
    failed(await cli(["delete", "bad name", "-y"]), 1, "InvalidError", /invalid secret name/);
  });
});

// ---- sync ---------------------------------------------------------------------------------------------

describe("sync", () => {
  const envFile = (name, pairs) => file(`${name}.env`, Object.entries(pairs).map(([k, v]) => `${k}=${v}\n`).join(""));

  test("a missing secret: the plan (all added), then one create with the file's values", async () => {
    const name = uniq("sync-new");
    const pairs = { B: value("b"), A: value("a") };
    const path = envFile(name, pairs);
    proxy.reset();
    const out = ok(await cli(["sync", name, "--from-dotenv", path], { env: viaProxy }));
    assert.equal(
      out,
      `Sync plan for secret '${name}' in the default environment, from ${path} (a new secret):\n` +
        "  + A\n  + B\n2 to add, 0 to set, 0 to remove.\n" +
        `Created secret '${name}' with 2 keys.\n`,
    );
    // A lookup (NOT_FOUND), then the create: one write.
    assert.deepEqual(methods(), ["SecretGetOrCreate", "SecretGetOrCreate"]);
    const created = decodeGetOrCreate(requestsOf("SecretGetOrCreate")[1].body);
    assert.deepEqual(created.envDict, pairs);
    assert.equal(created.type, 2);
    assert.deepEqual(await keysOf(name), ["A", "B"]);
  });

  test("an existing secret: + added, ~ set, = kept; one SecretUpdate with every value of the file", async () => {
    const name = uniq("sync-existing");
    await pkg.Secret.objects.create(name, { KEEP: value("keep"), SET: value("set-old") }, { client });
    const pairs = { SET: value("set-new"), ADD: value("add") };
    const path = envFile(name, pairs);
    proxy.reset();
    const out = ok(await cli(["sync", name, "--from-dotenv", path], { env: viaProxy }));
    assert.equal(
      out,
      `Sync plan for secret '${name}' in environment 'main', from ${path}:\n` +
        "  + ADD\n  ~ SET\n  = KEEP\n" +
        "1 to add, 1 to set, 0 to remove, 1 kept (not in the file; --prune removes them).\n" +
        `Synced secret '${name}': 1 added, 1 set, 0 removed.\n`,
    );
    assert.deepEqual(methods(), ["SecretGetOrCreate", "SecretUpdate"]);
    assert.deepEqual(sentUpdates(), [
      [
        { key: "ADD", value: pairs.ADD },
        { key: "SET", value: pairs.SET },
      ],
    ]);
    assert.deepEqual(await keysOf(name), ["ADD", "KEEP", "SET"]);
  });

  test("--prune: - removed, in the same single update", async () => {
    const name = uniq("sync-prune");
    await pkg.Secret.objects.create(name, { GONE: value("gone"), STAY: value("stay") }, { client });
    const path = envFile(name, { STAY: value("stay2"), NEW: value("new") });
    proxy.reset();
    const out = ok(await cli(["sync", name, "--from-dotenv", path, "--prune"], { env: viaProxy }));
    assert.match(out, /:\n {2}\+ NEW\n {2}~ STAY\n {2}- GONE\n1 to add, 1 to set, 1 to remove\.\n/);
    assert.match(out, /Synced secret '.*': 1 added, 1 set, 1 removed\.\n$/);
    assert.equal(requestsOf("SecretUpdate").length, 1);
    assert.deepEqual(
      sentUpdates()[0].map((u) => [u.key, u.value === undefined]),
      [
        ["GONE", true],
        ["NEW", false],
        ["STAY", false],
      ],
    );
    assert.deepEqual(await keysOf(name), ["NEW", "STAY"]);
  });

  test("--dry-run: the plan only, nothing written (a lookup and no more)", async () => {
    const name = uniq("sync-dry");
    await pkg.Secret.objects.create(name, { OLD: value("old") }, { client });
    const path = envFile(name, { NEW: value("new") });
    proxy.reset();
    const out = ok(await cli(["sync", name, "--from-dotenv", path, "--prune", "--dry-run"], { env: viaProxy }));
    assert.match(out, /\n {2}\+ NEW\n {2}- OLD\n1 to add, 0 to set, 1 to remove\.\nDry run: nothing was changed\.\n$/);
    assert.deepEqual(methods(), ["SecretGetOrCreate"]);
    assert.deepEqual(await keysOf(name), ["OLD"]);
    const missing = uniq("sync-dry-new");
    assert.match(ok(await cli(["sync", missing, "--from-dotenv", path, "--dry-run"])), /\(a new secret\):\n {2}\+ NEW\n/);
    assert.equal(await exists(missing), false);
    for (const dry of [["--dry-run"], []]) {
      const r = await cli(["sync", missing, "--from-dotenv", path, "-e", "no-such-env", ...dry]);
      failed(r, 1, "NotFoundError", /Environment 'no-such-env' not found/);
    }
  });

  test("--json: the plan and whether it was applied", async () => {
    const name = uniq("sync-json");
    await pkg.Secret.objects.create(name, { OLD: value("old"), SET: value("s") }, { client });
    const path = envFile(name, { SET: value("s2"), NEW: value("new") });
    const dry = JSON.parse(ok(await cli(["sync", name, "--from-dotenv", path, "--json", "--dry-run"])));
    assert.deepEqual(dry, { name, environment_name: "main", created: false, add: ["NEW"], set: ["SET"], remove: [], keep: ["OLD"], applied: false });
    const applied = JSON.parse(ok(await cli(["sync", name, "--from-dotenv", path, "--json", "--prune"])));
    assert.deepEqual(applied, { name, environment_name: "main", created: false, add: ["NEW"], set: ["SET"], remove: ["OLD"], keep: [], applied: true });
    const fresh = uniq("sync-json-new");
    const made = JSON.parse(ok(await cli(["sync", fresh, "--from-dotenv", path, "--json", "-e", "dev"])));
    assert.deepEqual(made, { name: fresh, environment_name: "dev", created: true, add: ["NEW", "SET"], set: [], remove: [], keep: [], applied: true });
  });

  test("syncing again changes nothing but re-sets the same keys; --env", async () => {
    const name = uniq("sync-again");
    const path = envFile(name, { A: value("a"), B: value("b") });
    ok(await cli(["sync", name, "--from-dotenv", path, "--env", "dev"]));
    const again = ok(await cli(["sync", name, "--from-dotenv", path, "--env", "dev", "--prune"]));
    assert.match(again, /in environment 'dev'.*:\n {2}~ A\n {2}~ B\n0 to add, 2 to set, 0 to remove\.\n/);
    assert.deepEqual(await keysOf(name, "dev"), ["A", "B"]);
    assert.equal(await exists(name), false);
  });

  test("interpolation and quoting as python-dotenv (${VAR} from the environment)", async () => {
    const name = uniq("sync-dotenv");
    const region = value("region");
    const path = file(`${name}.env`, `export HOST=db\nURL="postgres://\${HOST}/app"\nREGION=\${CLI_REGION}\nSPACED='a b' # comment\n`);
    proxy.reset();
    ok(await cli(["sync", name, "--from-dotenv", path], { env: { ...viaProxy, CLI_REGION: region } }));
    assert.deepEqual(decodeGetOrCreate(requestsOf("SecretGetOrCreate")[1].body).envDict, {
      HOST: "db",
      URL: "postgres://db/app",
      REGION: region,
      SPACED: "a b",
    });
  });

  test("bad files: missing, not UTF-8, a key without a value, an invalid key, no keys (nothing written)", async () => {
    const name = uniq("sync-bad");
    await pkg.Secret.objects.create(name, { A: value("a") }, { client });
    proxy.reset();
    const run = (path) => cli(["sync", name, "--from-dotenv", path, "--prune"], { env: viaProxy });
    failed(await run(join(home, "missing.env")), 2, "UsageError", /Could not read \.env file at .*missing\.env$/);
    failed(await run(file("bin2.env", Buffer.from([0x42, 0x3d, 0xc3, 0x28]))), 2, "UsageError", /not UTF-8 text$/);
    const flag = file("sync-flag.env", `A=${value("a")}\nFLAG\n`);
    failed(await run(flag), 1, "InvalidError", new RegExp(`${flag}: key "FLAG" has no value`));
    const badKey = file("sync-bad-key.env", `GOOD=${value("g")}\nBAD.KEY=${value("b")}\n`);
    failed(await run(badKey), 1, "InvalidError", /sync-bad-key\.env: invalid secret key "BAD\.KEY"/);
    const empty = file("sync-empty.env", "# only a comment\n\n");
    failed(await run(empty), 1, "InvalidError", /sync-empty\.env: nothing to sync: no keys given/);
    assert.ok(!methods().includes("SecretUpdate"), methods().join());
    assert.deepEqual(await keysOf(name), ["A"]);
    failed(await cli(["sync", "bad name", "--from-dotenv", envFile("ok", { A: value("a") })]), 1, "InvalidError", /invalid secret name/);
  });

  test("1,000 changes (the local server's most in one update): one SecretUpdate of them all", async () => {
    const name = uniq("sync-many");
    await pkg.Secret.objects.create(name, { K0: value("k0"), OLD: value("old") }, { client });
    const pairs = Object.fromEntries(Array.from({ length: 999 }, (_, i) => [`K${i}`, `value-${i}`]));
    const path = envFile(name, pairs);
    proxy.reset();
    const out = ok(await cli(["sync", name, "--from-dotenv", path, "--prune"], { env: viaProxy }));
    assert.match(out, /998 to add, 1 to set, 1 to remove\.\nSynced secret '.*': 998 added, 1 set, 1 removed\.\n$/);
    assert.equal(requestsOf("SecretUpdate").length, 1);
    assert.equal(sentUpdates()[0].length, 1000);
    assert.equal((await keysOf(name)).length, 999);
  });

  test("a plan the server refuses (1,001 keys) changes nothing: the sync is applied whole or not at all", async () => {
    const name = uniq("sync-refused");
    await pkg.Secret.objects.create(name, { OLD: value("old"), K0: value("k0") }, { client });
    const pairs = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`K${i}`, `value-${i}`]));
    const path = envFile(name, pairs);
    const r = await cli(["sync", name, "--from-dotenv", path]);
    assert.match(r.stdout, /999 to add, 1 to set, 0 to remove, 1 kept/);
    failed(r, 1, "InvalidError");
    assert.deepEqual(await keysOf(name), ["K0", "OLD"]);
  });
});

// ---- progress on a terminal ---------------------------------------------------------------------------

describe("progress", { skip: !hasScript && "no util-linux script" }, () => {
  test("list: a progress line on a terminal once it takes a while, erased at the end; none when piped", async () => {
    server.env("many");
    const made = [];
    for (let i = 0; i < 250; i++) made.push(pkg.Secret.objects.create(`p-${i}`, { A: "1" }, { client, environmentName: "many" }));
    await Promise.all(made);
    proxy.reset();
    proxy.fallback = delayed(300, proxy.forward);
    try {
      const r = await runCliOnTerminal(["list", "-e", "many", "--json"], { env: viaProxy });
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /\r\x1b\[KListing secrets… \d/);
      assert.match(r.output, /\r\x1b\[K\[/, "erased before the output");
      const piped = await cli(["list", "-e", "many", "--json"], { env: viaProxy });
      assert.equal(piped.stderr, "");
      assert.equal(JSON.parse(piped.stdout).length, 250);
    } finally {
      proxy.reset();
    }
  });

  test("sync: 'Applying the plan' while the update is in flight, on a terminal only", async () => {
    const name = uniq("sync-progress");
    await pkg.Secret.objects.create(name, { A: "1" }, { client });
    const path = file("progress.env", "A=2\nB=3\n");
    proxy.reset();
    proxy.fallback = delayed(400, proxy.forward);
    try {
      const r = await runCliOnTerminal(["sync", name, "--from-dotenv", path], { env: viaProxy });
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /\r\x1b\[KApplying the plan: 2 keys in one update…\r\x1b\[K/);
      assert.match(r.output, /Synced secret/);
      const piped = await cli(["sync", name, "--from-dotenv", path], { env: viaProxy });
      assert.equal(piped.stderr, "");
    } finally {
      proxy.reset();
    }
  });
});

// ---- the README ---------------------------------------------------------------------------------------

describe("README, section Command line", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Command line"), readme.indexOf("\n## ", readme.indexOf("## Command line") + 1));
  const shown = [...section.matchAll(/```text\n\$ npx modal-secrets ([^\n]*)\n([\s\S]*?)```/g)].map((m) => ({ args: m[1].split(" "), output: m[2] }));

  test("shows the --help of the command line and of every command, as they are", async () => {
    const helps = shown.filter((s) => s.args.includes("--help"));
    assert.deepEqual(
      helps.map((s) => s.args[0]),
      ["--help", "list", "create", "info", "update", "delete", "sync"],
    );
    for (const { args, output } of helps) assert.equal(ok(await cli(args)), output, args.join(" "));
  });

  test("its sync example prints what it shows", async () => {
    const example = shown.find((s) => s.args[0] === "sync");
    const own = server.token("readme");
    const dir = tempDir();
    writeFileSync(join(dir, ".env.production"), `STRIPE_KEY=${value("stripe")}\nSENTRY_DSN=${value("sentry")}\n`);
    await pkg.Secret.objects.create("api-keys", { STRIPE_KEY: value("s0"), OLD_TOKEN: value("old") }, { client: server.client(own) });
    assert.equal(ok(await cli(example.args, { env: cliEnv(server, own, home), cwd: dir })), example.output);
  });
});

// ---- the package's bin --------------------------------------------------------------------------------

test("npm pack + install: `modal-secrets` is on the PATH of node_modules/.bin and runs", async () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, "pkg/package.json"), "utf8"));
  assert.deepEqual(manifest.bin, { "modal-secrets": "./cli.cjs" });
  assert.ok(readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node\n"));
  const dir = tempDir("modal-secrets-cli-pack-");
  const tarball = execFileSync("npm", ["pack", join(ROOT, "pkg"), "--pack-destination", dir, "--silent"], { cwd: dir, encoding: "utf8" })
    .trim()
    .split("\n")
    .at(-1);
  writeFileSync(join(dir, "package.json"), '{ "private": true }\n');
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", join(dir, tarball)], { cwd: dir, stdio: "pipe" });
  const bin = join(dir, "node_modules/.bin/modal-secrets");
  assert.ok(statSync(bin).mode & 0o111, "executable");
  const help = execFileSync(bin, ["--help"], { encoding: "utf8", env: { PATH: process.env.PATH, HOME: home } });
  assert.match(help, /^Usage: modal-secrets \[OPTIONS\] COMMAND/);
  const name = uniq("bin");
  const out = execFileSync(bin, ["create", name, "A=1"], { encoding: "utf8", env });
  assert.match(out, new RegExp(`^Created a new secret '${name}'`));
});
