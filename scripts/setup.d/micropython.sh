#!/bin/sh
# scripts/setup.d/micropython.sh - fetch the pinned MicroPython WebAssembly
# module that the Python guest of the sandbox (lib/sandbox/py_*.c)
# translates with wasm2c at build time.
#
# Fetched by npm_wasm.inc: the npm tarball is checked against its sha512
# integrity and the extracted .wasm against a sha256 recorded here. Output
# goes to $HOOKLINE_CACHE (default: .cache/ under the repository,
# git-ignored). Prints nothing when already present. Without it the build
# still succeeds; the Python guest then answers HL_ERR_UNSUPPORTED and its
# tests skip, except under --require-sandbox (`make test`), where a failed
# fetch is an error.

PKG="@micropython/micropython-webassembly-pyscript"
VERSION="1.27.0"
INTEGRITY="sha512-DnXx4EqxgkeaFESrS3uKrL7mLMk4mRTd0mMzaOd3HUSiZUOAE7t11uLnjf3ftF87N2xm4knHnWEKcVK4IYIUDA=="
WASM_SHA256="06338c955b03c5700aa0069015d3e392d76836ef8e2ce25bedbe59b88ccd373c"

STEP="micropython"
WASM="package/micropython.wasm"
EXTRA="package/package.json"
WHAT="the Python guest"
. "$(dirname "$0")/npm_wasm.inc"
