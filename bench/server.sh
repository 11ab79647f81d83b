#!/usr/bin/env bash
# The "Server" section of bench/RESULTS.md: lookups per second over gRPC-web from 32 connections,
# and the latency the gateway (serve --upstream) adds to a call, against the release binary.
# The figures come from server/benches/server.rs (median of BENCH_RUNS runs, default 5, with min
# and max). Nothing here passes or fails on a figure; a target that is not met is said so in the
# section.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${BENCH_RUNS:-5}"
bin="$PWD/target/release/modal-secrets-server"

echo "bench: building the release server and the benchmark" >&2
cargo build --release -q -p modal-secrets-server --bin modal-secrets-server
cargo bench -q -p modal-secrets-server --bench server --no-run

figures="$(mktemp)"
fragment="$(mktemp)"
trap 'rm -f "$figures" "$fragment"' EXIT
load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
cargo bench -q -p modal-secrets-server --bench server -- --bin "$bin" --runs "$runs" >"$figures"

cpu_model() {
  if [ -r /proc/cpuinfo ]; then
    grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'
  else
    sysctl -n machdep.cpu.brand_string 2>/dev/null || echo "unknown CPU"
  fi
}
mem_gib() {
  if [ -r /proc/meminfo ]; then
    awk '/^MemTotal:/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo
  else
    echo "unknown RAM"
  fi
}
cpus="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git diff --quiet HEAD 2>/dev/null; then
  commit="$commit + local changes"
fi

{
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) at $commit with \`npm run bench\` (\`bash bench/server.sh\`;"
  echo "the numbers come from \`cargo bench -p modal-secrets-server --bench server -- --runs $runs\`)."
  echo
  echo "- Machine: $cpus CPUs ($(cpu_model)), $(mem_gib), $(uname -sr); load average at the start:"
  echo "  $load (other work shares this machine)."
  echo "- $("$bin" --version), built by $(rustc -V) with the workspace's release profile (LTO)."
  echo "- The client (Rust, hyper, one HTTP/1.1 keep-alive connection per task), the server and the"
  echo "  gateway are separate processes sharing these CPUs; the server logs one line per call to a"
  echo "  pipe, as always. The store is a fresh temporary one holding the one secret looked up."
  echo "- A lookup is \`SecretGetOrCreate\` (type 0) of a secret with 3 keys, with the headers the"
  echo "  package sends (token id and secret: every call is authenticated)."
  echo
  cat "$figures"
} >"$fragment"

node bench/section.mjs bench/RESULTS.md "Server" <"$fragment"
