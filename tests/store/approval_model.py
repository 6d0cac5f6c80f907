#!/usr/bin/env python3
"""tests/store/approval_model.py - the loopback model of the stored
interrupt tests (interrupts.py): an OpenAI Chat Completions server on
127.0.0.1 whose answers depend only on the request, so that any worker
process asking it gets the same conversation.

POST /v1/chat/completions:
  - the last message is the user's input X: two tool calls,
    note {"text": X} (id "call_note") and delete_file {"path": "/tmp/X"}
    (id "call_del"), the second one needing approval in the workers;
  - the last message is a tool result: the text "saw: ID=CONTENT; ..." for
    the tool results after the last assistant message, in order: what the
    model was shown, written back so the test can check it.
GET /__requests returns every request body received, as a JSON array.

Run as a program: binds an ephemeral port, prints it, serves until killed.
interrupts.py imports it and serves it on a thread instead. Standard
library only.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REQUESTS = []
LOCK = threading.Lock()


def content_text(content):
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def decide(body):
    """(text, tool_calls) for a request body."""
    messages = body.get("messages", [])
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        start = max(i for i, m in enumerate(messages) if m.get("role") == "assistant")
        seen = ["%s=%s" % (m.get("tool_call_id"), content_text(m.get("content")))
                for m in messages[start + 1:] if m.get("role") == "tool"]
        return "saw: " + "; ".join(seen), []
    text = content_text(last.get("content"))
    calls = [{"id": "call_note", "type": "function",
              "function": {"name": "note", "arguments": json.dumps({"text": text})}},
             {"id": "call_del", "type": "function",
              "function": {"name": "delete_file",
                           "arguments": json.dumps({"path": "/tmp/" + text})}}]
    return "", calls


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
        if not self.path.endswith("/chat/completions"):
            return self.send_json(404, {"error": {"message": "unknown path " + self.path}})
        with LOCK:
            REQUESTS.append(body)
        text, calls = decide(body)
        message = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        self.send_json(200, {
            "id": "chatcmpl-approval", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})


def serve():
    """Start the server on a thread; returns (server, port)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
