// Issue 17: every format that crosses between the wasm (src/abi.rs) and JS (src/js/abi.js), sent
// through both sides: what one side writes, the other reads and writes back, and the first reads
// again to the same thing. The built wasm and its unbundled JS (target/bindgen, which
// scripts/build.sh leaves beside pkg/) are loaded directly, so the internal exports are reachable.
// Real operations go to the real server; nothing is mocked.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, startServer } from "./support/server.mjs";

const dir = join(ROOT, "target", "bindgen");
const glue = await import(join(dir, "modal_secrets.js"));
glue.initSync({ module: readFileSync(join(dir, "modal_secrets_bg.wasm")) });
// The same module instances the glue imported (a second copy would have its own classes).
const abi = await import(join(dir, "abi.js"));
const errors = await import(join(dir, "errors.js"));
const { drive } = await import(join(dir, "host.js"));
const { abiEcho, ClientHandle, createSecret, deleteSecret, dictTarget, nameTarget, secretOp, ListingHandle } = glue;

const server = await startServer();
const token = server.token();

/** A client handle on the real server, over fetch (gRPC-web). */
function handle(options = {}) {
  return ClientHandle.create({ serverUrl: server.url, transport: "fetch", tokenId: token.tokenId, tokenSecret: token.tokenSecret, ...options }, false, undefined, undefined, false);
}

describe("header lines", () => {
  const sets = [
    {},
    { "content-type": "application/grpc-web+proto" },
    { a: "", b: "x: y, z", "x-modal-token-id": "ak-1", "grpc-message": "caf%C3%A9 ünïcode ✓" },
    Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`h${i}`, `v${i}`.repeat(i)])),
  ];
  for (const headers of sets) {
    test(`${Object.keys(headers).length} header(s): JS writes, Rust reads and writes, JS reads`, () => {
      const text = abi.headerLines(Object.keys(headers), (name) => headers[name]);
      const back = abiEcho("headers", text);
      assert.equal(back, text);
      assert.deepEqual(abi.headerObject(back), headers);
    });
  }
  test("headerLines leaves out names without a value (null or undefined)", () => {
    assert.equal(abi.headerLines(["a", "b", "c"], (n) => ({ a: "1", b: null })[n]), "a\n1\n");
  });
});

describe("send steps", () => {
  test("Rust writes a step, JS reads it, writes it back the same", () => {
    const core = handle({ timeoutMs: 5000 });
    const op = createSecret(core, "abi-step", { A: "1" }, undefined);
    const step = op.step(0);
    op.free();
    const read = abi.readStep(step);
    assert.deepEqual(abi.writeStep(read), step);
    assert.equal(read.url, `${server.url}/modal.client.ModalClient/SecretGetOrCreate`);
    const headers = abi.headerObject(read.headers);
    assert.equal(headers["x-modal-token-id"], token.tokenId);
    assert.equal(headers["content-type"], "application/grpc-web+proto");
    assert.ok(read.body instanceof Uint8Array && read.body.length > 5);
    assert.ok(read.timeoutMs > 0 && read.timeoutMs <= 5000, `timeoutMs ${read.timeoutMs}`);
    assert.ok(read.maxBodyBytes >= 4 << 20);
    assert.ok(abi.wantedHeaders(read.wanted).includes("grpc-status"));
    core.free();
  });

  test("without a timeout, timeoutMs is -1", () => {
    const core = handle();
    const op = deleteSecret(core, "abi-step", undefined);
    const step = abi.readStep(op.step(0));
    op.free();
    core.free();
    assert.ok(step.timeoutMs === -1 || step.timeoutMs > 0);
  });
});

describe("transport failures", () => {
  test("every kind JS names, Rust reads back as the same kind", () => {
    assert.deepEqual(Object.values(abi.FAILURE).sort(), ["aborted", "connection", "timeout", "too-large"]);
    for (const kind of Object.values(abi.FAILURE)) assert.equal(abiEcho("failure", kind), kind);
  });
  test("an unknown kind is an internal error, not a silent connection failure", () => {
    assert.throws(() => abiEcho("failure", "timed-out"), (e) => e instanceof errors.InvalidError && /internal error.*"timed-out"/.test(e.message));
  });
  test("readFailure: a transport's failure and anything else thrown", () => {
    assert.deepEqual(abi.readFailure(abi.fail(abi.FAILURE.timeout)), ["timeout", ""]);
    assert.deepEqual(abi.readFailure(abi.fail(abi.FAILURE.connection, "ECONNREFUSED")), ["connection", "ECONNREFUSED"]);
    assert.deepEqual(abi.readFailure(new TypeError("boom")), ["connection", "boom"]);
    assert.deepEqual(abi.readFailure(undefined), ["connection", ""]);
  });
  test("each kind reaches the caller as its typed error", async () => {
    const expected = { connection: errors.ConnectionError, timeout: errors.TimeoutError, aborted: errors.TimeoutError, "too-large": errors.InternalError };
    for (const [kind, cls] of Object.entries(expected)) {
      const core = handle({ maxRetries: 0 });
      const op = deleteSecret(core, "abi-failure", undefined);
      op.step(0);
      op.failed(1, kind, kind === "connection" ? "refused" : "");
      for (let step = op.step(2); step !== null; step = op.step(3)) {
        if (typeof step === "number") op.slept(true);
        else op.failed(3, kind, "");
      }
      assert.throws(() => op.finish(), (e) => e instanceof cls, kind);
      op.free();
      core.free();
    }
  });
});

describe("targets", () => {
  test("a hydrated secret's target: JS writes, Rust reads and writes, the same", () => {
    for (const record of [
      { id: "st-abcdefghijklmnopqrstuv", name: "db", keys: ["A", "B"] },
      { id: "st-abcdefghijklmnopqrstuv", name: null, keys: [] },
    ]) {
      const target = abi.idTarget(record);
      assert.deepEqual(abiEcho("target", target), target);
    }
  });
  test("Rust's fromName and fromDict targets: JS reads the name, Rust reads them back the same", () => {
    const named = nameTarget("db", { environmentName: "dev", requiredKeys: ["A"] });
    assert.equal(abi.targetName(named), "db");
    assert.deepEqual(abiEcho("target", named), named);
    const plain = nameTarget("db", undefined);
    assert.deepEqual(abiEcho("target", plain), plain);
    const dict = dictTarget({ A: "1", B: "two" });
    assert.equal(abi.targetName(dict), undefined);
    assert.deepEqual(abiEcho("target", dict), dict);
  });
  test("a malformed target is an internal error", () => {
    for (const bad of [5, [], ["nope"], ["dict", ["A"]], ["id", 5, null, []], ["name", "db", undefined, "A"]]) {
      assert.throws(() => abiEcho("target", bad), (e) => e instanceof errors.InvalidError && /internal error: a malformed secret target/.test(e.message), JSON.stringify(bad));
    }
  });
});

describe("secret actions", () => {
  test("every action JS names, Rust reads back as the same", () => {
    for (const action of Object.values(abi.ACTION)) assert.equal(abiEcho("action", action), action);
  });
  test("a misspelt action is an error, never a hydrate", () => {
    const target = nameTarget("db", undefined);
    assert.throws(
      () => secretOp(ClientHandle.none(), target, "hydrat", undefined, undefined),
      (e) => e instanceof errors.InvalidError && /internal error: a malformed secret action/.test(e.message),
    );
  });
});

describe("errors", () => {
  test("each gRPC status becomes the class of its kind, with its code", () => {
    const codes = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];
    const seen = new Set();
    for (let n = 1; n < codes.length; n++) {
      const error = abiEcho("error", n);
      assert.ok(error instanceof errors.ModalError, codes[n]);
      assert.equal(errors[error.name], error.constructor, `${codes[n]}: ${error.name} is an exported class`);
      assert.equal(error.code, codes[n]);
      assert.match(error.message, /echo/);
      seen.add(error.name);
    }
    // Every class but the base and the local ones (Connection, Timeout) comes from some status.
    for (const name of Object.keys(errors)) {
      if (!["ModalError", "ConnectionError", "TimeoutError"].includes(name)) assert.ok(seen.has(name), name);
    }
  });
  test("an unknown class name still makes a ModalError, and says so", () => {
    const error = abi.makeError("NoSuchError", "UNKNOWN", "boom", false, -1);
    assert.ok(error instanceof errors.ModalError);
    assert.match(error.message, /^boom \(internal error: no error class "NoSuchError"\)$/);
    assert.equal(error.retryAfter, undefined);
    assert.equal(abi.makeError("AuthError", "UNAUTHENTICATED", "x", false, 1.5).retryAfter, 1.5);
  });
});

describe("outcomes", () => {
  // The fields abi.js's Outcome and SecretRecordJson typedefs name.
  const OUTCOME = ["deleted", "hydrated", "info", "keys", "records"];
  const RECORD = ["createdAt", "createdBy", "environmentName", "id", "keys", "lastUsed", "name"];

  test("each operation's outcome, from the real server, has exactly the documented fields", async () => {
    const core = handle();
    const run = (op) => drive(op, undefined, undefined);
    await run(createSecret(core, "abi-outcome", { A: "1" }, { allowExisting: true }));
    const hydrated = await run(secretOp(core, nameTarget("abi-outcome", undefined), abi.ACTION.hydrate, undefined, undefined));
    assert.deepEqual(Object.keys(hydrated).sort(), OUTCOME);
    assert.deepEqual(Object.keys(hydrated.hydrated).sort(), RECORD);
    assert.equal(hydrated.hydrated.name, "abi-outcome");
    assert.deepEqual(hydrated.hydrated.keys, ["A"]);
    assert.ok(Number.isInteger(hydrated.hydrated.createdAt));
    const target = abi.idTarget(hydrated.hydrated);
    const info = await run(secretOp(core, target, abi.ACTION.info, undefined, { refresh: true }));
    assert.deepEqual(Object.keys(info.info).sort(), RECORD);
    const updated = await run(secretOp(core, target, abi.ACTION.update, { B: "2" }, undefined));
    assert.deepEqual(updated.keys.sort(), ["A", "B"]);
    const listing = ListingHandle.create(core, undefined, "Secret.objects.list");
    const page = await run(listing.nextOp());
    listing.free();
    assert.ok(page.records.some((r) => r.name === "abi-outcome"));
    for (const r of page.records) assert.deepEqual(Object.keys(r).sort(), RECORD);
    const deleted = await run(deleteSecret(core, "abi-outcome", undefined));
    assert.equal(deleted.deleted, true);
    core.free();
  });
});
