#!/usr/bin/env python3
"""A minimal OpenAI Chat Completions server for the chatbot tests.

POST /v1/chat/completions behaves like a model that uses the calculator:
  - no tool result yet in the conversation: it answers with one tool call,
    calculator {"expression": X}, where X is what follows "what is" in the
    last user message;
  - otherwise: the text "The answer is R." with R the last tool result.
A user message "run python: CODE" gets a run_python call with that code.
With "stream": true the same answer comes as server-sent events, the text
in small pieces (the model "slow-stream" waits 0.4 s before each piece, so
a test can watch them arrive). The model "unauthorized" gets HTTP 401.
GET /__requests returns every request body received, as a JSON array.

Started with no arguments: binds 127.0.0.1 on an ephemeral port, prints the
port on stdout, serves until killed. Standard library only.
"""
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REQUESTS = []
LOCK = threading.Lock()


def decide(body):
    """(text, tool_calls) for a request body."""
    messages = body.get("messages", [])
    results = [m.get("content", "") for m in messages if m.get("role") == "tool"]
    if results:
        return f"The answer is {results[-1]}.", []
    user = next((m.get("content", "") for m in reversed(messages)
                 if m.get("role") == "user"), "")
    if isinstance(user, list):  # content parts
        user = " ".join(p.get("text", "") for p in user if isinstance(p, dict))
    if user.startswith("run python: "):
        call = {"id": "call_py", "type": "function",
                "function": {"name": "run_python",
                             "arguments": json.dumps({"code": user[len("run python: "):]})}}
        return "", [call]
    m = re.search(r"what is (.+?)\??$", user.strip(), re.I)
    if not m:
        return "Ask me what something is.", []
    call = {"id": "call_1", "type": "function",
            "function": {"name": "calculator",
                         "arguments": json.dumps({"expression": m.group(1)})}}
    return "", [call]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/__requests"):
            with LOCK:
                self.send_json(200, REQUESTS)
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        with LOCK:
            REQUESTS.append({"body": body,
                             "authorization": self.headers.get("Authorization")})
        if not self.path.endswith("/chat/completions"):
            return self.send_json(404, {"error": {"message": "unknown path " + self.path}})
        if body.get("model") == "unauthorized":
            return self.send_json(401, {"error": {"message": "Incorrect API key provided",
                                                  "type": "invalid_request_error"}})
        text, calls = decide(body)
        finish = "tool_calls" if calls else "stop"
        usage = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
        if not body.get("stream"):
            msg = {"role": "assistant", "content": text or None}
            if calls:
                msg["tool_calls"] = calls
            return self.send_json(200, {
                "id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()

        def event(delta, fin=None, use=None):
            chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk",
                     "model": body.get("model"),
                     "choices": [{"index": 0, "delta": delta, "finish_reason": fin}]}
            if use:
                chunk["usage"] = use
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()

        event({"role": "assistant", "content": ""})
        for i in range(0, len(text), 4):
            if body.get("model") == "slow-stream":
                time.sleep(0.4)
            event({"content": text[i:i + 4]})
        for i, c in enumerate(calls):
            event({"tool_calls": [dict(c, index=i)]})
        event({}, finish, usage)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
