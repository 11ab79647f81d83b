// parseDotenv against python-dotenv itself: every case in tests/dotenv/cases.json is parsed by
// python-dotenv's dotenv_values (tests/dotenv/oracle.py, run here) and by the built package.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseDotenv } from "../../pkg/node.mjs";

const here = new URL("../dotenv/", import.meta.url);
const cases = JSON.parse(readFileSync(new URL("cases.json", here), "utf8"));

function pythonDotenv(input) {
  const out = execFileSync("python3", [new URL("oracle.py", here).pathname], {
    input: JSON.stringify(input),
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out.toString("utf8"));
}

const expected = pythonDotenv(cases);

test("the oracle answered for every case", () => {
  assert.ok(cases.length >= 60, `only ${cases.length} cases`);
  assert.equal(expected.length, cases.length);
});

for (const [i, c] of cases.entries()) {
  test(`dotenv: ${c.name}`, () => {
    const got = parseDotenv(c.text, { env: c.env ?? {} });
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
    // Compare as ordered pairs: python's dict order is the order of first appearance.
    const want = expected[i];
    const gotPairs = Object.entries(got);
    // JS orders integer-like keys first; compare order only where no such key exists.
    const integerLike = want.some(([k]) => /^(0|[1-9][0-9]*)$/.test(k));
    if (integerLike) {
      assert.deepEqual(new Map(gotPairs), new Map(want));
    } else {
      assert.deepEqual(gotPairs, want);
    }
  });
}

test("a large file parses and agrees with python-dotenv", () => {
  const lines = [];
  for (let i = 0; i < 20000; i++) {
    lines.push(i % 3 === 0 ? `export K${i}="v ${i}\\n\${K0}"` : `K${i}='x${i}' # c`);
  }
  const text = lines.join("\n");
  const [want] = pythonDotenv([{ name: "large", text, env: {} }]);
  assert.deepEqual(Object.entries(parseDotenv(text)), want);
});
