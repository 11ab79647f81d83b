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

# --- 1. cargo build for wasm32 ---------------------------------------------------------------
say "cargo build (wasm32, profile $profile)"
scripts/wasm-cargo.sh --small build --profile "$profile" --lib
raw_wasm=target/wasm32-unknown-unknown/$profile/modal_secrets.wasm

# --- 2. wasm-bindgen ---------------------------------------------------------------------------
command -v wasm-bindgen >/dev/null || die "wasm-bindgen CLI missing: run 'npm run setup'"
have=$(wasm-bindgen --version | cut -d' ' -f2)
[ "$have" = "$WASM_BINDGEN_VERSION" ] ||
  die "wasm-bindgen CLI is $have but Cargo.toml pins $WASM_BINDGEN_VERSION: run 'npm run setup'"
rm -rf "$out"
say "wasm-bindgen $have"
wasm-bindgen --target web --out-dir "$out" --out-name modal_secrets "$raw_wasm"

# The glue imports our JS helpers (src/js/errors.js, host.js) from hashed snippets/ paths; give
# each a stable name beside the glue, so every entry imports the one same module.
for snippet in "$out"/snippets/*/src/js/*.js; do
  name=$(basename "$snippet")
  cp "$snippet" "$out/$name"
  sed -i -E "/^import /s#([\"'])\./snippets/[^\"']*/src/js/$name([\"'])#\1./$name\2#g" "$out/modal_secrets.js"
  grep -q "from ['\"]\./$name['\"]" "$out/modal_secrets.js" || die "could not relink the $name snippet"
done
grep -q "^import .*snippets/" "$out/modal_secrets.js" && die "the glue still imports a snippet"
rm -rf "$out/snippets"
# The rest of the JS (api.js, files.js, the entries) beside the glue; errors.js and host.js came
# through the snippets above.
for file in src/js/*.js; do
  name=$(basename "$file")
  [ -e "$out/$name" ] || cp "$file" "$out/$name"
done
# The command line's modules (src/js/cli/, entry main.js), which import the entry and glue from ../.
cp -r src/js/cli "$out/cli"

# --- 3. wasm-opt -----------------------------------------------------------------------------
say "wasm-opt -Oz"
node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
  --enable-reference-types --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
  --enable-multivalue --enable-nontrapping-float-to-int \
  "$out/modal_secrets_bg.wasm" -o "$out/modal_secrets_bg.wasm"

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
# Every other runtime: ES modules sharing one minified chunk and the one .wasm (see DESIGN.md and
# write-package.mjs for which entry serves which runtime).
node_modules/.bin/esbuild "$out"/{browser,workerd,deno,bun,slim}.js --bundle --splitting \
  --format=esm --minify --keep-names --target=es2022 --supported:import-source=true --log-level=warning --log-override:duplicate-object-key=silent \
  --external:./modal_secrets_bg.wasm --external:node:http2 --chunk-names='shared-[hash]' --outdir="$pkg"
cp "$out/modal_secrets_bg.wasm" "$pkg/"
cp src/js/index.d.ts "$pkg/index.d.ts"
node scripts/write-package.mjs "$pkg"

# --- 5. the server ---------------------------------------------------------------------------
say "cargo build --release (modal-secrets-server)"
cargo build --release --quiet -p modal-secrets-server

# --- 6. size -----------------------------------------------------------------------------------
say "pkg/ ready: $(ls "$pkg" | tr '\n' ' ')"
node scripts/sizes.mjs "$pkg"
