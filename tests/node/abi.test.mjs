// Issue 17: every format that crosses between the wasm (src/abi.rs) and JS (src/js/abi.js), sent
// through both sides by the package's own functions: what one side writes, the other reads, with
// a result that shows what it read (a typed error, an accepted or refused argument, a real call).
// The built wasm and its unbundled JS (target/bindgen, which scripts/build.sh leaves beside pkg/)
// are loaded directly, so the internal exports are reachable. Real operations go to the real
// server; answers are handed to an operation by hand only to say exactly what JS wrote.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, startServer } from "./support/server.mjs";

const dir = join(ROOT, "target", "bindgen");
const glue = await import(join(dir, "modal_secrets.js"));
glue.initSync({ module: readFileSync(join(dir, "modal_secrets_node_bg.wasm")) });
// The same module instances the glue imported (a second copy would have its own classes).
const abi = await import(join(dir, "abi.js"));
const errors = await import(join(dir, "errors.js"));
const { drive } = await import(join(dir, "host.js"));
const { ClientHandle, createSecret, deleteSecret, dictTarget, nameTarget, secretOp, ListingHandle } = glue;

const server = await startServer();
const token = server.token();

/** A client handle on the real server, over fetch (gRPC-web). */
function handle(options = {}) {
  return ClientHandle.create({ serverUrl: server.url, transport: "fetch", tokenId: token.tokenId, tokenSecret: token.tokenSecret, ...options }, false, undefined, undefined, false);
}

/** Drives `op` by hand: each send is answered with status 200, `headers` (an object, as header
 * lines) and an empty body, or fails as `failure` says; waits end at once. Resolves to finish(). */
function answerAll(op, { headers, failure }) {
  try {
    let now = 0;
    for (let step = op.step(now); step !== null; step = op.step(++now)) {
      if (typeof step === "number") op.slept(true);
      else if (failure) op.failed(now, failure, "");
      else op.answer(now, 200, abi.headerLines(Object.keys(headers), (name) => headers[name]), new Uint8Array(0), undefined);
    }
    return op.finish();
  } finally {
    op.free();
  }
}

const GRPC_WEB = "application/grpc-web+proto";

describe("header lines", () => {
  test("Rust writes a request's, JS reads them and writes them back the same", () => {
    const core = handle();
    const step = abi.readStep(createSecret(core, "abi-headers", { A: "1" }, undefined).step(0));
    const headers = abi.headerObject(step.headers);
    assert.equal(headers["x-modal-token-id"], token.tokenId);
    assert.equal(headers["content-type"], GRPC_WEB);
    assert.equal(abi.headerLines(Object.keys(headers), (name) => headers[name]), step.headers);
  });
  test("JS writes an answer's, Rust reads each name and value", () => {
    const core = handle({ maxRetries: 0 });
    const message = "gone: caf\u00e9 \u2713, a=b";
    const headers = { "content-type": GRPC_WEB, "x-other": "", "grpc-status": "5", "grpc-message": encodeURIComponent(message) };
    assert.throws(
      () => answerAll(deleteSecret(core, "abi-headers", undefined), { headers }),
      (e) => e instanceof errors.NotFoundError && e.message.includes(message),
    );
  });
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
    assert.ok(read.body instanceof Uint8Array && read.body.length > 5);
    assert.ok(read.timeoutMs > 0 && read.timeoutMs <= 5000, `timeoutMs ${read.timeoutMs}`);
    assert.ok(read.maxBodyBytes >= 4 << 20);
    assert.ok(abi.wantedHeaders(read.wanted).includes("grpc-status"));
  });
  test("without a timeout, timeoutMs is -1", () => {
    const op = deleteSecret(handle(), "abi-step", undefined);
    const step = abi.readStep(op.step(0));
    op.free();
    assert.equal(step.timeoutMs, -1);
  });
});

describe("transport failures", () => {
  test("each kind JS names, Rust reads as its typed error", () => {
    assert.deepEqual(Object.values(abi.FAILURE).sort(), ["aborted", "connection", "timeout", "too-large"]);
    const expected = { connection: errors.ConnectionError, timeout: errors.TimeoutError, aborted: errors.TimeoutError, "too-large": errors.InternalError };
    for (const kind of Object.values(abi.FAILURE)) {
      const op = deleteSecret(handle({ maxRetries: 0 }), "abi-failure", undefined);
      assert.throws(() => answerAll(op, { failure: kind }), (e) => e instanceof expected[kind] && !/internal error/.test(e.message), kind);
    }
  });
  test("an unknown kind is an internal error, not a silent connection failure", () => {
    const op = deleteSecret(handle({ maxRetries: 0 }), "abi-failure", undefined);
    assert.throws(() => answerAll(op, { failure: "timed-out" }), (e) => e instanceof errors.InvalidError && /internal error.*"timed-out"/.test(e.message));
  });
  test("readFailure: a transport's failure and anything else thrown", () => {
    assert.deepEqual(abi.readFailure(abi.fail(abi.FAILURE.timeout)), ["timeout", ""]);
    assert.deepEqual(abi.readFailure(abi.fail(abi.FAILURE.connection, "ECONNREFUSED")), ["connection", "ECONNREFUSED"]);
    assert.deepEqual(abi.readFailure(new TypeError("boom")), ["connection", "boom"]);
    assert.deepEqual(abi.readFailure(undefined), ["connection", ""]);
  });
});

describe("targets and actions", () => {
  const none = ClientHandle.none(); // checks the arguments, makes no operation
  const accepts = (target, action = abi.ACTION.hydrate, envDict = undefined) => secretOp(none, target, action, envDict, undefined) === undefined;
  const refused = (target, action = abi.ACTION.hydrate) => {
    try {
      secretOp(none, target, action, {}, undefined);
      return undefined;
    } catch (error) {
      return error;
    }
  };

  test("Rust writes the targets of a name and of values; JS reads the name; Rust reads them back", () => {
    const named = nameTarget("db", { environmentName: "dev", requiredKeys: ["A"] });
    assert.equal(abi.targetName(named), "db");
    assert.ok(accepts(named));
    const plain = nameTarget("db", undefined);
    assert.equal(abi.targetName(plain), "db");
    assert.ok(accepts(plain));
    const dict = dictTarget({ A: "1", B: "two" });
    assert.equal(abi.targetName(dict), undefined);
    assert.ok(accepts(dict));
  });
  test("JS writes a hydrated secret's target; Rust reads it (and a real call uses it: see outcomes)", () => {
    assert.ok(accepts(abi.idTarget({ id: "st-abcdefghijklmnopqrstuv", name: "db", keys: ["A"] })));
    assert.ok(accepts(abi.idTarget({ id: "st-abcdefghijklmnopqrstuv", name: null, keys: [] })));
  });
  test("a malformed target is an internal error", () => {
    for (const bad of [5, [], ["nope"], ["dict", ["A"]], ["id", 5, null, []], ["name", "db", undefined, "A"]]) {
      const error = refused(bad);
      assert.ok(error instanceof errors.InvalidError && /internal error: a malformed secret target/.test(error.message), JSON.stringify(bad));
    }
  });
  test("every action JS names, Rust reads; a misspelt one is an error, never a hydrate", () => {
    const target = nameTarget("db", undefined);
    for (const action of Object.values(abi.ACTION)) assert.ok(accepts(target, action, {}), action);
    const error = refused(target, "hydrat");
    assert.ok(error instanceof errors.InvalidError && /internal error: a malformed secret action/.test(error.message));
  });
});

describe("errors", () => {
  test("each gRPC status JS hands over becomes, in Rust, the class of its kind, made by abi.js", () => {
    const codes = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];
    const seen = new Set();
    for (let n = 1; n < codes.length; n++) {
      const headers = { "content-type": GRPC_WEB, "grpc-status": String(n), "grpc-message": "echo" };
      let error;
      try {
        answerAll(deleteSecret(handle({ maxRetries: 0 }), "abi-errors", undefined), { headers });
      } catch (e) {
        error = e;
      }
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
