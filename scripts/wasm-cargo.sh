#!/usr/bin/env bash
# Runs a cargo subcommand for wasm32 with whichever toolchain this machine has: rustup's wasm32
# target, or Debian's rustc-web with build-std (shared TOOLCHAIN.md).
# Usage: wasm-cargo.sh [--small] SUBCOMMAND ARGS...   (--small: the size options build-std opens)
set -euo pipefail
target=wasm32-unknown-unknown
small=
if [ "${1:-}" = --small ]; then small=1; shift; fi
# Our options go before any `--`, which passes the rest to rustc/clippy.
args=() rest=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then rest=("$@"); break; fi
  args+=("$1"); shift
done
if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  exec cargo "${args[@]}" --target "$target" "${rest[@]}"
fi
if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
  echo "no wasm32 toolchain: run 'npm run setup' (Debian's rustc-web) or 'rustup target add $target'" >&2
  exit 1
fi
# Debian's cargo, rustc and clippy must not mix with rustup's proxies, which come first on PATH.
export CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 PATH="/usr/bin:$PATH"
size_options=()
if [ -n "$small" ]; then
  # fmt-debug=none: `{:?}` prints nothing (messages quote with validate::quote instead), which drops
  # every Debug impl from the .wasm.
  export RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none ${RUSTFLAGS:-}"
  size_options=(-Z build-std-features=optimize_for_size)
fi
exec /usr/bin/cargo "${args[@]}" --target "$target" -Z build-std=std,panic_abort "${size_options[@]}" "${rest[@]}"
