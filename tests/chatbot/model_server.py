#!/usr/bin/env python3
"""tests/chatbot/model_server.py - the loopback OpenAI Chat Completions
server of the chatbot tests, and the request handling every loopback model
of the tests shares (tests/store/approval_model.py subclasses ModelHandler
with its own answers).

ModelHandler serves POST /v1/chat/completions with what its decide(body)
returns, (text, tool_calls), as one JSON completion or, with "stream":
true, as server-sent events (the text in small pieces, then the calls);
GET /__requests returns every request recorded (record(body)), as a JSON
array; the model "unauthorized" gets HTTP 401.

This module's own model (CalculatorHandler) behaves like a model that uses
the calculator:
  - no tool result yet in the conversation: it answers with one tool call,
    calculator {"expression": X}, where X is what follows "what is" in the
    last user message;
  - otherwise: the text "The answer is R." with R the last tool result.
A user message "run python: CODE" gets a run_python call with that code.
The model "slow-stream" waits 0.4 s before each streamed piece, so a test
can watch them arrive. The model "control-chars" is a hostile one: its tool
call's expression and its answer carry terminal control sequences (see
HOSTILE_TEXT). Its requests are recorded as {"body",
"authorization"}.

Started with no arguments: binds 127.0.0.1 on an ephemeral port, prints the
port on stdout, serves until killed. Standard library only.
"""
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ModelHandler(BaseHTTPRequestHandler):
    """A Chat Completions endpoint; subclasses set decide (and may set
    record, completion_id, usage, requests, lock, record_unknown_paths)."""
    protocol_version = "HTTP/1.1"
    completion_id = "chatcmpl-test"
    usage = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    requests = []           # every recorded request, shared by the class's server
    lock = threading.Lock()
    record_unknown_paths = True  # record a POST to another path too

    def decide(self, body):
        """(text, tool_calls) for a request body."""
        raise NotImplementedError

    def record(self, body):
        """What /__requests lists for this request."""
        return body

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
            with self.lock:
                self.send_json(200, self.requests)
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        known = self.path.endswith("/chat/completions")
        if known or self.record_unknown_paths:
            with self.lock:
                self.requests.append(self.record(body))
        if not known:
            return self.send_json(404, {"error": {"message": "unknown path " + self.path}})
        if body.get("model") == "unauthorized":
            return self.send_json(401, {"error": {"message": "Incorrect API key provided",
                                                  "type": "invalid_request_error"}})
        text, calls = self.decide(body)
        finish = "tool_calls" if calls else "stop"
        if not body.get("stream"):
            msg = {"role": "assistant", "content": text or None}
            if calls:
                msg["tool_calls"] = calls
            return self.send_json(200, {
                "id": self.completion_id, "object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                "usage": self.usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()

        def event(delta, fin=None, use=None):
            chunk = {"id": self.completion_id, "object": "chat.completion.chunk",
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
        event({}, finish, self.usage)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def content_text(content, sep=""):
    """A message's content as text (a string, or content parts joined)."""
    if isinstance(content, list):
        return sep.join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


# What a terminal would obey: set the window title (OSC 0), clear the screen
# and home the cursor, hide text (SGR 8), overwrite the line (CR), a C1 CSI
# (U+009B), write the clipboard (OSC 52), ring the bell.
HOSTILE_TEXT = ("before\x1b]0;PWNED-TITLE\x07 \x1b[2J\x1b[Hcleared \x1b[8mhidden\x1b[0m"
                " over\rXX \u009b31mc1 \x1b]52;c;SGVsbG8=\x07end")


class CalculatorHandler(ModelHandler):
    requests = []
    lock = threading.Lock()

    def record(self, body):
        return {"body": body, "authorization": self.headers.get("Authorization")}

    def decide(self, body):
        messages = body.get("messages", [])
        results = [m.get("content", "") for m in messages if m.get("role") == "tool"]
        if body.get("model") == "control-chars":
            if results:
                return HOSTILE_TEXT, []
            call = {"id": "call_cc", "type": "function",
                    "function": {"name": "calculator",
                                 "arguments": json.dumps({"expression": "1+\x1b]0;TOOL-TITLE\x07"})}}
            return "", [call]
        if results:
            return f"The answer is {results[-1]}.", []
        user = next((m.get("content", "") for m in reversed(messages)
                     if m.get("role") == "user"), "")
        user = content_text(user, " ")
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


def serve(handler):
    """Serve `handler` on a thread; returns (server, port)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def main(handler=CalculatorHandler):
    """Serve `handler` in this process: print the port, serve until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
