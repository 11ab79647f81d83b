// The "New secret" dialog: a name checked as it is typed, values from key/value rows or from a
// pasted .env (parsed by the package, previewed with every value masked), and what to do when the
// name is taken. Values leave the page in one call and every input is emptied afterwards.
import { Secret, parseDotenv } from "/pkg/browser.js";
import { $, h, showError, count, resetOnClose } from "./ui.js";
import { KeyValueRows } from "./kv.js";
import { nameProblem, keyProblem } from "./validate.js";

/**
 * `app`: { client(), environment(), exists(name), created({ name, outcome }) }: the connection in use
 * and what to do once the secret exists.
 */
export function setUpCreate(app) {
  // This dialog's elements (detail.js's lookups have the same shape but name other elements).
  const dialog = $("create-dialog");
  const form = $("create-form");
  const name = $("create-name");
  const nameError = $("create-name-error");
  const dotenv = $("dotenv-text");
  const preview = $("dotenv-preview");
  const errorSlot = $("create-error");
  const submit = $("create-submit");
  const rows = new KeyValueRows($("create-rows"), { validateKey: keyProblem });
  let touched = false;
  let parsed = { entries: [], problems: 0, error: null };

  const source = () => form.elements.source.value;
  const existing = () => form.elements.existing.value;

  function checkName() {
    const value = name.value;
    const problem = touched || value ? nameProblem(value) : "";
    name.setAttribute("aria-invalid", problem ? "true" : "false");
    nameError.classList.remove("note-exists");
    if (problem) nameError.textContent = problem;
    else if (value && app.exists(value)) {
      nameError.textContent = `${value} already exists here: choose below what happens to it.`;
      nameError.classList.add("note-exists");
    } else nameError.textContent = "";
    return problem;
  }
  name.addEventListener("input", () => {
    touched = true;
    checkName();
  });

  function showSource() {
    const rowsOn = source() === "rows";
    $("create-rows-panel").hidden = !rowsOn;
    $("create-dotenv-panel").hidden = rowsOn;
  }
  for (const radio of form.elements.source) radio.addEventListener("change", showSource);
  $("create-add-row").addEventListener("click", () => rows.add(true));

  // The preview shows key names and, for each value, only whether it is empty: never a character.
  let parseTimer;
  dotenv.addEventListener("input", () => {
    clearTimeout(parseTimer);
    parseTimer = setTimeout(renderPreview, 120);
  });
  function renderPreview() {
    parsed = parseText(dotenv.value);
    if (parsed.error) {
      showError(preview, parsed.error, { context: "in the .env text" });
      return;
    }
    if (!parsed.entries.length) {
      if (dotenv.value.trim()) preview.replaceChildren(h("p", { class: "muted", text: "No keys found in this text." }));
      else preview.replaceChildren();
      return;
    }
    const body = parsed.entries.map(({ key, value, problem }) =>
      h(
        "tr",
        { class: problem ? "invalid" : "" },
        h("td", {}, h("code", { text: key }), problem ? h("p", { class: "field-error", text: problem }) : null),
        h("td", { class: "masked", text: value === null ? "no value (sent as empty)" : value === "" ? "empty" : "••••••••" }),
      ),
    );
    preview.replaceChildren(
      h("p", { class: "muted", text: `${count(parsed.entries.length, "key")} found${parsed.problems ? `, ${count(parsed.problems, "invalid key name")}` : ""}.` }),
      h(
        "table",
        { class: "preview-table" },
        h("caption", { class: "visually-hidden", text: "Keys found in the .env text, values masked" }),
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Key" }), h("th", { scope: "col", text: "Value" }))),
        h("tbody", {}, ...body),
      ),
    );
  }

  function reset() {
    clearTimeout(parseTimer);
    form.reset(); // empties the name, the .env text and the choices
    dotenv.value = "";
    rows.clear();
    parsed = { entries: [], problems: 0, error: null };
    preview.replaceChildren();
    showError(errorSlot, null);
    touched = false;
    checkName();
    showSource();
  }

  resetOnClose(dialog, reset);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    touched = true;
    showError(errorSlot, null);
    if (checkName()) {
      name.focus();
      return;
    }
    let dict;
    if (source() === "rows") {
      const read = rows.read();
      if (read.problems) {
        rows.focusProblem();
        return;
      }
      dict = read.dict;
    } else {
      clearTimeout(parseTimer);
      renderPreview();
      if (parsed.error || parsed.problems) {
        dotenv.focus();
        return;
      }
      // A key written without "=" has no value; Modal's from_dotenv sends it as "".
      dict = Object.fromEntries(parsed.entries.map(({ key, value }) => [key, value ?? ""]));
    }
    if (!Object.keys(dict).length) {
      showError(errorSlot, { name: "InvalidError", message: "Add at least one key." });
      return;
    }

    const secretName = name.value;
    submit.disabled = true;
    submit.textContent = "Creating…";
    try {
      const outcome = await createWith(app, secretName, dict, existing());
      dict = null;
      reset(); // empties every input
      dialog.close();
      app.created({ name: secretName, outcome });
    } catch (error) {
      showError(errorSlot, error);
    } finally {
      submit.disabled = false;
      submit.textContent = "Create secret";
    }
  });

  return {
    open() {
      $("create-env").textContent = app.environmentLabel();
      reset();
      dialog.showModal();
      name.focus();
    },
  };
}

/** "created", "kept" (allowExisting) or "overwritten". */
async function createWith(app, name, dict, whenExisting) {
  const options = { client: app.client(), environmentName: app.environment() };
  if (whenExisting === "keep") {
    const existed = app.exists(name);
    await Secret.objects.create(name, dict, { ...options, allowExisting: true });
    return existed ? "kept" : "created";
  }
  try {
    await Secret.objects.create(name, dict, options);
    return "created";
  } catch (error) {
    if (whenExisting !== "overwrite" || error?.name !== "AlreadyExistsError") throw error;
  }
  // Overwrite: one update that sets these keys and removes the others, so the secret is never
  // missing (a delete then create would leave a gap, and a new id).
  const secret = await Secret.fromName(name, options).hydrate();
  const update = { ...dict };
  for (const key of secret.keys) if (!(key in dict)) update[key] = null;
  await secret.update(update);
  return "overwritten";
}

/** { entries: [{ key, value, problem }], problems, error } from .env text. */
function parseText(text) {
  if (!text.trim()) return { entries: [], problems: 0, error: null };
  try {
    const entries = Object.entries(parseDotenv(text)).map(([key, value]) => ({ key, value, problem: keyProblem(key) }));
    return { entries, problems: entries.filter((e) => e.problem).length, error: null };
  } catch (error) {
    return { entries: [], problems: 0, error };
  }
}
