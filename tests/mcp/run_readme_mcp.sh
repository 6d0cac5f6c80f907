#!/bin/sh
# tests/mcp/run_readme_mcp.sh - run the README's MCP example (extracted from
# README.md at build time) with server-everything over stdio and a local
# OpenAI-format model (model_server.py) that calls get-sum: the answer
# must carry the MCP server's result.
# usage: run_readme_mcp.sh EXAMPLE MODEL_SERVER_PY EVERYTHING_INDEX_JS
set -u
example=$1 server=$2 everything=$3
. "$(dirname "$0")/../readme/model_server.sh"
start_model_server "$server"
status=0
"$example" "node $everything stdio" > "$tmp/out" 2> "$tmp/err" || status=$?
cat "$tmp/out" "$tmp/err"
[ "$status" -eq 0 ] || { echo "FAIL: example exited with $status"; exit 1; }
grep -q "^Final: The sum of 2 and 40 is 42." "$tmp/out" || { echo "FAIL: the MCP tool's result did not reach the answer"; exit 1; }
echo "readme mcp example ok"
