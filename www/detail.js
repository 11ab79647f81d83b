// The detail dialog of one secret: its info, its key names, one update that sets and removes keys,
// and a delete that asks for the name first. The API returns no values, so none can be shown.
import { Secret } from "/pkg/browser.js";
import { $, h, showError, count, formatDate, formatAgo, toast, resetOnClose } from "./ui.js";
import { KeyValueRows } from "./kv.js";
import { keyProblem } from "./validate.js";

/**
 * `app`: { client(), environment(), environmentLabel(), changed(name, keys, info), deleted(name) }.
 */
export function setUpDetail(app) {
  // This dialog's elements (create.js's lookups have the same shape but name other elements).
  const dialog = $("detail-dialog");
  const title = $("detail-title");
  const loading = $("detail-loading");
  const body = $("detail-body");
  const keyList = $("detail-keys");
  const summary = $("update-summary");
  const saveButton = $("update-submit");
  const confirm = $("delete-confirm");
  const deleteButton = $("delete-submit");
  let secret = null; // the Secret shown
  let removing = new Set(); // key names marked for removal
  let opened = 0; // which open() the answers belong to
  const rows = new KeyValueRows($("update-rows"), { validateKey: keyProblem, onChange: () => summarize() });

  function renderInfo(info) {
    const item = (term, ...value) => [h("dt", { text: term }), h("dd", {}, ...value)];
    const when = (date, text) => (date ? h("time", { datetime: date.toISOString(), title: date.toLocaleString(), text }) : "never");
    $("detail-info").replaceChildren(
      ...item("Environment", info.environmentName || app.environmentLabel()),
      ...item("Created", when(info.createdAt, formatDate(info.createdAt))),
      ...item("Created by", info.createdBy ?? "—"),
      ...item("Last used", when(info.lastUsed, info.lastUsed ? formatAgo(info.lastUsed) : "")),
      ...item("Object id", h("code", { text: secret.objectId ?? "—" })),
    );
  }

  function renderKeys() {
    const keys = secret.keys ?? [];
    $("keys-title").textContent = `Keys (${keys.length})`;
    if (!keys.length) {
      keyList.replaceChildren(h("li", { class: "muted", text: "This secret has no keys." }));
      return;
    }
    keyList.replaceChildren(
      ...keys.map((key) => {
        const marked = removing.has(key);
        const toggle = h("button", {
          type: "button",
          class: "button subtle small",
          "aria-pressed": marked ? "true" : "false",
          "aria-label": `${marked ? "Keep" : "Remove"} ${key}`,
          text: marked ? "Keep" : "Remove",
        });
        toggle.addEventListener("click", () => {
          if (removing.has(key)) removing.delete(key);
          else removing.add(key);
          renderKeys();
          summarize();
          keyList.querySelector(`li[data-key="${CSS.escape(key)}"] button`)?.focus();
        });
        return h(
          "li",
          { class: marked ? "removing" : "", "data-key": key },
          h("code", { class: "key-name", text: key }),
          marked ? h("span", { class: "badge", text: "will be removed" }) : h("span", { class: "masked", "aria-label": "value hidden", text: "••••••••" }),
          toggle,
        );
      }),
    );
  }

  /** "2 keys to set (1 new, 1 replaced), 1 to remove"; enables Save when there is work. */
  function summarize() {
    if (!secret?.keys) return;
    const current = new Set(secret.keys);
    const setting = rows.keys();
    const replaced = setting.filter((k) => current.has(k)).length;
    const parts = [];
    if (setting.length) parts.push(`${count(setting.length, "key")} to set (${setting.length - replaced} new, ${replaced} replaced)`);
    const dropping = [...removing].filter((k) => !setting.includes(k)).length;
    if (dropping) parts.push(`${dropping} to remove`);
    summary.textContent = parts.join(", ");
    saveButton.disabled = parts.length === 0;
  }

  async function show(name) {
    const mine = ++opened;
    title.textContent = name;
    $("delete-name").textContent = name;
    body.hidden = true;
    loading.textContent = "Loading…";
    loading.hidden = false;
    showError($("detail-error"), null);
    try {
      const candidate = Secret.fromName(name, { client: app.client(), environmentName: app.environment() });
      const info = await candidate.info();
      if (mine !== opened) return;
      secret = candidate;
      removing = new Set();
      renderInfo(info);
      renderKeys();
      summarize();
      body.hidden = false;
    } catch (error) {
      if (mine === opened) showError($("detail-error"), error);
    } finally {
      if (mine === opened) loading.hidden = true;
    }
  }

  function reset() {
    opened++;
    secret = null;
    removing = new Set();
    rows.clear();
    confirm.value = "";
    deleteButton.disabled = true;
    summary.textContent = "";
    for (const id of ["update-error", "delete-error", "detail-error"]) showError($(id), null);
  }
  resetOnClose(dialog, reset);
  $("update-add-row").addEventListener("click", () => rows.add(true));

  $("update-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!secret || saveButton.disabled) return;
    showError($("update-error"), null);
    const { dict, problems } = rows.read();
    if (problems) {
      rows.focusProblem();
      return;
    }
    let update = { ...dict };
    for (const key of removing) if (!(key in update)) update[key] = null;
    const set = Object.keys(dict).length;
    const removed = Object.keys(update).length - set;
    saveButton.disabled = true;
    saveButton.textContent = "Saving…";
    try {
      await secret.update(update);
      update = null;
      rows.clear(); // the values leave the page
      removing = new Set();
      renderKeys();
      summarize();
      const info = await secret.info();
      renderInfo(info);
      app.changed(secret.name, secret.keys, info);
      toast(`Saved ${secret.name}: ${[set && `${count(set, "key")} set`, removed && `${removed} removed`].filter(Boolean).join(", ")}.`);
    } catch (error) {
      showError($("update-error"), error);
      summarize();
    } finally {
      saveButton.textContent = "Save changes";
    }
  });

  confirm.addEventListener("input", () => {
    deleteButton.disabled = !secret || confirm.value !== secret.name;
  });
  $("delete-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!secret || confirm.value !== secret.name) return;
    const name = secret.name;
    showError($("delete-error"), null);
    deleteButton.disabled = true;
    deleteButton.textContent = "Deleting…";
    try {
      await Secret.objects.delete(name, { client: app.client(), environmentName: app.environment() });
      reset();
      dialog.close();
      app.deleted(name);
      toast(`Deleted ${name}.`);
    } catch (error) {
      showError($("delete-error"), error);
      deleteButton.disabled = false;
    } finally {
      deleteButton.textContent = "Delete secret";
    }
  });

  return {
    open(name) {
      reset();
      dialog.showModal();
      $("detail-dialog").querySelector("[data-close]").focus();
      return show(name);
    },
  };
}
