#!/usr/bin/env node
// `modal-secrets`: the package's command line (Node only), shaped like Modal's `modal secret`
// commands (list, create, delete, with the same options, output and exit codes), plus info, update
// and a declarative `sync` from a .env file. scripts/build.sh bundles it (this file the entry) with
// the Node entry into pkg/cli.cjs, the package's `bin`. This folder: main.js (dispatch, exit codes),
// help.js (the commands' specs and help texts), input.js (arguments, files, prompts), format.js
// (output), commands.js (the six commands).
//
// Only command-line mechanics live in it: arguments, help, output (tables, --json), prompts,
// progress and exit codes. Every check and decision is the package's: names and keys are checked
// by the API, and the plan of a sync (keys to add, set, remove, and the one update applying it) is
// made in Rust (core/src/sync_plan.rs, through planSync).
//
// Values given on the command line or read from files are never printed: output and messages name
// keys only. Exit codes: 0 ok; 1 an error (one line, `Error: <Kind>: <message>`, on stderr); 2 a
// usage error (as click's, which Modal's CLI uses).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROG, COMMANDS, MAIN_HELP, commandHelp } from "./help.js";
import { UsageError, parse } from "./input.js";
import { out, quote } from "./format.js";
import { list, create, info, update, remove, sync } from "./commands.js";

/** What runs each command of help.js's COMMANDS. */
const RUN = { list, create, info, update, delete: remove, sync };

function version() {
  try {
    return JSON.parse(readFileSync(join(__dirname, "package.json"), "utf8")).version;
  } catch {
    return "unknown";
  }
}

/** The error's one line on stderr (plus click's usage lines for a usage error); the exit code. */
function report(error, commandName) {
  const oneLine = (text) => String(text).replace(/\s*\n\s*/g, " ");
  if (error instanceof UsageError) {
    const usage = commandName ? `${PROG} ${commandName} ${COMMANDS[commandName].usage}` : `${PROG} [OPTIONS] COMMAND [ARGS]...`;
    const again = commandName ? `${PROG} ${commandName} -h` : `${PROG} -h`;
    process.stderr.write(`Usage: ${usage}\nTry '${again}' for help.\n\nError: UsageError: ${oneLine(error.message)}\n`);
    return 2;
  }
  const kind = error instanceof Error ? error.name || "Error" : "Error";
  process.stderr.write(`Error: ${kind}: ${oneLine(error?.message ?? error)}\n`);
  return 1;
}

async function main(argv) {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stdout.write(MAIN_HELP);
    return 2;
  }
  if (first === "-h" || first === "--help") {
    process.stdout.write(MAIN_HELP);
    return 0;
  }
  if (first === "--version") {
    out(`${PROG} ${version()}`);
    return 0;
  }
  if (first.startsWith("-")) return report(new UsageError(`No such option '${first.split("=")[0]}'.`));
  if (!Object.hasOwn(COMMANDS, first)) return report(new UsageError(`No such command ${quote(first)}.`));
  const command = COMMANDS[first];
  const beforeDashes = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (beforeDashes.includes("-h") || beforeDashes.includes("--help") || (command.noArgsIsHelp && rest.length === 0)) {
    process.stdout.write(commandHelp(first));
    return rest.length === 0 && command.noArgsIsHelp ? 2 : 0;
  }
  try {
    await RUN[first](parse(command, rest));
    return 0;
  } catch (error) {
    return report(error, error instanceof UsageError ? first : undefined);
  }
}

// A closed stdout (`| head -1`) ends the output, not the command with a stack trace.
process.stdout.on("error", (error) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.exitCode = report(error);
  },
);
