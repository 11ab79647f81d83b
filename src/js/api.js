// The package's public classes, shared by every entry. Thin by design: each method hands its
// arguments to the Rust side, which checks them (every check is made there, once) and makes an
// operation (an OperationHandle) that `drive` (host.js) runs with fetch or node:http2. What lives
// here is JS-only mechanics: private fields (a secret's target and, once hydrated, its record:
// never kept in wasm, so dropping a Secret frees it), the default client, async iteration, and
// how objects print (never a token secret or a value).
//
// An entry calls `configureRuntime` with what its runtime can do (read process.env, files) and
// `setReady` with its wasm loading, then re-exports the public names. Nothing here runs wasm when the
// module is evaluated, so an entry may initialise the wasm after importing this module.
//
// Entries that cannot load the wasm synchronously (browsers, ./slim) never use top-level await:
// async functions wait for the wasm themselves, and the synchronous ones (`new Client`,
// `Secret.fromName`, …) defer their Rust half to the first async use when called before it is
// ready. Only `parseDotenv`, which returns its result at once, needs `await ready` first there.
import {
  ClientHandle,
  ListingHandle,
  createSecret,
  deleteSecret,
  dictTarget,
  dotenvTarget,
  localEnvironTarget,
  nameTarget,
  parseDotenv,
  secretOp,
} from "./modal_secrets.js";
import { ACTION, idTarget, targetName } from "./abi.js";
import { InvalidError, ModalError } from "./errors.js";
import { drive } from "./host.js";

export { parseDotenvChecked as parseDotenv };

const INSPECT = Symbol.for("nodejs.util.inspect.custom");
const PRIVATE = Symbol("modal-secrets private");

// ---- Loading ----------------------------------------------------------------------------------------

let isReady = false;
let loading; // the entry's loading promise, once it has started one
let settle;
/** Resolves once the wasm is loaded (at once in Node, Deno, Bun and workerd). */
export const ready = new Promise((resolve, reject) => {
  settle = { resolve, reject };
});
ready.catch(() => {}); // a load failure is reported by the calls that wait for it

/** For entries: `true` when the wasm is loaded, or the promise of its loading. */
export function setReady(load) {
  loading = Promise.resolve(load).then(
    () => {
      isReady = true;
      settle.resolve();
    },
    (error) => {
      const failure = new ModalError(`modal-secrets could not load its WebAssembly module: ${error?.message ?? error}`, {
        code: "UNAVAILABLE",
        retryable: false,
        cause: error,
      });
      settle.reject(failure);
      throw failure;
    },
  );
  loading.catch(() => {});
  if (load === true) isReady = true;
}

function notLoaded() {
  return new ModalError(
    "modal-secrets: the WebAssembly module is not loaded yet: `await ready` (or, with the ./slim " +
      "entry, `await initialize(...)`) before calling this synchronously",
    { code: "FAILED_PRECONDITION", retryable: false },
  );
}

/** Waits for the wasm (a no-op once loaded). */
async function loaded() {
  if (isReady) return;
  if (!loading) throw notLoaded();
  await loading;
}

/** `make()` now if the wasm is loaded, else a thunk for the first async use. */
function now(make) {
  return isReady ? make() : make;
}

/** The value of `now(make)`, made if it was deferred (the wasm is loaded by then). */
function made(value) {
  return typeof value === "function" ? value() : value;
}

/** parseDotenv answers at once, so it cannot wait. */
function parseDotenvChecked(text, options) {
  if (!isReady) throw notLoaded();
  return parseDotenv(text, options);
}

// What the runtime offers; entries fill it in (see node.js).
const runtime = {
  /** The environment for Client.fromEnv and fromLocalEnviron, or undefined. */
  env: () => undefined,
  /** The Modal config file's text for that environment, or undefined. */
  readConfig: (_env) => undefined,
  /** { text, env } of the .env file Secret.fromDotenv(path, { filename }) finds. */
  readDotenv: undefined,
  /** http2Transport(serverUrl) of http2.js, where the runtime has node:http2. */
  http2: undefined,
};

/** For entries only (not part of the public API). */
export function configureRuntime(overrides) {
  Object.assign(runtime, overrides);
}

function invalid(message) {
  return new InvalidError(message, { code: "INVALID_ARGUMENT", retryable: false });
}

// ---- Client ------------------------------------------------------------------------------------

// Each client's ClientHandle (src/client.rs), or a thunk making it (see `now`).
const clientCores = new WeakMap();
// Each client's HTTP/2 transport (made at its first call), or null for a client that uses fetch.
const transports = new WeakMap();
let defaultClient;

function coreOf(client) {
  let core = clientCores.get(client);
  if (typeof core === "function") {
    core = core();
    clientCores.set(client, core);
  }
  return core;
}

/** The transport of `client`'s calls: its HTTP/2 one, or `undefined` for fetch. */
function transportOf(client, core) {
  if (!client) return undefined;
  let transport = transports.get(client);
  if (transport === undefined) {
    transport = core.transport === "http2" ? runtime.http2(core.serverUrl) : null;
    transports.set(client, transport);
  }
  return transport ?? undefined;
}

/** The client's core for getters: `undefined` while the wasm is loading. */
function peek(client) {
  return isReady ? coreOf(client) : undefined;
}

let noClient;

/**
 * The client of a call and its core, or, when none can be had (no configuration, a bad `client`),
 * the error and the placeholder ClientHandle.none() (src/client.rs says why it exists): Rust
 * checks the call's arguments with it, and the error is thrown only if they were all good.
 */
function resolveClient(client, what) {
  try {
    const resolved = clientFor(client, what);
    return { client: resolved, core: coreOf(resolved) };
  } catch (error) {
    noClient ??= ClientHandle.none();
    return { core: noClient, error };
  }
}

/** The client for a call: `client` if given (it must be a Client), else the default one. */
function clientFor(client, what) {
  if (client === undefined || client === null) {
    defaultClient ??= Client.fromEnv();
    return defaultClient;
  }
  if (!clientCores.has(client)) throw invalid(`${what}: options.client must be a Client`);
  return client;
}

export class Client {
  constructor(options) {
    clientCores.set(this, now(() => ClientHandle.create(options, false, undefined, undefined, runtime.http2 !== undefined)));
  }

  static fromEnv(options) {
    // The options are checked in Rust (ClientHandle.create); here only `env` is read, to find the
    // config file.
    const env = options?.env ?? runtime.env();
    const toml = runtime.readConfig(env);
    const client = Object.create(Client.prototype);
    clientCores.set(client, now(() => ClientHandle.create(options, true, env, toml, runtime.http2 !== undefined)));
    return client;
  }

  get serverUrl() {
    return peek(this)?.serverUrl;
  }
  get tokenId() {
    return peek(this)?.tokenId;
  }
  get environment() {
    return peek(this)?.environment;
  }
  get timeoutMs() {
    return peek(this)?.timeoutMs;
  }
  get maxRetries() {
    return peek(this)?.maxRetries;
  }
  /** "http2" (plain gRPC over node:http2) or "fetch" (gRPC-web). */
  get transport() {
    return peek(this)?.transport;
  }

  /** Closes the client's HTTP/2 session now (calls in flight are aborted); a later call opens a new one. */
  async close() {
    transports.get(this)?.close();
  }

  toJSON() {
    const { serverUrl, tokenId, environment } = this;
    return { serverUrl, tokenId, environment };
  }
  toString() {
    return `Client(${this.serverUrl})`;
  }
  [INSPECT](_depth, options, inspect) {
    return `Client ${inspect(this.toJSON(), options)}`;
  }
}

// ---- Secret ------------------------------------------------------------------------------------

/** `{ name, createdAt, createdBy, environmentName, lastUsed }` as Modal's `SecretInfo`. */
function infoOf(record) {
  return {
    name: record.name,
    createdAt: new Date(record.createdAt / 1000),
    createdBy: record.createdBy,
    environmentName: record.environmentName,
    lastUsed: record.lastUsed === null ? null : new Date(record.lastUsed / 1000),
  };
}

export class Secret {
  // What to hydrate from (a target: abi.js), or a thunk making it (see `now`).
  #target;
  // Once hydrated: { id, name, environmentName, keys, createdAt, createdBy, lastUsed } (times in µs).
  #record;
  // The client given to fromName, until one hydrates the secret; then that one.
  #client;
  // The name given to fromName, shown while the wasm is loading.
  #name;

  constructor(key, target, client, name, record) {
    if (key !== PRIVATE) {
      throw new TypeError(
        "Secret has no public constructor: use Secret.fromName, fromDict, fromDotenv, " +
          "fromDotenvText or fromLocalEnviron",
      );
    }
    this.#target = target;
    this.#client = client;
    this.#name = typeof name === "string" ? name : undefined;
    this.#record = record;
  }

  // The target (the wasm is loaded when this is called from an async method).
  #made() {
    if (typeof this.#target === "function") this.#target = this.#target();
    return this.#target;
  }

  static fromName(name, options) {
    const target = now(() => nameTarget(name, options));
    const client = options?.client == null ? undefined : clientFor(options.client, "Secret.fromName");
    return new Secret(PRIVATE, target, client, name);
  }

  static fromDict(envDict) {
    return new Secret(PRIVATE, now(() => dictTarget(envDict)));
  }

  static fromDotenvText(text, options) {
    return new Secret(PRIVATE, now(() => dotenvTarget(text, options, "Secret.fromDotenvText")));
  }

  static fromDotenv(path, options) {
    if (!runtime.readDotenv) {
      throw invalid(
        "Secret.fromDotenv needs a file system (Node, Deno, Bun); here, read the file yourself " +
          "and use Secret.fromDotenvText(text)",
      );
    }
    const { text, env } = runtime.readDotenv(path, options);
    return new Secret(PRIVATE, now(() => dotenvTarget(text, { env }, "Secret.fromDotenv")));
  }

  static fromLocalEnviron(keys, options) {
    const env = runtime.env();
    return new Secret(PRIVATE, now(() => localEnvironTarget(keys, options, env)));
  }

  /** The secret's name (`undefined` for one made from values). */
  get name() {
    if (this.#record) return this.#record.name ?? undefined;
    if (!isReady) return this.#name;
    return targetName(this.#made());
  }
  /** `st-…` once hydrated, else `undefined`. */
  get objectId() {
    return this.#record?.id;
  }
  /** The key names once hydrated, else `undefined`. */
  get keys() {
    return this.#record ? [...this.#record.keys] : undefined;
  }
  get isHydrated() {
    return this.#record !== undefined;
  }

  // The client of a call on this secret: the one that hydrated it, else the given or default
  // one (see resolveClient).
  #clientFor(options, what) {
    if (this.#record && this.#client) return { client: this.#client, core: coreOf(this.#client) };
    const resolved = resolveClient(options?.client ?? this.#client, what);
    this.#client ??= resolved.client;
    return resolved;
  }

  // Runs the secret operation `action` (abi.js ACTION) and keeps what it learnt.
  async #run(action, envDict, options, what) {
    await loaded();
    const { client, core, error } = this.#clientFor(options, what);
    const target = this.#record ? idTarget(this.#record) : this.#made();
    const op = secretOp(core, target, action, envDict, options);
    if (error) throw error;
    const outcome = await drive(op, options?.signal, transportOf(client, core));
    // A concurrent hydration may have finished first: keep the first record.
    if (outcome.hydrated) this.#record ??= outcome.hydrated;
    return outcome;
  }

  async hydrate(options) {
    await this.#run(ACTION.hydrate, undefined, options, "secret.hydrate");
    return this;
  }

  async info(options) {
    const { info } = await this.#run(ACTION.info, undefined, options, "secret.info");
    // Fresh metadata replaces the record's (`refresh`); else the record is the answer.
    if (info) this.#record = info;
    return infoOf(this.#record);
  }

  async update(envDict, options) {
    const { keys } = await this.#run(ACTION.update, envDict, options, "secret.update");
    if (keys) this.#record.keys = keys;
  }

  toJSON() {
    const { name, objectId, keys } = this;
    return { name, objectId, keys };
  }
  toString() {
    return `Secret(${this.name ?? this.objectId ?? "from values"})`;
  }
  [INSPECT](_depth, options, inspect) {
    return `Secret ${inspect(this.toJSON(), options)}`;
  }

  static objects = Object.freeze({
    /** Creates a named secret. */
    async create(name, envDict, options) {
      await loaded();
      const { client, core, error } = resolveClient(options?.client, "Secret.objects.create");
      const op = createSecret(core, name, envDict, options);
      if (error) throw error;
      await drive(op, options?.signal, transportOf(client, core));
    },

    /** Every secret of an environment (newest first), hydrated. */
    async list(options) {
      const all = [];
      for await (const page of pages(options, "Secret.objects.list")) {
        for (const secret of page) all.push(secret);
      }
      return all;
    },

    /** Like list(), a page at a time, for workspaces with thousands of secrets. */
    async *iterate(options) {
      for await (const page of pages(options, "Secret.objects.iterate")) yield* page;
    },

    /** Deletes a named secret (a lookup, then a delete by id). */
    async delete(name, options) {
      await loaded();
      const { client, core, error } = resolveClient(options?.client, "Secret.objects.delete");
      const op = deleteSecret(core, name, options);
      if (error) throw error;
      await drive(op, options?.signal, transportOf(client, core));
    },
  });
}

/** The pages of a listing, each an array of hydrated secrets. */
async function* pages(options, what) {
  await loaded();
  const { client, core, error } = resolveClient(options?.client, what);
  const listing = ListingHandle.create(core, options, what);
  if (error) throw error;
  try {
    for (;;) {
      const op = listing.nextOp();
      if (op === undefined) return;
      const { records } = await drive(op, options?.signal, transportOf(client, core));
      yield records.map((record) => new Secret(PRIVATE, idTarget(record), client, undefined, record));
    }
  } finally {
    listing.free();
  }
}
