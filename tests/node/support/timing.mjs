// Timing helpers of the Node suites' fault tests (faults, proxy, http2).
import assert from "node:assert/strict";

/** How `promise` settled and how long it took: { value, ms } or { error, ms }. */
export async function timed(promise) {
  const t0 = performance.now();
  try {
    const value = await promise;
    return { value, ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

/** Resolves once `predicate()` holds (polled every 5 ms); fails the test after `ms`, naming `what`. */
export async function waitFor(predicate, what, ms = 3000) {
  const t0 = performance.now();
  while (!predicate()) {
    if (performance.now() - t0 > ms) assert.fail(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
