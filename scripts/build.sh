#!/usr/bin/env bash
# Builds pkg/ (the npm package `modal-secrets`: cargo (wasm32) -> wasm-bindgen -> wasm-opt -> esbuild)
# and target/release/modal-secrets-server.
# scripts/wasm-cargo.sh picks the wasm32 toolchain; scripts/setup.sh installs whatever is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
profile=wasm-release
out=target/bindgen
pkg=pkg

say() { printf '\033[1mbuild:\033[0m %s\n' "$*"; }
die() { printf 'build: error: %s\n' "$*" >&2; exit 1; }

# --- 1-3. the .wasm, twice: cargo (wasm32) -> wasm-bindgen -> wasm-opt ---------------------------
# With the `files` feature (Node, Deno, Bun: the config file's TOML reader, the .env search's checks,
# the CLI's sync plan) into target/bindgen as modal_secrets_node_bg.wasm; without it (browsers,
# workerd, ./slim: no files) into target/bindgen-web as modal_secrets_bg.wasm. Each directory gets
# its own glue (modal_secrets.js) and a copy of the JS, so each entry bundles the glue of its .wasm.
command -v wasm-bindgen >/dev/null || die "wasm-bindgen CLI missing: run 'npm run setup'"
have=$(wasm-bindgen --version | cut -d' ' -f2)
[ "$have" = "$WASM_BINDGEN_VERSION" ] ||
  die "wasm-bindgen CLI is $have but Cargo.toml pins $WASM_BINDGEN_VERSION: run 'npm run setup'"
raw_wasm=target/wasm32-unknown-unknown/$profile/modal_secrets.wasm

# wasm DIR WASM_NAME [CARGO_ARGS...]
wasm() {
  local dir=$1 name=$2
  shift 2
  say "cargo build (wasm32, profile $profile${*:+, $*}) -> $dir/$name"
  scripts/wasm-cargo.sh --small build --profile "$profile" --lib "$@"
  rm -rf "$dir"
  wasm-bindgen --target web --out-dir "$dir" --out-name modal_secrets "$raw_wasm"
  # The glue imports our JS helpers (src/js/abi.js, host.js, …) from hashed snippets/ paths; give
  # each a stable name beside the glue, so every entry imports the one same module.
  local snippet file base
  for snippet in "$dir"/snippets/*/src/js/*.js; do
    base=$(basename "$snippet")
    cp "$snippet" "$dir/$base"
    sed -i -E "/^import /s#([\"'])\./snippets/[^\"']*/src/js/$base([\"'])#\1./$base\2#g" "$dir/modal_secrets.js"
    grep -q "from ['\"]\./$base['\"]" "$dir/modal_secrets.js" || die "could not relink the $base snippet"
  done
  grep -q "^import .*snippets/" "$dir/modal_secrets.js" && die "the glue still imports a snippet"
  rm -rf "$dir/snippets"
  # The rest of the JS (api.js, files.js, the entries) beside the glue, and the command line's
  # modules (src/js/cli/, entry main.js), which import the entry and glue from ../.
  for file in src/js/*.js; do
    base=$(basename "$file")
    [ -e "$dir/$base" ] || cp "$file" "$dir/$base"
  done
  cp -r src/js/cli "$dir/cli"
  node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
    --enable-reference-types --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-multivalue --enable-nontrapping-float-to-int \
    "$dir/modal_secrets_bg.wasm" -o "$dir/$name"
  [ "$name" = modal_secrets_bg.wasm ] || rm "$dir/modal_secrets_bg.wasm"
}
say "wasm-bindgen $have, wasm-opt -Oz"
# The files build last: its cargo output is the one left in target/ (bench/client.mjs's profiles
# rebuild Node's .wasm from it with names kept).
wasm "$out-web" modal_secrets_bg.wasm --no-default-features
wasm "$out" modal_secrets_node_bg.wasm

# --- 4. the package --------------------------------------------------------------------------
rm -rf "$pkg"
mkdir -p "$pkg"
# Node: one CommonJS file; node.mjs re-exports it. Not minified: Node prints the source line of an
# uncaught error's throw site, and a minified line is thousands of characters (issue 18). In Node
# the bytes are on disk, not downloaded; comments still go (esbuild's default).
node_modules/.bin/esbuild "$out/node.js" --bundle --platform=node --format=cjs \
  --target=node20 --log-level=warning --log-override:empty-import-meta=silent --log-override:duplicate-object-key=silent \
  --outfile="$pkg/node.cjs"
node_modules/.bin/esbuild "$out/cli/main.js" --bundle --platform=node --format=cjs --target=node20 --log-level=warning --log-override:empty-import-meta=silent --log-override:duplicate-object-key=silent --outfile="$pkg/cli.cjs" # the `modal-secrets` command line (bin)
# Every other runtime: ES modules, minified. Deno and Bun (the files build) share chunks with each
# other; browsers, workerd and ./slim (the web build) with each other (see DESIGN.md and
# write-package.mjs for which entry serves which runtime).
esm=(--bundle --splitting --format=esm --minify --keep-names --target=es2022 --supported:import-source=true
  --log-level=warning --log-override:duplicate-object-key=silent --external:node:http2 --chunk-names='shared-[hash]')
node_modules/.bin/esbuild "$out"/{deno,bun}.js "${esm[@]}" --external:./modal_secrets_node_bg.wasm --outdir="$pkg"
node_modules/.bin/esbuild "$out-web"/{browser,workerd,slim}.js "${esm[@]}" --external:./modal_secrets_bg.wasm --outdir="$pkg"
cp "$out/modal_secrets_node_bg.wasm" "$out-web/modal_secrets_bg.wasm" "$pkg/"
cp src/js/index.d.ts "$pkg/index.d.ts"
node scripts/write-package.mjs "$pkg"

# --- 5. the server ---------------------------------------------------------------------------
say "cargo build --release (modal-secrets-server)"
cargo build --release --quiet -p modal-secrets-server

# --- 6. size -----------------------------------------------------------------------------------
say "pkg/ ready: $(ls "$pkg" | tr '\n' ' ')"
node scripts/sizes.mjs "$pkg"
