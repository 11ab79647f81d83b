// Running the built command line (pkg/cli.cjs, the package's `bin`) as a subprocess, against the
// real server (tests/node/support/server.mjs), with only the settings a test gives it: a HOME of
// its own (no ~/.modal.toml unless the test writes one), TZ=UTC, and the MODAL_* variables.
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { ROOT } from "../node/support/server.mjs";

export { ROOT };
export const CLI = join(ROOT, "pkg/cli.cjs");
if (!existsSync(CLI)) throw new Error(`missing ${CLI}: run npm run build`);

/** A temporary directory, removed when the test file ends. */
export function tempDir(prefix = "modal-secrets-cli-") {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The environment of a CLI run for `server` and `token`, over a clean one; `extra` wins. */
export function cliEnv(server, token, home, extra = {}) {
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    TZ: "UTC",
    MODAL_CONFIG_PATH: join(home, ".modal.toml"),
    MODAL_SERVER_URL: server.url,
    MODAL_TOKEN_ID: token.tokenId,
    MODAL_TOKEN_SECRET: token.tokenSecret,
    // The run's transport (scripts/test.sh runs the suite with each); unset: the CLI's default.
    MODAL_SECRETS_TRANSPORT: process.env.MODAL_SECRETS_TEST_TRANSPORT,
    // The secrets audit of npm test (tests/audit/): the CLI process records and tees too.
    MODAL_SECRETS_AUDIT_DIR: process.env.MODAL_SECRETS_AUDIT_DIR,
    NODE_OPTIONS: process.env.MODAL_SECRETS_AUDIT_DIR ? process.env.NODE_OPTIONS : undefined,
    ...extra,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/**
 * Runs `node pkg/cli.cjs ...args` with `env` (in `cwd`), `input` on its stdin (else an empty
 * stdin: not a terminal). Resolves to { code, stdout, stderr } whatever the exit code.
 */
export function runCli(args, { env, input = "", cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [CLI, ...args], { env, cwd, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** Whether util-linux `script` can give a command a terminal here. */
export const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const shellQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI on a terminal (util-linux `script`: stdin, stdout and stderr are one pty). `answers`
 * are [waitFor, text] pairs: once the output so far contains `waitFor`, `text` is typed. Resolves
 * to { code, output } (the terminal's output, with \r\n).
 */
export function runCliOnTerminal(args, { env, answers = [], columns = 120 } = {}) {
  const command = [process.execPath, CLI, ...args].map(shellQuote).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", `stty cols ${columns} 2>/dev/null; exec ${command}`, "/dev/null"], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    const pending = [...answers];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no exit on the terminal; output so far:\n${output}`));
    }, 60_000);
    const onData = (chunk) => {
      output += chunk.toString("utf8");
      while (pending.length && output.includes(pending[0][0])) child.stdin.write(pending.shift()[1]);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, output });
    });
  });
}
