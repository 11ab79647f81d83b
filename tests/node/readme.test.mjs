// Runs every ```js example of README.md that imports "modal-secrets", as a user would paste it: a
// fresh .mjs file in a folder where `modal-secrets` is the built pkg/, with the three MODAL_* lines
// of `npm start` in its environment, against the real server (one new workspace per example).
// Each `console.log(...); // expected` line's output must match its comment (text after ": " in a
// comment is explanation; `…` matches anything).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startServer } from "./support/server.mjs";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const examples = [...readme.matchAll(/```js\n([\s\S]*?)```/g)]
  .map((m) => m[1])
  .filter((code) => code.includes('from "modal-secrets"'));

const server = await startServer();
const dir = mkdtempSync(join(tmpdir(), "modal-secrets-readme-"));
mkdirSync(join(dir, "node_modules"));
symlinkSync(join(ROOT, "pkg"), join(dir, "node_modules", "modal-secrets"), "dir");

/** The expected output of each `console.log(…); // comment` line, in order. */
function expectations(code) {
  return code
    .split("\n")
    .filter((line) => /^\s*(console\.log\(|await .*console\.log\()/.test(line) && line.includes("); // "))
    .map((line) => line.slice(line.lastIndexOf("); // ") + 5).split(/: (?=[a-z])/)[0].trim());
}

function matches(actual, expected) {
  const pattern = expected
    .split("…")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${pattern}$`).test(actual);
}

test("the README has the Node examples", () => {
  assert.ok(examples.length >= 5, `found ${examples.length} examples`);
});

examples.forEach((code, i) => {
  const first = code.split("\n").find((l) => l.startsWith("//") || l.includes("await")) ?? "";
  test(`README example ${i + 1} runs as written (${first.trim().slice(0, 60)})`, () => {
    const token = server.token(`readme-${i}`);
    const file = join(dir, `example-${i + 1}.mjs`);
    writeFileSync(file, code);
    const env = {
      PATH: process.env.PATH,
      HOME: dir, // no ~/.modal.toml of the machine's user
      MODAL_SERVER_URL: server.url,
      MODAL_TOKEN_ID: token.tokenId,
      MODAL_TOKEN_SECRET: token.tokenSecret,
    };
    const out = execFileSync("node", [file], { cwd: dir, env, encoding: "utf8" })
      .replaceAll(server.url, "http://127.0.0.1:8787")
      .trimEnd();
    const lines = out === "" ? [] : out.split("\n");
    const expected = expectations(code);
    assert.equal(lines.length, expected.length, `output:\n${out}\nexpected:\n${expected.join("\n")}`);
    expected.forEach((want, j) => assert.ok(matches(lines[j], want), `line ${j + 1}: got ${lines[j]}, want ${want}`));
    assert.ok(!out.includes(token.tokenSecret), "the token secret was printed");
  });
});
