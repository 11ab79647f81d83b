// The command line's commands as its help shows them: each one's summary, usage, arguments and
// options (which input.js's parse() also reads), the top-level help, and click's layout of a
// command's help (as Modal's CLI prints it). main.js pairs each command with what runs it.

export const PROG = "modal-secrets";
const WIDTH = 80; // click's max_content_width

const ENV_HELP =
  "Environment to interact with. If unspecified, defers to `MODAL_ENVIRONMENT`, your active " +
  "local profile, or your workspace default, in that order.";

const OPTIONS = {
  env: { short: "e", type: "string", flags: "-e, --env TEXT", help: ENV_HELP },
  profile: { type: "string", flags: "--profile TEXT", help: "Use this Modal profile for the command." },
  json: { type: "boolean", flags: "--json", help: "" },
  help: { short: "h", type: "boolean", flags: "-h, --help", help: "Show this message and exit." },
};

const KEYVALUES_ARG = {
  name: "[KEYVALUES]...",
  variadic: true,
  help: "KEY=VALUE pairs. KEY=- reads that value from standard input (a hidden prompt on a terminal).",
};

export const COMMANDS = {
  list: {
    summary: "List your published secrets.",
    usage: "[OPTIONS]",
    args: [],
    options: {
      env: OPTIONS.env,
      json: { ...OPTIONS.json, help: "Print the list as JSON." },
      profile: OPTIONS.profile,
    },
  },
  create: {
    summary: "Create a new secret.",
    usage: "[OPTIONS] SECRET_NAME [KEYVALUES]...",
    args: [
      { name: "SECRET_NAME", required: true },
      KEYVALUES_ARG,
    ],
    options: {
      env: OPTIONS.env,
      "from-dotenv": { type: "string", flags: "--from-dotenv PATH", help: "Path to a .env file to load secrets from." },
      "from-json": { type: "string", flags: "--from-json PATH", help: "Path to a JSON file to load secrets from." },
      force: { type: "boolean", flags: "--force", help: "Overwrite the secret if it already exists." },
      profile: OPTIONS.profile,
    },
    noArgsIsHelp: true,
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
  },
  update: {
    summary: "Set or remove keys of a secret, in one update; other keys stay.",
    usage: "[OPTIONS] NAME [KEYVALUES]...",
    args: [
      { name: "NAME", required: true },
      KEYVALUES_ARG,
    ],
    options: {
      unset: { type: "string", multiple: true, flags: "--unset KEY", help: "Remove this key (repeatable)." },
      env: OPTIONS.env,
      profile: OPTIONS.profile,
    },
    noArgsIsHelp: true,
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
  },
};

export const MAIN_HELP = `Usage: ${PROG} [OPTIONS] COMMAND [ARGS]...

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
export function commandHelp(name) {
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
