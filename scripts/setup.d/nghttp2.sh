#!/bin/sh
# scripts/setup.d/nghttp2.sh - libnghttp2's headers for the HTTP/2
# cleartext (h2c) mode of the benchmarks' mock server and for the
# provider test that runs hookline over h2c (tests/providers). Prints
# nothing when present. Without root or apt-get this is not fatal: the
# mock server is then built without --h2c and the h2 test says it skips.
set -eu

PKGS="libnghttp2-dev"
. "$(dirname "$0")/apt.inc"
# shellcheck disable=SC2086
apt_missing $PKGS
apt_install "HTTP/2 benchmarks and tests" optional || exit 0
