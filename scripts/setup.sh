#!/bin/sh
# scripts/setup.sh - install what hookline needs on a Debian machine.
# Idempotent; prints nothing when everything is present. Called by
# `make demo`, `make test` (with --require-sandbox) and `make bench`.
set -eu

# Debian packages: build, required libraries, sandbox tools, test tools
# (clang and its runtime libraries, libclang-rt-dev, for the fuzz targets:
# libFuzzer is only a recommendation of clang, and set-up skips those).
PKGS="gcc libc6-dev ca-certificates pkg-config meson ninja-build python3 libcurl4-openssl-dev libcjson-dev \
wabt nodejs npm tmux libedit-dev clang libclang-rt-dev"

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
# npm may come from elsewhere (nodesource, nvm): a working command is enough.
case " $missing " in *" npm "*) command -v npm >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ npm//') ;; esac
case " $missing " in *" nodejs "*) command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//') ;; esac

if [ -n "$missing" ]; then
  echo "setup: installing:$missing"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: need root to run: apt-get install$missing" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Parts of the project with their own pinned downloads; they get our
# arguments (--require-sandbox from `make test`).
here=$(dirname "$0")
for step in "$here"/setup.d/*.sh; do
  [ -f "$step" ] && sh "$step" "$@"
done
exit 0
