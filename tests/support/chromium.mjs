// Debian's Chromium driven by playwright-core (TOOLCHAIN.md: `npx playwright install` cannot
// download browsers here). One launch per test file; a fresh profile each time.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(Boolean);

/** The Chromium binary, or an error saying how to install it. */
export function chromiumPath() {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error("Chromium is missing: `apt-get install -y chromium` (npm test's setup does it), or set CHROMIUM_PATH");
  }
  return found;
}

/** Launches headless Chromium; `close()` also removes its profile. */
export async function launchChromium() {
  const profile = mkdtempSync(join(tmpdir(), "modal-secrets-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const version = context.browser()?.version() ?? (await versionOf(context));
  return {
    context,
    version,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function versionOf(context) {
  const page = await context.newPage();
  const ua = await page.evaluate(() => navigator.userAgent);
  await page.close();
  return ua.match(/Chrome\/([\d.]+)/)?.[1] ?? ua;
}
