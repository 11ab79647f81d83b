// The package's public classes, shared by every entry (node.js today). Thin by design: each method
// hands its arguments to the Rust side (ClientCore, SecretCore, ListingCore), which checks them and
// does the work. What lives here is JS-only mechanics: private fields, the default client, async
// iteration, and how objects print (never a token secret or a value).
//
// An entry calls `configureRuntime` with what its runtime can do (read process.env, files), then
// re-exports the public names. Nothing here runs wasm when the module is evaluated, so an entry may
// initialise the wasm after importing this module.
import {
  ClientCore,
  SecretCore,
  ListingCore,
  createSecret,
  deleteSecret,
  parseDotenv,
} from "./modal_secrets.js";
import { InvalidError } from "./errors.js";

export { parseDotenv };
export * from "./errors.js";

const INSPECT = Symbol.for("nodejs.util.inspect.custom");
const PRIVATE = Symbol("modal-secrets private");

// What the runtime offers; entries fill it in (see node.js).
const runtime = {
  /** The environment for Client.fromEnv and fromLocalEnviron, or undefined. */
  env: () => undefined,
  /** The Modal config file's text for that environment, or undefined. */
  readConfig: (_env) => undefined,
  /** { text, env } of the .env file Secret.fromDotenv(path, { filename }) finds. */
  readDotenv: undefined,
};

/** For entries only (not part of the public API). */
export function configureRuntime(overrides) {
  Object.assign(runtime, overrides);
}

function invalid(message) {
  return new InvalidError(message, { code: "INVALID_ARGUMENT", retryable: false });
}

function checkOptions(options, what) {
  if (options !== undefined && options !== null && (typeof options !== "object" || Array.isArray(options))) {
    const got = Array.isArray(options) ? "an array" : `a ${typeof options}`;
    throw invalid(`${what}: options must be an object, got ${got}`);
  }
  return options ?? undefined;
}

// ---- Client ------------------------------------------------------------------------------------

const clientCores = new WeakMap();
let defaultClient;

function coreOf(client) {
  return clientCores.get(client);
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
    clientCores.set(this, ClientCore.create(options, false, undefined, undefined));
  }

  static fromEnv(options) {
    checkOptions(options, "Client.fromEnv");
    const env = options?.env ?? runtime.env();
    const core = ClientCore.create(options, true, env, runtime.readConfig(env));
    const client = Object.create(Client.prototype);
    clientCores.set(client, core);
    return client;
  }

  get serverUrl() {
    return coreOf(this).serverUrl;
  }
  get tokenId() {
    return coreOf(this).tokenId;
  }
  get environment() {
    return coreOf(this).environment;
  }
  get timeoutMs() {
    return coreOf(this).timeoutMs;
  }
  get maxRetries() {
    return coreOf(this).maxRetries;
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

export class Secret {
  #core;
  // The client given to fromName, until one hydrates the secret; then that one.
  #client;

  constructor(key, core, client) {
    if (key !== PRIVATE) {
      throw new TypeError(
        "Secret has no public constructor: use Secret.fromName, fromDict, fromDotenv, " +
          "fromDotenvText or fromLocalEnviron",
      );
    }
    this.#core = core;
    this.#client = client;
  }

  static fromName(name, options) {
    checkOptions(options, "Secret.fromName");
    const core = SecretCore.fromName(name, options);
    const client = options?.client == null ? undefined : clientFor(options.client, "Secret.fromName");
    return new Secret(PRIVATE, core, client);
  }

  static fromDict(envDict) {
    return new Secret(PRIVATE, SecretCore.fromDict(envDict));
  }

  static fromDotenvText(text, options) {
    return new Secret(PRIVATE, SecretCore.fromDotenvText(text, options, "Secret.fromDotenvText"));
  }

  static fromDotenv(path, options) {
    checkOptions(options, "Secret.fromDotenv");
    if (!runtime.readDotenv) {
      throw invalid(
        "Secret.fromDotenv needs a file system (Node, Deno, Bun); here, read the file yourself " +
          "and use Secret.fromDotenvText(text)",
      );
    }
    const { text, env } = runtime.readDotenv(path, options);
    return new Secret(PRIVATE, SecretCore.fromDotenvText(text, { env }, "Secret.fromDotenv"));
  }

  static fromLocalEnviron(keys, options) {
    checkOptions(options, "Secret.fromLocalEnviron");
    const env = options?.env ?? runtime.env();
    if (env === undefined) {
      throw invalid("Secret.fromLocalEnviron: this runtime has no process.env; pass { env }");
    }
    return new Secret(PRIVATE, SecretCore.fromLocalEnviron(keys, env));
  }

  /** The secret's name (`undefined` for one made from values). */
  get name() {
    return this.#core.name;
  }
  /** `st-…` once hydrated, else `undefined`. */
  get objectId() {
    return this.#core.objectId;
  }
  /** The key names once hydrated, else `undefined`. */
  get keys() {
    return this.#core.keys;
  }
  get isHydrated() {
    return this.#core.hydrated;
  }

  // The client for a call on this secret: the one that hydrated it, else the given or default one.
  #clientFor(options, what) {
    if (this.#core.hydrated && this.#client) return this.#client;
    checkOptions(options, what);
    this.#client = clientFor(options?.client ?? this.#client, what);
    return this.#client;
  }

  async hydrate(options) {
    const client = this.#clientFor(options, "secret.hydrate");
    await this.#core.hydrate(coreOf(client), options);
    return this;
  }

  async info(options) {
    const client = this.#clientFor(options, "secret.info");
    return this.#core.info(coreOf(client), options);
  }

  async update(envDict, options) {
    const client = this.#clientFor(options, "secret.update");
    await this.#core.update(coreOf(client), envDict, options);
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
      checkOptions(options, "Secret.objects.create");
      const client = clientFor(options?.client, "Secret.objects.create");
      await createSecret(coreOf(client), name, envDict, options);
    },

    /** Every secret of an environment (newest first), hydrated. */
    async list(options) {
      const all = [];
      for await (const secret of listing(options, "Secret.objects.list")) all.push(secret);
      return all;
    },

    /** Like list(), a page at a time, for workspaces with thousands of secrets. */
    iterate(options) {
      return listing(options, "Secret.objects.iterate");
    },

    /** Deletes a named secret (a lookup, then a delete by id). */
    async delete(name, options) {
      checkOptions(options, "Secret.objects.delete");
      const client = clientFor(options?.client, "Secret.objects.delete");
      await deleteSecret(coreOf(client), name, options);
    },
  });
}

async function* listing(options, what) {
  checkOptions(options, what);
  const client = clientFor(options?.client, what);
  const pages = ListingCore.create(coreOf(client), options, what);
  try {
    for (;;) {
      const page = await pages.next();
      if (page === undefined) return;
      for (const core of page) yield new Secret(PRIVATE, core, client);
    }
  } finally {
    pages.free();
  }
}
