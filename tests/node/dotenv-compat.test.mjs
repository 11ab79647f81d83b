// parseDotenv against python-dotenv itself: every case in tests/dotenv/cases.json, and a seeded random
// corpus (tests/dotenv/corpus.py), is parsed by python-dotenv's dotenv_values (tests/dotenv/oracle.py,
// run here) and by the built package. The oracle answers only as the python-dotenv release the parser
// follows (PYTHON_DOTENV_VERSION in core/src/dotenv.rs); another installed release fails every test
// here with a message naming both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseDotenv } from "../../pkg/node.mjs";

const here = new URL("../dotenv/", import.meta.url);
const cases = JSON.parse(readFileSync(new URL("cases.json", here), "utf8"));
const python = process.env.PYTHON || "python3";

// The one place the version is named.
const source = readFileSync(new URL("../../core/src/dotenv.rs", import.meta.url), "utf8");
const VERSION = /^pub const PYTHON_DOTENV_VERSION: &str = "([^"]+)";$/m.exec(source)?.[1];

function pythonDotenv(input) {
  try {
    const out = execFileSync(python, [new URL("oracle.py", here).pathname, "--version", VERSION], {
      input: JSON.stringify(input),
      maxBuffer: 64 << 20,
      stdio: ["pipe", "pipe", "pipe"],
    });
    return JSON.parse(out.toString("utf8"));
  } catch (e) {
    const stderr = e.stderr ? e.stderr.toString("utf8").trim() : String(e);
    if (e.status === 4) {
      throw new Error(
        `wrong python-dotenv: the parser follows python-dotenv ${VERSION} (core/src/dotenv.rs), and the oracle says: ${stderr}`,
      );
    }
    throw new Error(`tests/dotenv/oracle.py failed (status ${e.status}): ${stderr}`);
  }
}

function corpus() {
  const args = [new URL("corpus.py", here).pathname];
  if (process.env.DOTENV_SEED) args.push("--seed", process.env.DOTENV_SEED);
  if (process.env.DOTENV_COUNT) args.push("--count", process.env.DOTENV_COUNT);
  return JSON.parse(execFileSync(python, args, { maxBuffer: 64 << 20 }).toString("utf8"));
}

// Compare as ordered pairs: python's dict order is the order of first appearance.
function assertSame(got, want) {
  assert.equal(Object.getPrototypeOf(got), Object.prototype);
  const gotPairs = Object.entries(got);
  // JS orders integer-like keys first; compare order only where no such key exists.
  const integerLike = want.some(([k]) => /^(0|[1-9][0-9]*)$/.test(k));
  if (integerLike) {
    assert.deepEqual(new Map(gotPairs), new Map(want));
  } else {
    assert.deepEqual(gotPairs, want);
  }
}

test("the parser names the python-dotenv version it follows", () => {
  assert.match(VERSION ?? "", /^\d+\.\d+\.\d+$/, "no PYTHON_DOTENV_VERSION in core/src/dotenv.rs");
});

let expected;
let random;
let randomExpected;
let oracleError;
try {
  expected = pythonDotenv(cases);
  random = corpus();
  randomExpected = pythonDotenv(random);
} catch (e) {
  oracleError = e;
}

if (oracleError) {
  test("python-dotenv answers", () => {
    throw oracleError;
  });
} else {
  test("the oracle answered for every case", () => {
    assert.ok(cases.length >= 60, `only ${cases.length} cases`);
    assert.equal(expected.length, cases.length);
    if (!process.env.DOTENV_COUNT) assert.ok(random.length >= 500, `only ${random.length} random inputs`);
    assert.equal(randomExpected.length, random.length);
  });

  for (const [i, c] of cases.entries()) {
    test(`dotenv: ${c.name}`, () => {
      assertSame(parseDotenv(c.text, { env: c.env ?? {} }), expected[i]);
    });
  }

  test(`the random corpus (${random.length} inputs) agrees with python-dotenv ${VERSION}`, () => {
    const differ = [];
    for (const [i, c] of random.entries()) {
      try {
        assertSame(parseDotenv(c.text, { env: c.env ?? {} }), randomExpected[i]);
      } catch (e) {
        differ.push(`${c.name}: ${JSON.stringify(c.text)} env ${JSON.stringify(c.env)}\n${e.message}`);
      }
    }
    assert.equal(differ.length, 0, `${differ.length} differ:\n\n${differ.slice(0, 5).join("\n\n")}`);
  });

  test("a large file parses and agrees with python-dotenv", () => {
    const lines = [];
    for (let i = 0; i < 20000; i++) {
      lines.push(i % 3 === 0 ? `export K${i}="v ${i}\\n\${K0}"` : `K${i}='x${i}' # c`);
    }
    const text = lines.join("\n");
    const [want] = pythonDotenv([{ name: "large", text, env: {} }]);
    assert.deepEqual(Object.entries(parseDotenv(text)), want);
  });
}
