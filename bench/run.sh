#!/usr/bin/env bash
# npm run bench: every benchmark, each of which builds what it needs, runs, and replaces its own
# section of bench/RESULTS.md (other sections are kept).
#
#   bash bench/run.sh            all sections
#   bash bench/run.sh server     only some (by name)
#
# A benchmark is bench/<name>.sh; it writes its section with
#   node bench/section.mjs bench/RESULTS.md "<Title>" < fragment.md
# To add one, add its script and its name to SECTIONS. client: this package against Modal's official
# clients (issue #7; bench/client.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

SECTIONS=(server client)

if [ "$#" -gt 0 ]; then
  SECTIONS=("$@")
fi
for name in "${SECTIONS[@]}"; do
  script="bench/$name.sh"
  if [ ! -f "$script" ]; then
    echo "bench: no benchmark named $name ($script)" >&2
    exit 2
  fi
  echo "bench: $name" >&2
  bash "$script"
done
echo "bench: results in bench/RESULTS.md" >&2
