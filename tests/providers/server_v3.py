#!/usr/bin/env python3
"""Local model server for the providers-v3 tests (issue 17, second part):
the four wire formats of server.py and server_v2.py (OpenAI Chat
Completions, Anthropic Messages, OpenAI Responses, Gemini) answering the
scenarios of test_providers_v3.c, whose model names start with "x3":

  x3think   Anthropic: thinking + redacted_thinking + text + a tool call,
            then (once the tool result came) a final text; streamed in
            7-byte chunks with thinking/signature deltas in pieces
  x3echo    a plain "ok" (the tests read what was sent)
  x3cost    a tool call, then "done", with usage in every detail each API
            gives (cached, cache writes, reasoning)
  x3json_ok, x3json_fix, x3json_bad
            structured output: a valid answer; an invalid one then a valid
            one; an invalid one then one that is not JSON. Anthropic
            answers with a call of the "weather" tool.
  x3key     a 2xx answer echoing the API key (text, model, an extra field)
  x3keyesc  the same, the key's first character spelled as a JSON \\u escape
            (only the decoded strings show the key)

Every other route and model goes to server_v2.py's handler. The scenario
is the model up to '@' ('__' for Gemini, whose model is in the path).
Standard library only.
"""
import json
import urllib.parse

import server
import server_v2
from server import dumps, pieces, args_text, record

THINKING = "Let me think \u2014 weather first.\nThen \"time\"."
SIGNATURE = "EqQBCkgIARABGAIiQL+sig/with+slashes==\u00e9"
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"
GOOD = {"city": "Paris", "temp": 21}
BAD = {"city": "Paris", "temp": "warm"}

# Usage per format for x3cost: 1000 input (200 read from cache, and for
# Anthropic 100 written to it), 500 output (100 of them reasoning).
COST_USAGE = {
    "openai": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500,
               "prompt_tokens_details": {"cached_tokens": 200},
               "completion_tokens_details": {"reasoning_tokens": 100}},
    "anthropic": {"input_tokens": 700, "cache_read_input_tokens": 200,
                  "cache_creation_input_tokens": 100, "output_tokens": 500},
    "responses": {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 200},
                  "output_tokens": 500, "output_tokens_details": {"reasoning_tokens": 100},
                  "total_tokens": 1500},
    "gemini": {"promptTokenCount": 1000, "cachedContentTokenCount": 200,
               "candidatesTokenCount": 400, "thoughtsTokenCount": 100, "totalTokenCount": 1500},
}


def has_tool_results(fmt, body):
    if fmt == "openai":
        return any(m.get("role") == "tool" for m in body.get("messages", []))
    if fmt == "anthropic":
        return any(isinstance(m.get("content"), list) and
                   any(b.get("type") == "tool_result" for b in m["content"])
                   for m in body.get("messages", []))
    if fmt == "responses":
        return any(isinstance(i, dict) and i.get("type") == "function_call_output"
                   for i in body.get("input", []))
    return any("functionResponse" in p for c in body.get("contents", []) for p in c.get("parts", []))


def answer(fmt, scenario, body, n, key):
    """(text, [(id, name, args)], extra top-level fields)."""
    if scenario == "x3cost":
        if has_tool_results(fmt, body):
            return "done", [], {}
        return "", [("call_w", "get_weather", {"city": "Paris"})], {}
    if scenario.startswith("x3json"):
        value = GOOD if scenario == "x3json_ok" or (scenario == "x3json_fix" and n > 1) else BAD
        if scenario == "x3json_bad" and n > 1:
            return "Sure! Here it is: {city: Paris}", [], {}
        if fmt == "anthropic":
            return "", [("toolu_answer", "weather", value)], {}
        return dumps(value), [], {}
    if scenario in ("x3key", "x3keyesc"):
        return "Your key is %s, keep it safe." % key, [], {"debug": {"echo": key}}
    return "ok", [], {}


def plain_body(fmt, model, text, calls, usage=None):
    finish = "tool_calls" if calls else "stop"
    if fmt == "openai":
        b = server.openai_body(model, text, calls, finish)
    elif fmt == "anthropic":
        b = server.anthropic_body(model, text, calls, finish)
    elif fmt == "responses":
        out = ([server_v2.rs_message(text)] if text else []) + \
            [server_v2.rs_call(k, name, a) for k, (_, name, a) in enumerate(calls)]
        b = server_v2.rs_body(model, out, "completed", None)
    else:
        parts = ([{"text": text}] if text else []) + [server_v2.gm_call(name, a) for _, name, a in calls]
        b = server_v2.gm_body(model, parts, "STOP", "")
    if usage is not None:
        b["usageMetadata" if fmt == "gemini" else "usage"] = usage
    return b


def stream_events(fmt, model, text, calls):
    finish = "tool_calls" if calls else "stop"
    if fmt == "openai":
        return [(None, d) for _, d in server.openai_events(model, text, calls, finish)]
    if fmt == "anthropic":
        return server.anthropic_events(model, text, calls, finish)
    if fmt == "responses":
        out = ([server_v2.rs_message(text)] if text else []) + \
            [server_v2.rs_call(k, name, a) for k, (_, name, a) in enumerate(calls)]
        return server_v2.rs_events(model, out, "completed", None, "")
    parts = ([{"text": text}] if text else []) + [server_v2.gm_call(name, a) for _, name, a in calls]
    return [(None, d) for d in server_v2.gm_events(model, parts, "STOP", "")]


def think_blocks():
    return [{"type": "thinking", "thinking": THINKING, "signature": SIGNATURE},
            {"type": "redacted_thinking", "data": REDACTED}]


def think_body(model, body):
    usage = {"input_tokens": 20, "cache_read_input_tokens": 7, "cache_creation_input_tokens": 5,
             "output_tokens": 9}
    if has_tool_results("anthropic", body):
        results = server.tool_results(body, "anthropic")
        content, stop = [{"type": "text", "text": "Final: " + " | ".join(results)}], "end_turn"
    else:
        content = think_blocks() + [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]
        stop = "tool_use"
    return {"id": "msg_think", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage}


def think_events(model, body):
    """The same answer as think_body, streamed the way the API does."""
    whole = think_body(model, body)
    start = dict(whole, content=[], stop_reason=None)
    start["usage"] = dict(whole["usage"], output_tokens=1)
    ev = [("message_start", {"type": "message_start", "message": start})]
    for idx, blk in enumerate(whole["content"]):
        t = blk["type"]
        first = {"thinking": {"type": "thinking", "thinking": "", "signature": ""},
                 "text": {"type": "text", "text": ""},
                 "tool_use": dict(blk, input={}),
                 "redacted_thinking": blk}[t]
        ev.append(("content_block_start", {"type": "content_block_start", "index": idx,
                                           "content_block": first}))
        deltas = []
        if t == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(blk["thinking"], 5)]
            deltas += [{"type": "signature_delta", "signature": p} for p in pieces(blk["signature"], 9)]
        elif t == "text":
            deltas = [{"type": "text_delta", "text": p} for p in pieces(blk["text"], 3)]
        elif t == "tool_use":
            deltas = [{"type": "input_json_delta", "partial_json": p}
                      for p in pieces(args_text(blk["input"]), 4)]
        for d in deltas:
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": idx,
                                               "delta": d}))
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": idx}))
    ev.append(("message_delta", {"type": "message_delta",
                                 "delta": {"stop_reason": whole["stop_reason"], "stop_sequence": None},
                                 "usage": {"output_tokens": whole["usage"]["output_tokens"]}}))
    ev.append(("message_stop", {"type": "message_stop"}))
    return [(name, dumps(d)) for name, d in ev]


class Handler(server_v2.Handler):
    def dispatch(self, method, target, headers, raw):
        path = urllib.parse.urlparse(target).path
        if path.startswith("/v1beta/"):
            path = "/v1/" + path[len("/v1beta/"):]
        if not (method == "POST" and "x3" in path + raw[:4096].decode("utf-8", "replace")):
            return super().dispatch(method, target, headers, raw)
        body = json.loads(raw.decode("utf-8"))
        if path == "/v1/chat/completions":
            fmt, model, key = "openai", body.get("model", ""), headers.get("authorization", "")[7:]
        elif path == "/v1/messages":
            fmt, model, key = "anthropic", body.get("model", ""), headers.get("x-api-key", "")
        elif path == "/v1/responses":
            fmt, model, key = "responses", body.get("model", ""), headers.get("authorization", "")[7:]
        elif path.startswith("/v1/models/") and ":" in path:
            fmt = "gemini"
            model = path[len("/v1/models/"):].rsplit(":", 1)[0]
            key = headers.get("x-goog-api-key", "")
        else:
            return super().dispatch(method, target, headers, raw)
        if not model.startswith("x3"):
            return super().dispatch(method, target, headers, raw)
        scenario = model.split("__" if fmt == "gemini" else "@", 1)[0]
        stream = bool(body.get("stream")) or target.find("streamGenerateContent") >= 0
        headers = dict(headers)
        headers[":path"] = target
        n = record(model, self.client_address[1], body, headers)

        if scenario == "x3think":
            if not stream:
                self.send(200, dumps(think_body(model, body)).encode("utf-8"))
                return True
            return self.small_chunks(server.sse_bytes(think_events(model, body)))
        text, calls, extra = answer(fmt, scenario, body, n, key)
        wire_model = key if scenario in ("x3key", "x3keyesc") else model
        if not stream:
            b = plain_body(fmt, wire_model, text, calls,
                           COST_USAGE[fmt] if scenario == "x3cost" else None)
            b.update(extra)
            data = dumps(b)
            if scenario == "x3keyesc" and key:
                data = data.replace(key, "\\u%04x" % ord(key[0]) + key[1:])
            self.send(200, data.encode("utf-8"))
            return True
        return self.small_chunks(server.sse_bytes(stream_events(fmt, wire_model, text, calls)))

    def small_chunks(self, sse):
        """The stream in 7-byte HTTP chunks."""
        self.request.sendall(self.stream_head())
        for i in range(0, len(sse), 7):
            self.request.sendall(self.chunk(sse[i:i + 7]))
        self.request.sendall(b"0\r\n\r\n")
        return True


if __name__ == "__main__":
    server.main(Handler)
