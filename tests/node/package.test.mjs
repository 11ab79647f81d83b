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
  const shared = files.filter((f) => /^shared-[A-Z0-9]+\.js$/.test(f));
  // One chunk shared by the entries of the web build (browser, workerd, slim), one by those of the
  // files build (Deno, Bun).
  assert.equal(shared.length, 2, `two shared chunks: ${files}`);
  assert.deepEqual(files.filter((f) => !shared.includes(f)), [
    "LICENSE",
    "README.md",
    "browser.js",
    "bun.js",
    "cli.cjs",
    "deno.js",
    "index.d.ts",
    "modal_secrets_bg.wasm",
    "modal_secrets_node_bg.wasm",
    "node.cjs",
    "node.mjs",
    "package.json",
    "slim.d.ts",
    "slim.js",
    "workerd.js",
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

test("TypeScript accepts the whole API, from ESM and from CommonJS, and rejects misuse", () => {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  // Type-checked only (never run): every export, function and option of the package.
  const source = `import {
  Client, Secret, parseDotenv, ready, ModalError, InvalidError, ConflictError, NotFoundError,
  AlreadyExistsError, AuthError, PermissionDeniedError, ResourceExhaustedError, ServiceError,
  UnimplementedError, InternalError, DataLossError, ConnectionError, TimeoutError,
  type SecretInfo, type ClientOptions, type ListOptions,
} from "modal-secrets";
const values: Record<string, string | null> = parseDotenv("A=1", { env: { B: "2" } });
const e: InvalidError = new ConflictError("x");
const code: string = (e as ModalError).code;
const retryAfter: number | undefined = e.retryAfter;
const retryable: boolean = e.retryable;
const options: ClientOptions = {
  serverUrl: "http://127.0.0.1:8787", tokenId: "ak-1", tokenSecret: "as-1", environment: "dev",
  fetch: (url, init) => fetch(url, init), timeoutMs: 5000, maxRetries: 2, maxThrottleWaitMs: 1000,
  onWarning: (message: string) => console.warn(message),
};
const client = new Client(options);
const fromEnv: Client = Client.fromEnv({ env: { MODAL_TOKEN_ID: "ak-1" }, profile: "p", timeoutMs: 1 });
const url: string = client.serverUrl + client.tokenId + client.environment + String(client.maxRetries);
const t: number | undefined = client.timeoutMs;
async function all(signal: AbortSignal): Promise<void> {
  const loaded: void = await ready;
  const call = { client, signal, timeoutMs: 1000 };
  const s = Secret.fromName("db", { environmentName: "dev", requiredKeys: ["A"], client });
  const hydrated: Secret = await s.hydrate(call);
  const id: string | undefined = hydrated.objectId;
  const keys: string[] | undefined = hydrated.keys;
  const name: string | undefined = hydrated.name;
  const isHydrated: boolean = hydrated.isHydrated;
  const info: SecretInfo = await s.info({ ...call, refresh: true });
  const created: Date = info.createdAt;
  const lastUsed: Date | null = info.lastUsed;
  const by: string | null = info.createdBy;
  await s.update({ A: "1", B: null }, call);
  await Secret.fromDict({ A: "1", B: undefined, C: null }).hydrate();
  await Secret.fromDotenv().hydrate();
  await Secret.fromDotenv(".", { filename: ".env.local" }).hydrate();
  await Secret.fromDotenv(new URL("file:///tmp/")).hydrate();
  await Secret.fromDotenvText("A=1", { env: { X: "1" } }).hydrate();
  await Secret.fromLocalEnviron(["HOME"], { env: { HOME: "/" } }).hydrate();
  await Secret.objects.create("db", { A: "1" }, { ...call, allowExisting: true, environmentName: "dev" });
  const listOptions: ListOptions = { ...call, maxObjects: 10, createdBefore: new Date(), environmentName: "" };
  const list: Secret[] = await Secret.objects.list(listOptions);
  await Secret.objects.list({ createdBefore: "2025-01-01" });
  for await (const each of Secret.objects.iterate({ maxObjects: 5 })) console.log(each.name, each.toJSON());
  await Secret.objects.delete("db", { ...call, allowMissing: true, environmentName: "dev" });
  const errors: ModalError[] = [
    new NotFoundError("x"), new AlreadyExistsError("x"), new AuthError("x"), new PermissionDeniedError("x"),
    new ResourceExhaustedError("x"), new ServiceError("x"), new UnimplementedError("x"), new InternalError("x"),
    new DataLossError("x"), new ConnectionError("x"), new TimeoutError("x"),
  ];
  console.log(loaded, id, keys, name, isHydrated, created, lastUsed, by, list, errors);
}
export { values, code, retryAfter, retryable, fromEnv, url, t, all };
`;
  writeFileSync(join(app, "use.mts"), source);
  writeFileSync(join(app, "use.cts"), source);
  // Each misuse must be caught, or the check proves nothing.
  const misuses = {
    "misuse-arg.mts": `import { parseDotenv } from "modal-secrets";\nparseDotenv(42);\n`,
    "misuse-option.mts": `import { Secret } from "modal-secrets";\nSecret.fromName("db", { environment: "dev" });\n`,
    "misuse-client.mts": `import { Client } from "modal-secrets";\nnew Client({ tokenID: "ak-1" });\n`,
    "misuse-value.mts": `import { Secret } from "modal-secrets";\nawait Secret.objects.create("db", { A: 1 });\n`,
    "misuse-ctor.mts": `import { Secret } from "modal-secrets";\nnew Secret();\n`,
    "misuse-list.mts": `import { Secret } from "modal-secrets";\nawait Secret.objects.list({ maxObjects: "10" });\n`,
  };
  for (const [file, text] of Object.entries(misuses)) writeFileSync(join(app, file), text);
  const common = ["--strict", "--noEmit", "--module", "node16", "--moduleResolution", "node16", "--target", "es2022", "--lib", "es2022,dom"];
  run("node", [tsc, ...common, "use.mts", "use.cts"], app);
  for (const file of Object.keys(misuses)) {
    let failed = "";
    try {
      run("node", [tsc, ...common, file], app);
    } catch (err) {
      failed = err.stdout;
    }
    assert.match(failed, new RegExp(`${file.replace(".", "\\.")}.*error TS\\d+`), `${file} must not type-check`);
  }
  assert.ok(readFileSync(join(app, "node_modules", "modal-secrets", "index.d.ts"), "utf8").includes("parseDotenv"));
});
