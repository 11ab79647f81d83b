// Issue 4, "done when" 6: this package (the built pkg/) and Modal's official Python SDK
// (modal==1.6.4) on the same server and the same secrets, both ways.
//
// Run by tests/official/run.sh with MODAL_SERVER_URL, MODAL_TOKEN_ID and MODAL_TOKEN_SECRET set (both
// sides read them: the package through its default client, Client.fromEnv()). argv[2] is the Python
// with modal installed, argv[3] an environment created beside `main`. The SDK runs in one
// tests/official/interop.py process that answers JSON commands. Each passed check prints
// `PASS <name>`; any failure throws and exits non-zero.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const [python, extraEnv] = process.argv.slice(2);
assert.ok(python && extraEnv, "usage: node interop.mjs PYTHON EXTRA_ENV");
const entry = fileURLToPath(new URL("../../pkg/node.mjs", import.meta.url));
if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build`);
const { Secret, Client, NotFoundError } = await import(entry);

// Long, distinct values: the secrets audit of npm test (tests/audit/) searches every log for each
// (values this package sends are recorded by its fetch hook, those the SDK sends by interop.py).
const RUN = randomBytes(4).toString("hex");
const v = (label) => `interop-${label}-${RUN}-${randomBytes(6).toString("hex")}`;

let passed = 0;
function ok(name) {
  passed += 1;
  console.log(`PASS ${name}`);
}

// ---- the Python side -------------------------------------------------------------------------------
const child = spawn(python, [fileURLToPath(new URL("interop.py", import.meta.url))], {
  stdio: ["pipe", "pipe", "inherit"],
});
const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
const exited = new Promise((resolve) => child.once("exit", resolve));
async function py(cmd) {
  child.stdin.write(`${JSON.stringify(cmd)}\n`);
  const { value, done } = await lines.next();
  if (done) throw new Error(`the Python helper exited (${await exited}) during ${cmd.op}`);
  const answer = JSON.parse(value);
  if ("error" in answer) throw new Error(`Python SDK, ${cmd.op}: ${answer.error}: ${answer.message}`);
  return answer.ok;
}

/** What this package says about a secret, in the shape interop.py answers. */
async function describe(name, environmentName) {
  const secret = await Secret.fromName(name, { environmentName }).hydrate();
  const info = await secret.info();
  return {
    object_id: secret.objectId,
    keys: secret.keys,
    name: info.name,
    created_by: info.createdBy,
    environment_name: info.environmentName,
    created_at: info.createdAt.getTime() / 1000,
    last_used: info.lastUsed === null ? null : info.lastUsed.getTime() / 1000,
  };
}

/** The two descriptions agree (created_at to the millisecond a JS Date holds). */
function assertSame(ours, theirs, what) {
  assert.ok(Math.abs(ours.created_at - theirs.created_at) < 0.001, `${what}: created_at ${ours.created_at} vs ${theirs.created_at}`);
  assert.deepEqual({ ...ours, created_at: 0 }, { ...theirs, created_at: 0 }, what);
}

try {
  const client = Client.fromEnv();
  assert.equal(client.serverUrl, process.env.MODAL_SERVER_URL.replace(/\/+$/, ""));

  // ---- made by this package, read by the SDK ------------------------------------------------------
  await Secret.objects.create("interop-js", { JS_A: v("a"), JS_B: v("b") });
  const ours = await describe("interop-js");
  const theirs = await py({ op: "describe", name: "interop-js" });
  assertSame(ours, theirs, "interop-js");
  assert.deepEqual(theirs.keys, ["JS_A", "JS_B"]);
  assert.equal(theirs.name, "interop-js");
  assert.equal(theirs.environment_name, "main");
  assert.ok(theirs.created_by, "created_by is set");
  ok("a secret created by the package: the SDK finds it with the same id, keys and info");

  await Secret.objects.create("interop-js-env", { JS_E: v("e") }, { environmentName: extraEnv });
  const oursEnv = await describe("interop-js-env", extraEnv);
  const theirsEnv = await py({ op: "describe", name: "interop-js-env", env: extraEnv });
  assertSame(oursEnv, theirsEnv, "interop-js-env");
  assert.equal(theirsEnv.environment_name, extraEnv);
  assert.equal(await py({ op: "exists", name: "interop-js-env" }), false, "not in main");
  ok(`a secret created by the package in environment ${extraEnv}: same for the SDK, and only there`);

  const pyListed = await py({ op: "list" });
  assert.deepEqual(
    pyListed.filter((s) => s.name === "interop-js"),
    [{ name: "interop-js", object_id: ours.object_id }],
  );
  ok("the SDK lists the package's secret once, with its id");

  await (await Secret.fromName("interop-js").hydrate()).update({ JS_C: v("c"), JS_A: null });
  assert.deepEqual((await py({ op: "describe", name: "interop-js" })).keys, ["JS_B", "JS_C"]);
  ok("an update by the package (set + remove) is what the SDK sees");

  // ---- made by the SDK, used by this package -------------------------------------------------------
  await py({ op: "create", name: "interop-py", values: { PY_X: v("x"), PY_Y: v("y") } });
  const sdkMade = await py({ op: "describe", name: "interop-py" });
  const found = await describe("interop-py");
  assertSame(found, sdkMade, "interop-py");
  assert.deepEqual(found.keys, ["PY_X", "PY_Y"]);
  ok("a secret created by the SDK: the package finds it with the same id, keys and info");

  const listed = await Secret.objects.list();
  const mine = listed.filter((s) => s.name === "interop-py");
  assert.equal(mine.length, 1, "listed once");
  assert.equal(mine[0].objectId, sdkMade.object_id);
  assert.deepEqual(mine[0].keys, ["PY_X", "PY_Y"]);
  const pyOrder = (await py({ op: "list" })).map((s) => s.name);
  assert.deepEqual(
    listed.map((s) => s.name),
    pyOrder,
    "the same listing, in the same order",
  );
  ok("the package lists it, with its keys, in the SDK's order");

  await mine[0].update({ PY_Z: v("z"), PY_X: null });
  assert.deepEqual((await py({ op: "describe", name: "interop-py" })).keys, ["PY_Y", "PY_Z"]);
  await Secret.fromName("interop-py").update({ PY_Y: v("y2") });
  const afterUpdates = await py({ op: "describe", name: "interop-py" });
  assert.deepEqual(afterUpdates.keys, ["PY_Y", "PY_Z"]);
  assert.equal(afterUpdates.object_id, sdkMade.object_id, "updated in place");
  ok("the package updates it (listed handle and fromName); the SDK sees the keys after");

  await Secret.objects.delete("interop-py");
  assert.equal(await py({ op: "exists", name: "interop-py" }), false);
  assert.ok(!(await py({ op: "list" })).some((s) => s.name === "interop-py"));
  await assert.rejects(Secret.objects.delete("interop-py"), NotFoundError);
  ok("the package deletes it; the SDK no longer finds or lists it");

  await py({ op: "create", name: "interop-py-env", values: { PY_E: v("pe") }, env: extraEnv });
  const inEnv = await Secret.objects.list({ environmentName: extraEnv });
  assert.ok(inEnv.some((s) => s.name === "interop-py-env"));
  assert.ok(!(await Secret.objects.list()).some((s) => s.name === "interop-py-env"));
  await Secret.objects.delete("interop-py-env", { environmentName: extraEnv });
  assert.equal(await py({ op: "exists", name: "interop-py-env", env: extraEnv }), false);
  ok(`in environment ${extraEnv}: the package lists and deletes the SDK's secret`);

  // Leave the server as found.
  await Secret.objects.delete("interop-js");
  await Secret.objects.delete("interop-js-env", { environmentName: extraEnv });
  assert.equal(await py({ op: "exists", name: "interop-js" }), false);
  ok("the package's own secrets deleted; the SDK agrees");
} finally {
  child.stdin.end();
  await exited;
}
console.log(`interop: ${passed} checks passed`);
