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
tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

python3 "$server" > "$tmp/port" &
server_pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
port=$(head -n1 "$tmp/port")
[ -n "$port" ] || { echo "test server did not start"; exit 1; }

status=0
OPENAI_BASE_URL="http://127.0.0.1:$port/v1" OPENAI_API_KEY="sk-readme" \
  "$example" "$model" > "$tmp/out" 2> "$tmp/err" || status=$?
cat "$tmp/out" "$tmp/err"
[ "$status" -eq 0 ] || { echo "FAIL: example exited with $status"; exit 1; }
for check in "$@"; do
  stream=${check%%:*} regex=${check#*:}
  grep -q -- "$regex" "$tmp/$stream" || { echo "FAIL: no line matching '$regex' on std$stream"; exit 1; }
done
echo "readme example $model ok"
