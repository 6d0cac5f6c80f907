#!/bin/sh
# Extract the first ```c block of README.md, build it against the library
# in the build tree, run it against tests/providers/server.py and check that
# the model's two tool calls reached the tool and the final answer came back.
set -eu
src=$1 build=$2
tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

awk '/^```c$/{f=1;next} /^```$/{if(f)exit} f' "$src/README.md" > "$tmp/example.c"
[ -s "$tmp/example.c" ] || { echo "no C example in README.md"; exit 1; }

cc -std=c11 -Wall -Wextra -Werror -I"$src/include" $(pkg-config --cflags libcjson) \
  -o "$tmp/example" "$tmp/example.c" "$build/libhookline.a" \
  $(pkg-config --libs libcurl libcjson) -lpthread -lm

python3 "$src/tests/providers/server.py" > "$tmp/port" &
server_pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
port=$(head -n1 "$tmp/port")
[ -n "$port" ] || { echo "test server did not start"; exit 1; }

# Scenario "agent": the model asks for get_weather and get_time, then answers
# with the tool results it was sent ("Final: <result> | <result>").
OPENAI_BASE_URL="http://127.0.0.1:$port/v1" OPENAI_API_KEY="sk-readme" \
  "$tmp/example" "agent@readme" > "$tmp/out" 2> "$tmp/err"
cat "$tmp/out" "$tmp/err"
grep -q "^Final: " "$tmp/out" || { echo "FAIL: no final answer"; exit 1; }
grep -q "sunny, 21 C" "$tmp/out" || { echo "FAIL: the tool's result did not reach the model"; exit 1; }
grep -q "tool call: get_weather" "$tmp/err" || { echo "FAIL: the before_tool hook did not run"; exit 1; }
echo "readme example ok"
