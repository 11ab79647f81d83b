// Editable key/value rows (create and detail). Keys are checked as they are typed by the package
// itself; values sit in password inputs and are read only when the form is sent, then cleared.
import { h } from "./ui.js";

let nextId = 0;

export class KeyValueRows {
  #container;
  #validateKey;
  #onChange;

  /** `validateKey(key)` → an error message or "" ; `onChange()` after any edit. */
  constructor(container, { validateKey, onChange = () => {} }) {
    this.#container = container;
    this.#validateKey = validateKey;
    this.#onChange = onChange;
    container.addEventListener("input", () => {
      this.#check();
      this.#onChange();
    });
    this.clear();
  }

  /** Appends an empty row (and focuses its key when asked). */
  add(focus = false) {
    const id = `kv-${++nextId}`;
    const key = h("input", {
      class: "kv-key",
      autocomplete: "off",
      spellcheck: "false",
      placeholder: "KEY",
      "aria-describedby": `${id}-error`,
    });
    const value = h("input", {
      class: "kv-value",
      type: "password",
      autocomplete: "off",
      spellcheck: "false",
      placeholder: "value",
    });
    const remove = h("button", { type: "button", class: "button icon", text: "✕" });
    const row = h("div", { class: "kv-row" }, key, value, remove, h("p", { class: "field-error", id: `${id}-error` }));
    remove.addEventListener("click", () => {
      const rows = this.#rows();
      const at = rows.indexOf(row);
      value.value = "";
      row.remove();
      if (rows.length === 1) this.add();
      this.#label();
      this.#check();
      this.#onChange();
      const focusable = this.#rows()[Math.min(at, this.#rows().length - 1)];
      focusable?.querySelector(".kv-key").focus();
    });
    this.#container.append(row);
    this.#label();
    if (focus) key.focus();
  }

  /** Empties every value, then leaves one blank row. */
  clear() {
    for (const input of this.#container.querySelectorAll("input")) input.value = "";
    this.#container.replaceChildren();
    this.add();
    this.#onChange();
  }

  /** Key names typed so far (valid or not), in order, blank rows left out. */
  keys() {
    return this.#rows()
      .map((r) => r.querySelector(".kv-key").value.trim())
      .filter(Boolean);
  }

  /** { dict, problems }: the values to send and how many rows are wrong. Read only on submit. */
  read() {
    const problems = this.#check();
    const dict = {};
    for (const row of this.#rows()) {
      const key = row.querySelector(".kv-key").value.trim();
      if (key) dict[key] = row.querySelector(".kv-value").value;
    }
    return { dict, problems };
  }

  /** Whether any row has something typed in it. */
  get dirty() {
    return this.#rows().some((r) => r.querySelector(".kv-key").value || r.querySelector(".kv-value").value);
  }

  /** Focuses the first row with a problem; true if there was one. */
  focusProblem() {
    const bad = this.#container.querySelector('.kv-key[aria-invalid="true"]');
    bad?.focus();
    return Boolean(bad);
  }

  #rows() {
    return [...this.#container.querySelectorAll(".kv-row")];
  }

  #label() {
    this.#rows().forEach((row, i) => {
      row.querySelector(".kv-key").setAttribute("aria-label", `Key ${i + 1}`);
      row.querySelector(".kv-value").setAttribute("aria-label", `Value of key ${i + 1}`);
      row.querySelector("button").setAttribute("aria-label", `Remove key ${i + 1}`);
    });
  }

  /** Marks each row's problem (invalid key, repeated key, value without a key); returns the count. */
  #check() {
    const seen = new Set();
    let problems = 0;
    for (const row of this.#rows()) {
      const keyInput = row.querySelector(".kv-key");
      const key = keyInput.value.trim();
      const hasValue = row.querySelector(".kv-value").value !== "";
      let message = "";
      if (key) message = this.#validateKey(key) || (seen.has(key) ? `${key} appears twice` : "");
      else if (hasValue) message = "This value needs a key name";
      seen.add(key);
      if (message) problems++;
      keyInput.setAttribute("aria-invalid", message ? "true" : "false");
      row.querySelector(".field-error").textContent = message;
    }
    return problems;
  }
}
