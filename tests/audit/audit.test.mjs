// The secrets audit of `npm test` (issue 8, "done when" 2): scripts/test.sh runs this last, over
// MODAL_SECRETS_AUDIT_DIR, where every suite recorded the secret values and token secrets it used
// and every test-started server and Node process wrote its log and output (tests/support/audit.mjs).
// No recorded secret of 8+ characters may be in any of them; a run that recorded nothing fails too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { auditDir, describeLeaks, describeStats, emptiness } from "./checker.mjs";

const dir = process.env.MODAL_SECRETS_AUDIT_DIR;

test(
  "no secret value or token secret in any server log or printed output of the run",
  { skip: !dir && "MODAL_SECRETS_AUDIT_DIR is not set (scripts/test.sh sets it and runs this last)" },
  (t) => {
    const { leaks, stats, recordFiles } = auditDir(dir);
    const report = describeStats(stats, recordFiles);
    t.diagnostic(report);
    console.log(`secrets audit of ${dir}: ${report}`);
    assert.deepEqual(emptiness(stats), [], `the audit checked too little to mean anything: ${report}`);
    assert.equal(
      leaks.length,
      0,
      `${leaks.length}${stats.truncated ? "+" : ""} secrets found in logs or output:\n${describeLeaks(leaks).join("\n")}\n(${report})`,
    );
  },
);
