#!/usr/bin/env python3
"""Local model server for test_providers_wire.c: canned answers in the
four published wire formats (OpenAI Chat Completions, Anthropic Messages,
OpenAI Responses, Gemini) for the parts of those formats a provider can
meet only in part: refusals, every stop reason, blocks and events a
provider does not keep, hostile streams.

A model named "xw<scenario>@<tag>" (Gemini: "xw<scenario>__<tag>", the
model travels in the URL) gets SCENARIOS[scenario](fmt, stream, n, body,
model, arg), where n counts this model's requests (1 for the first) and
arg is what follows the scenario's first '-' ("" when none); /__stats
also has the last request's body as sent ("last_raw", a string). It
returns a dict (a 2xx JSON body) or a list of stream events, each a dict
(its data) or a pair (event name, dict or raw text). Streams go out in
7-byte HTTP chunks. Every other model goes to server_v3.py's handler
(and /__stats to server.py's). Standard library only.
"""
import json
import urllib.parse

import server
import server_v2
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


# ------------------------------------------------ Anthropic Messages pieces

AN_USAGE = {"input_tokens": 9, "output_tokens": 4}


def an_body(model, content, stop):
    return {"id": "msg_w", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None, "usage": AN_USAGE}


def an_events(model, content, stop):
    """The events of an_body(model, content, stop) as the API streams them:
    text and tool input in fragments, other blocks whole in their start."""
    start = dict(an_body(model, [], None), usage=dict(AN_USAGE, output_tokens=1))
    ev = [("message_start", {"type": "message_start", "message": start})]
    for idx, blk in enumerate(content):
        t = blk["type"]
        first, deltas = blk, []
        if t == "text":
            first = dict(blk, text="")
            deltas = [{"type": "text_delta", "text": p} for p in server.pieces(blk["text"], 4)]
        elif t in ("tool_use", "server_tool_use"):
            first = dict(blk, input={})
            deltas = [{"type": "input_json_delta", "partial_json": p}
                      for p in server.pieces(server.args_text(blk["input"]), 5)]
        ev.append(("content_block_start", {"type": "content_block_start", "index": idx,
                                           "content_block": first}))
        for d in deltas:
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": idx,
                                               "delta": d}))
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": idx}))
    ev.append(("message_delta", {"type": "message_delta",
                                 "delta": {"stop_reason": stop, "stop_sequence": None},
                                 "usage": {"output_tokens": AN_USAGE["output_tokens"]}}))
    ev.append(("message_stop", {"type": "message_stop"}))
    return ev


def an_answer(stream, model, content, stop):
    return an_events(model, content, stop) if stream else an_body(model, content, stop)


# ------------------------------------------------------------- scenarios

def refusal(fmt, stream, n, body, model, arg):
    """Chat Completions: the model refuses (content null, refusal set)."""
    if not stream:
        return oa_body(model, {"content": None, "refusal": REFUSAL}, "stop", OA_USAGE)
    return [oa_chunk(model, {"role": "assistant", "content": None, "refusal": ""}),
            oa_chunk(model, {"refusal": "I can't "}),
            oa_chunk(model, {"refusal": "help with that."}),
            oa_chunk(model, {}, "stop"),
            oa_chunk(model, None, usage=OA_USAGE, choices=False),
            (None, "[DONE]")]


def an_stop(reason, content):
    """Anthropic: `content` (text blocks) ending with stop_reason `reason`."""
    return lambda fmt, stream, n, body, model, arg: an_answer(
        stream, model, [{"type": "text", "text": t} for t in content], reason)


def servertool(fmt, stream, n, body, model, arg):
    """Anthropic: a server tool's blocks (web search: its call, streamed
    as input_json_delta like a client tool's, and its result) before the
    text, which carries a citation (citations_delta when streamed)."""
    content = [
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
         "input": {"query": "weather Paris"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
         "content": [{"type": "web_search_result", "url": "https://example.com/w",
                      "title": "Weather", "encrypted_content": "EqgfCioIARgB", "page_age": None}]},
        {"type": "text", "text": "Sunny in Paris."}]
    if not stream:
        return an_body(model, content, "end_turn")
    ev = an_events(model, content, "end_turn")
    at = next(k for k, (_, d) in enumerate(ev)
              if d.get("type") == "content_block_delta" and d["index"] == 2)
    ev.insert(at, ("content_block_delta", {"type": "content_block_delta", "index": 2,
                                           "delta": {"type": "citations_delta", "citation": CITE}}))
    return ev


CITE = {"type": "web_search_result_location", "url": "https://example.com/w",
        "title": "Weather", "encrypted_index": "Eo8BCioIAhgB", "cited_text": "sunny"}

# The first part of a turn paused by the API: a web search, its result,
# and words with a citation.
PAUSED = [
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
     "input": {"query": "weather Paris"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
     "content": [{"type": "web_search_result", "url": "https://example.com/w",
                  "title": "Weather", "encrypted_content": "EqgfCioIARgB", "page_age": None}]},
    {"type": "text", "text": "It is sunny. ", "citations": [CITE]}]


def an_cited(stream, model, content, stop):
    """an_answer(), a text block's citations streamed as citations_delta
    after its start (which has none), as the API sends them."""
    if not stream:
        return an_body(model, content, stop)
    ev = an_events(model, content, stop)
    for k in range(len(ev) - 1, -1, -1):
        d = ev[k][1]
        if d.get("type") == "content_block_start" and "citations" in d["content_block"]:
            cites = d["content_block"].pop("citations")
            for c in reversed(cites):
                ev.insert(k + 1, ("content_block_delta", {
                    "type": "content_block_delta", "index": d["index"],
                    "delta": {"type": "citations_delta", "citation": c}}))
    return ev


def pauseturn(fmt, stream, n, body, model, arg):
    """Anthropic: the first request's turn pauses (pause_turn) after a web
    search; the next one, which carries the paused content back, ends it."""
    if n == 1:
        return an_cited(stream, model, PAUSED, "pause_turn")
    return an_answer(stream, model, [{"type": "text", "text": "Take a hat."}], "end_turn")


def gmfinish(fmt, stream, n, body, model, arg):
    """Gemini: finishReason REASON after the text "Well, the first st"
    (arg "REASON-text") or after no part at all (arg "REASON-empty")."""
    reason, _, what = arg.rpartition("-")
    parts = [{"text": "Well, the first st"}] if what == "text" else []
    if stream:
        return server_v2.gm_events(model, parts, reason, "")
    return server_v2.gm_body(model, parts, reason, "")


GM_EMPTY = {"noparts": [], "emptytext": [{"text": ""}],
            "thoughts": [{"text": "Nothing to add.", "thought": True}]}


def gmempty(fmt, stream, n, body, model, arg):
    """Gemini: finishReason STOP with no answer: no content at all
    ("nocontent"), content without parts, one empty text part, only a
    thought. Streamed: the chunks with the parts, then the finishReason
    with no content."""
    parts = GM_EMPTY.get(arg, [])
    cand = {"finishReason": "STOP", "index": 0}
    if arg != "nocontent" and not stream:
        cand["content"] = {"role": "model", "parts": parts}
    last = {"candidates": [cand], "usageMetadata": server_v2.gm_usage(), "modelVersion": model,
            "responseId": "gm-resp-1"}
    if not stream:
        return last
    return [{"candidates": [{"content": {"role": "model", "parts": [p]}, "index": 0}],
             "modelVersion": model} for p in parts] + [last]


def rsnodone(fmt, stream, n, body, model, arg):
    """Responses: reasoning (with its encrypted_content), a message and a
    call, streamed without response.output_item.done for the reasoning
    item ("reasoning") or for any item ("all"), or without any and ending
    with response.incomplete ("incomplete"); the final response carries
    the whole output, as the API's does."""
    out = [server_v2.rs_reasoning(), server_v2.rs_message("Hello"),
           server_v2.rs_call(0, "get_weather", {"city": "Paris"})]
    status, why = ("incomplete", {"reason": "max_output_tokens"}) if arg == "incomplete" else ("completed", None)
    if not stream:
        return server_v2.rs_body(model, out, status, why)

    def kept(e):
        name, data = e
        if name != "response.output_item.done":
            return True
        return arg == "reasoning" and json.loads(data)["output_index"] != 0
    return [e for e in server_v2.rs_events(model, out, status, why, "") if kept(e)]


def reusedindex(fmt, stream, n, body, model, arg):
    """Chat Completions, streamed: two tool calls both numbered index 0
    (a server that numbers every call 0), each with its own id."""
    def call(id_, name, args):
        first = {"index": 0, "id": id_, "type": "function", "function": {"name": name, "arguments": ""}}
        rest = [{"index": 0, "function": {"arguments": p}} for p in server.pieces(args, 6)]
        return [oa_chunk(model, {"tool_calls": [c]}) for c in [first] + rest]
    return ([oa_chunk(model, {"role": "assistant", "content": None})] +
            call("call_a", "get_weather", '{"city": "Paris"}') +
            call("call_b", "get_time", '{"tz": "CET"}') +
            [oa_chunk(model, {}, "tool_calls"), (None, "[DONE]")])


def untypedblock(fmt, stream, n, body, model, arg):
    """Anthropic, streamed: a content block started with content_block
    null, then text deltas for it."""
    ev = an_events(model, [{"type": "text", "text": "Lost words"}], "end_turn")
    for name, d in ev:
        if name == "content_block_start":
            d["content_block"] = None
    return ev


def arraydata(fmt, stream, n, body, model, arg):
    """Any format, streamed: a good answer with one event, the second,
    whose data is a JSON array instead of an object (a proxy's batch)."""
    ev = server_v3.stream_events(fmt, model, "Hello there", [])
    return ev[:1] + [(None, '[{"type": "ping", "candidates": []}]')] + ev[1:]


THOUGHT = {"type": "thinking", "thinking": "They want something I won't write.",
           "signature": "EqQBCkgIARABGAIiQL+sig=="}


def filtered(fmt, stream, n, body, model, arg):
    """Any format: the answer filtered before any word of it, after the
    model's reasoning where the format has it in the answer."""
    if fmt == "openai":
        if not stream:
            return oa_body(model, {"content": None}, "content_filter", OA_USAGE)
        return [oa_chunk(model, {"role": "assistant", "content": ""}),
                oa_chunk(model, {}, "content_filter"), (None, "[DONE]")]
    if fmt == "anthropic":
        return an_answer(stream, model, [THOUGHT], "refusal")
    if fmt == "responses":
        out = [server_v2.rs_reasoning()]
        why = {"reason": "content_filter"}
        if stream:
            return server_v2.rs_events(model, out, "incomplete", why, "")
        return server_v2.rs_body(model, out, "incomplete", why)
    parts = [{"text": "They want something I won't write.", "thought": True}]
    if stream:
        return server_v2.gm_events(model, parts, "SAFETY", "")
    return server_v2.gm_body(model, parts, "SAFETY", "")


def twochoices(fmt, stream, n, body, model, arg):
    """Chat Completions: choice 1 besides choice 0 (as with n=2), choice 1
    first in the list and, streamed, in chunks of its own and in chunks
    with choice 0."""
    def choice(k, d, fin=None):
        return {"index": k, "delta": d, "finish_reason": fin}
    if not stream:
        b = oa_body(model, {"content": "Hello"}, "stop", OA_USAGE)
        b["choices"].insert(0, {"index": 1, "message": {"role": "assistant", "content": "Other"},
                                "finish_reason": "length"})
        return b
    ev = [oa_chunk(model, {"role": "assistant", "content": ""}),
          dict(oa_chunk(model, {}), choices=[choice(1, {"content": "Oth"})]),
          dict(oa_chunk(model, {}), choices=[choice(1, {"content": "er"}), choice(0, {"content": "Hel"})]),
          oa_chunk(model, {"content": "lo"}),
          dict(oa_chunk(model, {}), choices=[choice(1, {}, "length")]),
          oa_chunk(model, {}, "stop"), (None, "[DONE]")]
    return ev


def ok(fmt, stream, n, body, model, arg):
    """Any format: the text "ok" (the test reads what was sent)."""
    if stream:
        return server_v3.stream_events(fmt, model, "ok", [])
    return server_v3.plain_body(fmt, model, "ok", [])


SCENARIOS = {
    "refusal": refusal,
    "ctxwindow": an_stop("model_context_window_exceeded", ["Cut sh"]),
    "refusedpart": an_stop("refusal", ["Well, the first st"]),
    "refusednothing": an_stop("refusal", []),
    "pauseturn": pauseturn,
    "pausesforever": an_stop("pause_turn", ["More. "]),
    "servertool": servertool,
    "gmfinish": gmfinish,
    "gmempty": gmempty,
    "rsnodone": rsnodone,
    "reusedindex": reusedindex,
    "untypedblock": untypedblock,
    "arraydata": arraydata,
    "filtered": filtered,
    "twochoices": twochoices,
    "ok": ok,
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
        # "name" or "name-argument"
        scenario, _, arg = model[2:].split("__" if fmt == "gemini" else "@", 1)[0].partition("-")
        stream = bool(body.get("stream")) or "streamGenerateContent" in target
        headers = dict(headers)
        headers[":path"] = target
        n = record(model, self.client_address[1], body, headers)
        with server.LOCK:  # the body's bytes, for tests of a writer's exact text
            server.STATS[model]["last_raw"] = raw.decode("utf-8")
        reply = SCENARIOS[scenario](fmt, stream, n, body, model, arg)
        if isinstance(reply, dict):
            self.send(200, dumps(reply).encode("utf-8"))
            return True
        events = []
        for e in reply:
            name, data = e if isinstance(e, tuple) else (None, e)
            events.append((name, data if isinstance(data, str) else dumps(data)))
        return self.small_chunks(server.sse_bytes(events))


if __name__ == "__main__":
    server.main(Handler)
