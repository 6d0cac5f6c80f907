# tests/readme/model_server.sh - sourced by the README test scripts that run
# an example against a loopback model server (tests/providers/server.py or
# tests/mcp/model_server.py): one way to start it, wait for its port and
# stop it, instead of a copy in each script.
#
# usage:  . model_server.sh; start_model_server SERVER_PY
# sets:   tmp (a scratch directory removed at exit), port, server_pid and
#         OPENAI_BASE_URL / OPENAI_API_KEY (exported) for the example.
tmp=$(mktemp -d)
server_pid=
stop_model_server() {
  # || true: under set -e the killed server's status (143) would become ours
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap stop_model_server EXIT
trap 'exit 130' INT TERM

start_model_server() {
  python3 "$1" > "$tmp/port" &
  server_pid=$!
  i=0
  while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  port=$(head -n1 "$tmp/port")
  [ -n "$port" ] || { echo "FAIL: model server $1 did not start"; exit 1; }
  OPENAI_BASE_URL="http://127.0.0.1:$port/v1" OPENAI_API_KEY="sk-readme"
  export OPENAI_BASE_URL OPENAI_API_KEY
}
