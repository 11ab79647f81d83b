#!/usr/bin/env bash
# Usage: tests/official/modal-python.sh VERSION
# Modal's Python client (pip modal==VERSION) under target/, installed when missing: in a venv,
# target/official-venv, else (no working venv module, as on a Debian without python3-venv) with
# `pip install --target target/official-py`. Prints two lines: the Python to run it with, and the
# directory to put on PYTHONPATH for it (empty for the venv's). Progress goes to stderr.
# Used by tests/official/run.sh, tests/cli/official.test.mjs and bench/client.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
version=${1:?usage: tests/official/modal-python.sh VERSION}

venv=target/official-venv
pydir=target/official-py
say() { printf 'modal-python: %s\n' "$*" >&2; }
has_modal() { "$1" -c "import modal, sys; sys.exit(modal.__version__ != '$version')" 2>/dev/null; }
found() {
  has_modal "$1" || { echo "modal-python: modal $version is not importable with $1" >&2; exit 1; }
  printf '%s\n%s\n' "$1" "${PYTHONPATH_FOR_IT:-}"
  exit 0
}
from_pydir() {
  # Console scripts are not usable from a --target dir; callers run the CLI as a module.
  export PYTHONPATH=$root/$pydir${PYTHONPATH:+:$PYTHONPATH}
  PYTHONPATH_FOR_IT=$root/$pydir found python3
}

[ -x "$venv/bin/python" ] && has_modal "$venv/bin/python" && found "$root/$venv/bin/python"
[ -d "$pydir/modal" ] && PYTHONPATH=$root/$pydir has_modal python3 && from_pydir

venv_ok() { [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; }
if ! venv_ok; then
  # (Re)make it: a venv without pip is what Debian leaves when python3-venv is missing.
  rm -rf "$venv"
  python3 -m venv "$venv" >/dev/null 2>&1 || true
fi
if venv_ok; then
  say "pip install modal==$version into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "modal==$version" >&2
  found "$root/$venv/bin/python"
fi
# No working venv module: a plain target directory.
rm -rf "$venv"
say "python3 -m venv is unavailable: pip install --target $pydir modal==$version"
python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$pydir" "modal==$version" >&2
from_pydir
