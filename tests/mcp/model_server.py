#!/usr/bin/env python3
"""tests/mcp/model_server.py - an OpenAI Chat Completions server for the
README's MCP example: the model calls get-sum {"a": 2, "b": 40} when that
tool is declared, then answers "Final: <the tool's result>". Without the
tool declared it answers "no get-sum tool" (the test then fails). Binds
127.0.0.1 on an ephemeral port, prints it, serves until killed.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        msgs = body.get("messages", [])
        tools = [t["function"]["name"] for t in body.get("tools", [])]
        results = [m.get("content") for m in msgs if m.get("role") == "tool"]
        msg = {"role": "assistant", "content": None}
        if results:
            msg["content"] = "Final: " + str(results[-1])
        elif "get-sum" in tools:
            msg["tool_calls"] = [{"id": "call_1", "type": "function", "function": {
                "name": "get-sum", "arguments": json.dumps({"a": 2, "b": 40})}}]
        else:
            msg["content"] = "no get-sum tool among %s" % tools
        out = json.dumps({"id": "x", "object": "chat.completion", "model": body.get("model"),
                          "choices": [{"index": 0, "message": msg,
                                       "finish_reason": "tool_calls" if "tool_calls" in msg else "stop"}],
                          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
