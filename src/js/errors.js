// The package's error classes: real Error subclasses with a stable `name` (set on the prototype, so
// minifiers cannot change it), a gRPC `code`, `retryable`, and `retryAfter` where the server asked
// for a wait. The Rust side builds them through `makeError`; nothing here decides anything.

export class ModalError extends Error {
  constructor(message, { code = "UNKNOWN", retryable = false, retryAfter, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    /** gRPC status name, e.g. "NOT_FOUND". */
    this.code = code;
    /** Whether the same call could succeed if tried again. */
    this.retryable = retryable;
    if (retryAfter !== undefined) {
      /** Seconds the server asked to wait before trying again. */
      this.retryAfter = retryAfter;
    }
  }
}

export class InvalidError extends ModalError {}
export class ConflictError extends InvalidError {}
export class NotFoundError extends ModalError {}
export class AlreadyExistsError extends ModalError {}
export class AuthError extends ModalError {}
export class PermissionDeniedError extends ModalError {}
export class ResourceExhaustedError extends ModalError {}
export class ServiceError extends ModalError {}
export class UnimplementedError extends ServiceError {}
export class InternalError extends ServiceError {}
export class DataLossError extends ServiceError {}
export class ConnectionError extends ModalError {}
export class TimeoutError extends ModalError {}

const classes = {
  ModalError,
  InvalidError,
  ConflictError,
  NotFoundError,
  AlreadyExistsError,
  AuthError,
  PermissionDeniedError,
  ResourceExhaustedError,
  ServiceError,
  UnimplementedError,
  InternalError,
  DataLossError,
  ConnectionError,
  TimeoutError,
};

for (const [name, cls] of Object.entries(classes)) {
  Object.defineProperty(cls.prototype, "name", { value: name, writable: true, configurable: true });
}

// Called from Rust (src/error.rs) with the core's ErrorKind::class_name().
export function makeError(className, code, message, retryable, retryAfter) {
  const cls = classes[className] ?? ModalError;
  return new cls(message, { code, retryable, retryAfter: retryAfter < 0 ? undefined : retryAfter });
}
