// The dashboard: connect with a token, list an environment's secrets as pages arrive, filter and sort
// them, and open the create and detail dialogs. Everything goes through the modal-secrets package
// served at /pkg/; the page has no server-side logic of its own.
import { Client, Secret, ready } from "/pkg/browser.js";
import { $, h, showError, errorBox, count, toast, setUpThemeToggle } from "./ui.js";
import { savedConnection, saveConnection, forgetConnection, recentEnvironments, rememberEnvironment } from "./session.js";
import { SecretsTable, rowOf } from "./table.js";
import { environmentProblem } from "./validate.js";
import { setUpCreate } from "./create.js";
import { setUpDetail } from "./detail.js";

const state = {
  client: null,
  connection: null, // { serverUrl, tokenId, tokenSecret, environment }
  environment: "",
  loading: false,
  generation: 0, // bumped to abandon a listing in progress
};

const envLabel = (environment) => environment || "main";

const app = {
  client: () => state.client,
  environment: () => state.environment,
  environmentLabel: () => envLabel(state.environment),
  exists: (name) => table.has(name),
  async created({ name, outcome }) {
    toast(
      outcome === "kept"
        ? `${name} already existed and was left untouched.`
        : `${outcome === "overwritten" ? "Overwrote" : "Created"} ${name}.`,
    );
    await refreshRow(name);
  },
  changed(name, keys, info) {
    table.upsert([rowOf(name, keys, info)]);
    updateStatus();
  },
  deleted(name) {
    table.remove(name);
    updateStatus();
  },
};

const table = new SecretsTable({
  scroller: $("table-scroll"),
  table: $("secrets-table"),
  onOpen: (name) => detail.open(name),
});
const create = setUpCreate(app);
const detail = setUpDetail(app);

// ---- Views ---------------------------------------------------------------------------------------

function showView(which) {
  $("boot").hidden = true;
  $("connect-view").hidden = which !== "connect";
  $("secrets-view").hidden = which !== "secrets";
  $("connection").hidden = which !== "secrets";
  document.body.dataset.view = which;
}

/** The connect form, filled from the last connection; its token secret only to retry a failure that was not the token's. */
function showConnect(error, { retry = false } = {}) {
  const saved = state.connection;
  $("server-url").value = saved?.serverUrl ?? location.origin;
  $("token-id").value = saved?.tokenId ?? "";
  $("token-secret").value = retry ? (saved?.tokenSecret ?? "") : "";
  $("connect-env").value = saved?.environment ?? "";
  showError($("connect-error"), error ?? null);
  showView("connect");
  (error ? $("connect-button") : $(saved?.tokenId ? "token-secret" : "token-id")).focus();
}

function fillEnvironments() {
  $("recent-environments").replaceChildren(
    ...[...new Set(["main", ...recentEnvironments().map(envLabel)])].map((e) => h("option", { value: e })),
  );
}

// ---- Connecting ---------------------------------------------------------------------------------

$("connect-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const connection = {
    serverUrl: $("server-url").value.trim(),
    tokenId: $("token-id").value.trim(),
    tokenSecret: $("token-secret").value.trim(),
    environment: normalizeEnv($("connect-env").value),
  };
  const button = $("connect-button");
  button.disabled = true;
  button.textContent = "Connecting…";
  try {
    await connect(connection);
  } finally {
    button.disabled = false;
    button.textContent = "Connect";
  }
});

/** Makes a client and lists the first page; only a connection that worked is remembered. */
async function connect(connection) {
  showError($("connect-error"), null);
  const problem = environmentProblem(connection.environment);
  if (problem) {
    showError($("connect-error"), { name: "InvalidError", message: problem });
    return false;
  }
  let client;
  try {
    client = new Client({
      serverUrl: connection.serverUrl,
      tokenId: connection.tokenId,
      tokenSecret: connection.tokenSecret,
      timeoutMs: 30_000,
    });
  } catch (error) {
    showError($("connect-error"), error);
    return false;
  }
  state.client = client;
  state.connection = connection;
  state.environment = connection.environment;
  performance.mark("modal-secrets:connect");
  try {
    await loadSecrets();
  } catch (error) {
    state.client = null;
    // A refused token is forgotten; after any other failure (server down, unknown environment)
    // the form keeps it, so Connect tries again.
    const tokenRefused = error?.name === "AuthError" || error?.name === "PermissionDeniedError";
    if (tokenRefused) forgetConnection();
    showConnect(error, { retry: !tokenRefused });
    return false;
  }
  saveConnection(connection);
  rememberEnvironment(connection.environment);
  fillEnvironments();
  $("token-secret").value = "";
  const url = new URL(connection.serverUrl);
  $("connection-summary").replaceChildren(
    h("span", { class: "muted", text: "Connected to " }),
    h("strong", { text: url.host }),
    h("span", { class: "muted", text: " as " }),
    h("code", { text: connection.tokenId }),
  );
  showView("secrets");
  $("env-input").value = connection.environment;
  return true;
}

$("disconnect").addEventListener("click", () => {
  state.generation++;
  state.client = null;
  forgetConnection();
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  table.reset([]);
  $("filter").value = "";
  table.filter("");
  showConnect();
  toast("Disconnected: the token is gone from this tab.");
});

const normalizeEnv = (value) => {
  const trimmed = value.trim();
  return trimmed === "main" ? "" : trimmed;
};

// ---- Listing ------------------------------------------------------------------------------------

/**
 * Lists the environment page by page (100 secrets each), drawing rows as each page arrives.
 * Resolves once the first page is drawn (rejects if it fails); later pages keep coming.
 */
function loadSecrets() {
  const generation = ++state.generation;
  const client = state.client;
  const environmentName = state.environment;
  table.reset([]);
  showError($("list-error"), null);
  state.loading = true;
  updateStatus();

  let firstDone;
  const first = new Promise((resolve, reject) => {
    firstDone = { resolve, reject };
  });
  let drawn = false;

  (async () => {
    let batch = [];
    const flush = async () => {
      const infos = await Promise.all(batch.map((s) => s.info()));
      if (generation !== state.generation) return;
      table.upsert(batch.map((s, i) => rowOf(s.name, s.keys, infos[i])));
      batch = [];
      if (!drawn) {
        drawn = true;
        performance.mark("modal-secrets:first-rows");
        firstDone.resolve();
      }
      updateStatus();
    };
    try {
      for await (const secret of Secret.objects.iterate({ client, environmentName })) {
        if (generation !== state.generation) break; // ends the listing (and frees it)
        batch.push(secret);
        if (batch.length >= 100) await flush();
      }
      if (generation !== state.generation) return;
      await flush();
      state.loading = false;
      performance.mark("modal-secrets:all-rows");
      updateStatus();
    } catch (error) {
      if (generation !== state.generation) return;
      state.loading = false;
      if (!drawn) firstDone.reject(error);
      showError($("list-error"), error, { context: drawn ? "while listing (the list is incomplete)" : undefined });
      updateStatus();
    }
  })();
  return first;
}

function updateStatus() {
  const status = $("list-status");
  const env = envLabel(state.environment);
  const total = table.total;
  const shown = table.shown;
  const filtered = $("filter").value.trim();
  const failed = $("list-error").hasChildNodes();
  let text;
  if (failed && !total) text = `Could not list the secrets of ${env}.`;
  else if (state.loading) text = total ? `Loading… ${count(total, "secret")} so far in ${env}` : `Loading the secrets of ${env}…`;
  else if (filtered) text = `${shown.toLocaleString()} of ${count(total, "secret")} in ${env} match “${filtered}”`;
  else text = `${count(total, "secret")} in ${env}`;
  status.textContent = text;
  status.classList.toggle("loading", state.loading);
  document.body.dataset.state = state.loading ? "loading" : "ready";

  const empty = !state.loading && shown === 0 && !failed;
  $("empty").hidden = !empty;
  $("table-scroll").hidden = empty || total === 0;
  if (empty) {
    $("empty-title").textContent = total === 0 ? `No secrets in ${env} yet.` : `No secret matches “${filtered}”.`;
    $("empty-create").hidden = total !== 0;
  }
}

async function refreshRow(name) {
  try {
    const secret = Secret.fromName(name, { client: state.client, environmentName: state.environment });
    const info = await secret.info();
    table.upsert([rowOf(name, secret.keys, info)]);
    updateStatus();
  } catch (error) {
    showError($("list-error"), error, { context: `while reading ${name}` });
  }
}

// ---- Toolbar ------------------------------------------------------------------------------------

let filterFrame = 0;
$("filter").addEventListener("input", () => {
  // One filter pass per frame however fast the typing.
  if (filterFrame) return;
  filterFrame = requestAnimationFrame(() => {
    filterFrame = 0;
    const start = performance.now();
    table.filter($("filter").value);
    updateStatus();
    performance.measure("modal-secrets:filter", { start });
  });
});
$("filter").addEventListener("keydown", (event) => {
  if (event.key === "Escape" && $("filter").value) {
    event.preventDefault();
    $("filter").value = "";
    table.filter("");
    updateStatus();
  } else if (event.key === "ArrowDown") {
    event.preventDefault();
    table.focusFirst();
  }
});

$("env-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const environment = normalizeEnv($("env-input").value);
  const problem = environmentProblem(environment);
  if (problem) {
    showError($("list-error"), { name: "InvalidError", message: problem });
    return;
  }
  state.environment = environment;
  $("env-input").value = environment;
  try {
    await loadSecrets();
  } catch {
    return; // shown in the list's error slot; an environment that fails is not remembered
  }
  state.connection = { ...state.connection, environment };
  saveConnection(state.connection);
  rememberEnvironment(environment);
  fillEnvironments();
});

$("refresh").addEventListener("click", () => loadSecrets().catch(() => {}));
$("new-secret").addEventListener("click", () => create.open());
$("empty-create").addEventListener("click", () => create.open());

// "/" jumps to the filter, as in most admin tools.
document.addEventListener("keydown", (event) => {
  const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
  if (event.key === "/" && !typing && !document.querySelector("dialog[open]") && !$("secrets-view").hidden) {
    event.preventDefault();
    $("filter").focus();
  }
});

// ---- Start --------------------------------------------------------------------------------------

setUpThemeToggle($("theme-toggle"));
fillEnvironments();
ready.then(
  async () => {
    const saved = savedConnection();
    if (saved) {
      state.connection = saved;
      $("boot").textContent = "Reconnecting…";
      if (await connect(saved)) return;
    } else showConnect();
  },
  (error) => {
    $("boot").replaceChildren(h("p", { text: "The dashboard could not start." }), errorBox(error));
  },
);
