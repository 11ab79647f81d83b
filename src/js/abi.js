// Every format that crosses between the wasm and JS, defined once on this side; src/abi.rs is the
// other side of each, and tests/node/abi.test.mjs sends each one through both. The wasm imports
// `makeError` from here; host.js, http2.js and api.js read and write the rest through these
// functions, never by position or by separator of their own.
//
//   header lines  "name\nvalue\nname\nvalue\n" (request headers, response headers, trailers, and,
//                 names only, the response headers wanted back): no header holds a newline
//   send step     what OperationHandle.step() asks: a send (an array, see readStep), a sleep
//                 (a number of ms) or null (finished)
//   failure       why a send got no answer: { modalTransportFailure: kind, message }
//   target        what a Secret stands for, kept in JS: ["name", name, environment, requiredKeys],
//                 ["dict", [key, value, …]] or ["id", objectId, name, keys]
//   action        the operation secretOp makes on a target: "hydrate", "info" or "update"
//   outcome       an operation's result, one JSON string (see readOutcome)
//   error         a typed error, made here from the class name the core chose (makeError)
//
// No wasm import here: api.js, host.js and http2.js import this module, and so do the tests.
import * as errorClasses from "./errors.js";

// ---- header lines ----------------------------------------------------------------------------

const SEPARATOR = "\n";

/** "name\nvalue\n…" as a plain object (the wasm sends distinct names). */
export function headerObject(text) {
  const headers = {};
  const parts = text.split(SEPARATOR);
  for (let i = 0; i + 1 < parts.length; i += 2) headers[parts[i]] = parts[i + 1];
  return headers;
}

/** Header lines of the `names` that `get(name)` has a value for (`null` / `undefined`: none). */
export function headerLines(names, get) {
  let text = "";
  for (const name of names) {
    const value = get(name);
    if (value !== null && value !== undefined) text += `${name}${SEPARATOR}${value}${SEPARATOR}`;
  }
  return text;
}

let wantedText;
let wantedNames = [];
/** The response header names a step wants back (split once per distinct list: the wasm always sends the same one). */
export function wantedHeaders(wanted) {
  if (wanted !== wantedText) {
    wantedText = wanted;
    wantedNames = wanted.split(SEPARATOR);
  }
  return wantedNames;
}

// ---- send steps ------------------------------------------------------------------------------

/**
 * @typedef {object} SendStep
 * @property {string} url
 * @property {string} headers header lines to send
 * @property {Uint8Array} body
 * @property {number} timeoutMs this attempt's limit; -1 for none
 * @property {number} maxBodyBytes the longest answer body to read
 * @property {string} wanted the response header names to report back, "\n"-separated
 */

/** A send step of OperationHandle.step() (the positions are src/abi.rs's `send_step`). */
export function readStep(step) {
  return { url: step[0], headers: step[1], body: step[2], timeoutMs: step[3], maxBodyBytes: step[4], wanted: step[5] };
}

/** The array form of a send step (what src/abi.rs writes; for tests). */
export function writeStep({ url, headers, body, timeoutMs, maxBodyBytes, wanted }) {
  return [url, headers, body, timeoutMs, maxBodyBytes, wanted];
}

// ---- transport failures ----------------------------------------------------------------------

/** The kinds of failure a transport reports (src/abi.rs `Failure`). */
export const FAILURE = Object.freeze({
  connection: "connection",
  timeout: "timeout",
  aborted: "aborted",
  tooLarge: "too-large",
});

/** A failure of the transport, thrown for `drive` to report: never a header value in `message`. */
export function fail(kind, message = "") {
  return { modalTransportFailure: kind, message };
}

/** [kind, message] of what a transport threw: anything else is a connection failure. */
export function readFailure(thrown) {
  return [thrown?.modalTransportFailure ?? FAILURE.connection, thrown?.message ?? ""];
}

// ---- targets and actions ----------------------------------------------------------------------

/** A hydrated secret's target, from its record (src/abi.rs `target_from_js` reads it). */
export function idTarget(record) {
  return ["id", record.id, record.name, record.keys];
}

/** The name a target made by Secret.fromName stands for; `undefined` for any other target. */
export function targetName(target) {
  return target[0] === "name" ? target[1] : undefined;
}

/** The operations secretOp makes on a target (src/abi.rs `SecretAction`). */
export const ACTION = Object.freeze({ hydrate: "hydrate", info: "info", update: "update" });

// ---- outcomes --------------------------------------------------------------------------------

/**
 * @typedef {object} SecretRecordJson
 * @property {string} id
 * @property {string | null} name
 * @property {string} environmentName
 * @property {string[]} keys
 * @property {number} createdAt microseconds since the epoch
 * @property {string | null} createdBy
 * @property {number | null} lastUsed microseconds since the epoch
 *
 * @typedef {object} Outcome
 * @property {SecretRecordJson | null} hydrated the record a hydration learnt
 * @property {SecretRecordJson | null} info fresh metadata (`info({ refresh })`)
 * @property {string[] | null} keys the keys after an update
 * @property {SecretRecordJson[]} records a listing page
 * @property {boolean} deleted
 */

/** An operation's result (src/abi/outcome.rs writes it). @returns {Outcome} */
export function readOutcome(text) {
  return JSON.parse(text);
}

// ---- errors ----------------------------------------------------------------------------------

/** The typed error for the class the core chose (core's ErrorKind::class_name); called from src/abi.rs. */
export function makeError(className, code, message, retryable, retryAfter) {
  let cls = errorClasses[className];
  if (typeof cls !== "function" || !(cls.prototype instanceof Error)) {
    // Cannot happen while core/src/error.rs's test ties its names to errors.js; said, not hidden.
    message = `${message} (internal error: no error class ${JSON.stringify(className)})`;
    cls = errorClasses.ModalError;
  }
  return new cls(message, { code, retryable, retryAfter: retryAfter < 0 ? undefined : retryAfter });
}
