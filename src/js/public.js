// The package's public names, re-exported by every entry (and nothing else: configureRuntime and
// setReady stay inside): the two classes, parseDotenv, ready, and every error class.
export { Client, Secret, parseDotenv, ready } from "./api.js";
export * from "./errors.js";
