#!/usr/bin/env bash
# The "Client" section of bench/RESULTS.md (issue 7): this package against Modal's official JS SDK
# (modal@0.11.1, HTTP/2), its Python SDK (modal==1.6.4), python-dotenv, npm dotenv and two floors
# (bench/floor.mjs: raw fetch, and bare node:http2 for the package's default transport in Node,
# issue 15), against one local server. The measuring is bench/client.mjs; this script
# gets everything it needs first, under target/ (never into the repository's package.json):
#   - Modal's Python SDK in target/official-venv (tests/official/modal-python.sh, as the tests install it),
#   - Modal's JS SDK in target/official-js (shared with tests/official/run.sh),
#   - npm dotenv in target/bench-js,
#   - python-dotenv (scripts/setup.sh installs it for python3; else pip --target target/bench-py),
#   - pkg/ and the release server (`npm run build` when either is missing or older than its sources).
# Nothing here passes or fails on a figure. BENCH_RUNS (default 5) sets the runs per figure;
# BENCH_ONLY=size,cold,... limits the figures (for trying things; the section is still replaced);
# BENCH_QUICK=1 BENCH_RUNS=1 checks that the figures run (small counts; the section says so).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

MODAL_PY_VERSION=1.6.4
MODAL_JS_VERSION=0.11.1
DOTENV_JS_VERSION=18.0.10
# The release the parser follows (core/src/dotenv.rs), as scripts/setup.sh installs it.
PYTHON_DOTENV_VERSION=$(sed -n 's/^pub const PYTHON_DOTENV_VERSION: &str = "\(.*\)";/\1/p' core/src/dotenv.rs)

say() { printf 'bench: client: %s\n' "$*" >&2; }
t0=$(date +%s)

# --- Modal's Python SDK (tests/official/modal-python.sh, shared with the tests) ---------------------
modal_python=$(bash tests/official/modal-python.sh "$MODAL_PY_VERSION")
py_modal=$(sed -n 1p <<<"$modal_python")
pypath=$(sed -n 2p <<<"$modal_python")
[ -z "$pypath" ] || export PYTHONPATH=$pypath${PYTHONPATH:+:$PYTHONPATH}

# --- python-dotenv ------------------------------------------------------------------------------------
has_dotenv() { "$1" -c "import dotenv, importlib.metadata as m, sys; sys.exit(m.version('python-dotenv') != '$PYTHON_DOTENV_VERSION')" 2>/dev/null; }
if has_dotenv python3; then
  py_dotenv=python3
else
  pydir=target/bench-py
  if ! PYTHONPATH=$root/$pydir has_dotenv python3; then
    say "pip install --target $pydir python-dotenv==$PYTHON_DOTENV_VERSION"
    python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$pydir" \
      "python-dotenv==$PYTHON_DOTENV_VERSION"
  fi
  # A wrapper so that bench/client.mjs can run it as one command.
  py_dotenv=$root/$pydir/python
  printf '#!/bin/sh\nPYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH} exec python3 "$@"\n' "$root/$pydir" >"$py_dotenv"
  chmod +x "$py_dotenv"
fi

# --- Modal's JS SDK and npm dotenv, each in its own directory under target/ ------------------------
# npm_in DIR PACKAGE VERSION: installs PACKAGE@VERSION into DIR/node_modules unless it is there.
npm_in() {
  local dir=$1 name=$2 version=$3
  if [ "$(node -p "try { require('./$dir/node_modules/$name/package.json').version } catch { '' }")" != "$version" ]; then
    say "npm install $name@$version into $dir"
    mkdir -p "$dir"
    # Its own package.json, so npm does not walk up to the repository's.
    [ -f "$dir/package.json" ] || printf '{ "private": true }\n' >"$dir/package.json"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$name@$version"
  fi
}
npm_in target/official-js modal "$MODAL_JS_VERSION"
npm_in target/bench-js dotenv "$DOTENV_JS_VERSION"

# --- the package, the server and esbuild --------------------------------------------------------------
# Built when missing or older than a source it is built from (its build time is in the section).
stale() {
  [ ! -f pkg/node.mjs ] || [ ! -f pkg/modal_secrets_node_bg.wasm ] || [ ! -x target/release/modal-secrets-server ] && return 0
  [ -n "$(find src core proto server/src Cargo.toml Cargo.lock scripts/build.sh scripts/wasm-cargo.sh \
    scripts/write-package.mjs -newer pkg/modal_secrets_node_bg.wasm -print -quit 2>/dev/null)" ] && return 0
  [ -n "$(find server/src core proto -newer target/release/modal-secrets-server -print -quit 2>/dev/null)" ]
}
if stale; then
  # setup skips whatever is installed already (toolchains, wasm-bindgen CLI, node_modules).
  say "npm run setup && npm run build"
  bash scripts/setup.sh >&2
  npm run build >&2
elif [ ! -x node_modules/.bin/esbuild ]; then
  say "npm ci (esbuild)"
  npm ci --no-audit --no-fund --loglevel=error
fi

fragment="$(mktemp)"
trap 'rm -f "$fragment"' EXIT
BENCH_OFFICIAL_JS=target/official-js BENCH_DOTENV_JS=target/bench-js \
  BENCH_PY_MODAL="$py_modal" BENCH_PY_DOTENV="$py_dotenv" \
  node bench/client.mjs "$fragment"
node bench/section.mjs bench/RESULTS.md "Client" <"$fragment"
say "done in $(($(date +%s) - t0)) s"
