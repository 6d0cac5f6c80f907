#!/bin/sh
# scripts/setup.d/store.sh - what the session store (lib/store) and its
# tests need from Debian: the SQLite, PostgreSQL and Redis client
# libraries, and the PostgreSQL 15 and Redis servers that tests/store
# starts (throwaway instances in temporary directories; the package's own
# system cluster and service are never used). Prints nothing when all is
# present. Without root or apt-get this is not fatal: the backends whose
# libraries are missing are left out of the build and say so when opened.
set -eu

PKGS="libsqlite3-dev libpq-dev postgresql redis-server libhiredis-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "setup: the session store's tests need:$missing (apt-get install as root)" >&2; exit 0; fi
echo "setup: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql and redis-server packages start a system service when
# installed where services run; policy-rc.d (if the machine has one) or a
# container without init keeps them off. The tests never use them.
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
