#!/bin/sh
# tests/mcp/run_readme_mcp.sh - run the README's MCP example (extracted from
# README.md at build time) with server-everything over stdio and a local
# OpenAI-format model (model_server.py) that calls get-sum: the answer
# must carry the MCP server's result.
# usage: run_readme_mcp.sh EXAMPLE MODEL_SERVER_PY EVERYTHING_INDEX_JS
set -u
example=$1 server=$2 everything=$3
tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
python3 "$server" > "$tmp/port" &
server_pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
port=$(head -n1 "$tmp/port")
[ -n "$port" ] || { echo "FAIL: model server did not start"; exit 1; }
status=0
OPENAI_BASE_URL="http://127.0.0.1:$port/v1" OPENAI_API_KEY="sk-readme" \
  "$example" "node $everything stdio" > "$tmp/out" 2> "$tmp/err" || status=$?
cat "$tmp/out" "$tmp/err"
[ "$status" -eq 0 ] || { echo "FAIL: example exited with $status"; exit 1; }
grep -q "^Final: The sum of 2 and 40 is 42." "$tmp/out" || { echo "FAIL: the MCP tool's result did not reach the answer"; exit 1; }
echo "readme mcp example ok"
