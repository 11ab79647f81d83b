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
