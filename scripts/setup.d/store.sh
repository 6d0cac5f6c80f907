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
. "$(dirname "$0")/apt.inc"
# shellcheck disable=SC2086
apt_missing $PKGS
# Debian's postgresql and redis-server packages start a system service when
# installed where services run; policy-rc.d (if the machine has one) or a
# container without init keeps them off. The tests never use them.
apt_install "the session store's tests" optional || exit 0
