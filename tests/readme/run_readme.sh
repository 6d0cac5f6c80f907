#!/bin/sh
# Run one README example (built from README.md) against
# tests/providers/server.py and check what it printed.
#
# usage: run_readme.sh EXAMPLE SERVER MODEL CHECK...
#   MODEL  the server scenario the example is run with (its first argument)
#   CHECK  out:REGEX or err:REGEX, each a line the example must print on
#          stdout or stderr; the first failing check is reported by its regex
set -eu
example=$1 server=$2 model=$3
shift 3
. "$(dirname "$0")/model_server.sh"
start_model_server "$server"

status=0
"$example" "$model" > "$tmp/out" 2> "$tmp/err" || status=$?
cat "$tmp/out" "$tmp/err"
[ "$status" -eq 0 ] || { echo "FAIL: example exited with $status"; exit 1; }
for check in "$@"; do
  stream=${check%%:*} regex=${check#*:}
  grep -q -- "$regex" "$tmp/$stream" || { echo "FAIL: no line matching '$regex' on std$stream"; exit 1; }
done
echo "readme example $model ok"
