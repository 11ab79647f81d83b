// Issue 9, "done when" 2: Modal's official CLI (`modal secret`, pip modal of the version
// tests/official/run.sh pins) and this package's CLI on the same server and the same secrets, both
// ways round: what one creates, the other lists, syncs and deletes, with identical results (the
// same `list --json` and table output byte for byte, the same keys as Modal's Python SDK sees
// them, the same errors).
//
// Modal's client is found, or installed, where tests/official/run.sh has it: by
// tests/official/modal-python.sh (target/official-venv, else target/official-py).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer } from "../node/support/server.mjs";
import { ROOT, cliEnv, runCli, tempDir } from "./support.mjs";

const MODAL_PY_VERSION = /^MODAL_PY_VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, "tests/official/run.sh"), "utf8"))[1];
/** { python, env } running Modal's client of that version (tests/official/modal-python.sh installs it if needed). */
function officialModal() {
  const script = join(ROOT, "tests/official/modal-python.sh");
  const [python, pythonPath] = execFileSync("bash", [script, MODAL_PY_VERSION], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).split("\n");
  return { python, env: pythonPath ? { PYTHONPATH: pythonPath } : {} };
}

const modalPy = officialModal();
const server = await startServer();
const token = server.token();
server.env("dev");
const home = tempDir();
// Wide enough that rich draws the tables unwrapped, as ours are.
const env = cliEnv(server, token, home, { COLUMNS: "200", PYTHONDONTWRITEBYTECODE: "1", ...modalPy.env });

/** Runs Python with Modal's client: { code, stdout, stderr }. */
function python(args, input = "") {
  return new Promise((resolve, reject) => {
    const child = execFile(modalPy.python, args, { env, encoding: "utf8", timeout: 120_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
    child.stdin.end(input);
  });
}
const modal = (...args) => python(["-m", "modal", "secret", ...args]);
const ours = (...args) => runCli(args, { env });

async function succeeds(promise) {
  const r = await promise;
  assert.equal(r.code, 0, `exit ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Every named secret's keys, per environment, as Modal's Python SDK sees them (one process). */
async function sdkKeys(names) {
  const script = `
import json, sys, modal
out = {}
for name, env in json.loads(sys.stdin.read()):
    try:
        s = modal.Secret.from_name(name, environment_name=env or None)
        s.hydrate()
        out[f"{env}/{name}"] = sorted(s._get_metadata().keys)
    except modal.exception.NotFoundError:
        out[f"{env}/{name}"] = None
print(json.dumps(out))
`;
  return JSON.parse(await succeeds(python(["-c", script], JSON.stringify(names))));
}

const trimLines = (text) => text.split("\n").map((l) => l.trimEnd()).join("\n");

/** `list --json` and the table of both CLIs, for the environment args given: identical. */
async function sameLists(...envArgs) {
  const [theirsJson, oursJson, theirsTable, oursTable] = await Promise.all([
    succeeds(modal("list", "--json", ...envArgs)),
    succeeds(ours("list", "--json", ...envArgs)),
    succeeds(modal("list", ...envArgs)),
    succeeds(ours("list", ...envArgs)),
  ]);
  assert.equal(oursJson, theirsJson);
  assert.equal(trimLines(oursTable), trimLines(theirsTable));
  return JSON.parse(oursJson).map((row) => row.name);
}

/** Both fail with exit 1 and the same server message; ours names the kind. */
async function sameFailure(kind, theirs, ourRun) {
  const [t, o] = await Promise.all([theirs, ourRun]);
  assert.equal(t.code, 1, t.stdout + t.stderr);
  assert.equal(o.code, 1, o.stdout + o.stderr);
  const theirLine = t.stderr.trimEnd().split("\n").at(-1);
  const ourLine = o.stderr.trimEnd().split("\n").at(-1);
  assert.equal(ourLine, theirLine.replace(/^Error: /, `Error: ${kind}: `));
}

const dotenv = (name, text) => {
  const path = join(home, name);
  writeFileSync(path, text);
  return path;
};

describe(`Modal's CLI (modal ${MODAL_PY_VERSION}) creates; this CLI lists, syncs and deletes`, () => {
  test("modal secret create → the same list (JSON and table), in main and --env dev", async () => {
    await succeeds(modal("create", "off-a", "A=1", "B=2"));
    await succeeds(modal("create", "off-b", "X=1"));
    await succeeds(modal("create", "off-dev", "D=1", "--env", "dev"));
    const names = await sameLists();
    assert.deepEqual(names.slice(0, 2), ["off-b", "off-a"]);
    assert.deepEqual(await sameLists("--env", "dev"), ["off-dev"]);
    assert.deepEqual(JSON.parse(await succeeds(ours("info", "off-a", "--json"))).keys, ["A", "B"]);
  });

  test("this CLI syncs them (--prune, --env): Modal's SDK sees the keys of the .env files", async () => {
    await succeeds(ours("sync", "off-a", "--from-dotenv", dotenv("a.env", "B=22\nC=3\n"), "--prune"));
    await succeeds(ours("sync", "off-b", "--from-dotenv", dotenv("b.env", "Y=2\n")));
    await succeeds(ours("sync", "off-dev", "--from-dotenv", dotenv("dev.env", "E=5\n"), "--prune", "-e", "dev"));
    await succeeds(ours("sync", "off-new", "--from-dotenv", dotenv("new.env", "N=1\nM=2\n")));
    assert.deepEqual(await sdkKeys([["off-a", ""], ["off-b", ""], ["off-dev", "dev"], ["off-new", ""]]), {
      "/off-a": ["B", "C"],
      "/off-b": ["X", "Y"],
      "dev/off-dev": ["E"],
      "/off-new": ["M", "N"],
    });
    assert.deepEqual((await sameLists()).slice(0, 3), ["off-new", "off-b", "off-a"]);
  });

  test("this CLI deletes them: gone for Modal's CLI too, which then fails as ours does", async () => {
    for (const name of ["off-a", "off-b", "off-new"]) await succeeds(ours("delete", name, "--yes"));
    await succeeds(ours("delete", "off-dev", "--yes", "--env", "dev"));
    assert.deepEqual(await sameLists(), []);
    assert.deepEqual(await sameLists("--env", "dev"), []);
    await sameFailure("NotFoundError", modal("delete", "off-a", "--yes"), ours("delete", "off-a", "--yes"));
    await succeeds(modal("delete", "off-a", "--yes", "--allow-missing"));
  });
});

describe(`this CLI creates; Modal's CLI (modal ${MODAL_PY_VERSION}) lists, overwrites and deletes`, () => {
  test("create, create --env, sync-created: the same list (JSON and table) from both CLIs", async () => {
    await succeeds(ours("create", "ours-a", "A=1", "B=2"));
    await succeeds(ours("create", "ours-dev", "X=1", "-e", "dev"));
    await succeeds(ours("sync", "ours-sync", "--from-dotenv", dotenv("ours.env", "S=1\nT=2\n")));
    assert.deepEqual(await sameLists(), ["ours-sync", "ours-a"]);
    assert.deepEqual(await sameLists("--env", "dev"), ["ours-dev"]);
  });

  test("an existing name: both refuse with the same message; --force gives both the same result", async () => {
    await sameFailure("AlreadyExistsError", modal("create", "ours-a", "A=1"), ours("create", "ours-a", "A=1"));
    await succeeds(ours("create", "ours-b", "A=1", "B=2"));
    const before = JSON.parse(await succeeds(ours("info", "ours-a", "--json"))).object_id;
    // The same overwrite of two equal secrets, one by each CLI.
    const [theirs, mine] = await Promise.all([
      succeeds(modal("create", "ours-a", "C=3", "B=4", "--force")),
      succeeds(ours("create", "ours-b", "C=3", "B=4", "--force")),
    ]);
    assert.equal(mine.split("\n")[0], theirs.split("\n")[0].replace("ours-a", "ours-b"));
    assert.deepEqual(await sdkKeys([["ours-a", ""], ["ours-b", ""], ["ours-sync", ""], ["ours-dev", "dev"]]), {
      "/ours-a": ["B", "C"],
      "/ours-b": ["B", "C"],
      "/ours-sync": ["S", "T"],
      "dev/ours-dev": ["X"],
    });
    assert.equal(JSON.parse(await succeeds(ours("info", "ours-a", "--json"))).object_id, before, "overwritten in place");
  });

  test("Modal's CLI deletes them: gone for this CLI too, which then fails as Modal's does", async () => {
    for (const name of ["ours-a", "ours-b", "ours-sync"]) await succeeds(modal("delete", name, "--yes"));
    await succeeds(modal("delete", "ours-dev", "--yes", "--env", "dev"));
    assert.deepEqual(await sameLists(), []);
    assert.deepEqual(await sameLists("--env", "dev"), []);
    await sameFailure("NotFoundError", modal("delete", "ours-a", "--yes"), ours("delete", "ours-a", "--yes"));
    await succeeds(ours("delete", "ours-a", "--yes", "--allow-missing"));
    await sameFailure("NotFoundError", modal("list", "--env", "nope"), ours("list", "--env", "nope"));
  });
});
