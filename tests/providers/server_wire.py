#!/usr/bin/env python3
"""Local model server for test_providers_wire.c: canned answers in the
four published wire formats (OpenAI Chat Completions, Anthropic Messages,
OpenAI Responses, Gemini) for the parts of those formats a provider can
meet only in part: refusals, every stop reason, blocks and events a
provider does not keep, hostile streams.

A model named "xw<scenario>@<tag>" (Gemini: "xw<scenario>__<tag>", the
model travels in the URL) gets SCENARIOS[scenario](fmt, stream, n, body,
model), where n counts this model's requests (1 for the first). It
returns a dict (a 2xx JSON body) or a list of stream events, each a dict
(its data) or a pair (event name, dict or raw text). Streams go out in
7-byte HTTP chunks. Every other model goes to server_v3.py's handler
(and /__stats to server.py's). Standard library only.
"""
import json
import urllib.parse

import server
import server_v3
from server import dumps, record


# ------------------------------------------------- Chat Completions pieces

def oa_body(model, message, finish, usage=None):
    return {"id": "chatcmpl-w", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": dict({"role": "assistant"}, **message),
                         "finish_reason": finish}],
            "usage": usage}


def oa_chunk(model, delta, finish=None, usage=None, choices=True):
    c = {"id": "chatcmpl-w", "object": "chat.completion.chunk", "created": 1, "model": model,
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else [],
         "usage": usage}
    return c


OA_USAGE = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
REFUSAL = "I can't help with that."


# ------------------------------------------------------------- scenarios

def refusal(fmt, stream, n, body, model):
    """Chat Completions: the model refuses (content null, refusal set)."""
    if not stream:
        return oa_body(model, {"content": None, "refusal": REFUSAL}, "stop", OA_USAGE)
    return [oa_chunk(model, {"role": "assistant", "content": None, "refusal": ""}),
            oa_chunk(model, {"refusal": "I can't "}),
            oa_chunk(model, {"refusal": "help with that."}),
            oa_chunk(model, {}, "stop"),
            oa_chunk(model, None, usage=OA_USAGE, choices=False),
            (None, "[DONE]")]


SCENARIOS = {
    "refusal": refusal,
}


class Handler(server_v3.Handler):
    def dispatch(self, method, target, headers, raw):
        path = urllib.parse.urlparse(target).path
        if path.startswith("/v1beta/"):
            path = "/v1/" + path[len("/v1beta/"):]
        if method != "POST" or "xw" not in path + raw[:4096].decode("utf-8", "replace"):
            return super().dispatch(method, target, headers, raw)
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            return super().dispatch(method, target, headers, raw)
        fmt = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic",
               "/v1/responses": "responses"}.get(path)
        model = body.get("model", "") if fmt else ""
        if not fmt and path.startswith("/v1/models/") and ":" in path:
            fmt, model = "gemini", path[len("/v1/models/"):].rsplit(":", 1)[0]
        if not fmt or not model.startswith("xw"):
            return super().dispatch(method, target, headers, raw)
        scenario = model[2:].split("__" if fmt == "gemini" else "@", 1)[0]
        stream = bool(body.get("stream")) or "streamGenerateContent" in target
        headers = dict(headers)
        headers[":path"] = target
        n = record(model, self.client_address[1], body, headers)
        reply = SCENARIOS[scenario](fmt, stream, n, body, model)
        if isinstance(reply, dict):
            self.send(200, dumps(reply).encode("utf-8"))
            return True
        events = []
        for e in reply:
            name, data = e if isinstance(e, tuple) else (None, e)
            events.append((name, data if isinstance(data, str) else dumps(data)))
        return self.small_chunks(server.sse_bytes(events))


def main():
    srv = server.Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
