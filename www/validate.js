// Inline validation asks the package, so the page and the API agree on every rule (names, keys,
// environments). Valid only after `ready`: the checks run in the WebAssembly module.
import { Secret } from "/pkg/browser.js";

const problem = (check) => {
  try {
    check();
    return "";
  } catch (error) {
    return error?.message || String(error);
  }
};

/** "" for a valid secret name, else why not. */
export const nameProblem = (name) => problem(() => Secret.fromName(name));

/** "" for a valid key, else why not. */
export const keyProblem = (key) => problem(() => Secret.fromDict({ [key]: "" }));

/** "" for a valid environment name ("" is the default environment), else why not. */
export const environmentProblem = (environment) =>
  environment === "" ? "" : problem(() => Secret.fromName("x", { environmentName: environment }));
