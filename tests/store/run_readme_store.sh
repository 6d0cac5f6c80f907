#!/bin/sh
# The README's store example (built from README.md), run twice as two
# processes on one conversation in a throwaway PostgreSQL (servers.py
# gives HL_TEST_PG_URL) against tests/providers/server.py: the second run
# must find the first turn in the database and add its own.
set -eu
example=$1 server=$2
. "$(dirname "$0")/../readme/model_server.sh"
start_model_server "$server"
export MODEL="text@readme-store"

"$example" "$HL_TEST_PG_URL" "alice-42" "Where is my order?" > "$tmp/one"
cat "$tmp/one"
grep -q "Hello, world" "$tmp/one" || { echo "FAIL: no answer"; exit 1; }
grep -q "(2 messages, version 2)" "$tmp/one" || { echo "FAIL: first turn not stored"; exit 1; }
"$example" "$HL_TEST_PG_URL" "alice-42" "And when will it arrive?" > "$tmp/two"
cat "$tmp/two"
grep -q "(4 messages, version 4)" "$tmp/two" || { echo "FAIL: second process did not continue"; exit 1; }
# the model was sent the first turn too
python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "http://127.0.0.1:$port/__stats?model=text@readme-store" | grep -q "Where is my order" ||
  { echo "FAIL: the second request lacked the first turn"; exit 1; }
status=0
"$example" "sqlite:/nonexistent-dir/x.sqlite" "a" "q" 2> "$tmp/err" || status=$?
[ "$status" -eq 1 ] && grep -q "nonexistent-dir" "$tmp/err" || { echo "FAIL: bad store URL"; exit 1; }
echo "readme store example ok"
