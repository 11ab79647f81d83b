// The built package as a user gets it: `npm pack ./pkg`, installed into an empty folder, loaded by
// Node as ESM and as CommonJS, and type-checked by TypeScript.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const work = mkdtempSync(join(tmpdir(), "modal-secrets-pack-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

let app;
test("npm pack ./pkg gives a tarball that installs into an empty folder", () => {
  const packed = JSON.parse(run("npm", ["pack", join(root, "pkg"), "--json", "--pack-destination", work], root));
  const files = packed[0].files.map((f) => f.path).sort();
  assert.deepEqual(files, [
    "LICENSE",
    "README.md",
    "index.d.ts",
    "modal_secrets_bg.wasm",
    "node.cjs",
    "node.mjs",
    "package.json",
  ]);
  assert.equal(packed[0].name, "modal-secrets");
  app = join(work, "app");
  run("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
  run("npm", ["install", "--no-audit", "--no-fund", "--offline", join(work, packed[0].filename)], app);
  assert.ok(readdirSync(join(app, "node_modules", "modal-secrets")).includes("modal_secrets_bg.wasm"));
});

test("ESM: import { parseDotenv } from 'modal-secrets'", () => {
  writeFileSync(
    join(app, "esm.mjs"),
    `import { parseDotenv, InvalidError } from "modal-secrets";
     const out = parseDotenv("A=1\\nB=\${A}2");
     let typed = false;
     try { parseDotenv(1); } catch (e) { typed = e instanceof InvalidError; }
     console.log(JSON.stringify({ out, typed }));`,
  );
  assert.deepEqual(JSON.parse(run("node", ["esm.mjs"], app)), { out: { A: "1", B: "12" }, typed: true });
});

test("CJS: require('modal-secrets'), sharing one instance with ESM", () => {
  writeFileSync(
    join(app, "cjs.cjs"),
    `const { parseDotenv, ModalError } = require("modal-secrets");
     import("modal-secrets").then((esm) => {
       console.log(JSON.stringify({
         out: parseDotenv("export X='y'"),
         same: esm.ModalError === ModalError && esm.parseDotenv === parseDotenv,
       }));
     });`,
  );
  assert.deepEqual(JSON.parse(run("node", ["cjs.cjs"], app)), { out: { X: "y" }, same: true });
});

test("TypeScript accepts the types, from ESM and from CommonJS", () => {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const source = `import { parseDotenv, ModalError, ConflictError, InvalidError } from "modal-secrets";
const values: Record<string, string | null> = parseDotenv("A=1", { env: { B: "2" } });
const e: InvalidError = new ConflictError("x");
const code: string = (e as ModalError).code;
export { values, code };
`;
  writeFileSync(join(app, "use.mts"), source);
  writeFileSync(join(app, "use.cts"), source);
  // A misuse must be caught, or the check proves nothing.
  writeFileSync(join(app, "misuse.mts"), `import { parseDotenv } from "modal-secrets";\nparseDotenv(42);\n`);
  const common = ["--strict", "--noEmit", "--module", "node16", "--moduleResolution", "node16"];
  run("node", [tsc, ...common, "use.mts", "use.cts"], app);
  let failed = "";
  try {
    run("node", [tsc, ...common, "misuse.mts"], app);
  } catch (err) {
    failed = err.stdout;
  }
  assert.match(failed, /misuse\.mts.*TS2345/);
  assert.ok(readFileSync(join(app, "node_modules", "modal-secrets", "index.d.ts"), "utf8").includes("parseDotenv"));
});
