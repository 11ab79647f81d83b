// The package's error classes: real Error subclasses with a stable `name` (set on the prototype, so
// minifiers cannot change it), a gRPC `code`, `retryable`, and `retryAfter` where the server asked
// for a wait. The Rust side builds them through abi.js's `makeError`; nothing here decides
// anything. Only the classes are exported here: the package re-exports every name of this module,
// and the core's ErrorKind names the same classes (core/src/error.rs tests that they match).
import * as classes from "./errors.js";

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

// Each class's `name` from its export name: this module's own namespace is the one list of them.
for (const [name, cls] of Object.entries(classes)) {
  Object.defineProperty(cls.prototype, "name", { value: name, writable: true, configurable: true });
}
