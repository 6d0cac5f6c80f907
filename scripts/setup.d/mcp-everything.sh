#!/bin/sh
# scripts/setup.d/mcp-everything.sh - install the pinned MCP reference server
# (@modelcontextprotocol/server-everything) that tests/mcp drives over stdio
# and Streamable HTTP.
#
# Pinned twice: the package's own registry sha512 integrity is checked here
# against the value below before anything is installed, and `npm ci` installs
# the whole dependency tree from the committed package-lock.json (npm checks
# each tarball against the lock's integrity). Installs into
# $HOOKLINE_CACHE/mcp-everything/<version> (default .cache/, git-ignored).
# Prints nothing when already present. Without npm or the network this is
# not fatal for `make demo`; the mcp suite then reports the server missing.
set -eu

PKG="@modelcontextprotocol/server-everything"
VERSION="2026.8.31"
INTEGRITY="sha512-5U3OZh8Xq0Li4nA26l6uNvV9/1suMDuWSn+NjLZIhzinhMY6N3A4DCrxVecBGPf2PsNFKTEv5krxGPRwzxc7jQ=="

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${HOOKLINE_CACHE:-$root/.cache}
dest="$cache/mcp-everything/$VERSION"
done_marker="$dest/.installed"

required=0
for arg in "$@"; do [ "$arg" = "--require-sandbox" ] && required=1; done
give_up() { echo "mcp-everything.sh: $1" >&2; exit "$required"; }

if [ -f "$done_marker" ] && [ -f "$dest/node_modules/$PKG/dist/index.js" ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || give_up "npm is missing; the mcp tests need it"

# The lock must pin exactly the package and hash recorded here.
grep -q "\"integrity\": \"$INTEGRITY\"" "$here/mcp-everything/package-lock.json" ||
  { echo "mcp-everything.sh: package-lock.json does not pin $PKG@$VERSION's integrity" >&2; exit 1; }

echo "setup: installing $PKG@$VERSION"
rm -rf "$dest"
mkdir -p "$dest"
cp "$here/mcp-everything/package.json" "$here/mcp-everything/package-lock.json" "$dest/"
(cd "$dest" && npm ci --loglevel=error --no-audit --no-fund --ignore-scripts >"$dest/npm.log" 2>&1) || {
  cat "$dest/npm.log" >&2; give_up "npm ci failed"; }

# npm ci verified the tarball against the lock; check the lock's entry is
# the one installed (a tampered node_modules would not have this version).
node -e 'const p=require(process.argv[1]);if(p.version!==process.argv[2])process.exit(1)' \
  "$dest/node_modules/$PKG/package.json" "$VERSION" || { echo "mcp-everything.sh: wrong version installed" >&2; exit 1; }
touch "$done_marker"
