// Types of the `modal-secrets` package.

/** Options of {@link parseDotenv}. */
export interface ParseDotenvOptions {
  /**
   * Variables for `${VAR}` and `${VAR:-default}` interpolation, consulted after the keys defined
   * earlier in the same text (python-dotenv's order). Pass `process.env` to interpolate from the
   * environment; non-string values are ignored. Default: none.
   */
  env?: Record<string, string | undefined>;
}

/**
 * Parses `.env` text exactly as python-dotenv's `dotenv_values` does (which Modal's
 * `Secret.from_dotenv` uses): `export` prefixes, single and double quotes, escapes in double
 * quotes, multi-line quoted values, comments, `${VAR}` / `${VAR:-default}` interpolation.
 * A repeated key keeps its last value. A key written without `=` maps to `null`.
 *
 * @example
 * parseDotenv('A=1\nB="${A}-two" # comment\nFLAG', { env: {} })
 * // => { A: "1", B: "1-two", FLAG: null }
 * @throws {InvalidError} if `text` is not a string or `options.env` is not an object.
 */
export function parseDotenv(text: string, options?: ParseDotenvOptions): Record<string, string | null>;

/**
 * Resolves once the package's WebAssembly is loaded: at once in Node, Deno, Bun and workerd, which
 * load it synchronously; in browsers it loads in the background. Async functions wait for it by
 * themselves, and `new Client()`, `Secret.fromName()` … may be called before it (their checks then
 * run at the first async use). Only {@link parseDotenv}, which answers at once, needs
 * `await ready` first in a browser. Rejects with a {@link ModalError} (code `UNAVAILABLE`) if the
 * .wasm cannot be loaded.
 */
export const ready: Promise<void>;

// ---- Client -------------------------------------------------------------------------------------

/** Options of {@link Client}. Every one is optional; `new Client()` reads nothing else. */
export interface ClientOptions {
  /**
   * The Modal API, or a modal-secrets-server (`http://127.0.0.1:8787`), or a gateway in front of
   * Modal for browsers and workers. `http://` or `https://`, optionally with a path. Default:
   * `https://api.modal.com`.
   */
  serverUrl?: string;
  /** The token id, `ak-…`. */
  tokenId?: string;
  /** The token secret, `as-…`. Kept in WebAssembly memory; never printed or serialised. */
  tokenSecret?: string;
  /** The environment calls use when they name none. Default: the workspace's default (`""`). */
  environment?: string;
  /**
   * How calls travel. `"http2"`: plain gRPC over HTTP/2 (node:http2; TLS with ALPN h2 for
   * `https://`, h2c with prior knowledge for `http://`), what Modal's own API speaks: the default
   * in Node. `"fetch"`: gRPC-web over `fetch`, for browsers, workers, Deno and Bun (the default
   * there), and for a modal-secrets-server gateway behind an HTTP/1.1-only proxy. Giving `fetch`
   * implies `"fetch"`. `"http2"` where the runtime has no node:http2 is an {@link InvalidError}.
   */
  transport?: "http2" | "fetch";
  /**
   * The `fetch` to send requests with: a proxy's, a service binding's (`env.GATEWAY.fetch`), or a
   * test's (implies `transport: "fetch"`). Default: the global `fetch`.
   */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Give up on a call (retries and waits included) after this many ms. Default: no limit. */
  timeoutMs?: number;
  /** Retries of a transient failure (UNAVAILABLE, INTERNAL, … or no answer). Default: 3. */
  maxRetries?: number;
  /**
   * The longest total wait for a call the server throttles (RPCRetryPolicy), in ms; `0` never
   * waits. Default: no cap (Modal's `max_throttle_wait`).
   */
  maxThrottleWaitMs?: number;
  /** Receives the server's warnings (`x-modal-warning`). Default: `console.warn`. */
  onWarning?: (message: string) => void;
}

/** Options of {@link Client.fromEnv}: explicit values win over the environment and the file. */
export interface FromEnvOptions extends ClientOptions {
  /**
   * Where the `MODAL_*` variables come from (`MODAL_SERVER_URL`, `MODAL_TOKEN_ID`,
   * `MODAL_TOKEN_SECRET`, `MODAL_ENVIRONMENT`, `MODAL_PROFILE`, `MODAL_CONFIG_PATH`,
   * `MODAL_MAX_THROTTLE_WAIT`), e.g. a worker's `env`. Default: `process.env` in Node, else none.
   */
  env?: Record<string, unknown>;
  /** The profile of `~/.modal.toml` to use (as `MODAL_PROFILE`). */
  profile?: string;
}

/**
 * A connection to Modal (or a compatible server): where, as whom, how patiently. Printing or
 * serialising a client shows its URL, token id and environment, never the token secret.
 *
 * @example
 * const client = new Client({ serverUrl: "http://127.0.0.1:8787", tokenId: "ak-…", tokenSecret: "as-…" });
 */
export class Client {
  /** @throws {AuthError} without a token id and secret. @throws {InvalidError} for a bad option. */
  constructor(options?: ClientOptions);
  /**
   * A client configured as Modal's own clients are: options, then `MODAL_*` variables, then the
   * active profile of `~/.modal.toml` (Node only; `MODAL_CONFIG_PATH` moves it).
   * Operations given no `client` use `Client.fromEnv()`, made once.
   */
  static fromEnv(options?: FromEnvOptions): Client;
  readonly serverUrl: string;
  readonly tokenId: string;
  /** `""` is the workspace's default environment. */
  readonly environment: string;
  readonly timeoutMs: number | undefined;
  readonly maxRetries: number;
  /** What the client's calls travel over (see {@link ClientOptions.transport}). */
  readonly transport: "http2" | "fetch";
  /**
   * Closes the client's HTTP/2 session at once (calls in flight reject with {@link TimeoutError},
   * code `CANCELLED`); a later call opens a new one. Not needed for a process to exit: an idle
   * session does not keep Node running. A no-op for `transport: "fetch"`.
   */
  close(): Promise<void>;
  toJSON(): { serverUrl: string; tokenId: string; environment: string };
}

// ---- Secret ---------------------------------------------------------------------------------------

/** Options every network call takes. */
export interface CallOptions {
  /** The client to use. Default: `Client.fromEnv()`. */
  client?: Client;
  /** Aborts the call: the request in flight and any wait between retries. Rejects with {@link TimeoutError} (code `CANCELLED`). */
  signal?: AbortSignal;
  /** This call's limit in ms, overriding the client's `timeoutMs`. */
  timeoutMs?: number;
}

/** Keys and values of a secret. Keys match `^[a-zA-Z_][a-zA-Z0-9_]*$`. */
export type EnvDict = Record<string, string>;

export interface FromNameOptions {
  /** Default: the client's environment. */
  environmentName?: string;
  /** Keys the secret must have; hydrating fails with {@link ConflictError} if one is missing. */
  requiredKeys?: string[];
  /** The client that hydrates it (else the one given to `hydrate`, else the default). */
  client?: Client;
}

export interface FromDotenvOptions {
  /** The file to look for. Default: `.env`. */
  filename?: string;
}

export interface FromLocalEnvironOptions {
  /** Where to read the variables. Default: `process.env` (Node); required elsewhere. */
  env?: Record<string, unknown>;
}

export interface InfoOptions extends CallOptions {
  /** Ask the server again rather than use what hydration returned. Default: false. */
  refresh?: boolean;
}

/** What {@link Secret.info} returns (Modal's `SecretInfo`). */
export interface SecretInfo {
  /** `null` for a secret made from values. */
  name: string | null;
  createdAt: Date;
  createdBy: string | null;
  environmentName: string;
  /** `null` when never used. */
  lastUsed: Date | null;
}

export interface CreateOptions extends CallOptions {
  /** Leave an existing secret of that name untouched instead of failing with {@link AlreadyExistsError}. */
  allowExisting?: boolean;
  /** Default: the client's environment. */
  environmentName?: string;
}

export interface ListOptions extends CallOptions {
  /** At most this many secrets. Default: all. */
  maxObjects?: number;
  /** Only secrets created before this moment: a `Date`, a date string, or ms since the epoch. */
  createdBefore?: Date | string | number;
  /** Default: the client's environment. */
  environmentName?: string;
}

export interface DeleteOptions extends CallOptions {
  /** Do nothing when the secret does not exist, instead of failing with {@link NotFoundError}. */
  allowMissing?: boolean;
  /** Default: the client's environment. */
  environmentName?: string;
}

/**
 * A Modal Secret, as in Modal's Python `modal.Secret`. Made by the static functions (no public
 * constructor); a handle is "hydrated" once the server has been asked (lookup or create), which
 * happens on first use or through {@link Secret.hydrate}. Values are write-only: nothing returns
 * them, and printing a secret shows only its name, id and key names.
 */
export class Secret {
  private constructor();

  /**
   * A named secret, looked up lazily on first use.
   * @throws {InvalidError} for an invalid name, environment or key (at once, not on first use).
   * @example
   * const secret = await Secret.fromName("db-credentials").hydrate();
   * console.log(secret.keys);
   */
  static fromName(name: string, options?: FromNameOptions): Secret;
  /** An ephemeral secret holding these values, created on hydration. `null` / `undefined` values are left out. */
  static fromDict(envDict?: Record<string, string | null | undefined>): Secret;
  /**
   * An ephemeral secret from a `.env` file, found as Modal finds it: `filename` in the directory
   * of `path` (a file or directory; default the working directory) or the nearest one above.
   * Parsed as python-dotenv does (`${VAR}` from earlier keys, then `process.env`); a key without a
   * value becomes `""`. Node, Deno and Bun only.
   * @throws {NotFoundError} when no such file exists (Modal would make an empty secret).
   */
  static fromDotenv(path?: string | URL, options?: FromDotenvOptions): Secret;
  /** An ephemeral secret from `.env` text (see {@link parseDotenv}); a key without a value becomes `""`. */
  static fromDotenvText(text: string, options?: ParseDotenvOptions): Secret;
  /** An ephemeral secret from these environment variables. @throws {InvalidError} if one is not set. */
  static fromLocalEnviron(keys: string[], options?: FromLocalEnvironOptions): Secret;

  /** The name; `undefined` for a secret made from values. */
  readonly name: string | undefined;
  /** `st-…` once hydrated, else `undefined`. */
  readonly objectId: string | undefined;
  /** The key names (sorted) once hydrated, else `undefined`. */
  readonly keys: string[] | undefined;
  readonly isHydrated: boolean;

  /** Looks the secret up (or creates an ephemeral one); does nothing once hydrated. Resolves to this secret. */
  hydrate(options?: CallOptions): Promise<this>;
  /** Created at / by, environment, last used. Hydrates first if needed. */
  info(options?: InfoOptions): Promise<SecretInfo>;
  /**
   * Sets keys (a string value) and removes keys (`null`), in one call; other keys stay.
   * @example
   * await Secret.fromName("api").update({ TOKEN: "new", OLD_TOKEN: null });
   */
  update(envDict: Record<string, string | null>, options?: CallOptions): Promise<void>;
  toJSON(): { name: string | undefined; objectId: string | undefined; keys: string[] | undefined };

  /** Named secrets of a workspace (Modal's `Secret.objects`). */
  static readonly objects: SecretManager;
}

/** The functions of {@link Secret.objects}. */
export interface SecretManager {
  /**
   * Creates a named secret.
   * @throws {AlreadyExistsError} if the name is taken (unless `allowExisting`).
   */
  create(name: string, envDict: EnvDict, options?: CreateOptions): Promise<void>;
  /** Every named secret of an environment, newest first, hydrated (fetched 100 at a time). */
  list(options?: ListOptions): Promise<Secret[]>;
  /**
   * Like {@link SecretManager.list}, one at a time as pages arrive.
   * @example
   * for await (const secret of Secret.objects.iterate()) console.log(secret.name);
   */
  iterate(options?: ListOptions): AsyncIterableIterator<Secret>;
  /** Deletes a named secret. @throws {NotFoundError} if it does not exist (unless `allowMissing`). */
  delete(name: string, options?: DeleteOptions): Promise<void>;
}

/** gRPC status names, as in `error.code`. */
export type StatusCode =
  | "CANCELLED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

/** The base of every error this package throws. Messages never contain secret values or tokens. */
export class ModalError extends Error {
  /** The gRPC status this error stands for, e.g. `"NOT_FOUND"`. */
  readonly code: StatusCode;
  /** Whether the same call could succeed if tried again later (transient failures). */
  readonly retryable: boolean;
  /** Seconds the server asked to wait before trying again (throttling), when it said so. */
  readonly retryAfter?: number;
}
/** A bad argument (checked before any request) or INVALID_ARGUMENT / OUT_OF_RANGE from the server. */
export class InvalidError extends ModalError {}
/** FAILED_PRECONDITION or ABORTED, e.g. a secret missing one of `requiredKeys`. */
export class ConflictError extends InvalidError {}
/** NOT_FOUND: no such secret (or environment). */
export class NotFoundError extends ModalError {}
/** ALREADY_EXISTS: a secret of that name exists. */
export class AlreadyExistsError extends ModalError {}
/** UNAUTHENTICATED: missing or wrong token id / secret. */
export class AuthError extends ModalError {}
/** PERMISSION_DENIED. */
export class PermissionDeniedError extends ModalError {}
/** RESOURCE_EXHAUSTED: a quota or rate limit. */
export class ResourceExhaustedError extends ModalError {}
/** The server failed (CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, UNAVAILABLE), after the retries. */
export class ServiceError extends ModalError {}
/** UNIMPLEMENTED: the server does not offer this method. */
export class UnimplementedError extends ServiceError {}
/** INTERNAL, or an answer that is not valid gRPC-web. */
export class InternalError extends ServiceError {}
/** DATA_LOSS. */
export class DataLossError extends ServiceError {}
/** The server could not be reached (after the retries). */
export class ConnectionError extends ModalError {}
/** The call ran out of its `timeoutMs`, or its `signal` aborted it. */
export class TimeoutError extends ModalError {}
