#!/bin/sh
# scripts/setup.d/micropython.sh - fetch the pinned MicroPython WebAssembly
# module that the Python guest of the sandbox (lib/sandbox/py_*.c)
# translates with wasm2c at build time.
#
# Like quickjs.sh: the npm tarball is checked against its registry sha512
# integrity and the extracted .wasm against a sha256 recorded here. Output
# goes to $HOOKLINE_CACHE (default: .cache/ under the repository,
# git-ignored). Prints nothing when already present. Without it the build
# still succeeds; the Python guest then answers HL_ERR_UNSUPPORTED and its
# tests skip, except under --require-sandbox (`make test`), where a failed
# fetch is an error.
set -eu

PKG="@micropython/micropython-webassembly-pyscript"
VERSION="1.27.0"
INTEGRITY="sha512-DnXx4EqxgkeaFESrS3uKrL7mLMk4mRTd0mMzaOd3HUSiZUOAE7t11uLnjf3ftF87N2xm4knHnWEKcVK4IYIUDA=="
WASM_SHA256="06338c955b03c5700aa0069015d3e392d76836ef8e2ce25bedbe59b88ccd373c"

root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${HOOKLINE_CACHE:-$root/.cache}
dest="$cache/micropython/$VERSION"
wasm="$dest/micropython.wasm"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

required=0
for arg in "$@"; do [ "$arg" = "--require-sandbox" ] && required=1; done
give_up() { echo "micropython.sh: $1" >&2; exit "$required"; }

if [ -f "$wasm" ] && [ "$(sha256_of "$wasm")" = "$WASM_SHA256" ]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  give_up "npm is missing; the Python guest cannot be built"
fi

echo "setup: fetching $PKG@$VERSION"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$tmp" && npm pack --loglevel=error "$PKG@$VERSION" >/dev/null 2>"$tmp/npm.err") || {
  cat "$tmp/npm.err" >&2
  give_up "npm pack failed; the Python guest cannot be built"; }
tgz=$(ls "$tmp"/*.tgz)

# npm's integrity string is the base64 of the tarball's sha512.
if command -v openssl >/dev/null 2>&1; then
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 | tr -d '\n')"
else
  got="sha512-$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
fi
if [ "$got" != "$INTEGRITY" ]; then
  echo "micropython.sh: integrity mismatch for $PKG@$VERSION" >&2
  echo "  expected $INTEGRITY" >&2
  echo "  got      $got" >&2
  exit 1
fi

tar -xzf "$tgz" -C "$tmp" package/micropython.wasm package/package.json
if [ "$(sha256_of "$tmp/package/micropython.wasm")" != "$WASM_SHA256" ]; then
  echo "micropython.sh: sha256 mismatch for micropython.wasm" >&2
  exit 1
fi

mkdir -p "$dest"
cp "$tmp/package/package.json" "$dest/"
# The .wasm last: its presence means the fetch is complete.
cp "$tmp/package/micropython.wasm" "$wasm.tmp"
mv "$wasm.tmp" "$wasm"
