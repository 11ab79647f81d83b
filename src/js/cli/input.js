// The command line's input: its arguments (node:util's parseArgs, errors in click's words), the
// client they configure, the files a command reads (.env, JSON), KEY=VALUE items, a hidden prompt
// for a value and a yes/no question. The two errors of the command line itself live here too.
import { readFileSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Client, parseDotenv } from "../node.js";
import { quote } from "./format.js";

/** A bad command line: printed with the usage line and exit code 2, as click does. */
export class UsageError extends Error {}
UsageError.prototype.name = "UsageError";

/** The user (or the lack of a terminal) declined: exit code 1. */
export class Aborted extends Error {}
Aborted.prototype.name = "Aborted";

/** Parses `argv` for `command` into { values, positionals }; a bad option is a UsageError. */
export function parse(command, argv) {
  const spec = { help: { type: "boolean", short: "h" } };
  for (const [key, o] of Object.entries(command.options)) {
    spec[key] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  const positionals = parsed.positionals;
  const required = command.args.filter((a) => a.required);
  if (positionals.length < required.length) {
    throw new UsageError(`Missing argument '${required[positionals.length].name}'.`);
  }
  if (!command.args.some((a) => a.variadic) && positionals.length > command.args.length) {
    // Not echoed: a stray argument may be a value.
    const extra = positionals.length - command.args.length;
    throw new UsageError(`Got ${extra} unexpected extra argument${extra > 1 ? "s" : ""}.`);
  }
  return { values: parsed.values, positionals };
}

/** node:util's parse errors in click's words, naming the option only (never what followed `=`). */
function parseArgsMessage(error) {
  const named = /'(-[^'\s,=]*)/.exec(error.message)?.[1] ?? "";
  const long = /--[A-Za-z0-9-]+/.exec(error.message)?.[0] ?? named;
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `No such option '${named}'.`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /does not take/.test(error.message)
        ? `Option '${long}' does not take a value.`
        : `Option '${long}' requires an argument.`;
    default:
      return "Invalid arguments.";
  }
}

/** Client.fromEnv with --env and --profile over MODAL_* and ~/.modal.toml. */
export function clientFrom(values) {
  const options = {};
  if (values.env !== undefined) options.environment = values.env;
  if (values.profile !== undefined) options.profile = values.profile;
  // "http2" (the default) or "fetch"; a bad value is the API's InvalidError.
  const transport = process.env.MODAL_SECRETS_TRANSPORT;
  if (transport) options.transport = transport;
  return Client.fromEnv(options);
}

/**
 * A file's text, read as Python's open(path, encoding="utf-8") reads it: UTF-8, universal newlines.
 * `keepBom`: a byte-order mark stays, as in Python (a .env: python-dotenv drops one itself, as
 * parseDotenv does); else one is dropped.
 */
function readText(path, kind, keepBom = false) {
  let bytes;
  try {
    if (!statSync(path).isFile()) throw new Error("not a file");
    bytes = readFileSync(path);
  } catch {
    throw new UsageError(`Could not read ${kind} file at ${path}`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: keepBom }).decode(bytes).replace(/\r\n?/g, "\n");
  } catch {
    throw new UsageError(`Could not parse ${kind} file at ${path}: it is not UTF-8 text`);
  }
}

/** A .env file's keys and values (python-dotenv's `dotenv_values`, `${VAR}` from the environment). */
export function readDotenv(path) {
  return parseDotenv(readText(path, ".env", true), { env: process.env });
}

/** A JSON file holding one object of string values, as Modal's --from-json takes. */
export function readJson(path) {
  const text = readText(path, "JSON");
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    // Not JSON.parse's message: it quotes the text, which may hold values.
    throw new UsageError(`Could not parse JSON file at ${path}: it is not valid JSON`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new UsageError(`Could not parse JSON file at ${path}: it must hold one object of keys and values`);
  }
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== "string") {
      throw new UsageError(`Non-string value for secret ${quote(key)} in ${path}`);
    }
  }
  return data;
}

/**
 * KEY=VALUE arguments as { key: value }, in order. `KEY=-` reads that value from standard input:
 * a hidden prompt on a terminal, else all of stdin (one trailing newline dropped), once.
 */
export async function keyValues(items) {
  const out = {};
  let piped = false;
  for (const [i, item] of items.entries()) {
    const at = item.indexOf("=");
    if (at < 0) {
      // The item itself is not shown: it may be a value given without its key.
      throw new UsageError(
        `Each item should be of the form KEY=VALUE (argument ${i + 1} of the KEYVALUES is not). ` +
          "Use KEY=- to read a value from standard input.",
      );
    }
    const key = item.slice(0, at);
    let value = item.slice(at + 1);
    if (value === "-") {
      if (process.stdin.isTTY) {
        value = await hiddenPrompt(`Value for ${key} (hidden): `);
      } else {
        if (piped) throw new UsageError("Only one KEY=- can read standard input when it is not a terminal.");
        piped = true;
        value = readFileSync(0, "utf8").replace(/\r?\n$/, "");
      }
    }
    out[key] = value;
  }
  return out;
}

/** Reads one line from the terminal without echoing it. */
function hiddenPrompt(question) {
  const stdin = process.stdin;
  // Echo off before the question shows, so nothing typed after it is ever echoed.
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    const value = [];
    const finish = (result) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      result();
    };
    const onData = (chunk) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return finish(() => resolve(value.join("")));
        if (ch === "\u0003" || (ch === "\u0004" && value.length === 0)) {
          return finish(() => reject(new Aborted("no value was entered")));
        }
        if (ch === "\u007f" || ch === "\b") value.pop();
        else if (ch >= " ") value.push(ch);
      }
    };
    stdin.on("data", onData);
  });
}

/** Asks a yes/no question on the terminal (click.confirm's shape); false unless "y" / "yes". */
export async function confirm(question) {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise((resolve) => {
      rl.once("close", () => resolve(""));
      rl.question(`${question} [y/N]: `, resolve);
    });
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
