// Modal's official JS SDK (modal@0.11.1) against modal-secrets-server.
//
// Run by tests/official/run.sh with MODAL_SERVER_URL set (the SDK reads it from the environment;
// there is no constructor option for it), the token passed to `new ModalClient`, and these secrets
// made beforehand by the Python CLI: js-a (keys A, B) in `main`, js-env (key E) in the environment
// named by argv[3]. argv[2] is the directory holding node_modules/modal. Each passed check prints
// `PASS <name>`; any failure throws and exits non-zero.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [modalDir, extraEnv] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(modalDir), "noop.js"));
const modal = require("modal");
const { ModalClient, NotFoundError } = modal;

let passed = 0;
function ok(name) {
  passed += 1;
  console.log(`PASS ${name}`);
}

const version = JSON.parse(
  readFileSync(path.join(modalDir, "node_modules", "modal", "package.json"), "utf8"),
).version;
assert.equal(version, "0.11.1", `expected modal@0.11.1, got ${version}`);

const client = new ModalClient({
  tokenId: process.env.MODAL_TOKEN_ID,
  tokenSecret: process.env.MODAL_TOKEN_SECRET,
});
try {
  const secret = await client.secrets.fromName("js-a");
  assert.match(secret.secretId, /^st-[0-9A-Za-z]{22}$/, `secretId ${secret.secretId}`);
  assert.equal(secret.name, "js-a");
  ok("new ModalClient({tokenId, tokenSecret}); client.secrets.fromName(name)");

  const again = await client.secrets.fromName("js-a", { requiredKeys: ["A", "B"] });
  assert.equal(again.secretId, secret.secretId);
  ok("fromName with requiredKeys present: the same id");

  await assert.rejects(
    client.secrets.fromName("js-a", { requiredKeys: ["A", "NOPE"] }),
    (e) => {
      assert.match(String(e.message), /missing key/i, `${e.name}: ${e.message}`);
      return true;
    },
  );
  ok("fromName with a missing required key is refused");

  await assert.rejects(client.secrets.fromName("js-missing"), NotFoundError);
  ok("fromName of a missing secret: NotFoundError");

  const inEnv = await client.secrets.fromName("js-env", { environment: extraEnv });
  assert.match(inEnv.secretId, /^st-/);
  await assert.rejects(client.secrets.fromName("js-env"), NotFoundError);
  ok(`fromName in environment ${extraEnv}, and not in main`);

  await client.secrets.delete("js-a");
  await assert.rejects(client.secrets.fromName("js-a"), NotFoundError);
  await assert.rejects(client.secrets.delete("js-a"), NotFoundError);
  await client.secrets.delete("js-a", { allowMissing: true });
  await client.secrets.delete("js-env", { environment: extraEnv });
  ok("secrets.delete, then NotFoundError; allowMissing; delete in an environment");

  const wrong = new ModalClient({
    tokenId: process.env.MODAL_TOKEN_ID,
    tokenSecret: "as-wrongwrongwrongwrongwrongwrongwr",
    maxRetries: 0,
  });
  try {
    await assert.rejects(wrong.secrets.fromName("js-env", { environment: extraEnv }), (e) => {
      assert.match(`${e.name} ${e.message}`, /auth|token|unauthenticated|credential/i, `${e.name}: ${e.message}`);
      return true;
    });
  } finally {
    wrong.close();
  }
  ok("a wrong token secret is refused");
} finally {
  client.close();
}
console.log(`js: ${passed} checks passed`);
