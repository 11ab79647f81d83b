#!/usr/bin/env bash
# Modal's official clients against modal-secrets-server (issue 3, "done when" 2): the Python CLI and
# SDK (pip modal==1.6.4) and the JS SDK (npm modal@0.11.1), over http://127.0.0.1:PORT (h2c); then this
# package (the built pkg/) and the Python SDK on the same secrets (issue 4, "done when" 6); then
# the CLI, a short SDK check and the JS SDK's checks again through a gateway in front of it
# (`serve --upstream`: plain gRPC passes through it).
#
# Installs the clients under target/ (a venv in target/official-venv, else `pip install --target`;
# node_modules in target/official-js; never into the repository's package.json), builds the release
# server if needed (MODAL_SECRETS_SERVER=path uses that binary instead), starts it on a free port with
# a temporary store and HOME, makes a token and an environment, and runs every check. Each check is an
# assertion; the first failure stops the run with a non-zero exit. Last line:
#   official clients: N passed, 0 failed
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

MODAL_PY_VERSION=1.6.4
MODAL_JS_VERSION=0.11.1
EXTRA_ENV=dev

say() { printf '\033[1mofficial:\033[0m %s\n' "$*"; }

passed=0
current="setup"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/modal-official.XXXXXX")
server_pid=""
gateway_pid=""
tls_pid=""

# The secrets audit of npm test (tests/audit/), when MODAL_SECRETS_AUDIT_DIR is set: the token
# secrets and values used here are recorded, and the logs and outputs copied there at the end.
audit=${MODAL_SECRETS_AUDIT_DIR:-}
[ -z "$audit" ] || mkdir -p "$audit"
# audit_record KIND VALUE (KIND: value or token)
audit_record() {
  [ -n "$audit" ] && [ -n "$2" ] || return 0
  local v=${2//\\/\\\\}
  v=${v//\"/\\\"}
  printf '{"kind":"%s","value":"%s","from":"official/run.sh"}\n' "$1" "$v" >>"$audit/secrets-official-run.sh-$$.jsonl"
}
audit_copy() {
  [ -n "$audit" ] || return 0
  local f
  for f in server.log gateway.log; do
    [ -f "$tmp/$f" ] && cp "$tmp/$f" "$audit/server-official-$f-$$.log"
  done
  for f in sdk.out js.out interop.out js-gateway.out; do
    [ -f "$tmp/$f" ] && cp "$tmp/$f" "$audit/printed-official-$f-$$.log"
  done
  return 0
}
# What every check printed (check.out is replaced by each one).
audit_printed() {
  [ -n "$audit" ] || { cat >/dev/null; return 0; }
  cat >>"$audit/printed-official-checks-$$.log"
}

finish() {
  local rc=$?
  local pid
  for pid in "$tls_pid" "$gateway_pid" "$server_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  audit_copy || true
  if [ "$rc" -ne 0 ]; then
    printf '\nofficial: FAILED at: %s (exit %d)\n' "$current" "$rc" >&2
    [ -s "$tmp/check.out" ] && tail -n 30 "$tmp/check.out" >&2
    if [ -s "$tmp/server.log" ]; then
      printf 'official: last server log lines:\n' >&2
      tail -n 20 "$tmp/server.log" >&2
    fi
    if [ -s "$tmp/gateway.log" ]; then
      printf 'official: last gateway log lines:\n' >&2
      tail -n 20 "$tmp/gateway.log" >&2
    fi
    printf 'official clients: %d passed, 1 failed\n' "$passed"
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() {
  passed=$((passed + 1))
  printf '  ok  %s\n' "$1"
}

# check NAME CMD...: CMD must succeed (set -e stops the run otherwise; its output is then shown).
check() {
  current=$1
  shift
  local rc=0
  "$@" >"$tmp/check.out" 2>&1 || rc=$?
  audit_printed <"$tmp/check.out"
  [ "$rc" -eq 0 ] || return "$rc"
  pass "$current"
}

# fails NAME PATTERN CMD...: CMD must fail, and its output must match PATTERN (grep -E, any case).
fails() {
  current=$1
  local pattern=$2
  shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | audit_printed
  if [ "$rc" -eq 0 ]; then
    printf '%s\n' "$out" >&2
    printf 'expected a failure, but the command succeeded: %s\n' "$*" >&2
    return 1
  fi
  if ! grep -qiE -- "$pattern" <<<"$out"; then
    printf '%s\n' "$out" >&2
    printf 'the failure does not match /%s/: %s\n' "$pattern" "$*" >&2
    return 1
  fi
  pass "$current"
}

# --- Modal's Python client, in target/ (tests/official/modal-python.sh) --------------------------
current="Modal's Python client (modal==$MODAL_PY_VERSION)"
modal_python=$(bash tests/official/modal-python.sh "$MODAL_PY_VERSION")
py=$(sed -n 1p <<<"$modal_python")
pypath=$(sed -n 2p <<<"$modal_python")
# From a --target dir (console scripts are not usable from one, so the CLI runs as a module).
[ -z "$pypath" ] || export PYTHONPATH=$pypath${PYTHONPATH:+:$PYTHONPATH}
modal_cli() { "$py" -m modal "$@"; }

# --- Modal's JS SDK, in target/ -------------------------------------------------------------------
jsdir=target/official-js
if [ "$(node -p "try { require('./$jsdir/node_modules/modal/package.json').version } catch { '' }")" != "$MODAL_JS_VERSION" ]; then
  current="npm install modal@$MODAL_JS_VERSION"
  say "npm install modal@$MODAL_JS_VERSION into $jsdir"
  mkdir -p "$jsdir"
  # Its own package.json, so npm does not walk up to the repository's.
  [ -f "$jsdir/package.json" ] || printf '{ "private": true }\n' >"$jsdir/package.json"
  npm install --prefix "$jsdir" --no-save --no-audit --no-fund --loglevel=error \
    "modal@$MODAL_JS_VERSION"
fi

# --- the server -------------------------------------------------------------------------------------
current="build the server"
if [ -n "${MODAL_SECRETS_SERVER:-}" ]; then
  server=$MODAL_SECRETS_SERVER
else
  server=target/release/modal-secrets-server
  # A no-op when it is up to date.
  cargo build --release --quiet -p modal-secrets-server
fi
[ -x "$server" ] || { echo "no server binary at $server" >&2; exit 1; }

# listening_url LOG PID [WHAT]: the URL the server (or WHAT) logging to LOG says it listens on, in a
# "listening on http(s)://…" line (waits up to 10 s).
listening_url() {
  local log=$1 pid=$2 what=${3:-the server} found=""
  for _ in $(seq 100); do
    found=$(sed -n 's/^\(.* \)\{0,1\}listening on \(https\{0,1\}:\/\/[0-9.:]*\)\( .*\)\{0,1\}$/\2/p' "$log" | head -n 1)
    [ -n "$found" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "$what exited" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$found" ] || { echo "$what did not say where it listens" >&2; return 1; }
  printf '%s\n' "$found"
}

current="start the server"
data=$tmp/data
"$server" serve --listen 127.0.0.1:0 --data "$data" --www "$tmp/no-www" --pkg "$tmp/no-pkg" \
  2>"$tmp/server.log" &
server_pid=$!
url=$(listening_url "$tmp/server.log" "$server_pid")
say "server at $url ($server)"

token_json=$("$server" token new --data "$data")
"$server" env new "$EXTRA_ENV" --data "$data" >/dev/null
# (sed, not `node -p`: a Node process printing the token secret would be a finding of the audit.)
token_id=$(sed -n 's/.*"token_id" *: *"\([^"]*\)".*/\1/p' <<<"$token_json")
token_secret=$(sed -n 's/.*"token_secret" *: *"\([^"]*\)".*/\1/p' <<<"$token_json")
[ -n "$token_id" ] && [ -n "$token_secret" ] || { echo "no token in: token new" >&2; exit 1; }
audit_record token "$token_secret"
# The wrong token secret js_check.mjs sends on purpose (Modal's JS SDK goes over HTTP/2, not fetch).
audit_record token "$(grep -o 'as-wrong[A-Za-z0-9]*' tests/official/js_check.mjs | head -n 1)"

# Only these settings: no ~/.modal.toml, no profile or environment from the caller.
mkdir -p "$tmp/home"
unset MODAL_PROFILE MODAL_ENVIRONMENT MODAL_CONFIG_PATH MODAL_TOKEN_ID MODAL_TOKEN_SECRET
export HOME=$tmp/home
export MODAL_CONFIG_PATH=$tmp/home/.modal.toml
export MODAL_SERVER_URL=$url
export MODAL_TOKEN_ID=$token_id
export MODAL_TOKEN_SECRET=$token_secret
export PYTHONDONTWRITEBYTECODE=1

# --- the CLI ----------------------------------------------------------------------------------------
say "Python CLI (modal $MODAL_PY_VERSION)"

# list_json [--env E]: the names `modal secret list --json` prints, one per line, checked to be a
# JSON array of objects with the CLI's columns.
list_names() {
  modal_cli secret list --json "$@" >"$tmp/list.json"
  "$py" - "$tmp/list.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list), f"not a list: {rows!r}"
for row in rows:
    assert set(row) == {"name", "created_at", "created_by", "last_used_at"}, row
    assert row["name"] and row["created_at"], row
for row in rows:
    print(row["name"])
PY
}

# has_names "NAMES" WANT...: each WANT is `name` (listed once) or `!name` (not listed).
has_names() {
  local names=$1
  shift
  local want
  for want in "$@"; do
    if [ "${want#!}" != "$want" ]; then
      if grep -qx -- "${want#!}" <<<"$names"; then
        echo "listed but should not be: ${want#!} (list: $(tr '\n' ' ' <<<"$names"))" >&2
        return 1
      fi
    elif [ "$(grep -cx -- "$want" <<<"$names")" != 1 ]; then
      echo "not listed exactly once: $want (list: $(tr '\n' ' ' <<<"$names"))" >&2
      return 1
    fi
  done
}

check "modal secret create (plain)" modal_cli secret create cli-plain A=1 B=two
fails "modal secret create of an existing name fails" "secret 'cli-plain' already exists" \
  modal_cli secret create cli-plain A=1
check "modal secret create --force overwrites" modal_cli secret create cli-plain C=3 --force
check "modal secret create --env $EXTRA_ENV" \
  modal_cli secret create cli-env X=1 --env "$EXTRA_ENV"
fails "modal secret create --env with an unknown environment fails" "environment 'no-such-env' not found" \
  modal_cli secret create cli-x X=1 --env no-such-env

current="modal secret list --json"
names=$(list_names)
has_names "$names" cli-plain '!cli-env'
pass "$current"
current="modal secret list --json --env $EXTRA_ENV"
names=$(list_names --env "$EXTRA_ENV")
has_names "$names" cli-env '!cli-plain'
pass "$current"

current="--force replaced the contents (keys seen by the SDK)"
keys=$("$py" -c 'import modal; print(",".join(sorted(modal.Secret.from_name("cli-plain").hydrate()._get_metadata().keys)))')
[ "$keys" = "C" ] || { echo "keys after --force: $keys (want C)" >&2; exit 1; }
pass "$current"

check "modal secret delete --yes" modal_cli secret delete cli-plain --yes
current="the deleted secret is no longer listed"
names=$(list_names)
has_names "$names" '!cli-plain'
pass "$current"
fails "modal secret delete of a missing secret fails" "secret 'cli-plain' not found" \
  modal_cli secret delete cli-plain --yes
check "modal secret delete --yes --allow-missing" \
  modal_cli secret delete cli-plain --yes --allow-missing
check "modal secret delete --yes --env $EXTRA_ENV" \
  modal_cli secret delete cli-env --yes --env "$EXTRA_ENV"

# --- the Python SDK ---------------------------------------------------------------------------------
say "Python SDK (modal $MODAL_PY_VERSION)"
current="tests/official/sdk_check.py"
"$py" tests/official/sdk_check.py "$EXTRA_ENV" | tee "$tmp/sdk.out"
passed=$((passed + $(grep -c '^PASS ' "$tmp/sdk.out")))

# --- the JS SDK -------------------------------------------------------------------------------------
say "JS SDK (modal@$MODAL_JS_VERSION)"
current="secrets for the JS checks (Python CLI)"
modal_cli secret create js-a A=1 B=2 >/dev/null
modal_cli secret create js-env E=1 --env "$EXTRA_ENV" >/dev/null
current="tests/official/js_check.mjs"
node tests/official/js_check.mjs "$jsdir" "$EXTRA_ENV" | tee "$tmp/js.out"
passed=$((passed + $(grep -c '^PASS ' "$tmp/js.out")))

# --- through a stand-in for api.modal.com: TLS, ALPN h2 only, plain gRPC only (issue 15) ----------
current="start the TLS stand-in (tests/support/tls-front.mjs)"
node tests/support/tls-front.mjs "$url" "$tmp" >"$tmp/tls.log" 2>&1 &
tls_pid=$!
tls_url=$(listening_url "$tmp/tls.log" "$tls_pid" "the TLS stand-in") || { cat "$tmp/tls.log" >&2; exit 1; }
say "JS SDK and this package's CLI through $tls_url (TLS, h2 only, gRPC only; a test CA)"
current="secrets for the JS checks, through TLS (Python CLI, direct)"
modal_cli secret create js-a A=1 B=2 >/dev/null
modal_cli secret create js-env E=1 --env "$EXTRA_ENV" >/dev/null
current="TLS: tests/official/js_check.mjs (grpc-js reads GRPC_DEFAULT_SSL_ROOTS_FILE_PATH)"
MODAL_SERVER_URL=$tls_url GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=$tmp/ca.pem \
  node tests/official/js_check.mjs "$jsdir" "$EXTRA_ENV" | sed 's/^PASS /PASS TLS: /' | tee "$tmp/js-tls.out"
passed=$((passed + $(grep -c '^PASS ' "$tmp/js-tls.out")))
[ -f pkg/cli.cjs ] || { echo "pkg/cli.cjs is missing: run npm run build" >&2; exit 1; }
check "TLS: npx modal-secrets create, list (the package's defaults, NODE_EXTRA_CA_CERTS)" sh -c '
  MODAL_SERVER_URL=$1 NODE_EXTRA_CA_CERTS=$2 node pkg/cli.cjs create tls-a A=1 >/dev/null &&
  MODAL_SERVER_URL=$1 NODE_EXTRA_CA_CERTS=$2 node pkg/cli.cjs list --json | grep -q "tls-a" &&
  MODAL_SERVER_URL=$1 NODE_EXTRA_CA_CERTS=$2 node pkg/cli.cjs delete tls-a --yes >/dev/null' _ "$tls_url" "$tmp/ca.pem"
kill -TERM "$tls_pid" 2>/dev/null || true
wait "$tls_pid" 2>/dev/null || true
tls_pid=""

# --- this package and the Python SDK on the same secrets (issue 4, "done when" 6) -----------------
say "interop: this package (pkg/) and the Python SDK (modal $MODAL_PY_VERSION)"
current="tests/official/interop.mjs"
[ -f pkg/node.mjs ] || { echo "pkg/node.mjs is missing: run npm run build" >&2; exit 1; }
node tests/official/interop.mjs "$py" "$EXTRA_ENV" | tee "$tmp/interop.out"
passed=$((passed + $(grep -c '^PASS ' "$tmp/interop.out")))

# --- the same clients through a gateway ------------------------------------------------------------
current="start a gateway in front of the server"
"$server" serve --listen 127.0.0.1:0 --upstream "$url" --www "$tmp/no-www" --pkg "$tmp/no-pkg" \
  2>"$tmp/gateway.log" &
gateway_pid=$!
gateway_url=$(listening_url "$tmp/gateway.log" "$gateway_pid")
say "through a gateway at $gateway_url (serve --upstream $url)"
export MODAL_SERVER_URL=$gateway_url

audit_record value gw-value-7c1
check "gateway: modal secret create" modal_cli secret create gw-a A=1 B=gw-value-7c1
fails "gateway: modal secret create of an existing name fails" "secret 'gw-a' already exists" \
  modal_cli secret create gw-a A=1
check "gateway: modal secret create --env $EXTRA_ENV" \
  modal_cli secret create gw-env X=1 --env "$EXTRA_ENV"
current="gateway: modal secret list --json"
names=$(list_names)
has_names "$names" gw-a '!gw-env'
pass "$current"
check "gateway: Python SDK from_name, hydrate, update, info, objects.list, NotFoundError" "$py" -c '
import modal
s = modal.Secret.from_name("gw-a", required_keys=["A", "B"])
s.hydrate()
assert s.object_id.startswith("st-"), s.object_id
s.update({"C": "3"})
assert s.info().name == "gw-a", s.info()
assert [x.name for x in modal.Secret.objects.list()].count("gw-a") == 1
try:
    modal.Secret.from_name("gw-missing").hydrate()
except modal.exception.NotFoundError:
    pass
else:
    raise SystemExit("no NotFoundError for a missing secret")
'
current="secrets for the JS checks, through the gateway (Python CLI)"
modal_cli secret create js-a A=1 B=2 >/dev/null
modal_cli secret create js-env E=1 --env "$EXTRA_ENV" >/dev/null
current="gateway: tests/official/js_check.mjs"
node tests/official/js_check.mjs "$jsdir" "$EXTRA_ENV" | sed 's/^PASS /PASS gateway: /' | tee "$tmp/js-gateway.out"
passed=$((passed + $(grep -c '^PASS ' "$tmp/js-gateway.out")))
check "gateway: modal secret delete --yes" modal_cli secret delete gw-a --yes
check "gateway: modal secret delete --yes --env $EXTRA_ENV" \
  modal_cli secret delete gw-env --yes --env "$EXTRA_ENV"
export MODAL_SERVER_URL=$url
current="the gateway logged its calls"
grep -q 'CALL SecretGetOrCreate OK .* upstream' "$tmp/gateway.log" || {
  echo "no call lines in the gateway log" >&2
  exit 1
}
pass "$current"

# --- the server and the gateway logged no secret ----------------------------------------------------
current="no token secret or value in the server and gateway logs"
for log in "$tmp/server.log" "$tmp/gateway.log"; do
  if grep -qF -- "$token_secret" "$log" || grep -qE 'changed|page_[0-9]|gw-value' "$log"; then
    echo "$log holds a token secret or a secret value" >&2
    exit 1
  fi
done
pass "$current"

printf 'official clients: %d passed, 0 failed\n' "$passed"
