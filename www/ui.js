// Small DOM helpers shared by the views: element building (text only, never HTML strings, since
// names and messages come from the server), error boxes, dates, the toast and the theme toggle.

/** `h("p", { class: "x", onclick }, "text", child)`: attributes, `on…` listeners, then children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  el.append(...children.filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

export const $ = (id) => document.getElementById(id);

// Hints for the error kinds a user can act on.
const HINTS = {
  AuthError: "Check the token id and secret (a token belongs to one workspace).",
  PermissionDeniedError: "This token may not do that.",
  ConnectionError:
    "Is the server running at that URL, and is its origin one this page may call (its own, or an --allow-origin)? " +
    "Browsers reach Modal only through a gateway.",
  TimeoutError: "The server took too long to answer.",
  NotFoundError: "It may have been deleted, or the environment does not exist.",
  AlreadyExistsError: "Choose another name, or what happens when the name is taken.",
  ResourceExhaustedError: "A limit or quota was reached; wait a moment and try again.",
};

/** The error's kind (its class name), e.g. "AuthError"; "Error" for anything unnamed. */
export function kindOf(error) {
  return (error && typeof error.name === "string" && error.name) || "Error";
}

/** A readable box for any error: its kind, gRPC code, message and, when useful, what to try. */
export function errorBox(error, { context } = {}) {
  const kind = kindOf(error);
  const message = error && typeof error.message === "string" && error.message ? error.message : String(error);
  const hint = HINTS[kind];
  return h(
    "div",
    { class: "error-box", role: "alert", "data-kind": kind },
    h(
      "p",
      { class: "error-head" },
      h("span", { class: "error-kind", text: kind }),
      error?.code ? h("span", { class: "error-code", text: error.code }) : null,
      context ? h("span", { class: "error-context", text: context }) : null,
    ),
    h("p", { class: "error-message", text: message }),
    hint ? h("p", { class: "error-hint", text: hint }) : null,
  );
}

/** Shows `error` in a slot (an element with class error-slot); `null` clears it. */
export function showError(slot, error, options) {
  if (error) slot.replaceChildren(errorBox(error, options));
  else slot.replaceChildren();
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function formatDate(date) {
  return date ? dateTime.format(date) : "—";
}

/** "3 minutes ago", "yesterday"…; "never" for null. */
export function formatAgo(date, now = Date.now()) {
  if (!date) return "never";
  const seconds = Math.round((date.getTime() - now) / 1000);
  const units = [
    ["year", 31536000],
    ["month", 2592000],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return "just now";
}

export const count = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

let toastTimer;
/** A short message in the polite live region at the bottom. */
export function toast(message) {
  const el = $("toast");
  el.textContent = message;
  el.classList.add("visible");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("visible"), 4000);
}

/** The theme button: system → light → dark. Saved in localStorage (a display preference only). */
export function setUpThemeToggle(button) {
  const order = ["system", "light", "dark"];
  const current = () => document.documentElement.dataset.theme || "system";
  const label = () => {
    button.textContent = `Theme: ${current()}`;
  };
  button.addEventListener("click", () => {
    const next = order[(order.indexOf(current()) + 1) % order.length];
    if (next === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = next;
    try {
      if (next === "system") localStorage.removeItem("modal-secrets.theme");
      else localStorage.setItem("modal-secrets.theme", next);
    } catch {
      // storage disabled: the choice lasts until the page reloads
    }
    label();
  });
  label();
}

/**
 * Runs `reset` (which empties the dialog's inputs) whenever `dialog` closes: at "cancel" (Escape),
 * which comes before the dialog closes, at "close", which comes a task later (so the inputs are
 * emptied at the first of them), and at a click on any of its [data-close] buttons, which then
 * close it.
 */
export function resetOnClose(dialog, reset) {
  dialog.addEventListener("cancel", reset);
  dialog.addEventListener("close", reset);
  for (const button of dialog.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => {
      reset();
      dialog.close();
    });
  }
}
