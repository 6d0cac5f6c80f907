#!/usr/bin/env python3
"""Local model server for the providers tests: speaks OpenAI Chat
Completions (POST /v1/chat/completions) and Anthropic Messages
(POST /v1/messages) on 127.0.0.1, plain and streaming.

The scenario is the request's "model" up to the first '@' (the rest keeps
tests apart: "r429@openai-stream"). GET /__stats?model=M returns what the
server saw for that exact model: request count, arrival times (server's
monotonic clock), the client ports (keep-alive reuse) and the last request's
body and headers, and the number of TCP connections accepted so far
("connections", for every model).

MCP over Streamable HTTP, for the fault-injection suite: POST
/mcp/<model> (the model in the path, as above; "@mcp_sse" in it asks for
an SSE answer, anything else one JSON body) answers initialize and
tools/list normally and breaks the answer to tools/call the way the
scenario says. Only tools/call requests are counted in /__stats.

Started by the test with no arguments: binds an ephemeral port, prints it on
stdout, serves until killed. Every response is written in one send() on a
TCP_NODELAY socket unless the scenario is about splitting or hanging.
Standard library only, and the openssl command for --tls.

--tls CA_PATH: the port speaks HTTPS only (every scenario as above, over
TLS), offering only http/1.1 by ALPN, as most self-hosted OpenAI-compatible
servers behind TLS do; a client that offers h2 as well gets HTTP/1.1. The
certificates are made at start-up (a throwaway CA of its own, a server
certificate for 127.0.0.1 signed by it: nothing committed, nothing that
outlives the test); the CA certificate is written to CA_PATH for the client
to trust, the keys (written by openssl to a private temporary directory)
are deleted once loaded. A send() of up to 16 KB is one TLS record: bytes
sent apart in time arrive in records of their own.
"""
import email.utils
import json
import socket
import socketserver
import os
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

LOCK = threading.Lock()


def dumps(o):
    # Raw UTF-8 on the wire, as the real APIs send it (not \u escapes).
    return json.dumps(o, ensure_ascii=False)


STATS = {}
CONNECTIONS = [0]  # TCP connections accepted so far (keep-alive reuse, pool caps)

TEXT = "Hello, world! Caf\u00e9 \u20ac5 \U0001F600 done."
TOOLS = [
    ("get_weather", {"city": "Paris", "unit": "celsius"}),
    ("get_time", {"tz": "Europe/Paris"}),
    ("add", {"a": 1, "b": 2.5, "note": "\u00e9t\u00e9 \"quoted\""}),
]
USAGE_IN, USAGE_OUT = 11, 7

# Token counts a hostile or broken server may send, by scenario: (input,
# output, Anthropic's cache_read_input_tokens or None).
BAD_USAGE = {
    "badusage": (1e300, -5, None),
    "badusage2": (3.5, 2 ** 53 + 2, None),
    "badusage3": (5, "7", 2 ** 53),   # not a number; input + cache read > 2^53
    "maxusage": (2 ** 53, USAGE_OUT, None),    # the largest valid count
}


def usage_for(scenario):
    return BAD_USAGE.get(scenario, (USAGE_IN, USAGE_OUT, None))


def openai_usage(scenario):
    i, o, _ = usage_for(scenario)
    return {"prompt_tokens": i, "completion_tokens": o, "total_tokens": 18}


def anthropic_usage(scenario, output=None):
    i, o, cache = usage_for(scenario)
    u = {"input_tokens": i, "output_tokens": o if output is None else output}
    if cache is not None:
        u["cache_read_input_tokens"] = cache
    return u


def record(model, peer, body, headers):
    now = time.monotonic()
    with LOCK:
        s = STATS.setdefault(model, {"count": 0, "times": [], "peers": [],
                                     "last_body": None, "last_headers": {}})
        s["count"] += 1
        s["times"].append(now)
        s["peers"].append(peer)
        s["last_body"] = body
        s["last_headers"] = headers
        return s["count"]


# ---------------------------------------------------------------- answers

def answer_for(scenario, body, fmt):
    """(text, [(id, name, args)], finish) for a scenario."""
    if scenario == "agent":
        results = tool_results(body, fmt)
        if results:
            return ("Final: " + " | ".join(results), [], "stop")
        calls = [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})]
    elif scenario == "badargs":
        calls = [("get_weather", '{"city": Par')]
    elif scenario in BAD_USAGE:
        return (TEXT, [], "stop")
    elif scenario in ("text", "slow", "streamerror", "crlf", "comments", "utf8", "echo", "r429", "r429ms", "r429date", "r500",
                      "close", "hangstream", "big") or scenario in FAULTS:
        return (TEXT, [], "stop")
    else:  # tools, bytes, ...
        calls = TOOLS
    prefix = "call_" if fmt == "openai" else "toolu_"
    text = "Let me check \u2603." if scenario != "agent" else ""
    return (text, [(prefix + str(i), n, a) for i, (n, a) in enumerate(calls)], "tool_calls")


def tool_results(body, fmt):
    out = []
    for m in body.get("messages", []):
        if fmt == "openai" and m.get("role") == "tool":
            out.append(m.get("content", ""))
        if fmt == "anthropic" and isinstance(m.get("content"), list):
            for b in m["content"]:
                if b.get("type") == "tool_result":
                    out.append(b.get("content", ""))
    return out


def args_text(a):
    """Tool arguments as JSON text; a str is sent as is (malformed on purpose)."""
    return a if isinstance(a, str) else dumps(a)


def pieces(s, n):
    return [s[i:i + n] for i in range(0, len(s), n)] or [""]


def openai_body(model, text, calls, finish):
    msg = {"role": "assistant", "content": text if text else None}
    if calls:
        msg["tool_calls"] = [{"id": i, "type": "function",
                              "function": {"name": n, "arguments": args_text(a)}}
                             for i, n, a in calls]
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
            "usage": openai_usage(model.split("@", 1)[0])}


def openai_events(model, text, calls, finish, size=3):
    """List of SSE data strings."""
    def chunk(delta, fin=None):
        return dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                           "model": model, "choices": [{"index": 0, "delta": delta,
                                                        "finish_reason": fin}]})
    ev = [chunk({"role": "assistant", "content": ""})]
    for p in pieces(text, size) if text else []:
        ev.append(chunk({"content": p}))
    frags = []
    for k, (i, n, a) in enumerate(calls):
        ev.append(chunk({"tool_calls": [{"index": k, "id": i, "type": "function",
                                         "function": {"name": n, "arguments": ""}}]}))
        frags.append(pieces(args_text(a), 4))
    # Interleave the argument fragments of the calls, round robin by index.
    step = 0
    while any(step < len(f) for f in frags):
        for k, f in enumerate(frags):
            if step < len(f):
                ev.append(chunk({"tool_calls": [{"index": k, "function": {"arguments": f[step]}}]}))
        step += 1
    ev.append(chunk({}, finish))
    ev.append(dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                          "model": model, "choices": [],
                          "usage": openai_usage(model.split("@", 1)[0])}))
    ev.append("[DONE]")
    return [(None, e) for e in ev]


def anthropic_stop(finish):
    return "tool_use" if finish == "tool_calls" else "end_turn"


def anthropic_body(model, text, calls, finish):
    content = []
    if text:
        content.append({"type": "text", "text": text})
    for i, n, a in calls:
        content.append({"type": "tool_use", "id": i, "name": n, "input": a})
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": anthropic_stop(finish), "stop_sequence": None,
            "usage": anthropic_usage(model.split("@", 1)[0])}


def anthropic_events(model, text, calls, finish, size=3):
    ev = [("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": anthropic_usage(model.split("@", 1)[0], output=None if model.split("@", 1)[0]
                                 in BAD_USAGE else 1)}})]
    idx = 0
    if text:
        ev.append(("content_block_start", {"type": "content_block_start", "index": idx,
                                           "content_block": {"type": "text", "text": ""}}))
        ev.append(("ping", {"type": "ping"}))
        for p in pieces(text, size):
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": idx,
                                               "delta": {"type": "text_delta", "text": p}}))
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": idx}))
        idx += 1
    for i, n, a in calls:
        ev.append(("content_block_start", {"type": "content_block_start", "index": idx,
                                           "content_block": {"type": "tool_use", "id": i,
                                                             "name": n, "input": {}}}))
        for p in pieces(args_text(a), 4):
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": idx,
                                               "delta": {"type": "input_json_delta",
                                                         "partial_json": p}}))
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": idx}))
        idx += 1
    ev.append(("message_delta", {"type": "message_delta",
                                 "delta": {"stop_reason": anthropic_stop(finish),
                                           "stop_sequence": None},
                                 "usage": {"output_tokens": usage_for(model.split("@", 1)[0])[1]}}))
    ev.append(("message_stop", {"type": "message_stop"}))
    return [(name, dumps(d)) for name, d in ev]


def sse_bytes(events, eol="\n", comments=False):
    out = []
    if comments:
        out.append(": stream opened" + eol + eol)
    for k, (name, data) in enumerate(events):
        if comments:
            out.append(": keep-alive" + eol)
        if name:
            out.append("event: " + name + eol)
        if comments and k == 1:
            # One event's data on two lines: joined with '\n' it is the same JSON.
            cut = data.index(",") + 1
            out.append("data: " + data[:cut] + eol + "data:" + data[cut:] + eol + eol)
        else:
            out.append("data: " + data + eol + eol)
        if comments:
            out.append(":" + eol + eol)
    return "".join(out).encode("utf-8")


def error_body(fmt, status, message):
    kind = {401: "authentication_error", 429: "rate_limit_error",
            500: "api_error"}.get(status, "invalid_request_error")
    if fmt == "openai":
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return {"type": "error", "error": {"type": kind, "message": message}}


# ---------------------------------------------------------------- HTTP

REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}

# Scenarios of the fault-injection suite (tests/faults): each breaks the
# transport or the framing of an otherwise normal text answer.
FAULTS = ("reset", "truncated", "clshort", "cllong", "drip", "hugeline", "badutf8",
          "r500once", "excess", "lateexcess", "dropsecond")
# The answer a server smuggles after the real one in the "excess" faults
# (a whole second response nobody asked for): a client that reads it as
# the answer to its next request shows this text.
SMUGGLED = "SMUGGLED answer"
BAD_UTF8 = b"\xff\xfe \xc0\xaf \xed\xa0\x80"   # stray bytes, overlong, a surrogate
UTF8_MARK = "@@BAD-UTF8@@"

# A proxy's error page, answered with 200 (the key in it must never reach
# a message).
HTML_PAGE = ("<!DOCTYPE html>\n<html><head><title>Gateway</title></head>\n"
             "<body><h1>Please sign in</h1><p>key %s is not valid here</p></body></html>\n")


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        with LOCK:
            CONNECTIONS[0] += 1
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def read_request(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.request.recv(65536)
            if not d:
                return None
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            d = self.request.recv(65536)
            if not d:
                return None
            self.buf += d
        body, self.buf = self.buf[:n], self.buf[n:]
        return method, target, headers, body

    def send(self, status, body, ctype="application/json", extra=()):
        if not isinstance(body, bytes):
            body = dumps(body).encode("utf-8")
        head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
            status, REASONS.get(status, "Status"), ctype, len(body))
        for h in extra:
            head += h + "\r\n"
        self.request.sendall(head.encode("latin-1") + b"\r\n" + body)

    def reset(self):
        """Hang up with a TCP RST (SO_LINGER 0) instead of a clean FIN."""
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.request.close()

    def drip(self, data):
        """One byte per second until the client gives up."""
        for i in range(len(data)):
            self.request.sendall(data[i:i + 1])
            time.sleep(1)

    def fault(self, scenario, n, head, body, fake=b""):
        """Send `body` after `head` (bytes, a complete header block that has
        no Content-Length and no Transfer-Encoding yet) broken the way the
        fault scenario says; `fake` is the body of the smuggled response of
        the "excess" scenarios (the same answer with SMUGGLED as its text).
        Returns whether the connection stays usable."""
        if scenario in ("excess", "lateexcess") and n == 1:
            # A complete, honest answer, then a second response on the same
            # keep-alive connection: in the same send ("excess"), or 50 ms
            # later, when the client has its answer and keeps the connection
            # idle in its pool ("lateexcess"). The connection stays open and
            # the next request on it is answered normally after the fake.
            answer = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
            smuggled = head + b"Content-Length: %d\r\n\r\n" % len(fake) + fake
            if scenario == "excess":
                self.request.sendall(answer + smuggled)
            else:
                self.request.sendall(answer)
                time.sleep(0.05)
                self.request.sendall(smuggled)
            return True
        if scenario == "reset" and n == 1:
            self.request.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body)
                                 + body[: len(body) // 2])
            time.sleep(0.5)  # let the client read the first half before the RST
            self.reset()
            return False
        if scenario == "truncated":
            # An honest length for a body cut short: after the middle event of
            # a stream, in the middle of a JSON body.
            cut = body.index(b"\n\n", len(body) // 2) + 2 if b"\n\n" in body else len(body) // 2
            body = body[:cut]
        if scenario == "clshort":
            cut = body.index(b"\n\n", len(body) // 2) + 2 if b"\n\n" in body else len(body) // 2
            self.request.sendall(head + b"Content-Length: %d\r\n\r\n" % cut + body)
            return False
        if scenario == "cllong":
            self.request.sendall(head + b"Content-Length: %d\r\n\r\n" % (len(body) + 100) + body)
            return False
        if scenario == "hugeline":
            # Chunked, so that the client meets the one 20 MB line as it
            # reads (a Content-Length would let it refuse up front).
            self.request.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 1 << 16):
                self.request.sendall(self.chunk(body[i:i + (1 << 16)]))
            self.request.sendall(b"0\r\n\r\n")
            return True
        if scenario == "drip":
            self.drip(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            return False
        self.request.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return True

    def stream_head(self):
        return (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")

    @staticmethod
    def chunk(data):
        return b"%x\r\n" % len(data) + data + b"\r\n"

    def handle(self):
        while True:
            try:
                req = self.read_request()
            except (OSError, ValueError):  # ssl.SSLError is an OSError: a failed handshake
                return
            if req is None:
                return
            if not self.dispatch(*req):
                return

    def hang(self):
        # Never answer; return when the client goes away.
        self.request.settimeout(0.2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if not self.request.recv(1):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def mcp(self, method, path, headers, raw):
        """MCP over Streamable HTTP: a normal server up to tools/call, whose
        answer the fault scenario breaks."""
        model = urllib.parse.unquote(path[len("/mcp/"):])
        scenario = model.split("@", 1)[0]
        sse = "@mcp_sse" in model
        if method != "POST":  # no GET stream; DELETE of the session
            self.send(405 if method == "GET" else 200, b"", ctype="text/plain")
            return True
        try:
            msg = json.loads(raw.decode("utf-8"))
        except ValueError:
            self.send(400, {"jsonrpc": "2.0", "id": None,
                            "error": {"code": -32700, "message": "parse error"}})
            return True
        mid, rpc = msg.get("id"), msg.get("method")
        if mid is None:  # a notification (initialized, cancelled)
            self.send(202, b"", ctype="text/plain")
            return True
        if rpc == "initialize":
            self.send(200, {"jsonrpc": "2.0", "id": mid, "result": {
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {}}, "serverInfo": {"name": "faults", "version": "1"}}},
                extra=["Mcp-Session-Id: faults-session-1"])
            return True
        if rpc == "tools/list":
            self.send(200, {"jsonrpc": "2.0", "id": mid, "result": {"tools": [
                {"name": "hello", "description": "says hello", "inputSchema": {"type": "object"}}]}})
            return True
        if rpc != "tools/call":
            self.send(200, {"jsonrpc": "2.0", "id": mid,
                            "error": {"code": -32601, "message": "no method " + str(rpc)}})
            return True
        n = record(model, self.client_address[1], msg, headers)
        key = headers.get("authorization", "")[len("Bearer "):]
        if scenario == "dropsecond" and n == 2:
            return False
        if scenario == "r500once" and n == 1:
            self.send(500, b"internal failure", ctype="text/plain")
            return True
        if scenario == "r429long":
            self.send(429, b"slow down", ctype="text/plain", extra=["Retry-After: 86400"])
            return True
        if scenario == "r503longdate":
            when = email.utils.formatdate(time.time() + 86400, usegmt=True)
            self.send(503, b"come back tomorrow", ctype="text/plain", extra=["Retry-After: " + when])
            return True
        if scenario == "nothttp":
            self.request.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
            return False
        if scenario == "html":
            self.send(200, (HTML_PAGE % key).encode("utf-8"), ctype="text/html; charset=utf-8")
            return True
        text = "x" * (20 * 1024 * 1024) if scenario == "hugeline" else \
            TEXT + UTF8_MARK if scenario == "badutf8" else TEXT
        answer = dumps({"jsonrpc": "2.0", "id": mid, "result": {
            "content": [{"type": "text", "text": text}]}}).encode("utf-8")
        answer = answer.replace(UTF8_MARK.encode(), BAD_UTF8)
        fake = answer.replace(TEXT.encode("utf-8"), SMUGGLED.encode("utf-8"))
        if sse:
            # Two progress notifications first, so that the middle of the
            # stream (where "truncated" cuts) falls after a complete event;
            # the response is the last event.
            progress = dumps({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
                "progressToken": msg.get("params", {}).get("_meta", {}).get("progressToken", 0),
                "progress": 1, "total": 2}}).encode("utf-8")
            body = b"data: " + progress + b"\n\ndata: " + progress.replace(b'"progress": 1', b'"progress": 2') \
                + b"\n\ndata: " + answer + b"\n\n"
            return self.fault(scenario, n, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                              b"Cache-Control: no-cache\r\n", body,
                              body.replace(answer, fake))
        return self.fault(scenario, n, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
                          answer, fake)

    def dispatch(self, method, target, headers, raw):
        url = urllib.parse.urlparse(target)
        if url.path.startswith("/mcp/"):
            return self.mcp(method, url.path, headers, raw)
        if method == "GET" and url.path == "/__stats":
            model = urllib.parse.parse_qs(url.query).get("model", [""])[0]
            with LOCK:
                s = STATS.get(model, {"count": 0, "times": [], "peers": [],
                                      "last_body": None, "last_headers": {}})
                out = dumps(dict(s, connections=CONNECTIONS[0]))
            self.send(200, out.encode("utf-8"))
            return True
        if url.path == "/v1/chat/completions":
            fmt = "openai"
        elif url.path == "/v1/messages":
            fmt = "anthropic"
        else:
            self.send(404, {"error": {"message": "no route " + url.path}})
            return True
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            self.send(400, error_body(fmt, 400, "request body is not JSON"))
            return True
        model = body.get("model", "")
        scenario = model.split("@", 1)[0]
        n = record(model, self.client_address[1], body, headers)
        stream = bool(body.get("stream"))
        key = headers.get("authorization", "")[len("Bearer "):] if fmt == "openai" \
            else headers.get("x-api-key", "")

        if scenario == "auth":
            self.send(401, error_body(fmt, 401, "Incorrect API key provided: %s. Check it." % key))
            return True
        if scenario == "dropsecond" and n == 2:
            # The request read whole, then the keep-alive connection closed
            # unanswered: the client sends it again on a new connection.
            return False
        if scenario == "r429" and n == 1:
            self.send(429, error_body(fmt, 429, "slow down"), extra=["Retry-After: 1"])
            return True
        if scenario == "r429ms" and n == 1:
            # OpenAI's millisecond header wins over a zero Retry-After.
            self.send(429, error_body(fmt, 429, "slow down"),
                      extra=["retry-after-ms: 1200", "Retry-After: 0"])
            return True
        if scenario == "r429date" and n == 1:
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            self.send(429, error_body(fmt, 429, "slow down"), extra=["Retry-After: " + when])
            return True
        if scenario == "r500" and n <= 3:
            self.send(500, error_body(fmt, 500, "internal failure %d" % n))
            return True
        if scenario == "r500once" and n == 1:
            self.send(500, error_body(fmt, 500, "internal failure"))
            return True
        if scenario == "r429long":
            # Absurd waits, on every attempt: the client must not sit on them.
            self.send(429, error_body(fmt, 429, "slow down"), extra=["Retry-After: 86400"])
            return True
        if scenario == "r503longdate":
            when = email.utils.formatdate(time.time() + 86400, usegmt=True)
            self.send(503, error_body(fmt, 503, "come back tomorrow"),
                      extra=["Retry-After: " + when])
            return True
        if scenario == "r429longms":
            self.send(429, error_body(fmt, 429, "slow down"), extra=["retry-after-ms: 1e300"])
            return True
        if scenario == "nothttp":
            # Another protocol on the port (an SSH server's greeting).
            self.request.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
            return False
        if scenario == "nothttpopen":
            # Binary bytes, no line end, and the connection stays open.
            self.request.sendall(b"\x16\x03\x01\x00\xa5")
            self.hang()
            return False
        if scenario == "html":
            self.send(200, (HTML_PAGE % key).encode("utf-8"), ctype="text/html; charset=utf-8")
            return True
        if scenario == "hang":
            self.hang()
            return False
        if scenario == "slow":
            time.sleep(0.5)  # a slow model: many requests in flight at once

        text, calls, finish = answer_for(scenario, body, fmt)
        if scenario in ("big", "hugeline"):
            text = "x" * (20 * 1024 * 1024)
        if scenario == "badutf8":
            text = TEXT + UTF8_MARK
        if not stream:
            make = openai_body if fmt == "openai" else anthropic_body
            payload = dumps(make(model, text, calls, finish)).encode("utf-8")
            if scenario == "close" and n == 1:
                # Promise the whole body, send a part, hang up.
                head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n" % len(payload)).encode("latin-1")
                self.request.sendall(head + payload[: len(payload) // 2])
                return False
            if scenario == "badjson":
                payload = payload[:-5]
            if scenario in FAULTS:
                payload = payload.replace(UTF8_MARK.encode(), BAD_UTF8)
                fake = dumps(make(model, SMUGGLED, calls, finish)).encode("utf-8")
                return self.fault(scenario, n, b"HTTP/1.1 200 OK\r\n"
                                  b"Content-Type: application/json\r\n", payload, fake)
            self.send(200, payload)
            return True

        events = (openai_events if fmt == "openai" else anthropic_events)(
            model, text, calls, finish,
            size=(1 << 16) if scenario == "big" else
            len(text) if scenario in ("hugeline", "badutf8") else 3)  # one piece: a whole line, the marker intact
        if scenario == "badjson":
            name, data = events[2]
            events[2] = (name, data[: len(data) // 2])
        if scenario == "badindex":
            # A hostile index: far past any sane number of tool calls/blocks.
            for k, (name, data) in enumerate(events):
                if '"index": 0, "id"' in data or '"content_block": {"type": "tool_use"' in data:
                    events[k] = (name, data.replace('"index": 0, "id"', '"index": 1000000, "id"')
                                 .replace('"index": 1, "content_block"',
                                          '"index": 1000000, "content_block"'))
                    break
        if scenario == "dupstart" and fmt == "anthropic":
            # The first tool_use block starts twice, the second time with
            # another id, name and a non-empty input.
            for k, (name, data) in enumerate(events):
                if name == "content_block_start" and '"tool_use"' in data:
                    again = json.loads(data)
                    again["content_block"].update(id="toolu_again", name="other",
                                                  input={"x": 1})
                    events.insert(k + 1, (name, dumps(again)))
                    break
        if scenario == "streamerror":
            # The server gives up mid-stream, the way each API reports it.
            err = error_body(fmt, 529, "Overloaded")
            if fmt == "anthropic":
                err["error"]["type"] = "overloaded_error"
            events = events[:3] + [("error" if fmt == "anthropic" else None, dumps(err))]
        eol = "\r\n" if scenario == "crlf" else "\n"
        sse = sse_bytes(events, eol=eol, comments=(scenario == "comments"))
        head = self.stream_head()
        if scenario in FAULTS:
            # Not chunked: the faults are about the length the server claims.
            fake = sse_bytes((openai_events if fmt == "openai" else anthropic_events)(
                model, SMUGGLED, calls, finish))
            return self.fault(scenario, n, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                              b"Cache-Control: no-cache\r\n",
                              sse.replace(UTF8_MARK.encode(), BAD_UTF8), fake)
        if scenario == "bytes":
            self.request.sendall(head)
            for i in range(len(sse)):
                self.request.sendall(self.chunk(sse[i:i + 1]))
            self.request.sendall(b"0\r\n\r\n")
            return True
        if scenario == "utf8":
            # Cut inside the first multi-byte character of the answer, in
            # two sends a little apart so the client reads them separately.
            cut = sse.index("\u20ac".encode("utf-8")) + 1
            self.request.sendall(head + self.chunk(sse[:cut]))
            time.sleep(0.05)
            cut2 = sse.index("\U0001F600".encode("utf-8")) + 2
            self.request.sendall(self.chunk(sse[cut:cut2]))
            time.sleep(0.05)
            self.request.sendall(self.chunk(sse[cut2:]) + b"0\r\n\r\n")
            return True
        if scenario == "close":
            self.request.sendall(head + self.chunk(sse[: len(sse) // 2]))
            return False
        if scenario == "hangstream":
            self.request.sendall(head + self.chunk(sse[: len(sse) // 3]))
            self.hang()
            return False
        self.request.sendall(head + self.chunk(sse) + b"0\r\n\r\n")
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # hundreds of clients connect at once in test_engine.c
    tls = None  # --tls: the ssl.SSLContext every connection is wrapped in

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls:
            # The handshake runs in the connection's thread, at its first
            # read: a client that refuses the certificate stalls no other.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        # Clients that hang up (timeouts, size caps, cancellation) are part
        # of the tests; anything else is worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def tls_context(ca_path):
    """A server context for 127.0.0.1 with a throwaway CA (openssl command,
    EC P-256: cheap to make), its certificate written to ca_path."""
    with tempfile.TemporaryDirectory(prefix="hl-server-tls-") as d:
        def make(*args):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "7"] + list(args),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ca_key, ca_pem = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
        key, pem = os.path.join(d, "server.key"), os.path.join(d, "server.pem")
        # A name of its own per start: two servers' CAs never pass for each other.
        make("-keyout", ca_key, "-out", ca_pem,
             "-subj", "/CN=hookline test CA %d-%d" % (os.getpid(), time.time_ns()),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        make("-keyout", key, "-out", pem, "-subj", "/CN=127.0.0.1", "-CA", ca_pem, "-CAkey", ca_key,
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "extendedKeyUsage=serverAuth")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pem, key)
        ctx.set_alpn_protocols(["http/1.1"])
        with open(ca_pem, "rb") as src, open(ca_path, "wb") as dst:
            dst.write(src.read())
    return ctx


def main(handler=None):
    """Serve with `handler` (this file's Handler when None; the other
    servers pass their subclass) and print the port."""
    srv = Server(("127.0.0.1", 0), handler or Handler)
    if len(sys.argv) == 3 and sys.argv[1] == "--tls":
        srv.tls = tls_context(sys.argv[2])
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
