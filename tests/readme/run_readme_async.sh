#!/bin/sh
# Run the README's asynchronous example against tests/providers/server.py:
# 100 runs started with hl_run_start at once must all answer.
set -eu
example=$1 server=$2
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
  "$example" "text@readme-async" > "$tmp/out" 2> "$tmp/err" || status=$?
cat "$tmp/out" "$tmp/err"
[ "$status" -eq 0 ] || { echo "FAIL: example exited with $status"; exit 1; }
grep -q "^100 of 100 runs answered" "$tmp/out" || { echo "FAIL: not every run answered"; exit 1; }
grep -q "^last answer: Hello, world!" "$tmp/out" || { echo "FAIL: no answer text"; exit 1; }
echo "readme async example ok"
