#!/usr/bin/env bash
# `npm test`: every check and every test, from a fresh clone. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A test process that never exits (a socket or timer left open) would hang CI until its 90 minutes
# run out; each test step gets a bound instead, and says which step ran over.
bounded() {
  local seconds=$1
  shift
  local status=0
  timeout --kill-after=30 "$seconds" "$@" || status=$?
  if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "test.sh: '$*' ran over ${seconds}s (a test process that did not exit?)" >&2
  fi
  return "$status"
}

step "setup"
bash scripts/setup.sh

step "format"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check

step "build (pkg/)"
bash scripts/build.sh

step "clippy (host)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "clippy (wasm32)"
# The libraries only: the server (tokio, SQLite) and the tests (proptest) are native only.
scripts/wasm-cargo.sh clippy --workspace --exclude modal-secrets-server --lib --quiet \
  --target-dir target/wasm-clippy -- -D warnings
# …and the build for browsers and workerd, without the `files` feature (scripts/build.sh).
scripts/wasm-cargo.sh clippy -p modal-secrets --lib --no-default-features --quiet \
  --target-dir target/wasm-clippy -- -D warnings

# The secrets audit (tests/audit/, the last step): every test-started server's log, everything the
# Node processes print, and every secret value and token secret the suites use go to this directory
# (tests/support/audit.mjs, preloaded into every Node process; server/tests/common/audit.rs).
export MODAL_SECRETS_AUDIT_DIR=$PWD/target/audit
rm -rf "$MODAL_SECRETS_AUDIT_DIR"
mkdir -p "$MODAL_SECRETS_AUDIT_DIR"
node_options_before=${NODE_OPTIONS:-}
export NODE_OPTIONS="--import=\"$PWD/tests/support/audit.mjs\"${NODE_OPTIONS:+ $NODE_OPTIONS}"

step "Rust tests (core, with property tests)"
cargo test --workspace

step "Soak: 64 clients mixing every method for 60 s against the server binary (server/tests/soak.rs)"
SOAK_SECONDS=60 cargo test -p modal-secrets-server --test soak -- --ignored --nocapture

step "Node tests (the built package; Node's default transport, gRPC over node:http2)"
bounded 1500 node --test --test-reporter=spec tests/node/
bounded 900 node --test --test-reporter=spec tests/browser/
bounded 900 node --test --test-reporter=spec tests/cli/ # the modal-secrets CLI, and beside Modal's official `modal secret`

step "Node tests again over the other transport (gRPC-web over fetch): the suites that drive the client"
# (tests/node/hostile and proxy are gRPC-web's faults and always use fetch; http2.test.mjs is HTTP/2's.)
MODAL_SECRETS_TEST_TRANSPORT=fetch bounded 1200 node --test --test-reporter=spec \
  tests/node/client.test.mjs tests/node/faults.test.mjs tests/node/redaction.test.mjs \
  tests/node/redirect.test.mjs tests/cli/cli.test.mjs

step "Runtimes (Node ESM/CJS, Deno, Bun, workerd, Chromium + Vite; the packed tarball)"
bounded 1200 node --test --test-reporter=spec tests/runtimes/

step "Modal's official clients (Python CLI + SDK modal==1.6.4, JS SDK modal@0.11.1)"
bounded 1500 bash tests/official/run.sh

step "Secrets audit: no value or token secret in any server log or printed output of the steps above"
NODE_OPTIONS=$node_options_before bounded 600 node --test --test-reporter=spec tests/audit/
