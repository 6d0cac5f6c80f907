#!/bin/sh
# lib/sandbox/build_id.sh - prints the header hl_sandbox_build_id.h: a
# hash of the files given (what decides the sandbox template's layout),
# which snapshot files carry and the library checks (snapshot_file.c).
set -eu
id=$(cat "$@" | sha256sum | cut -c1-40)
printf '#define HL_SANDBOX_BUILD_ID "%s"\n' "$id"
