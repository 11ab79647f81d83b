// The error classes of the built package: real Error subclasses with stable names, codes and
// hierarchy, thrown for bad arguments before any work is done.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { readFileSync } from "node:fs";
import * as pkg from "../../pkg/node.mjs";

// The classes and parents the package's types declare (core/src/error.rs's test ties these to the
// core's ErrorKind and to src/js/errors.js; this ties them to what the built package exports).
const types = readFileSync(new URL("../../pkg/index.d.ts", import.meta.url), "utf8");
const hierarchy = Object.fromEntries([...types.matchAll(/^export class (\w+) extends (\w+)/gm)].map((m) => [m[1], m[2]]));

test("the package exports exactly the error classes its types declare", () => {
  assert.ok(Object.keys(hierarchy).length >= 14, "index.d.ts declares the error classes");
  const exported = Object.keys(pkg).filter((name) => typeof pkg[name] === "function" && pkg[name].prototype instanceof Error);
  assert.deepEqual(exported.sort(), Object.keys(hierarchy).sort());
});

test("every error class of DESIGN.md is exported, with its parent and a stable name", () => {
  for (const [name, parent] of Object.entries(hierarchy)) {
    const cls = pkg[name];
    assert.equal(typeof cls, "function", name);
    const parentClass = parent === "Error" ? Error : pkg[parent];
    assert.equal(Object.getPrototypeOf(cls), parentClass, `${name} extends ${parent}`);
    const err = new cls("boom", { code: "NOT_FOUND" });
    assert.ok(err instanceof Error && err instanceof pkg.ModalError && err instanceof parentClass);
    assert.equal(err.name, name);
    assert.equal(err.message, "boom");
    assert.equal(err.code, "NOT_FOUND");
    assert.equal(err.retryable, false);
    assert.match(String(err), new RegExp(`^${name}: boom$`));
    assert.ok(err.stack.includes("boom"));
  }
});

test("the internal error factory is not part of the API", () => {
  assert.equal(pkg.makeError, undefined);
});

test("bad arguments to parseDotenv are InvalidErrors that name the argument", () => {
  const cases = [
    [[5], "text must be a string, got a number"],
    [[undefined], "text must be a string, got undefined"],
    [[null], "text must be a string, got null"],
    [[["A=1"]], "text must be a string, got an array"],
    [[Buffer.from("A=1")], "text must be a string, got an object"],
    [["A=1", 7], "options must be an object, got a number"],
    [["A=1", "env"], "options must be an object, got a string"],
    [["A=1", { env: "A=1" }], "options.env must be an object of strings, got a string"],
    [["A=1", { env: 3 }], "options.env must be an object of strings, got a number"],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => pkg.parseDotenv(...args),
      (err) => {
        assert.ok(err instanceof pkg.InvalidError, `${inspect(args)}: ${err}`);
        assert.equal(err.code, "INVALID_ARGUMENT");
        assert.equal(err.retryable, false);
        assert.equal(err.message, `parseDotenv: ${message}`);
        return true;
      },
    );
  }
});

test("a failed call leaves the module working", () => {
  assert.throws(() => pkg.parseDotenv(Symbol("x")), pkg.InvalidError);
  assert.deepEqual(pkg.parseDotenv("A=1"), { A: "1" });
});

test("parseDotenv options: env is optional, non-string env values are ignored", () => {
  assert.deepEqual(pkg.parseDotenv("A=${X:-d}"), { A: "d" });
  assert.deepEqual(pkg.parseDotenv("A=${X:-d}", {}), { A: "d" });
  assert.deepEqual(pkg.parseDotenv("A=${X:-d}", { env: { X: 1 } }), { A: "d" });
  assert.deepEqual(pkg.parseDotenv("A=${X:-d}", { env: { X: "x" } }), { A: "x" });
  assert.deepEqual(pkg.parseDotenv("A=${HOME}", { env: process.env }), { A: process.env.HOME ?? "" });
});

test("keys such as __proto__ stay plain keys", () => {
  const got = pkg.parseDotenv("__proto__=x\nconstructor=y");
  assert.equal(Object.getPrototypeOf(got), Object.prototype);
  assert.deepEqual(Object.keys(got), ["__proto__", "constructor"]);
  assert.equal(Object.getOwnPropertyDescriptor(got, "__proto__").value, "x");
});
