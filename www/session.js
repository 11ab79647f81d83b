// What the page remembers, all in this tab's sessionStorage (never localStorage): the connection
// (token included, so a reload stays connected until the tab closes) and recent environment names.
// Secret values are never stored.

const CONNECTION = "modal-secrets.connection";
const ENVIRONMENTS = "modal-secrets.environments";

function read(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage disabled or full: the page still works, it just forgets on reload
  }
}

/** { serverUrl, tokenId, tokenSecret, environment } or null. */
export function savedConnection() {
  const c = read(CONNECTION);
  const ok = c && ["serverUrl", "tokenId", "tokenSecret", "environment"].every((k) => typeof c[k] === "string");
  return ok ? c : null;
}

export function saveConnection(connection) {
  const { serverUrl, tokenId, tokenSecret, environment } = connection;
  write(CONNECTION, { serverUrl, tokenId, tokenSecret, environment });
}

export function forgetConnection() {
  write(CONNECTION, null);
}

/** Recent environment names, most recent first ("" is shown as main). */
export function recentEnvironments() {
  const list = read(ENVIRONMENTS);
  return Array.isArray(list) ? list.filter((e) => typeof e === "string") : [];
}

export function rememberEnvironment(name) {
  const list = [name, ...recentEnvironments().filter((e) => e !== name)].slice(0, 8);
  write(ENVIRONMENTS, list);
  return list;
}
