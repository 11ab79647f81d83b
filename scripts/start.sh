#!/usr/bin/env bash
# `npm start` (DESIGN.md): builds what is missing, makes a first workspace token on first start, prints
# the dashboard URL and the MODAL_* lines for that token, then runs the local server in the
# foreground (exec: Ctrl-C / SIGTERM reach the server, which stops cleanly).
#
# Environment:
#   MODAL_SECRETS_LISTEN  address to listen on (default 127.0.0.1:8787)
#   MODAL_SECRETS_DATA    the store's directory (default .modal-secrets, git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."

listen=${MODAL_SECRETS_LISTEN:-127.0.0.1:8787}
data=${MODAL_SECRETS_DATA:-.modal-secrets}
server=target/release/modal-secrets-server
token_file=$data/first-token.json

say() { printf '\033[1mstart:\033[0m %s\n' "$*" >&2; }
die() { printf 'start: error: %s\n' "$*" >&2; exit 1; }

# --- build what is missing ----------------------------------------------------------------------
if [ ! -f pkg/package.json ]; then
  say "pkg/ is not built: building the package and the server (first run takes a few minutes)"
  bash scripts/setup.sh
  bash scripts/build.sh
elif [ ! -x "$server" ]; then
  say "$server is not built: building it"
  bash scripts/setup.sh
  cargo build --release --quiet -p modal-secrets-server
fi
[ -x "$server" ] || die "$server is still missing after the build"

# --- first start: a workspace token -------------------------------------------------------------
# The token file is only valid with the store it was made in: remake it if either is missing.
if [ ! -f "$data/store.sqlite3" ] || [ ! -s "$token_file" ]; then
  say "first start: creating a workspace token in $data/"
  mkdir -p "$data"
  chmod 700 "$data"
  (
    umask 077
    "$server" token new --data "$data" >"$token_file.tmp"
  )
  chmod 600 "$token_file.tmp"
  mv -f "$token_file.tmp" "$token_file"
fi

# Read the token file back (checked: a hand-edited or truncated file is an error, not a bad line).
fields=$(node -e '
  const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const ok = /^ak-[0-9A-Za-z]+$/.test(t.token_id) && /^as-[0-9A-Za-z]+$/.test(t.token_secret);
  if (!ok) { process.exit(2); }
  console.log(t.token_id + " " + t.token_secret);
' "$token_file" 2>/dev/null) ||
  die "$token_file is not a token file; delete it and run npm start again to make a new token"
read -r token_id token_secret <<<"$fields"

# --- what to paste --------------------------------------------------------------------------------
host=${listen%:*}
port=${listen##*:}
case "$host" in
  0.0.0.0 | "" | "[::]") host=127.0.0.1 ;;
esac
url="http://$host:$port"

cat <<EOF

  modal-secrets local server
  dashboard: $url/

  For Modal's CLI and SDKs (and Client.fromEnv()), paste into a shell:

export MODAL_SERVER_URL=$url
export MODAL_TOKEN_ID=$token_id
export MODAL_TOKEN_SECRET=$token_secret

  (this token is kept in $token_file; the store is $data/; Ctrl-C stops the server)

EOF

# --stop-with-parent: npm forwards SIGTERM to the `sh -c` it runs this under, and sh dies without
# passing it on; the server notices its parent is gone and stops as on SIGTERM.
exec "$server" serve --listen "$listen" --data "$data" --stop-with-parent "$PPID"
