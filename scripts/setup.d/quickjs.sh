#!/bin/sh
# scripts/setup.d/quickjs.sh - fetch the pinned QuickJS WebAssembly module
# that the sandbox (lib/sandbox) translates with wasm2c at build time.
#
# The npm tarball is checked against its registry sha512 integrity and the
# extracted .wasm against a sha256 recorded here, so a changed upstream file
# never reaches the build. Output goes to $HOOKLINE_CACHE (default: .cache/
# under the repository, git-ignored). Prints nothing when already present.
set -eu

PKG="@jitl/quickjs-wasmfile-release-sync"
VERSION="0.32.0"
INTEGRITY="sha512-BKNDI/TPBfGlLNGYpLrhcDGXmIk4xHm4MRAisOBnOzpXVn9HZWsfmMAc9WMBrAHjvvds6HOikKeaOBKdPdpVrg=="
WASM_SHA256="105c3bed22d457e43e3d1c3c1c6959fda62a8fe06f0fc8a985303c3a2be72232"

root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${HOOKLINE_CACHE:-$root/.cache}
dest="$cache/quickjs/$VERSION"
wasm="$dest/emscripten-module.wasm"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# `make demo` may go on without the sandbox when the module cannot be
# fetched; `make test` passes --require-sandbox so that a missing sandbox
# fails loudly instead of silently shrinking the suite to the stub.
required=0
for arg in "$@"; do [ "$arg" = "--require-sandbox" ] && required=1; done
give_up() { echo "quickjs.sh: $1" >&2; exit "$required"; }

if [ -f "$wasm" ] && [ "$(sha256_of "$wasm")" = "$WASM_SHA256" ]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  give_up "npm is missing; the sandbox cannot be built"
fi

echo "setup: fetching $PKG@$VERSION"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# Without the network `make demo` goes on without the sandbox (meson's
# `sandbox` option is auto); a file that does not match is always an error.
(cd "$tmp" && npm pack --loglevel=error "$PKG@$VERSION" >/dev/null 2>"$tmp/npm.err") || {
  cat "$tmp/npm.err" >&2
  give_up "npm pack failed; the sandbox cannot be built"; }
tgz=$(ls "$tmp"/*.tgz)

# npm's integrity string is the base64 of the tarball's sha512.
if command -v openssl >/dev/null 2>&1; then
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 | tr -d '\n')"
else
  got="sha512-$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
fi
if [ "$got" != "$INTEGRITY" ]; then
  echo "quickjs.sh: integrity mismatch for $PKG@$VERSION" >&2
  echo "  expected $INTEGRITY" >&2
  echo "  got      $got" >&2
  exit 1
fi

tar -xzf "$tgz" -C "$tmp" package/dist/emscripten-module.wasm package/dist/emscripten-module.mjs package/LICENSE
if [ "$(sha256_of "$tmp/package/dist/emscripten-module.wasm")" != "$WASM_SHA256" ]; then
  echo "quickjs.sh: sha256 mismatch for emscripten-module.wasm" >&2
  exit 1
fi

mkdir -p "$dest"
cp "$tmp/package/dist/emscripten-module.mjs" "$tmp/package/LICENSE" "$dest/"
# The .wasm last: its presence means the fetch is complete.
cp "$tmp/package/dist/emscripten-module.wasm" "$wasm.tmp"
mv "$wasm.tmp" "$wasm"
