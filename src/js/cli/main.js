#!/usr/bin/env node
// `modal-secrets`: the package's command line (Node only), shaped like Modal's `modal secret`
// commands (list, create, delete, with the same options, output and exit codes), plus info, update
// and a declarative `sync` from a .env file. scripts/build.sh bundles it with the Node entry into
// pkg/cli.cjs, the package's `bin`.
//
// Only command-line mechanics live here: arguments, help, output (tables, --json), prompts,
// progress and exit codes. Every check and decision is the package's: names and keys are checked
// by the API, and the plan of a sync (keys to add, set, remove, and the one update applying it) is
// made in Rust (core/src/sync.rs, through planSync).
//
// Values given on the command line or read from files are never printed: output and messages name
// keys only. Exit codes: 0 ok; 1 an error (one line, `Error: <Kind>: <message>`, on stderr); 2 a
// usage error (as click's, which Modal's CLI uses).
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { AlreadyExistsError, Client, ModalError, NotFoundError, Secret, parseDotenv } from "../node.js";
import { planSync } from "../modal_secrets.js";

const PROG = "modal-secrets";
const WIDTH = 80; // click's max_content_width

// ---- errors --------------------------------------------------------------------------------------

/** A bad command line: printed with the usage line and exit code 2, as click does. */
class UsageError extends Error {}
UsageError.prototype.name = "UsageError";

/** The user (or the lack of a terminal) declined: exit code 1. */
class Aborted extends Error {}
Aborted.prototype.name = "Aborted";

// ---- help ----------------------------------------------------------------------------------------

const ENV_HELP =
  "Environment to interact with. If unspecified, defers to `MODAL_ENVIRONMENT`, your active " +
  "local profile, or your workspace default, in that order.";

const OPTIONS = {
  env: { short: "e", type: "string", flags: "-e, --env TEXT", help: ENV_HELP },
  profile: { type: "string", flags: "--profile TEXT", help: "Use this Modal profile for the command." },
  json: { type: "boolean", flags: "--json", help: "" },
  help: { short: "h", type: "boolean", flags: "-h, --help", help: "Show this message and exit." },
};

const KEYVALUES_HELP = "KEY=VALUE pairs. KEY=- reads that value from standard input (a hidden prompt on a terminal).";

const COMMANDS = {
  list: {
    summary: "List your published secrets.",
    usage: "[OPTIONS]",
    args: [],
    options: {
      env: OPTIONS.env,
      json: { ...OPTIONS.json, help: "Print the list as JSON." },
      profile: OPTIONS.profile,
    },
    run: list,
  },
  create: {
    summary: "Create a new secret.",
    usage: "[OPTIONS] SECRET_NAME [KEYVALUES]...",
    args: [
      { name: "SECRET_NAME", required: true },
      { name: "[KEYVALUES]...", variadic: true, help: KEYVALUES_HELP },
    ],
    options: {
      env: OPTIONS.env,
      "from-dotenv": { type: "string", flags: "--from-dotenv PATH", help: "Path to a .env file to load secrets from." },
      "from-json": { type: "string", flags: "--from-json PATH", help: "Path to a JSON file to load secrets from." },
      force: { type: "boolean", flags: "--force", help: "Overwrite the secret if it already exists." },
      profile: OPTIONS.profile,
    },
    noArgsIsHelp: true,
    run: create,
  },
  info: {
    summary: "Show a secret's metadata and key names (never its values).",
    usage: "[OPTIONS] NAME",
    args: [{ name: "NAME", required: true }],
    options: {
      env: OPTIONS.env,
      json: { ...OPTIONS.json, help: "Print the metadata as JSON." },
      profile: OPTIONS.profile,
    },
    noArgsIsHelp: true,
    run: info,
  },
  update: {
    summary: "Set or remove keys of a secret, in one update; other keys stay.",
    usage: "[OPTIONS] NAME [KEYVALUES]...",
    args: [
      { name: "NAME", required: true },
      { name: "[KEYVALUES]...", variadic: true, help: KEYVALUES_HELP },
    ],
    options: {
      unset: { type: "string", multiple: true, flags: "--unset KEY", help: "Remove this key (repeatable)." },
      env: OPTIONS.env,
      profile: OPTIONS.profile,
    },
    noArgsIsHelp: true,
    run: update,
  },
  delete: {
    summary: "Delete a named Secret.",
    usage: "[OPTIONS] NAME",
    args: [{ name: "NAME", required: true }],
    options: {
      "allow-missing": { type: "boolean", flags: "--allow-missing", help: "Don't error if the Secret doesn't exist." },
      yes: { short: "y", type: "boolean", flags: "-y, --yes", help: "Run without pausing for confirmation." },
      env: OPTIONS.env,
      profile: OPTIONS.profile,
    },
    noArgsIsHelp: true,
    run: remove,
  },
  sync: {
    summary: "Make a secret hold the keys of a .env file, in one update.",
    description:
      "Make a secret hold the keys of a .env file, in one update.\n\n" +
      "Creates the secret if it does not exist, sets every key of the file, and with --prune " +
      "removes the keys the file does not have. The plan (keys added, set, removed; never values) " +
      "is printed before it is applied, as one update: the sync is applied whole or not at all.",
    usage: "[OPTIONS] NAME",
    args: [{ name: "NAME", required: true }],
    options: {
      "from-dotenv": { type: "string", flags: "--from-dotenv PATH", help: "Path to the .env file to sync from. [required]" },
      prune: { type: "boolean", flags: "--prune", help: "Remove the keys the .env file does not have." },
      "dry-run": { type: "boolean", flags: "--dry-run", help: "Print the plan only; change nothing." },
      json: { ...OPTIONS.json, help: "Print the plan (and whether it was applied) as JSON." },
      env: OPTIONS.env,
      profile: OPTIONS.profile,
    },
    noArgsIsHelp: true,
    run: sync,
  },
};

const MAIN_HELP = `Usage: ${PROG} [OPTIONS] COMMAND [ARGS]...

  Manage Modal Secrets: the commands of \`modal secret\`, with info, update and a
  declarative sync from .env files.

  Configured as Modal's own clients are: --env and --profile, then the MODAL_*
  variables (MODAL_SERVER_URL, MODAL_TOKEN_ID, MODAL_TOKEN_SECRET,
  MODAL_ENVIRONMENT, MODAL_PROFILE), then ~/.modal.toml (MODAL_CONFIG_PATH).
  Calls go as gRPC over HTTP/2, as Modal's API requires;
  MODAL_SECRETS_TRANSPORT=fetch sends gRPC-web over fetch instead (for a gateway
  behind a proxy that speaks only HTTP/1.1).

Options:
  --version   Show the version and exit.
  -h, --help  Show this message and exit.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(6)}  ${c.summary}`)
  .join("\n")}
`;

/** Words wrapped into lines of at most `width` characters. */
function wrap(text, width) {
  const lines = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.length ? lines : [""];
}

/** A command's help, laid out as click lays out Modal's. */
function commandHelp(name) {
  const command = COMMANDS[name];
  const rows = [
    ...command.args.map((a) => [a.name, a.help ?? ""]),
    ...Object.values(command.options).map((o) => [o.flags, o.help]),
    [OPTIONS.help.flags, OPTIONS.help.help],
  ];
  const first = Math.max(...rows.map(([flags]) => flags.length)) + 2;
  const options = rows.flatMap(([flags, help]) => {
    if (!help) return [`  ${flags}`];
    const [head, ...rest] = wrap(help, WIDTH - 2 - first);
    return [`  ${flags.padEnd(first)}${head}`, ...rest.map((l) => `  ${" ".repeat(first)}${l}`)];
  });
  const description = (command.description ?? command.summary)
    .split("\n\n")
    .map((p) => wrap(p, WIDTH - 2).map((l) => `  ${l}`).join("\n"))
    .join("\n\n");
  return `Usage: ${PROG} ${name} ${command.usage}\n\n${description}\n\nOptions:\n${options.join("\n")}\n`;
}

// ---- arguments -----------------------------------------------------------------------------------

/** Parses `argv` for `command` into { values, positionals }; a bad option is a UsageError. */
function parse(command, argv) {
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

// ---- the client, files, values -----------------------------------------------------------------------

/** Client.fromEnv with --env and --profile over MODAL_* and ~/.modal.toml. */
function clientFrom(values) {
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
function readDotenv(path) {
  return parseDotenv(readText(path, ".env", true), { env: process.env });
}

/** A JSON file holding one object of string values, as Modal's --from-json takes. */
function readJson(path) {
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

/** A name or key as Python's repr shows it ('KEY'), for messages in Modal's style. */
function quote(name) {
  return `'${String(name).replace(/[\\']/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}'`;
}

const listOf = (keys) => keys.map(quote).join(", ");

/**
 * KEY=VALUE arguments as { key: value }, in order. `KEY=-` reads that value from standard input:
 * a hidden prompt on a terminal, else all of stdin (one trailing newline dropped), once.
 */
async function keyValues(items) {
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
async function confirm(question) {
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

/** `planSync` with the file named in its message when the file is what is wrong. */
function plan(currentKeys, envDict, prune, source) {
  try {
    return planSync(envDict, { currentKeys, prune });
  } catch (error) {
    if (source && error instanceof ModalError) error.message = `${source}: ${error.message}`;
    throw error;
  }
}

// ---- output ------------------------------------------------------------------------------------------

const out = (text = "") => process.stdout.write(`${text}\n`);

/**
 * A progress line on stderr, only when stderr is a terminal and only once the work has taken
 * 250 ms (so quick runs print nothing); `done()` erases it.
 */
function progress(initial) {
  if (!process.stderr.isTTY) return { update() {}, done() {} };
  let text = initial;
  let shown = false;
  let last = 0;
  const started = Date.now();
  const draw = () => {
    last = Date.now();
    shown = true;
    process.stderr.write(`\r\x1b[K${text}`);
  };
  const timer = setTimeout(draw, 250);
  return {
    update(next) {
      text = next;
      const now = Date.now();
      if (now - started >= 250 && now - last >= 100) draw();
    },
    done() {
      clearTimeout(timer);
      if (shown) process.stderr.write("\r\x1b[K");
    },
  };
}

const two = (n) => String(n).padStart(2, "0");

/** The local time zone's short name (UTC, CET, GMT+1 …), as Python's %Z shows it. */
function zoneName(date) {
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(date)
    .find((p) => p.type === "timeZoneName");
  return part?.value ?? "";
}

/**
 * A time as Modal's CLI prints it, in the local time zone: `2026-11-28 15:56 UTC` in tables,
 * `2026-11-28 15:56:39+00:00` (Python's isoformat) in JSON; null for none.
 */
function formatTime(date, json) {
  if (!(date instanceof Date) || !(date.getTime() > 0)) return null;
  const day = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  const minute = `${two(date.getHours())}:${two(date.getMinutes())}`;
  if (!json) return `${day} ${minute} ${zoneName(date)}`;
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const zone = `${sign}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
  return `${day} ${minute}:${two(date.getSeconds())}${zone}`;
}

/** A table in rich's default style (Modal's `display_table`), with a centred title. */
function table(title, columns, rows) {
  const cells = rows.map((row) => row.map((c) => (c === null || c === undefined ? "" : String(c))));
  const widths = columns.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (l, fill, mid, r) => l + widths.map((w) => fill.repeat(w + 2)).join(mid) + r;
  const row = (values, bar) => bar + values.map((v, i) => ` ${v.padEnd(widths[i])} `).join(bar) + bar;
  const total = widths.reduce((n, w) => n + w + 3, 1);
  const lines = [];
  if (title) lines.push(" ".repeat(Math.max(0, Math.floor((total - title.length) / 2))) + title);
  lines.push(line("┏", "━", "┳", "┓"), row(columns, "┃"), line("┡", "━", "╇", "┩"));
  for (const r of cells) lines.push(row(r, "│"));
  lines.push(line("└", "─", "┴", "┘"));
  return lines.join("\n");
}

/** JSON as Modal's CLI prints it (Python's json.dumps with indent=2). */
const json = (value) => out(JSON.stringify(value, null, 2));

/** Snake-case JSON keys of Modal's column names: "Created at" → created_at. */
const jsonKey = (column) => column.toLowerCase().replace(/ /g, "_");

// ---- commands ------------------------------------------------------------------------------------

async function list({ values }) {
  const client = clientFrom(values);
  const rows = [];
  const shown = progress("Listing secrets…");
  try {
    for await (const secret of Secret.objects.iterate({ client })) {
      const i = await secret.info();
      rows.push([
        secret.name,
        formatTime(i.createdAt, values.json),
        i.createdBy,
        i.lastUsed ? formatTime(i.lastUsed, values.json) : "-",
      ]);
      shown.update(`Listing secrets… ${rows.length.toLocaleString("en-US")}`);
    }
  } finally {
    shown.done();
  }
  const columns = ["Name", "Created at", "Created by", "Last used at"];
  if (values.json) {
    json(rows.map((r) => Object.fromEntries(columns.map((c, i) => [jsonKey(c), r[i]]))));
  } else {
    const env = client.environment;
    out(table(`Secrets${env ? ` in environment ${quote(env)}` : ""}`, columns, rows));
  }
}

async function create({ values, positionals: [name, ...items] }) {
  const envDict = await keyValues(items);
  if (values["from-dotenv"] !== undefined) Object.assign(envDict, readDotenv(values["from-dotenv"]));
  if (values["from-json"] !== undefined) Object.assign(envDict, readJson(values["from-json"]));
  if (Object.keys(envDict).length === 0) {
    throw new UsageError("You need to specify at least one key for your secret");
  }
  const client = clientFrom(values);
  // The plan of a sync into an empty secret checks every key and value (a .env key without one
  // is refused) and gives the contents to create it with.
  const contents = plan(null, envDict, false).update;
  try {
    await Secret.objects.create(name, contents, { client });
  } catch (error) {
    if (!(values.force && error instanceof AlreadyExistsError)) throw error;
    // --force: Modal overwrites in one call (creation type OVERWRITE_IF_EXISTS), which this
    // package does not offer; here, one update that sets these keys and removes every other.
    const secret = await Secret.fromName(name, { client }).hydrate();
    await secret.update(plan(secret.keys, envDict, true).update);
  }
  const keys = Object.keys(envDict);
  out(`Created a new secret ${quote(name)} with the key${keys.length > 1 ? "s" : ""} ${listOf(keys)}`);
  out();
  out("Use it in your Modal app:");
  out();
  out(`@app.function(secrets=[modal.Secret.from_name(${JSON.stringify(name)})])`);
  out("def some_function():");
  for (const key of keys) out(`    os.getenv(${JSON.stringify(key)})`);
}

async function info({ values, positionals: [name] }) {
  const client = clientFrom(values);
  const secret = await Secret.fromName(name, { client }).hydrate();
  const i = await secret.info();
  const keys = secret.keys;
  if (values.json) {
    json({
      name: secret.name,
      object_id: secret.objectId,
      environment_name: i.environmentName,
      created_at: formatTime(i.createdAt, true),
      created_by: i.createdBy,
      last_used_at: i.lastUsed ? formatTime(i.lastUsed, true) : "-",
      keys,
    });
    return;
  }
  const rows = [
    ["Name", secret.name],
    ["Object ID", secret.objectId],
    ["Environment", i.environmentName],
    ["Created at", formatTime(i.createdAt, false)],
    ["Created by", i.createdBy],
    ["Last used at", i.lastUsed ? formatTime(i.lastUsed, false) : "-"],
    ...(keys.length ? keys.map((key, n) => [n === 0 ? "Keys" : "", key]) : [["Keys", "-"]]),
  ];
  out(table(`Secret ${quote(secret.name)}`, ["Field", "Value"], rows));
}

async function update({ values, positionals: [name, ...items] }) {
  const set = await keyValues(items);
  const unset = values.unset ?? [];
  const both = unset.find((key) => Object.hasOwn(set, key));
  if (both !== undefined) throw new UsageError(`Key ${quote(both)} is both set and --unset.`);
  if (Object.keys(set).length === 0 && unset.length === 0) {
    throw new UsageError("You need to specify at least one KEY=VALUE or --unset KEY");
  }
  const client = clientFrom(values);
  const changes = { ...set, ...Object.fromEntries(unset.map((key) => [key, null])) };
  await Secret.fromName(name, { client }).update(changes);
  const parts = [];
  if (Object.keys(set).length) parts.push(`set ${listOf(Object.keys(set))}`);
  if (unset.length) parts.push(`removed ${listOf([...new Set(unset)])}`);
  out(`Updated secret ${quote(name)}: ${parts.join("; ")}`);
}

async function remove({ values, positionals: [name] }) {
  const client = clientFrom(values);
  if (!values.yes) {
    const question = `Are you sure you want to irrevocably delete the modal.Secret ${quote(name)}?`;
    if (!process.stdin.isTTY) {
      throw new Aborted(
        `no interactive terminal to confirm on: rerun with --yes (-y) to delete ${quote(name)} without asking`,
      );
    }
    if (!(await confirm(question))) throw new Aborted(`${quote(name)} was not deleted`);
  }
  await Secret.objects.delete(name, { client, allowMissing: Boolean(values["allow-missing"]) });
}

async function sync({ values, positionals: [name] }) {
  const path = values["from-dotenv"];
  if (path === undefined) throw new UsageError("Missing option '--from-dotenv'.");
  const envDict = readDotenv(path);
  const client = clientFrom(values);
  const prune = Boolean(values.prune);

  // The secret's keys now; a missing secret has none and is created with the file's keys.
  const secret = Secret.fromName(name, { client });
  let exists = true;
  try {
    await secret.hydrate();
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    exists = false;
    // Not found may mean no such environment: a dry run must not plan a create there (a real
    // run's create would fail on it anyway). Listing one secret of it tells.
    if (values["dry-run"]) await Secret.objects.list({ client, maxObjects: 1 });
  }
  const planned = plan(exists ? secret.keys : null, envDict, prune, path);
  const environment = exists ? (await secret.info()).environmentName : client.environment;
  const where = environment ? `in environment ${quote(environment)}` : "in the default environment";
  const apply = !values["dry-run"];

  if (!values.json) {
    out(`Sync plan for secret ${quote(name)} ${where}, from ${path}${exists ? ":" : " (a new secret):"}`);
    for (const [mark, keys] of [["+", planned.add], ["~", planned.set], ["-", planned.remove], ["=", planned.keep]]) {
      for (const key of keys) out(`  ${mark} ${key}`);
    }
    const kept = planned.keep.length ? `, ${planned.keep.length} kept (not in the file; --prune removes them)` : "";
    out(`${planned.add.length} to add, ${planned.set.length} to set, ${planned.remove.length} to remove${kept}.`);
  }
  if (apply) {
    const changed = planned.add.length + planned.set.length + planned.remove.length;
    const shown = progress(`Applying the plan: ${changed.toLocaleString("en-US")} keys in one update…`);
    try {
      if (exists) await secret.update(planned.update);
      else await Secret.objects.create(name, planned.update, { client });
    } finally {
      shown.done();
    }
  }
  if (values.json) {
    json({
      name,
      environment_name: environment || null,
      created: !exists,
      add: planned.add,
      set: planned.set,
      remove: planned.remove,
      keep: planned.keep,
      applied: apply,
    });
  } else if (!apply) {
    out("Dry run: nothing was changed.");
  } else if (!exists) {
    out(`Created secret ${quote(name)} with ${planned.add.length} key${planned.add.length === 1 ? "" : "s"}.`);
  } else {
    out(
      `Synced secret ${quote(name)}: ${planned.add.length} added, ${planned.set.length} set, ` +
        `${planned.remove.length} removed.`,
    );
  }
}

// ---- main --------------------------------------------------------------------------------------------

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
    await command.run(parse(command, rest));
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
