#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there: Debian's wasm32 Rust
# toolchain (unless rustup has the wasm32 target), protoc, the wasm-bindgen CLI pinned by Cargo.toml,
# the npm dev dependencies, and python-dotenv (the oracle of the dotenv tests).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The python-dotenv release the .env parser follows (and its tests compare against): named once, in
# core/src/dotenv.rs.
PYTHON_DOTENV_VERSION=$(sed -n 's/^pub const PYTHON_DOTENV_VERSION: &str = "\(.*\)";/\1/p' core/src/dotenv.rs)
[ -n "$PYTHON_DOTENV_VERSION" ] || { echo "setup: no PYTHON_DOTENV_VERSION in core/src/dotenv.rs" >&2; exit 1; }
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)

# --- apt packages --------------------------------------------------------------------------------
# chromium: the browser tests (tests/runtimes, tests/browser) drive Debian's Chromium.
apt_packages=(protobuf-compiler chromium)
if ! (command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown); then
  # No rustup wasm32 std here: Debian's rustc-web builds std for wasm32 from source (TOOLCHAIN.md).
  apt_packages+=(rustc-web cargo-web rust-web-src rust-web-clippy lld-22)
fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- wasm-bindgen CLI, the exact version the crate pins -------------------------------------------
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$WASM_BINDGEN_VERSION" ]; then
  say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes)"
  # Not --locked: its lock file wants a crate release the registry does not serve (TOOLCHAIN.md).
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --quiet
fi

# --- npm dev dependencies ---------------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- python-dotenv, the reference the dotenv tests compare against ---------------------------------
if ! python3 -c "import dotenv, importlib.metadata as m, sys; sys.exit(m.version('python-dotenv') != '$PYTHON_DOTENV_VERSION')" 2>/dev/null; then
  say "pip install python-dotenv==$PYTHON_DOTENV_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check "python-dotenv==$PYTHON_DOTENV_VERSION"
fi
say "ready"
