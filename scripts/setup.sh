#!/bin/sh
# scripts/setup.sh - install what hookline needs on a Debian machine.
# Idempotent; prints nothing when everything is present. Called by
# `make demo`, `make test` (with --require-sandbox) and `make bench`.
set -eu

# Debian packages: build, required libraries, sandbox tools, test tools
# (clang and its runtime libraries, libclang-rt-dev, for the fuzz targets:
# libFuzzer is only a recommendation of clang, and set-up skips those;
# zlib1g-dev for the OpenTelemetry exporter's gzip, which libcurl does not
# pull in).
PKGS="gcc libc6-dev ca-certificates pkg-config meson ninja-build python3 libcurl4-openssl-dev libcjson-dev \
wabt nodejs npm tmux libedit-dev clang libclang-rt-dev openssl zlib1g-dev"

here=$(dirname "$0")
. "$here/setup.d/apt.inc"

# shellcheck disable=SC2086
apt_missing $PKGS
# npm may come from elsewhere (nodesource, nvm): a working command is enough.
case " $missing " in *" npm "*) command -v npm >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ npm//') ;; esac
case " $missing " in *" nodejs "*) command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//') ;; esac

apt_install "hookline" required

# Parts of the project with their own pinned downloads; they get our
# arguments (--require-sandbox from `make test`).
for step in "$here"/setup.d/*.sh; do
  [ -f "$step" ] && sh "$step" "$@"
done
exit 0
