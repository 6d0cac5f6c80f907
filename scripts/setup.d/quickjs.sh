#!/bin/sh
# scripts/setup.d/quickjs.sh - fetch the pinned QuickJS WebAssembly module
# that the sandbox (lib/sandbox) translates with wasm2c at build time.
#
# The npm tarball is checked against its registry sha512 integrity and the
# extracted .wasm against a sha256 recorded here, so a changed upstream file
# never reaches the build. Output goes to $HOOKLINE_CACHE (default: .cache/
# under the repository, git-ignored). Fetched by npm_wasm.inc.

PKG="@jitl/quickjs-wasmfile-release-sync"
VERSION="0.32.0"
INTEGRITY="sha512-BKNDI/TPBfGlLNGYpLrhcDGXmIk4xHm4MRAisOBnOzpXVn9HZWsfmMAc9WMBrAHjvvds6HOikKeaOBKdPdpVrg=="
WASM_SHA256="105c3bed22d457e43e3d1c3c1c6959fda62a8fe06f0fc8a985303c3a2be72232"

STEP="quickjs"
WASM="package/dist/emscripten-module.wasm"
EXTRA="package/dist/emscripten-module.mjs package/LICENSE"
WHAT="the sandbox"
. "$(dirname "$0")/npm_wasm.inc"
