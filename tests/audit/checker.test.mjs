// The audit's checker can fail: secrets planted in a temporary audit directory are found, with the
// file, the line and a fingerprint that does not contain the secret.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { auditDir, describeLeaks, emptiness, fingerprint } from "./checker.mjs";

const root = mkdtempSync(join(tmpdir(), "modal-secrets-audit-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** An audit directory with `secrets` ([kind, value]) recorded and `files` ({ name: text }). */
function auditOf(secrets, files) {
  const dir = join(root, String(++n));
  mkdirSync(dir);
  writeFileSync(join(dir, "secrets-t-1.jsonl"), secrets.map(([kind, value]) => `${JSON.stringify({ kind, value, from: "planted" })}\n`).join(""));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return auditDir(dir);
}

const VALUE = "planted-value-93f1c2a7";
const TOKEN = "as-PlantedTokenSecret0123456789abcdef";

test("a value planted in a server log is found, with file, line and a fingerprint only", () => {
  const { leaks, stats } = auditOf([["value", VALUE], ["token", TOKEN]], {
    "server-x-1-1.log": `listening on http://127.0.0.1:1\nCALL SecretList OK 1ms\nCALL SecretGetOrCreate OK value=${VALUE} 2ms\n`,
    "printed-y-2.log": "ok 1 - fine\n",
  });
  assert.equal(leaks.length, 1, describeLeaks(leaks).join("\n"));
  assert.deepEqual({ ...leaks[0], fingerprint: undefined }, { file: "server-x-1-1.log", line: 3, kind: "value", fingerprint: undefined, from: "planted" });
  const message = describeLeaks(leaks).join("\n");
  assert.ok(!message.includes(VALUE), message);
  assert.match(message, /^server-x-1-1\.log:3: secret value "plan…" \(22 chars, sha256 [0-9a-f]{12}\), recorded by planted$/);
  assert.deepEqual([stats.values, stats.tokens, stats.files.server, stats.files.printed], [1, 1, 1, 1]);
  assert.deepEqual(emptiness(stats), []);
});

test("a token secret in printed output, in a subdirectory, escaped or percent-encoded is found", () => {
  const quoted = 'pa"ss\\word-1234567';
  const spaced = "value with spaces & more";
  const { leaks } = auditOf([["token", TOKEN], ["value", quoted], ["value", spaced]], {
    "server-a.log": "nothing here\n",
    "sub/printed-b.log": `x\ny\nError: bad token ${TOKEN}\n`,
    "printed-c.log": `{"v":${JSON.stringify(quoted)}}\n`,
    "printed-d.log": `grpc-message: ${encodeURIComponent(spaced)}\n`,
  });
  assert.deepEqual(
    leaks.map((l) => `${l.file}:${l.line}:${l.kind}`).sort(),
    ["printed-c.log:1:value", "printed-d.log:1:value", "sub/printed-b.log:3:token"],
  );
  assert.ok(!describeLeaks(leaks).join("\n").includes(TOKEN));
});

test("non-ASCII values and binary files are searched byte for byte", () => {
  const value = "clé-secrète-日本語";
  const { leaks } = auditOf([["value", value], ["token", TOKEN]], {
    "server-a.log": Buffer.concat([Buffer.from([0, 255, 10, 10]), Buffer.from(`>${value}<`, "utf8")]),
    "printed-b.log": "",
  });
  assert.deepEqual(leaks.map((l) => `${l.file}:${l.line}`), ["server-a.log:3"]);
});

test("short and one-letter values are skipped and counted; a clean directory passes", () => {
  const { leaks, stats } = auditOf([["value", "a"], ["value", "1234567"], ["value", "x".repeat(70)], ["value", VALUE], ["token", TOKEN]], {
    "server-a.log": `a 1234567 a ${"x".repeat(80)}\n`,
    "printed-b.log": "1234567\n",
  });
  assert.deepEqual(leaks, []);
  assert.deepEqual([stats.values, stats.shortValues, stats.tokens], [1, 3, 1]);
});

test("an audit that recorded nothing, or saw no server log, fails as meaningless", () => {
  assert.deepEqual(emptiness(auditOf([], { "server-a.log": "x\n", "printed-b.log": "y\n" }).stats), [
    "no secret value of 8+ characters was recorded",
    "no token secret was recorded",
  ]);
  assert.deepEqual(emptiness(auditOf([["value", VALUE], ["token", TOKEN]], { "printed-b.log": "y\n" }).stats), ["no server log was written"]);
  assert.throws(() => auditDir(join(root, "missing")), /ENOENT/);
});

test("a record file that is not JSON lines is an error, not an empty audit", () => {
  const dir = join(root, "bad");
  mkdirSync(dir);
  writeFileSync(join(dir, "secrets-x.jsonl"), "not json\n");
  assert.throws(() => auditDir(dir), /secrets-x\.jsonl:1: not a JSON record/);
});

test("the fingerprint never holds the value", () => {
  for (const v of ["12345678", VALUE, TOKEN, "x".repeat(1000)]) {
    const f = fingerprint(v);
    assert.ok(!f.includes(v.slice(0, 8)), f);
  }
});
