#!/usr/bin/env python3
"""Local model server for the providers-v2 tests: speaks the OpenAI
Responses API (POST /v1/responses) and Google Gemini
(POST /v1/models/{model}:generateContent and
:streamGenerateContent?alt=sse, also under /v1beta) on 127.0.0.1, plain
and streamed, and hands every other route to server.py's handler (Chat
Completions, Anthropic, /__stats).

The scenario is the model up to the first '@' (Responses) or '__'
(Gemini, whose model travels in the URL path). Stats are kept per model
as in server.py; the request's path is recorded as the header ":path".
Standard library only.
"""
import json
import threading
import urllib.parse

import server
from server import TEXT, TOOLS, dumps, pieces, args_text, record

SIG_TEXT = "c2lnLXRleHQ="           # the thought signature on a text part
SIG_CALL = "c2lnLWNhbGwtMA=="       # on the first function call of an answer
ENCRYPTED = "gAAAAB-encrypted-reasoning=="
SUMMARY = "Weather first, then \u23f0 time."


def function_outputs(items):
    return [i.get("output", "") for i in items
            if isinstance(i, dict) and i.get("type") == "function_call_output"]


# ------------------------------------------------------------ Responses

def rs_usage():
    return {"input_tokens": 11, "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 3},
            "total_tokens": 18}


def rs_reasoning():
    return {"type": "reasoning", "id": "rs_1",
            "summary": [{"type": "summary_text", "text": SUMMARY}],
            "encrypted_content": ENCRYPTED}


def rs_message(text, kind="output_text"):
    part = {"type": kind, kind == "refusal" and "refusal" or "text": text}
    if kind == "output_text":
        part["annotations"] = []
    return {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
            "content": [part]}


def rs_call(k, name, args):
    return {"type": "function_call", "id": "fc_%d" % k, "call_id": "call_%d" % k,
            "name": name, "arguments": args_text(args), "status": "completed"}


def rs_output(scenario, body):
    """(output items, status, incomplete_details) for a scenario."""
    if scenario == "agent":
        outs = function_outputs(body.get("input", []))
        if outs:
            return [rs_message("Final: " + " | ".join(outs))], "completed", None
        return ([rs_reasoning(), rs_call(0, "get_weather", {"city": "Paris"}),
                 rs_call(1, "get_time", {"tz": "CET"})], "completed", None)
    if scenario == "tools":
        return ([rs_reasoning(), rs_message("Let me check \u2603.")] +
                [rs_call(k, n, a) for k, (n, a) in enumerate(TOOLS)], "completed", None)
    if scenario == "nodone":
        return [rs_call(0, "get_weather", {"city": "Paris"})], "completed", None
    if scenario == "badargs":
        return [rs_call(0, "get_weather", '{"city": Par')], "completed", None
    if scenario == "incomplete":
        return [rs_message("Cut sh")], "incomplete", {"reason": "max_output_tokens"}
    if scenario == "refusal":
        return [rs_message("I can't help with that.", "refusal")], "completed", None
    if scenario == "unknown":
        return ([{"type": "web_search_call", "id": "ws_1", "status": "completed"},
                 rs_message(TEXT)], "completed", None)
    return [rs_message(TEXT)], "completed", None


def rs_body(model, output, status, incomplete):
    return {"id": "resp_1", "object": "response", "created_at": 1, "status": status,
            "error": None, "incomplete_details": incomplete, "model": model,
            "output": output, "usage": rs_usage()}


def rs_events(model, output, status, incomplete, scenario):
    """List of (event name, data) for a streamed response."""
    seq = [0]

    def ev(type_, **kw):
        kw["type"] = type_
        kw["sequence_number"] = seq[0]
        seq[0] += 1
        return (type_, dumps(kw))

    start = rs_body(model, [], "in_progress", None)
    start["usage"] = None
    out = [ev("response.created", response=start), ev("response.in_progress", response=start)]
    if scenario == "onlyfinal":
        out.append(ev("response.completed", response=rs_body(model, output, status, incomplete)))
        return out
    if scenario == "unknown":
        out.append(ev("response.future_event", whatever={"x": 1}))
    calls = []
    for k, item in enumerate(output):
        t = item["type"]
        if t == "function_call":
            added = dict(item, arguments="", status="in_progress")
            out.append(ev("response.output_item.added", output_index=k, item=added))
            calls.append((k, item))
            continue
        if t == "message":
            part = item["content"][0]
            empty = dict(item, content=[], status="in_progress")
            out.append(ev("response.output_item.added", output_index=k, item=empty))
            kind = part["type"]
            blank = dict(part, **{"refusal" if kind == "refusal" else "text": ""})
            out.append(ev("response.content_part.added", item_id=item["id"], output_index=k,
                          content_index=0, part=blank))
            text = part.get("text", part.get("refusal", ""))
            delta = "response.refusal.delta" if kind == "refusal" else "response.output_text.delta"
            for p in pieces(text, 3):
                out.append(ev(delta, item_id=item["id"], output_index=k, content_index=0, delta=p))
            out.append(ev("response.content_part.done", item_id=item["id"], output_index=k,
                          content_index=0, part=part))
        elif t == "reasoning":
            out.append(ev("response.output_item.added", output_index=k,
                          item={"type": "reasoning", "id": item["id"], "summary": []}))
            for p in pieces(SUMMARY, 5):
                out.append(ev("response.reasoning_summary_text.delta", item_id=item["id"],
                              output_index=k, summary_index=0, delta=p))
        out.append(ev("response.output_item.done", output_index=k, item=item))
    # The calls' argument fragments interleaved, round robin.
    frags = [(k, item, pieces(item["arguments"], 4)) for k, item in calls]
    step = 0
    while any(step < len(f) for _, _, f in frags):
        for k, item, f in frags:
            if step < len(f):
                out.append(ev("response.function_call_arguments.delta", item_id=item["id"],
                              output_index=k, delta=f[step]))
        step += 1
    for k, item in calls:
        out.append(ev("response.function_call_arguments.done", item_id=item["id"],
                      output_index=k, arguments=item["arguments"]))
        if scenario != "nodone":
            out.append(ev("response.output_item.done", output_index=k, item=item))
    final = rs_body(model, output, status, incomplete)
    if scenario == "streamfailed":
        final = dict(final, status="failed", output=[],
                     error={"code": "server_error", "message": "The model crashed"})
        return out[:6] + [ev("response.failed", response=final)]
    if scenario == "streamerror":
        return out[:6] + [ev("error", code="rate_limit_exceeded", message="Slow down mid-stream",
                             param=None)]
    if scenario == "cut":
        return out
    if scenario == "badindex":
        # A hostile index, far past any sane number of output items.
        out.append(ev("response.output_text.delta", item_id="msg_1", output_index=10 ** 6,
                      content_index=0, delta="x"))
    out.append(ev("response.incomplete" if status == "incomplete" else "response.completed",
                  response=final))
    if scenario == "unknown":
        out.append(ev("response.after_the_end", response=None))
    if scenario in ("donemarker", "cutdone"):
        # Chat Completions' end marker, which some compatible servers add.
        if scenario == "cutdone":
            out.pop()
        out.append((None, "[DONE]"))
    return out


# --------------------------------------------------------------- Gemini

def gm_usage():
    return {"promptTokenCount": 9, "toolUsePromptTokenCount": 2, "candidatesTokenCount": 4,
            "thoughtsTokenCount": 3, "cachedContentTokenCount": 5, "totalTokenCount": 18}


def gm_call(name, args, sig=None):
    p = {"functionCall": {"name": name, "args": args}}
    if sig:
        p["thoughtSignature"] = sig
    return p


def gm_responses(body):
    contents = body.get("contents", [])
    if not contents or contents[-1].get("role") != "user":
        return []
    return [p["functionResponse"]["response"].get("result", dumps(p["functionResponse"]["response"]))
            for p in contents[-1].get("parts", []) if "functionResponse" in p]


def gm_answer(scenario, body):
    """(parts, finishReason) of candidate 0."""
    if scenario == "agent":
        outs = gm_responses(body)
        if outs:
            return [{"text": "Final: " + " | ".join(outs)}, {"text": "", "thoughtSignature": SIG_TEXT}], "STOP"
        return [gm_call("get_weather", {"city": "Paris"}, SIG_CALL),
                gm_call("get_time", {"tz": "CET"})], "STOP"
    if scenario == "tools":
        return ([{"text": SUMMARY, "thought": True}, {"text": "Let me check \u2603."}] +
                [gm_call(n, a, SIG_CALL if k == 0 else None) for k, (n, a) in enumerate(TOOLS)],
                "STOP")
    if scenario == "safety":
        return [], "SAFETY"
    if scenario == "safetypartial":
        return [{"text": "Well, the first st"}], "SAFETY"
    if scenario == "maxtokens":
        return [{"text": "Cut sh"}], "MAX_TOKENS"
    if scenario == "sigonly":
        return [{"text": TEXT}, {"thoughtSignature": SIG_TEXT}], "STOP"
    if scenario == "unknown":
        return [{"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                {"text": TEXT, "thoughtSignature": SIG_TEXT}], "STOP"
    return [{"text": TEXT, "thoughtSignature": SIG_TEXT}], "STOP"


def gm_body(model, parts, finish, scenario):
    cand = {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
    if not parts:
        del cand["content"]
    out = {"candidates": [cand], "usageMetadata": gm_usage(), "modelVersion": model,
           "responseId": "gm-resp-1"}
    if scenario == "multi":
        out["candidates"] = [{"content": {"role": "model", "parts": [{"text": "the other one"}]},
                              "finishReason": "STOP", "index": 1}, cand]
    if scenario == "blocked":
        out = {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
               "usageMetadata": {"promptTokenCount": 9}, "modelVersion": model}
    if scenario == "unknown":
        out["futureField"] = {"x": 1}
    return out


def gm_events(model, parts, finish, scenario):
    """The answer as chunks: text in fragments of 3, the signature of a
    text part alone in an empty text part after it, calls one a chunk."""
    chunks = []
    for p in parts:
        if "text" in p:
            for frag in pieces(p["text"], 3):
                q = {"text": frag}
                if p.get("thought"):
                    q["thought"] = True
                chunks.append([q])
            if "thoughtSignature" in p:
                chunks.append([{"text": "", "thoughtSignature": p["thoughtSignature"]}])
        else:
            chunks.append([p])
    out = []
    for k, c in enumerate(chunks):
        cand = {"content": {"role": "model", "parts": c}, "index": 0}
        if scenario == "multi":
            # Candidate 1 alone in a chunk, then both, 1 first.
            other = {"content": {"role": "model", "parts": [{"text": "x"}]}, "index": 1}
            out.append({"candidates": [other], "modelVersion": model})
            out.append({"candidates": [other, cand], "modelVersion": model})
        else:
            out.append({"candidates": [cand], "modelVersion": model, "responseId": "gm-resp-1",
                        "usageMetadata": {"promptTokenCount": 9}})
    last = {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": finish,
                            "index": 0}],
            "usageMetadata": gm_usage(), "modelVersion": model, "responseId": "gm-resp-1"}
    if scenario == "blocked":
        out, last = [], gm_body(model, parts, finish, scenario)
    if scenario == "streamerror":
        return [dumps(o) for o in out[:2]] + [dumps({"error": {"code": 503, "message": "The model is overloaded",
                                                               "status": "UNAVAILABLE"}})]
    if scenario == "cut":
        return [dumps(o) for o in out]
    if scenario == "lateusage":
        # The usage comes in a chunk of its own after the finishReason.
        usage = last.pop("usageMetadata")
        return [dumps(o) for o in out + [last, {"usageMetadata": usage, "modelVersion": model}]]
    return [dumps(o) for o in out + [last]]


# ----------------------------------------------------------------- HTTP

class Handler(server.Handler):
    def dispatch(self, method, target, headers, raw):
        url = urllib.parse.urlparse(target)
        path = url.path
        if path.startswith("/v1beta/"):
            path = "/v1/" + path[len("/v1beta/"):]
        if path == "/v1/responses":
            fmt, model = "responses", None
        elif path.startswith("/v1/models/") and ":" in path:
            fmt = "gemini"
            model, method_name = path[len("/v1/models/"):].rsplit(":", 1)
            if method_name not in ("generateContent", "streamGenerateContent"):
                self.send(404, {"error": {"code": 404, "message": "no method " + method_name}})
                return True
        elif path == "/v1/chat/completions" and b'"nomaxtokens@' in raw:
            return self.reasoning_model(raw, headers)
        elif path == "/v1/chat/completions" and b'"droplearnt@' in raw:
            return self.drop_until_learnt(raw, headers)
        else:
            return super().dispatch(method, target, headers, raw)
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            self.send(400, {"error": {"code": 400, "message": "request body is not JSON"}})
            return True
        if fmt == "responses":
            model = body.get("model", "")
            scenario = model.split("@", 1)[0]
            stream = bool(body.get("stream"))
            key = headers.get("authorization", "")[len("Bearer "):]
        else:
            scenario = model.split("__", 1)[0]
            stream = method_name == "streamGenerateContent"
            key = headers.get("x-goog-api-key", "")
        headers = dict(headers)
        headers[":path"] = target
        n = record(model, self.client_address[1], body, headers)

        def error(status, message, code):
            if fmt == "responses":
                return {"error": {"message": message, "type": code, "param": None, "code": code}}
            return {"error": {"code": status, "message": message, "status": code}}

        if scenario == "hang":
            self.hang()
            return False
        if scenario == "auth":
            self.send(401, error(401, "API key not valid: %s. Please pass a valid key." % key,
                                 "UNAUTHENTICATED"))
            return True
        if scenario == "r429" and n == 1:
            self.send(429, error(429, "Resource exhausted", "RESOURCE_EXHAUSTED"),
                      extra=["Retry-After: 1"])
            return True
        if scenario == "bodyerror" and not stream:
            self.send(200, error(500, "backend exploded", "INTERNAL"))
            return True
        if scenario == "failed" and not stream and fmt == "responses":
            self.send(200, dict(rs_body(model, [], "failed", None),
                                error={"code": "server_error", "message": "The model crashed"}))
            return True

        if fmt == "responses":
            output, status, incomplete = rs_output(scenario, body)
            if not stream:
                self.send(200, rs_body(model, output, status, incomplete))
                return True
            sse = server.sse_bytes(rs_events(model, output, status, incomplete, scenario))
        else:
            parts, finish = gm_answer(scenario, body)
            if not stream:
                self.send(200, gm_body(model, parts, finish, scenario))
                return True
            sse = server.sse_bytes([(None, d) for d in gm_events(model, parts, finish, scenario)],
                                   eol="\r\n" if scenario == "crlf" else "\n")
        head = self.stream_head()
        if scenario in ("bytes", "tools", "agent"):
            # Small pieces: every few bytes on its own chunk.
            self.request.sendall(head)
            for i in range(0, len(sse), 7):
                self.request.sendall(self.chunk(sse[i:i + 7]))
            self.request.sendall(b"0\r\n\r\n")
            return True
        self.request.sendall(head + self.chunk(sse) + b"0\r\n\r\n")
        return True


    def reasoning_model(self, raw, headers):
        """Chat Completions as OpenAI's reasoning models answer it: a
        request with max_tokens is refused (HTTP 400), max_completion_tokens
        is fine."""
        body = json.loads(raw.decode("utf-8"))
        model = body.get("model", "")
        record(model, self.client_address[1], body, headers)
        if "max_tokens" not in body:
            learnt(model).set()
        if "max_tokens" in body:
            self.send(400, {"error": {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this "
                           "model. Use 'max_completion_tokens' instead.",
                "type": "invalid_request_error", "param": "max_tokens",
                "code": "unsupported_parameter"}})
            return True
        self.send(200, server.openai_body(model, TEXT, [], "stop"))
        return True

    def drop_until_learnt(self, raw, headers):
        """Chat Completions whose keep-alive connection dies under a
        request while the client learns max_completion_tokens from another
        call: the first request is answered; the second is read whole and
        held until a "nomaxtokens@" request with the same tag came with
        max_completion_tokens (the client's provider has learnt the field),
        then its connection is closed unanswered, so libcurl sends it again
        on a new connection, and the body made again for that names the
        longer field; later requests are answered."""
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:  # a body cut at a length it no longer has
            self.send(400, {"error": {"message": "request body is not JSON"}})
            return True
        model = body.get("model", "")
        if record(model, self.client_address[1], body, headers) == 2:
            learnt(model).wait(30)
            return False
        self.send(200, server.openai_body(model, TEXT, [], "stop"))
        return True


LEARNT = {}


def learnt(model):
    """The event of a model name's tag (after the '@'): set once a request
    of it came with max_completion_tokens."""
    with server.LOCK:
        return LEARNT.setdefault(model.split("@", 1)[-1], threading.Event())


if __name__ == "__main__":
    server.main(Handler)
