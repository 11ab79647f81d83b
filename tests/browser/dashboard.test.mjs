// The dashboard (www/) in Debian's Chromium, driven by playwright-core, against the real release
// server serving www/ and pkg/. One browser page goes through what a user does: a wrong token,
// connecting, inline validation, creating from rows and from a .env, filtering, the detail view
// (add and remove keys), deleting, environments; then 2,000 secrets (timings printed, not asserted)
// and screenshots in both themes. After every create and update it checks that no secret value is
// in the DOM, an input, sessionStorage, localStorage or the console.
//
// Screenshots go to a temporary directory; UPDATE_SCREENSHOTS=1 writes them to docs/ instead.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium } from "../support/chromium.mjs";
import { startServer, ROOT } from "./support/server.mjs";
import { auditLog, recordSecret } from "../support/audit.mjs";

const { Client, Secret } = await import(join(ROOT, "pkg/node.mjs"));

// Every value the test sends contains MARK, so one search finds any of them, whole or cut.
const MARK = `v4lue${randomBytes(6).toString("hex")}`;
let valueCount = 0;
const value = () => {
  const v = `${MARK}-${++valueCount}-${randomBytes(4).toString("hex")}`;
  recordSecret(v); // for the secrets audit of npm test (tests/audit/): typed into the page, not seen by Node's fetch
  return v;
};
recordSecret(MARK); // any part of any value, in any log of the run
const printed = auditLog("printed", "chromium-dashboard");

let server, browser, page, token, client;
const consoleLines = [];
const pageErrors = [];
const shotsDir = process.env.UPDATE_SCREENSHOTS ? join(ROOT, "docs") : mkdtempSync(join(tmpdir(), "modal-secrets-shots-"));

before(async () => {
  server = await startServer();
  token = server.token();
  client = new Client({ serverUrl: server.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret });
  browser = await launchChromium();
  // Every page's console and errors (this one's and the others') go to the audit's printed logs.
  browser.context.on("console", (message) => printed(`${message.type()}: ${message.text()}\n`));
  browser.context.on("weberror", (error) => printed(`pageerror: ${error.error()?.stack ?? error.error()}\n`));
  console.log(`# Chromium ${browser.version}, server ${server.url}`);
  page = await browser.context.newPage();
  page.setDefaultTimeout(15_000);
  await page.setViewportSize({ width: 1200, height: 780 });
  page.on("console", (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => pageErrors.push(String(error?.stack ?? error)));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (!process.env.UPDATE_SCREENSHOTS) rmSync(shotsDir, { recursive: true, force: true });
});

// ---- helpers ------------------------------------------------------------------------------------

/** Waits until the element's text contains `text`. */
async function waitText(selector, text) {
  await page.waitForFunction(
    ([s, t]) => document.querySelector(s)?.textContent.includes(t),
    [selector, text],
  );
}

/** Waits until the element's text matches `pattern` (a RegExp). */
async function waitMatch(selector, pattern) {
  await page.waitForFunction(
    ([s, source, flags]) => new RegExp(source, flags).test(document.querySelector(s)?.textContent ?? ""),
    [selector, pattern.source, pattern.flags],
  );
}

/** The names of the rows drawn, in order. */
const rowNames = () => page.$$eval("#rows tr[data-name]", (rows) => rows.map((r) => r.dataset.name));

/** No value (nor any part of one) in the DOM, input values, storage or console messages. */
async function assertNoValues(when) {
  const found = await page.evaluate((mark) => {
    const places = { dom: document.documentElement.outerHTML };
    places.inputs = [...document.querySelectorAll("input, textarea")].map((e) => e.value).join("\n");
    for (const [name, storage] of [
      ["sessionStorage", sessionStorage],
      ["localStorage", localStorage],
    ]) {
      const texts = [];
      for (let i = 0; i < storage.length; i++) texts.push(storage.key(i), storage.getItem(storage.key(i)));
      places[name] = texts.join("\n");
    }
    return Object.keys(places).filter((p) => places[p].includes(mark));
  }, MARK);
  if (consoleLines.some((line) => line.includes(MARK))) found.push("console");
  assert.deepEqual(found, [], `a secret value is in the page's ${found.join(", ")} ${when}`);
}

const serverCalls = (method) => server.log().split("\n").filter((l) => l.includes(`CALL ${method} `)).length;

async function keysOf(name, environmentName) {
  const secret = await Secret.fromName(name, { client, environmentName }).hydrate();
  return secret.keys;
}

async function connectWith(tokenId, tokenSecret, environment = "") {
  await page.locator("#connect-view").waitFor();
  await page.fill("#token-id", tokenId);
  await page.fill("#token-secret", tokenSecret);
  await page.fill("#connect-env", environment);
  const clicked = Date.now();
  await page.click("#connect-button");
  return clicked;
}

async function openCreate() {
  await page.click("#new-secret");
  await page.locator("#create-dialog[open]").waitFor();
}

async function submitCreate() {
  await page.click("#create-submit");
  await page.locator("#create-dialog").waitFor({ state: "hidden" });
}

async function openDetail(name) {
  await page.click(`#rows tr[data-name="${name}"] .row-open`);
  await page.locator("#detail-body").waitFor();
  await waitText("#detail-title", name);
}

async function closeDialogs() {
  await page.keyboard.press("Escape");
  await page.waitForFunction(() => !document.querySelector("dialog[open]"));
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve))); // the "close" event's task
}

// ---- the user's path ----------------------------------------------------------------------------

test("a wrong token shows an auth error and is not remembered", async () => {
  await page.goto(`${server.url}/`);
  assert.equal(await page.inputValue("#server-url"), server.url, "the server URL defaults to the page's origin");
  await connectWith(token.tokenId, "as-wrongwrongwrongwrongwrong");
  const error = page.locator('#connect-error .error-box[data-kind="AuthError"]');
  await error.waitFor();
  const text = await error.textContent();
  assert.match(text, /AuthError/);
  assert.match(text, /UNAUTHENTICATED/);
  assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0, "nothing stored");
  assert.equal(await page.inputValue("#token-secret"), "", "a refused token secret is not kept in the form");
  assert.equal(await page.isVisible("#secrets-view"), false);
});

test("a server the page may not reach shows a ConnectionError (the CSP's connect-src holds)", async () => {
  const other = await browser.context.newPage();
  const blocked = [];
  other.on("console", (message) => blocked.push(message.text()));
  try {
    await other.goto(`${server.url}/`);
    await other.fill("#server-url", "http://127.0.0.1:9");
    await other.fill("#token-id", token.tokenId);
    await other.fill("#token-secret", token.tokenSecret);
    await other.click("#connect-button");
    const error = other.locator('#connect-error .error-box[data-kind="ConnectionError"]');
    await error.waitFor();
    assert.match(await error.textContent(), /UNAVAILABLE/);
    assert.ok(blocked.some((line) => line.includes("Content Security Policy")), "the browser blocked the request");
    assert.equal(await other.evaluate(() => sessionStorage.length), 0);
  } finally {
    await other.close();
  }
});

test("connects; the token lives in sessionStorage only; empty state", async () => {
  await connectWith(token.tokenId, token.tokenSecret);
  await page.locator("#secrets-view").waitFor();
  await waitText("#empty-title", "No secrets in main yet.");
  const stored = await page.evaluate(() => ({
    session: JSON.parse(sessionStorage.getItem("modal-secrets.connection")),
    local: JSON.stringify({ ...localStorage }),
  }));
  assert.equal(stored.session.tokenSecret, token.tokenSecret);
  assert.ok(!stored.local.includes(token.tokenSecret), "never in localStorage");
  assert.equal(await page.inputValue("#token-secret"), "", "the secret input is emptied");
  await waitText("#connection-summary", token.tokenId);

  // A reload stays connected (same tab), without asking again.
  await page.reload();
  await page.locator("#secrets-view").waitFor();
  await waitText("#list-status", "0 secrets in main");
});

test("an invalid name or key is refused inline, before any request", async () => {
  await openCreate();
  const creates = serverCalls("SecretGetOrCreate");
  await page.fill("#create-name", "bad name!");
  await waitText("#create-name-error", "a space is not allowed");
  assert.equal(await page.getAttribute("#create-name", "aria-invalid"), "true");
  await page.fill("#create-name", "ap-abcdefghijklmnopqrstuv");
  await waitText("#create-name-error", "looks like an app id");

  await page.fill("#create-name", "fine-name");
  assert.equal(await page.textContent("#create-name-error"), "");
  await page.fill(".kv-key", "1BAD");
  await page.fill(".kv-value", value());
  await waitText("#create-rows .field-error", "must start with a letter");
  await page.click("#create-submit");
  assert.ok(await page.isVisible("#create-dialog"), "the dialog stays open");

  await page.fill(".kv-key", "");
  await page.fill("#create-name", "x".repeat(65));
  await page.click("#create-submit");
  await waitText("#create-name-error", "at most 64");
  assert.equal(await page.evaluate(() => document.activeElement.id), "create-name", "focus goes to the problem");
  assert.equal(serverCalls("SecretGetOrCreate"), creates, "no request was sent");
  await closeDialogs();
  await assertNoValues("after the dialog was closed");
});

test("creates a secret from key/value rows; the values leave the page", async () => {
  await openCreate();
  await page.fill("#create-name", "db-credentials");
  await page.fill(".kv-key", "USER");
  await page.fill(".kv-value", value());
  await page.click("#create-add-row");
  await page.locator(".kv-key").nth(1).fill("PASSWORD");
  await page.locator(".kv-value").nth(1).fill(value());
  await submitCreate();
  await page.locator('#rows tr[data-name="db-credentials"]').waitFor();
  await waitText("#toast", "Created db-credentials");
  assert.equal(await page.textContent('#rows tr[data-name="db-credentials"] .key-count'), "2");
  assert.deepEqual(await keysOf("db-credentials"), ["PASSWORD", "USER"]);
  await assertNoValues("after a create from rows");
});

test("creates a secret from a pasted .env, previewed with every value masked", async () => {
  await openCreate();
  await page.fill("#create-name", "from-dotenv");
  await page.check('input[name="source"][value="dotenv"]');
  const text = [
    "# pasted from a .env file",
    `API_KEY=${value()}`,
    `export REGION="${value()}"`,
    `URL=https://\${API_KEY}@example.com/${value()}`,
    "EMPTY=",
    "FLAG",
    "",
  ].join("\n");
  await page.fill("#dotenv-text", text);
  await waitText("#dotenv-preview", "5 keys found");
  const preview = await page.textContent("#dotenv-preview");
  assert.ok(!preview.includes(MARK), "the preview masks every value");
  assert.match(preview, /API_KEY[\s\S]*REGION[\s\S]*URL[\s\S]*EMPTY[\s\S]*FLAG/);
  assert.match(preview, /no value \(sent as empty\)/);

  // A key the API refuses is flagged in the preview and blocks the create.
  await page.fill("#dotenv-text", `${text}bad-key=${value()}\n`);
  await waitText("#dotenv-preview", "1 invalid key name");
  await page.click("#create-submit");
  assert.ok(await page.isVisible("#create-dialog"));

  await page.fill("#dotenv-text", text);
  await waitText("#dotenv-preview", "5 keys found");
  await submitCreate();
  await page.locator('#rows tr[data-name="from-dotenv"]').waitFor();
  assert.deepEqual(await keysOf("from-dotenv"), ["API_KEY", "EMPTY", "FLAG", "REGION", "URL"]);
  await assertNoValues("after a create from a .env");
});

test("an existing name: stop with an error, keep it untouched, or overwrite it", async () => {
  await openCreate();
  await page.fill("#create-name", "db-credentials");
  await waitText("#create-name-error", "already exists here");
  await page.fill(".kv-key", "OTHER");
  await page.fill(".kv-value", value());
  await page.click("#create-submit");
  const error = page.locator('#create-error .error-box[data-kind="AlreadyExistsError"]');
  await error.waitFor();
  assert.match(await error.textContent(), /ALREADY_EXISTS/);

  await page.check('input[name="existing"][value="keep"]');
  await submitCreate();
  await waitText("#toast", "left untouched");
  assert.deepEqual(await keysOf("db-credentials"), ["PASSWORD", "USER"]);

  await Secret.objects.create("to-overwrite", { OLD_A: "a", OLD_B: "b" }, { client });
  await openCreate();
  await page.fill("#create-name", "to-overwrite");
  await page.fill(".kv-key", "NEW_KEY");
  await page.fill(".kv-value", value());
  await page.check('input[name="existing"][value="overwrite"]');
  await submitCreate();
  await waitText("#toast", "Overwrote to-overwrite");
  assert.deepEqual(await keysOf("to-overwrite"), ["NEW_KEY"]);
  await page.locator('#rows tr[data-name="to-overwrite"]').waitFor();
  await assertNoValues("after keep and overwrite");
});

test("filters, opens a secret from the keyboard, adds and removes a key", async () => {
  for (const name of ["svc-alpha", "svc-beta", "svc-gamma"]) {
    await Secret.objects.create(name, { TOKEN: "t" }, { client });
  }
  await page.click("#refresh");
  await waitText("#list-status", "6 secrets in main");

  await page.fill("#filter", "svc");
  await waitText("#list-status", "3 of 6 secrets in main match");
  assert.deepEqual((await rowNames()).sort(), ["svc-alpha", "svc-beta", "svc-gamma"]);
  await page.fill("#filter", "password"); // key names match too
  await waitText("#list-status", "1 of 6");
  assert.deepEqual(await rowNames(), ["db-credentials"]);
  await page.fill("#filter", "nothing-like-this");
  await waitText("#empty-title", "No secret matches");

  // Keyboard only: "/" to the filter, type, ArrowDown to the first row, Enter opens it.
  await page.click("#secrets-title");
  await page.keyboard.press("/");
  assert.equal(await page.evaluate(() => document.activeElement.id), "filter");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("db-cred");
  await waitText("#list-status", "1 of 6");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await page.locator("#detail-body").waitFor();
  await waitText("#detail-title", "db-credentials");
  await waitText("#keys-title", "Keys (2)");
  assert.match(await page.textContent("#detail-info"), /Created by\s*local/);

  // Set TOKEN (new) and remove USER, in one update.
  await page.locator("#update-rows .kv-key").fill("TOKEN");
  await page.locator("#update-rows .kv-value").fill(value());
  await page.click('#detail-keys li[data-key="USER"] button');
  await waitText("#update-summary", "1 key to set (1 new, 0 replaced), 1 to remove");
  const updates = serverCalls("SecretUpdate");
  await page.click("#update-submit");
  await waitText("#keys-title", "Keys (2)");
  await waitText("#toast", "Saved db-credentials: 1 key set, 1 removed");
  assert.equal(serverCalls("SecretUpdate"), updates + 1, "one call");
  assert.deepEqual(await page.$$eval("#detail-keys li", (li) => li.map((l) => l.dataset.key)), ["PASSWORD", "TOKEN"]);
  assert.deepEqual(await keysOf("db-credentials"), ["PASSWORD", "TOKEN"]);
  assert.equal(await page.inputValue("#update-rows .kv-value"), "", "the value input is emptied");
  await assertNoValues("after an update");

  // Replace a key's value and remove another.
  await page.locator("#update-rows .kv-key").fill("PASSWORD");
  await page.locator("#update-rows .kv-value").fill(value());
  await page.click('#detail-keys li[data-key="TOKEN"] button');
  await waitText("#update-summary", "1 key to set (0 new, 1 replaced), 1 to remove");
  await page.click("#update-submit");
  await waitText("#keys-title", "Keys (1)");
  assert.deepEqual(await keysOf("db-credentials"), ["PASSWORD"]);
  await closeDialogs();
  await page.fill("#filter", "");
  await waitText("#list-status", "6 secrets in main");
  assert.equal(await page.textContent('#rows tr[data-name="db-credentials"] .key-count'), "1");
  await assertNoValues("after a second update");
});

test("deletes a secret only once its name is typed", async () => {
  await openDetail("svc-beta");
  const button = page.locator("#delete-submit");
  assert.ok(await button.isDisabled());
  await page.fill("#delete-confirm", "svc-bet");
  assert.ok(await button.isDisabled());
  await page.fill("#delete-confirm", "svc-beta");
  assert.ok(await button.isEnabled());
  await button.click();
  await page.locator("#detail-dialog").waitFor({ state: "hidden" });
  await waitText("#toast", "Deleted svc-beta");
  assert.deepEqual((await rowNames()).includes("svc-beta"), false);
  await waitText("#list-status", "5 secrets in main");
  await assert.rejects(keysOf("svc-beta"), { name: "NotFoundError" });
});

test("environments: switch, an unknown one, an invalid name, back to main", async () => {
  server.env("staging");
  await Secret.objects.create("staging-only", { A: "a" }, { client, environmentName: "staging" });
  await page.fill("#env-input", "staging");
  await page.click("#env-form button");
  await waitText("#list-status", "1 secret in staging");
  assert.deepEqual(await rowNames(), ["staging-only"]);

  await page.fill("#env-input", "no-such-env");
  await page.click("#env-form button");
  const error = page.locator('#list-error .error-box[data-kind="NotFoundError"]');
  await error.waitFor();
  assert.match(await error.textContent(), /NOT_FOUND/);
  await waitText("#list-status", "Could not list the secrets of no-such-env");

  await page.fill("#env-input", "bad env!");
  await page.click("#env-form button");
  await page.locator('#list-error .error-box[data-kind="InvalidError"]').waitFor();

  await page.fill("#env-input", "main");
  await page.click("#env-form button");
  await waitText("#list-status", "5 secrets in main");
  const recent = await page.evaluate(() => sessionStorage.getItem("modal-secrets.environments"));
  assert.match(recent, /staging/);
  assert.doesNotMatch(recent, /no-such-env/, "an environment that failed is not remembered");
});

test("screenshots of the main views, light and dark", async () => {
  const demo = {
    "stripe-live": { STRIPE_SECRET_KEY: value(), STRIPE_WEBHOOK_SECRET: value() },
    "postgres-prod": { PGHOST: value(), PGUSER: value(), PGPASSWORD: value(), PGDATABASE: value() },
    "openai": { OPENAI_API_KEY: value() },
    "sentry": { SENTRY_DSN: value() },
    "github-app": { GITHUB_APP_ID: value(), GITHUB_PRIVATE_KEY: value(), GITHUB_WEBHOOK_SECRET: value() },
  };
  for (const [name, dict] of Object.entries(demo)) await Secret.objects.create(name, dict, { client });
  mkdirSync(shotsDir, { recursive: true });
  const shot = async (name) => {
    await page.mouse.move(1, 1);
    await page.evaluate(() => {
      document.getElementById("toast").textContent = ""; // the last confirmation, not part of the view
    });
    await page.screenshot({ path: join(shotsDir, `dashboard-${name}.png`) });
  };

  await page.setViewportSize({ width: 1200, height: 900 }); // the dialogs whole
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.click("#refresh");
    await waitText("#list-status", "10 secrets in main");
    await shot(`list-${scheme}`);

    await openCreate();
    await page.fill("#create-name", "payments-api");
    await page.check('input[name="source"][value="dotenv"]');
    await page.fill("#dotenv-text", "# copied from .env.production\nPAYMENTS_API_KEY=pk_demo_not_a_real_key\nPAYMENTS_REGION=eu-west-1\nDEBUG=\n");
    await waitText("#dotenv-preview", "3 keys found");
    await shot(`create-${scheme}`);
    await closeDialogs();

    await openDetail("github-app");
    await page.locator("#update-rows .kv-key").fill("GITHUB_CLIENT_ID");
    await page.locator("#update-rows .kv-value").fill(value());
    await page.click('#detail-keys li[data-key="GITHUB_WEBHOOK_SECRET"] button');
    await shot(`detail-${scheme}`);
    await closeDialogs();
    await assertNoValues(`in the ${scheme} screenshots`);
  }

  // The toggle pins a theme over the system's, and remembers it (a display preference only).
  await page.emulateMedia({ colorScheme: "light" });
  const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  const light = await background();
  await page.click("#theme-toggle"); // system → light
  await page.click("#theme-toggle"); // light → dark
  await waitText("#theme-toggle", "dark");
  assert.notEqual(await background(), light);
  assert.equal(await page.evaluate(() => localStorage.getItem("modal-secrets.theme")), "dark");
  await page.click("#theme-toggle"); // dark → system
  assert.equal(await background(), light);

  await page.click("#disconnect");
  await page.locator("#connect-view").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("modal-secrets.connection")), null);
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await shot(`connect-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1200, height: 780 });
});

test("2,000 secrets: time to first rows and to filter (printed)", async () => {
  const big = server.token("big");
  const bigClient = new Client({ serverUrl: server.url, tokenId: big.tokenId, tokenSecret: big.tokenSecret });
  const total = 2000;
  const seeding = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < total) {
        const i = next++;
        const keys = { DATABASE_URL: "x", API_TOKEN: "x" };
        if (i % 3 === 0) keys.EXTRA_FLAG = "x";
        await Secret.objects.create(`bulk-${String(i).padStart(4, "0")}`, keys, { client: bigClient });
      }
    }),
  );
  console.log(`# seeded ${total} secrets in ${Math.round(performance.now() - seeding)} ms (16 parallel creates)`);

  await page.evaluate(() => {
    window.longestTask = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.longestTask = Math.max(window.longestTask, entry.duration);
    }).observe({ type: "longtask" });
  });
  const started = await connectWith(big.tokenId, big.tokenSecret);
  await page.locator("#rows tr[data-index]").first().waitFor();
  const firstRows = Date.now() - started;
  await waitMatch("#list-status", /^2\D?000 secrets in main/);
  const allRows = Date.now() - started;
  const inPage = await page.evaluate(() => {
    const at = (name) => performance.getEntriesByName(`modal-secrets:${name}`).at(-1).startTime;
    return { first: at("first-rows") - at("connect"), all: at("all-rows") - at("connect"), longest: window.longestTask };
  });
  const drawn = (await rowNames()).length;
  assert.ok(drawn > 0 && drawn < 100, `only the rows in view are in the DOM (${drawn})`);

  // Filter: from the input event to the frame after the table was redrawn, measured in the page.
  const filterTime = (query) =>
    page.evaluate(async (q) => {
      const input = document.getElementById("filter");
      const t0 = performance.now();
      input.value = q;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      const work = performance.getEntriesByName("modal-secrets:filter").at(-1).duration;
      return { ms: performance.now() - t0, work, status: document.getElementById("list-status").textContent };
    }, query);
  const one = await filterTime("bulk-1234");
  assert.match(one.status, /^1 of 2\D?000/);
  assert.deepEqual(await rowNames(), ["bulk-1234"]);
  const many = await filterTime("bulk-1");
  assert.match(many.status, /^1\D?000 of 2\D?000/);
  const byKey = await filterTime("extra_flag");
  assert.match(byKey.status, /^667 of 2\D?000/);
  const cleared = await filterTime("");

  // Sorting and scrolling to the end keep the window small.
  await page.click('th button[data-sort="name"]');
  assert.equal((await rowNames())[0], "bulk-0000");
  await page.$eval("#table-scroll", (el) => {
    el.scrollTop = el.scrollHeight;
  });
  await page.waitForFunction(() => document.querySelector("#rows tr[data-name='bulk-1999']"));
  assert.ok((await rowNames()).length < 100);

  // The keyboard walks the whole list, the window following the focus.
  const focusedRow = () => page.evaluate(() => document.activeElement.closest("tr")?.dataset.name);
  await page.focus("#filter");
  await page.keyboard.press("ArrowDown");
  assert.equal(await focusedRow(), "bulk-0000");
  await page.keyboard.press("End");
  assert.equal(await focusedRow(), "bulk-1999");
  await page.keyboard.press("PageUp");
  await page.keyboard.press("ArrowUp");
  const name = await focusedRow();
  assert.ok(name > "bulk-1900" && name < "bulk-1999", name);
  await page.keyboard.press("Home");
  assert.equal(await focusedRow(), "bulk-0000");

  console.log(
    `# 2,000 secrets: first rows ${firstRows} ms after Connect (in page: ${Math.round(inPage.first)} ms), ` +
      `all rows ${allRows} ms (in page: ${Math.round(inPage.all)} ms), ` +
      (inPage.longest ? `longest main-thread task ${Math.round(inPage.longest)} ms` : "no main-thread task over 50 ms"),
  );
  const figure = (f) => `${f.work.toFixed(1)} ms (${f.ms.toFixed(1)} ms to the next frame)`;
  console.log(
    `# filter (filtering and redrawing the table; then from the input event to the frame after it): ` +
      `1 match ${figure(one)}, 1,000 matches ${figure(many)}, 667 by key name ${figure(byKey)}, cleared ${figure(cleared)}`,
  );
  await assertNoValues("after 2,000 secrets");
});

test("no page error, no CSP violation, no value in the console", () => {
  assert.deepEqual(pageErrors, []);
  const csp = consoleLines.filter((l) => /Content Security Policy|Refused to/i.test(l));
  assert.deepEqual(csp, []);
  assert.ok(!consoleLines.some((l) => l.includes(MARK)));
  assert.ok(!consoleLines.some((l) => l.includes(token.tokenSecret)), "no token secret in the console");
});
