#!/usr/bin/env python3
"""hookline-chat with MCP servers: --mcp-stdio "command" and --mcp URL
(server-everything, over stdio and over Streamable HTTP on a free
127.0.0.1 port) add the servers' tools, the model calls them, /tools shows
where each comes from, and a server that cannot be reached stops the
start with one clear line.

Usage: test_chat_mcp.py PATH/TO/hookline-chat PATH/TO/everything/index.js
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chatbot"))
from chatlib import check, clean_env, finish, run  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
EVERYTHING = sys.argv[2]
if not os.path.exists(EVERYTHING):
    print(f"server-everything missing at {EVERYTHING}: run scripts/setup.sh", file=sys.stderr)
    sys.exit(1)
TMP = tempfile.mkdtemp(prefix="hlchat-mcp-")
ENV = clean_env(TMP)
STDIO = f"node {EVERYTHING} stdio"

SCRIPT = os.path.join(TMP, "script.json")
with open(SCRIPT, "w") as f:
    json.dump({"responses": [
        {"tool_calls": [{"id": "c1", "name": "echo", "arguments": {"message": "from the chat"}},
                        {"id": "c2", "name": "get-sum", "arguments": {"a": 20, "b": 22}}]},
        {"text": "The server said {{result}}"}]}, f)


def chat(*args, stdin=subprocess.DEVNULL, input=None, timeout=120):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, env=ENV,
                          timeout=timeout, stdin=None if input is not None else stdin, input=input)


def check_calls(r, how):
    check(r.returncode == 0, f"{how}: exit 0, got {r.returncode}: {r.stderr}")
    if r.returncode != 0:
        return
    out = json.loads(r.stdout)
    calls = {c["name"]: c for c in out["tool_calls"]}
    check(calls.get("echo", {}).get("result") == "Echo: from the chat", f"{how}: echo ran on the server: {calls}")
    check("is 42" in str(calls.get("get-sum", {}).get("result")), f"{how}: get-sum ran: {calls}")


def test_stdio_server_tools_called():
    check_calls(chat("--mcp-stdio", STDIO, "--script", SCRIPT, "-p", "use the server", "--json"), "stdio")


def test_http_server_tools_called():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, PORT=str(port))
    server = subprocess.Popen(["node", EVERYTHING, "streamableHttp"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/mcp"
        check_calls(chat("--mcp", url, "--script", SCRIPT, "-p", "use the server", "--json"), "http")
        # Both transports at once: two servers with the same tool names clash clearly.
        r = chat("--mcp", url, "--mcp-stdio", STDIO, "-p", "hi")
        check(r.returncode != 0 and "same tool name" in r.stderr, f"a clash is refused: {r.stderr!r}")
    finally:
        server.terminate()
        server.wait()


def test_tools_command_shows_the_source():
    r = chat("--mcp-stdio", STDIO, input="/tools\n/quit\n")
    check(r.returncode == 0, f"exit 0: {r.returncode} {r.stderr}")
    check("calculator(expression: string)  [built-in]" in r.stdout, f"built-in tools marked: {r.stdout[-2000:]}")
    check("echo(message: string)  [mcp: mcp-servers/everything]" in r.stdout,
          f"MCP tools name their server: {r.stdout[-2000:]}")


def test_unreachable_server_is_one_clear_line():
    r = chat("--mcp", "http://127.0.0.1:1/mcp", "-p", "hi")
    check(r.returncode != 0, "exit non-zero")
    check(r.stderr.count("\n") == 1 and "127.0.0.1:1" in r.stderr, f"one line naming the server: {r.stderr!r}")
    r = chat("--mcp-stdio", "/nonexistent/server", "-p", "hi")
    check(r.returncode != 0 and "cannot start /nonexistent/server" in r.stderr, f"bad command: {r.stderr!r}")
    r = chat("--mcp", "not-a-url", "-p", "hi")
    check(r.returncode == 2 and "--mcp needs an http" in r.stderr, f"bad URL: {r.returncode} {r.stderr!r}")


run(test_stdio_server_tools_called)
run(test_http_server_tools_called)
run(test_tools_command_shows_the_source)
run(test_unreachable_server_is_one_clear_line)
shutil.rmtree(TMP, True)
finish()
