#!/usr/bin/env bash
# `npm start`: will build what is missing and run modal-secrets-server on http://127.0.0.1:8787
# (DESIGN.md). The server is not written yet; say so plainly instead of pretending.
set -euo pipefail
cat >&2 <<'MSG'
npm start: the local server (modal-secrets-server) is not built yet; it is the next piece of work.
Today this repository builds the npm package (npm run build -> pkg/) and tests it (npm test).
MSG
exit 1
