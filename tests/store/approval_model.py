#!/usr/bin/env python3
"""tests/store/approval_model.py - the loopback model of the stored
interrupt tests (interrupts.py): an OpenAI Chat Completions server on
127.0.0.1 whose answers depend only on the request, so that any worker
process asking it gets the same conversation. The HTTP side is
tests/chatbot/model_server.py's ModelHandler; this file gives the answers.

POST /v1/chat/completions:
  - the last message is the user's input X: two tool calls,
    note {"text": X} (id "call_note") and delete_file {"path": "/tmp/X"}
    (id "call_del"), the second one needing approval in the workers;
  - the last message is a tool result: the text "saw: ID=CONTENT; ..." for
    the tool results after the last assistant message, in order: what the
    model was shown, written back so the test can check it.
GET /__requests returns every request body received, as a JSON array.

Run as a program: binds an ephemeral port, prints it, serves until killed.
interrupts.py imports it and serves it on a thread instead (serve()).
Standard library only.
"""
import json
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chatbot"))
import model_server  # noqa: E402  tests/chatbot/model_server.py

REQUESTS = []


class Handler(model_server.ModelHandler):
    completion_id = "chatcmpl-approval"
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    requests = REQUESTS
    lock = threading.Lock()
    record_unknown_paths = False

    def decide(self, body):
        messages = body.get("messages", [])
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            start = max(i for i, m in enumerate(messages) if m.get("role") == "assistant")
            seen = ["%s=%s" % (m.get("tool_call_id"), model_server.content_text(m.get("content")))
                    for m in messages[start + 1:] if m.get("role") == "tool"]
            return "saw: " + "; ".join(seen), []
        text = model_server.content_text(last.get("content"))
        calls = [{"id": "call_note", "type": "function",
                  "function": {"name": "note", "arguments": json.dumps({"text": text})}},
                 {"id": "call_del", "type": "function",
                  "function": {"name": "delete_file",
                               "arguments": json.dumps({"path": "/tmp/" + text})}}]
        return "", calls


def serve():
    """Start the server on a thread; returns (server, port)."""
    return model_server.serve(Handler)


if __name__ == "__main__":
    model_server.main(Handler)
