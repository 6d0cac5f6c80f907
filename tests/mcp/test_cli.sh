#!/bin/sh
# tests/mcp/test_cli.sh - hookline-mcp from the shell against
# server-everything over stdio and over Streamable HTTP (started here on a
# free 127.0.0.1 port): JSON on stdout, exit 0 / 1 (tool error) / 2
# (usage, protocol, connection) with a one-line message on stderr.
# usage: test_cli.sh HOOKLINE_MCP EVERYTHING_INDEX_JS
set -u
cli=$1
everything=$2
[ -r "$everything" ] || { echo "server-everything missing at $everything: run scripts/setup.sh"; exit 1; }
tmp=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
failures=0
check() { # check NAME WANT_RC WANT_STDOUT_PART [WANT_STDERR_PART] -- command...
  name=$1 want=$2 out_part=$3 err_part=$4
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  ok=1
  [ "$rc" = "$want" ] || ok=0
  [ -z "$out_part" ] || grep -qF -- "$out_part" "$tmp/out" || ok=0
  [ -z "$err_part" ] || grep -qF -- "$err_part" "$tmp/err" || ok=0
  # failures say so in exactly one line
  if [ "$want" != 0 ] && [ "$(wc -l <"$tmp/err")" != 1 ]; then ok=0; fi
  if [ "$want" = 0 ] && [ -s "$tmp/err" ]; then ok=0; fi
  if [ $ok = 1 ]; then echo "ok   $name"; else
    echo "FAIL $name (exit $rc, want $want)"; sed 's/^/  out: /' "$tmp/out" | head -20; sed 's/^/  err: /' "$tmp/err"
    failures=$((failures + 1)); fi
}

stdio="node $everything stdio"
check stdio_list 0 '"name":	"get-sum"' "" "$cli" --list --stdio "$stdio"
check stdio_call_echo 0 '"text":	"Echo: hello there"' "" "$cli" --call echo --args '{"message":"hello there"}' --stdio "$stdio"
check stdio_structured 0 '"structuredContent":' "" "$cli" --call get-structured-content --args '{"location":"Chicago"}' --stdio "$stdio"
check stdio_tool_error 1 '"isError":	true' "the tool reported an error" "$cli" --call get-sum --args '{"a":"x"}' --stdio "$stdio"
check stdio_bad_args_json 2 "" "--args must be a JSON object" "$cli" --call echo --args '{oops' --stdio "$stdio"
check stdio_no_such_command 2 "" "cannot connect" "$cli" --list --stdio "/nonexistent/mcp-server --x"
check stdio_not_a_server 2 "" "exited with status 0" "$cli" --list --stdio "true"
check no_server 2 "" "no server" "$cli" --list
check unknown_option 2 "" "unknown option" "$cli" --frobnicate http://127.0.0.1:1/mcp

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
PORT=$port node "$everything" streamableHttp >"$tmp/server.log" 2>&1 &
server_pid=$!
i=0
while ! python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do
  i=$((i + 1)); [ $i -gt 300 ] && { echo "FAIL server-everything did not start"; cat "$tmp/server.log"; exit 1; }
  sleep 0.1
done
url="http://127.0.0.1:$port/mcp"
check http_list 0 '"name":	"echo"' "" "$cli" --list "$url"
check http_call_echo 0 '"text":	"Echo: over http"' "" "$cli" --call echo --args '{"message":"over http"}' "$url"
check http_tool_error 1 '"isError":	true' "the tool reported an error" "$cli" --call no-such-tool "$url"
check http_with_header 0 '"text":	"Echo: h"' "" "$cli" --header "Authorization: Bearer s3cret-token" --call echo --args '{"message":"h"}' "$url"
check http_wrong_path 2 "" "HTTP 404" "$cli" --list "http://127.0.0.1:$port/nope"
# A token in a header never shows in messages.
check http_secret_not_logged 2 "" "cannot connect" "$cli" --header "Authorization: Bearer s3cret-token" --list "http://127.0.0.1:$port/nope"
if grep -q s3cret "$tmp/err"; then echo "FAIL the header's token appeared on stderr"; failures=$((failures + 1)); fi
check connection_refused 2 "" "cannot connect" "$cli" --list "http://127.0.0.1:1/mcp"

[ $failures = 0 ]
