#!/bin/sh
# Run the README's Python example: the guest calls the host tool twice at
# once and prints what it got; the last expression is the result.
set -eu
status=0
out=$("$1" 2>&1) || status=$?
echo "$out"
[ "$status" -eq 77 ] && exit 77
[ "$status" -eq 0 ] || { echo "FAIL: example exited with $status"; exit 1; }
echo "$out" | grep -q "^stdout: Oslo, Rome$" || { echo "FAIL: no stdout from Python"; exit 1; }
echo "$out" | grep -q "^result: 42$" || { echo "FAIL: no result"; exit 1; }
echo "readme python example ok"
