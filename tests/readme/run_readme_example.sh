#!/bin/sh
# Run the README's example (built from README.md) against
# tests/providers/server.py and check that the model's tool call reached the
# tool through the before_tool hook and the final answer came back.
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

# Scenario "agent": the model asks for get_weather and get_time, then answers
# with the tool results it was sent ("Final: <result> | <result>").
status=0
OPENAI_BASE_URL="http://127.0.0.1:$port/v1" OPENAI_API_KEY="sk-readme" \
  "$example" "agent@readme" > "$tmp/out" 2> "$tmp/err" || status=$?
cat "$tmp/out" "$tmp/err"
[ "$status" -eq 0 ] || { echo "FAIL: example exited with $status"; exit 1; }
grep -q "^Final: " "$tmp/out" || { echo "FAIL: no final answer"; exit 1; }
grep -q "sunny, 21 C" "$tmp/out" || { echo "FAIL: the tool's result did not reach the model"; exit 1; }
grep -q "tool call: get_weather" "$tmp/err" || { echo "FAIL: the before_tool hook did not run"; exit 1; }
echo "readme example ok"
