#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 300) each, or only the targets named.
# Needs nightly Rust (rustup toolchain nightly) and cargo-fuzz, which this installs if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-300}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --quiet
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
for t in "${targets[@]}"; do
  echo "== fuzz $t for ${seconds}s"
  cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -rss_limit_mb=4096 2>&1 | tail -n 4
done
