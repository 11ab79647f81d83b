// The six commands: list, create, info, update, delete (remove) and sync. Each reads its input
// (input.js), makes its calls through the package's API, and prints (format.js). What a sync does
// is planned in Rust (core/src/sync_plan.rs, through planSync); here is only its I/O.
import { AlreadyExistsError, ModalError, NotFoundError, Secret } from "../node.js";
import { planSync } from "../modal_secrets.js";
import { out, json, jsonKey, progress, formatTime, table, quote, listOf } from "./format.js";
import { UsageError, Aborted, clientFrom, readDotenv, readJson, keyValues, confirm } from "./input.js";

/** `planSync` (options: its own) with the file named in its message when the file is what is wrong. */
function plan(envDict, options, source) {
  try {
    return planSync(envDict, options);
  } catch (error) {
    if (source && error instanceof ModalError) error.message = `${source}: ${error.message}`;
    throw error;
  }
}

export async function list({ values }) {
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

export async function create({ values, positionals: [name, ...items] }) {
  const envDict = await keyValues(items);
  if (values["from-dotenv"] !== undefined) Object.assign(envDict, readDotenv(values["from-dotenv"]));
  if (values["from-json"] !== undefined) Object.assign(envDict, readJson(values["from-json"]));
  if (Object.keys(envDict).length === 0) {
    throw new UsageError("You need to specify at least one key for your secret");
  }
  const client = clientFrom(values);
  // The plan of a sync into an empty secret checks every key and value (a .env key without one
  // is refused) and gives the contents to create it with.
  const contents = plan(envDict, {}).update;
  try {
    await Secret.objects.create(name, contents, { client });
  } catch (error) {
    if (!(values.force && error instanceof AlreadyExistsError)) throw error;
    // --force: Modal overwrites in one call (creation type OVERWRITE_IF_EXISTS), which this
    // package does not offer; here, one update that sets these keys and removes every other.
    const secret = await Secret.fromName(name, { client }).hydrate();
    await secret.update(plan(envDict, { currentKeys: secret.keys, prune: true }).update);
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

export async function info({ values, positionals: [name] }) {
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

export async function update({ values, positionals: [name, ...items] }) {
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

export async function remove({ values, positionals: [name] }) {
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

export async function sync({ values, positionals: [name] }) {
  const path = values["from-dotenv"];
  if (path === undefined) throw new UsageError("Missing option '--from-dotenv'.");
  const envDict = readDotenv(path);
  const client = clientFrom(values);

  // What the secret is now (its keys and environment), or nothing if it does not exist; the plan
  // (core/src/sync_plan.rs) says what follows from it.
  const secret = Secret.fromName(name, { client });
  let found = null;
  try {
    await secret.hydrate();
    found = { currentKeys: secret.keys, environmentName: (await secret.info()).environmentName };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  const planned = plan(
    envDict,
    { ...found, clientEnvironment: client.environment, prune: Boolean(values.prune), dryRun: Boolean(values["dry-run"]) },
    path,
  );
  if (planned.probeEnvironment) await Secret.objects.list({ client, maxObjects: 1 });
  const environment = planned.environmentName;
  const where = environment ? `in environment ${quote(environment)}` : "in the default environment";

  if (!values.json) {
    out(`Sync plan for secret ${quote(name)} ${where}, from ${path}${planned.create ? " (a new secret):" : ":"}`);
    for (const [mark, keys] of [["+", planned.add], ["~", planned.set], ["-", planned.remove], ["=", planned.keep]]) {
      for (const key of keys) out(`  ${mark} ${key}`);
    }
    const kept = planned.keep.length ? `, ${planned.keep.length} kept (not in the file; --prune removes them)` : "";
    out(`${planned.add.length} to add, ${planned.set.length} to set, ${planned.remove.length} to remove${kept}.`);
  }
  if (planned.apply) {
    const changed = planned.add.length + planned.set.length + planned.remove.length;
    const shown = progress(`Applying the plan: ${changed.toLocaleString("en-US")} keys in one update…`);
    try {
      if (planned.create) await Secret.objects.create(name, planned.update, { client });
      else await secret.update(planned.update);
    } finally {
      shown.done();
    }
  }
  if (values.json) {
    json({
      name,
      environment_name: environment,
      created: planned.create,
      add: planned.add,
      set: planned.set,
      remove: planned.remove,
      keep: planned.keep,
      applied: planned.apply,
    });
  } else if (!planned.apply) {
    out("Dry run: nothing was changed.");
  } else if (planned.create) {
    out(`Created secret ${quote(name)} with ${planned.add.length} key${planned.add.length === 1 ? "" : "s"}.`);
  } else {
    out(
      `Synced secret ${quote(name)}: ${planned.add.length} added, ${planned.set.length} set, ` +
        `${planned.remove.length} removed.`,
    );
  }
}
