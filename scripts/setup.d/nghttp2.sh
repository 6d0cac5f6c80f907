#!/bin/sh
# scripts/setup.d/nghttp2.sh - libnghttp2's headers for the HTTP/2
# cleartext (h2c) mode of the benchmarks' mock server and for the
# provider test that runs hookline over h2c (tests/providers). Prints
# nothing when present. Without root or apt-get this is not fatal: the
# mock server is then built without --h2c and the h2 test says it skips.
set -eu

PKGS="libnghttp2-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "setup: HTTP/2 benchmarks and tests need:$missing (apt-get install as root)" >&2; exit 0; fi
echo "setup: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
