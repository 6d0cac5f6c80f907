#!/bin/sh
# scripts/setup.d/tls.sh - OpenSSL's headers for the HTTPS side of the
# benchmarks' mock server (bench/mock_tls.c: a throwaway CA made at run
# time, ALPN h2 and http/1.1) and for the provider test that runs hookline
# over HTTP/2 with TLS (tests/providers/test_h2tls.c). Prints nothing when
# present. Without root or apt-get this is not fatal: the mock server is
# then built without --tls and the TLS test says it skips.
set -eu

PKGS="libssl-dev"
. "$(dirname "$0")/apt.inc"
# shellcheck disable=SC2086
apt_missing $PKGS
apt_install "HTTPS benchmarks and tests" optional || exit 0
