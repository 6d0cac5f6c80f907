#!/usr/bin/env python3
"""tests/mcp/modern_server.py - an MCP server of the 2026-07-28 revision
(stateless: no initialize, every request carries its _meta) over stdio,
or Streamable HTTP with --http (prints its port, serves until killed),
standard library only. It checks what the revision asks of every request
and refuses a request that breaks it as a modern server must: _meta with
protocolVersion, clientCapabilities and clientInfo; over HTTP the
MCP-Protocol-Version, Mcp-Method and Mcp-Name headers matching the body
(400 with -32020 otherwise), no Mcp-Session-Id, no GET (405).

MODERN_MODE selects the server's era and manners:
  modern       (default) modern only: initialize is refused
  legacy       a 2025-11-25 server only: server/discover is an unknown
               method (stdio: -32601; HTTP: 400 "no session", no JSON-RPC
               error a modern server would send)
  legacy_page  the same, but over HTTP the probe gets 404 and an HTML page
  reject_once  modern, but refuses the first request with -32022
               (UnsupportedProtocolVersionError) that lists 2026-07-28
  future       modern, speaking only 2099-01-01 (every request: -32022)
  contrary     modern, but refuses every request with -32022 listing
               2026-07-28 (the very version it refuses)
  reject_call  modern, but refuses the first tools/call with -32022 listing
               2026-07-28
  moved_on     modern, but refuses every tools/call with -32022 listing
               only 2099-01-01 (a server redeployed after connect)
  probe_request  modern, but over HTTP the answer to server/discover is a
               stream that first asks roots/list (which a modern server
               must not; the client answers it while connect goes on)
  listen_drop  modern, but every subscriptions/listen stream is closed
               right after its acknowledgment, without a response
  listen_end   modern, but every subscriptions/listen stream ends at once
               with its (graceful) response

Tools: echo {text}; log (a notifications/message first when the request's
_meta asks for a log level, then the level it saw); two_rounds (MRTR: an
elicitation, then roots/list, each round's requestState checked byte for
byte); ask_forever (input_required every time); ask_sampling (asks for
sampling/createMessage; {"many": true}: 17 elicitations at once; {"other": true}: an input
request naming tools/call; {"url": true}: a URL mode elicitation, then the answer's action); add_tool (adds tool "extra" and tells the
subscriptions/listen streams); drop_listen (closes the listen streams
without a response); drop_once (HTTP: the first call's stream breaks
before its response); drop_always (not listed; HTTP: every call's stream
breaks before its response); slow (answers after 2 s); slow_rounds (not listed:
input_required after 1 s, the retry answered after 1 s more); needs_sampling (-32021,
MissingRequiredClientCapability); "café" (a name that is no plain header value).

Every request is recorded: {method, id, meta, headers (HTTP), state,
responses}; GET /__log (HTTP) or the tool __log (stdio) returns the record.
"""
import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "2026-07-28"
MODE = os.environ.get("MODERN_MODE", "modern")
LOG = []
LOCK = threading.Lock()
STATE = {"rejected": False, "extra": False, "forever": 0, "dropped": False}
LISTENERS = []  # open subscriptions/listen streams: send(obj) functions
# requestState values with what JSON and a careless client might change:
# escapes, a quote, a backslash, non-ASCII, a line separator.
STATE1 = 'r1:caf\u00e9 "q" \\ \u2028 \U0001F600 {"x":[1,2]}'
STATE2 = "r2:" + base64.b64encode(b"\x00\xffopaque").decode()


def tools():
    names = ["echo", "log", "two_rounds", "ask_forever", "ask_sampling", "add_tool", "drop_listen",
             "drop_once", "slow", "needs_sampling", "caf\u00e9", "__log"] + (["extra"] if STATE["extra"] else [])
    return [{"name": n, "inputSchema": {"type": "object"}} for n in names]


def error(mid, code, message, data=None):
    e = {"code": code, "message": message}
    if data is not None:
        e["data"] = data
    return {"jsonrpc": "2.0", "id": mid, "error": e}


def result(mid, res):
    res = dict(res)
    res.setdefault("resultType", "complete")
    return {"jsonrpc": "2.0", "id": mid, "result": res}


def text(mid, t, is_error=False):
    r = {"content": [{"type": "text", "text": t}]}
    if is_error:
        r["isError"] = True
    return result(mid, r)


def input_required(mid, requests, state):
    r = {"resultType": "input_required"}
    if requests is not None:
        r["inputRequests"] = requests
    if state is not None:
        r["requestState"] = state
    return {"jsonrpc": "2.0", "id": mid, "result": r}


ELICIT = {"method": "elicitation/create", "params": {
    "mode": "form", "message": "Your name?",
    "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}


def call_tool(mid, params, notify):
    """The response to tools/call (notify(obj) sends on the request's stream)."""
    name = params.get("name")
    args = params.get("arguments") or {}
    meta = params.get("_meta") or {}
    responses = params.get("inputResponses")
    state = params.get("requestState")
    if name == "echo":
        return text(mid, "echo: " + str(args.get("text", "")))
    if name == "log":
        level = meta.get("io.modelcontextprotocol/logLevel")
        if level:  # only for requests that ask (the revision's rule)
            notify({"jsonrpc": "2.0", "method": "notifications/message",
                    "params": {"level": "warning", "logger": "modern", "data": "log for " + level}})
        return text(mid, "level: " + str(level))
    if name == "two_rounds":
        if state is None:
            return input_required(mid, {"who": ELICIT}, STATE1)
        if state == STATE1:
            who = (responses or {}).get("who") or {}
            if who.get("action") != "accept":
                return text(mid, "round 2 without the elicitation's answer: %r" % (responses,), True)
            return input_required(mid, {"where": {"method": "roots/list", "params": {}}},
                                  STATE2 + ":" + who.get("content", {}).get("name", ""))
        if state.startswith(STATE2 + ":"):
            roots = ((responses or {}).get("where") or {}).get("roots") or []
            return text(mid, "done: %s at %s" % (state[len(STATE2) + 1:], roots[0]["uri"] if roots else "?"))
        return text(mid, "requestState came back changed: %r" % (state,), True)
    if name == "ask_forever":
        with LOCK:
            STATE["forever"] += 1
            n = STATE["forever"]
        return input_required(mid, None, "again-%d" % n)
    if name == "ask_sampling" and args.get("many"):
        # 17 elicitations in one round (over the client's cap of 16).
        return input_required(mid, {"q%d" % i: ELICIT for i in range(17)}, None)
    if name == "ask_sampling" and args.get("url"):
        if responses is None:
            return input_required(mid, {"link": {"method": "elicitation/create", "params": {
                "mode": "url", "message": "Connect your account", "url": "https://example.com/connect"}}}, None)
        return text(mid, "url: " + str(((responses or {}).get("link") or {}).get("action")))
    if name == "ask_sampling" and args.get("other"):
        # A method no input request may name: the client must not run it.
        return input_required(mid, {"x": {"method": "tools/call", "params": {"name": "echo"}}}, None)
    if name == "ask_sampling":
        return input_required(mid, {"llm": {"method": "sampling/createMessage", "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5}}}, None)
    if name == "add_tool":
        STATE["extra"] = True
        for send in list(LISTENERS):
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": {}})
        return text(mid, "added")
    if name == "extra":
        return text(mid, "extra tool")
    if name == "drop_listen":
        open_now = list(LISTENERS)
        for send in open_now:
            send(None)  # close without a response
        return text(mid, "dropped %d" % len(open_now))
    if name == "needs_sampling":
        return error(mid, -32021, "Missing required client capability",
                     {"requiredCapabilities": {"sampling": {}}})
    if name == "slow_rounds":  # unlisted: 1 s to ask, 1 s to answer
        time.sleep(1)
        return input_required(mid, None, "slow") if state is None else text(mid, "slow rounds done")
    if name == "slow":
        time.sleep(2)
        return text(mid, "slow done")
    if name == "caf\u00e9":
        return text(mid, "caf\u00e9 au lait")
    if name == "__log":
        with LOCK:
            return text(mid, json.dumps(LOG))
    return error(mid, -32602, "Unknown tool: %s" % name)


def check_meta(msg):
    """A modern request's refusal (None: it is fine)."""
    mid = msg.get("id")
    meta = (msg.get("params") or {}).get("_meta") or {}
    version = meta.get("io.modelcontextprotocol/protocolVersion")
    call = msg.get("method") == "tools/call"
    if MODE in ("future", "contrary") or (MODE == "reject_once" and not STATE["rejected"]) or \
            (MODE == "reject_call" and call and not STATE["rejected"]) or (MODE == "moved_on" and call):
        STATE["rejected"] = True
        supported = ["2099-01-01"] if MODE in ("future", "moved_on") else [VERSION]
        return error(mid, -32022, "Unsupported protocol version",
                     {"supported": supported, "requested": str(version)})
    missing = [k for k in ("protocolVersion", "clientCapabilities", "clientInfo")
               if "io.modelcontextprotocol/" + k not in meta]
    if missing:
        return error(mid, -32602, "Invalid params: missing _meta keys: " + ", ".join(missing))
    if version != VERSION:
        return error(mid, -32022, "Unsupported protocol version", {"supported": [VERSION], "requested": version})
    return None


def handle(msg, notify, headers=None):
    """The response to one message (None: a notification), or a pair
    (status, response) when it is refused; `notify` sends on its stream."""
    method, mid = msg.get("method"), msg.get("id")
    params = msg.get("params") or {}
    with LOCK:
        LOG.append({"method": method, "id": mid, "meta": params.get("_meta"), "headers": headers,
                    "state": params.get("requestState"), "responses": params.get("inputResponses"),
                    "name": params.get("name")})
    if mid is None or method is None:
        return None
    if MODE.startswith("legacy"):
        if method == "initialize":
            return result(mid, {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                                "serverInfo": {"name": "legacy-only", "version": "1"}})
        if method == "tools/list":
            return result(mid, {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]})
        if method == "tools/call":
            return call_tool(mid, params, notify)
        if headers is None:
            return error(mid, -32601, "Method not found")
        if MODE == "legacy_page":
            return (404, "<html><body>Not Found</body></html>")
        return (400, {"jsonrpc": "2.0", "id": None, "error": {
            "code": -32000, "message": "Bad Request: Server not initialized"}})
    if method == "initialize":  # a modern-only server names what it speaks
        return error(mid, -32601, "initialize is not supported: this server speaks " + VERSION)
    refusal = check_meta(msg)
    if refusal:
        return (400, refusal)
    if method == "server/discover":
        return result(mid, {"supportedVersions": [VERSION],
                            "capabilities": {"tools": {"listChanged": True}},
                            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "modern", "version": "1"}},
                            "instructions": "a test server"})
    if method == "tools/list":
        return result(mid, {"tools": tools(), "ttlMs": 0, "cacheScope": "private"})
    if method == "tools/call":
        return call_tool(mid, params, notify)
    if method == "resources/read":  # it has none: the revision's -32602
        return error(mid, -32602, "Resource not found", {"uri": params.get("uri")})
    return error(mid, -32601, "Method not found: %s" % method)


# ---- stdio ---------------------------------------------------------------

OUT = threading.Lock()


def stdio_send(obj):
    with OUT:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def stdio_main():
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        if msg.get("method") == "subscriptions/listen":
            handle(msg, stdio_send)
            sid = msg.get("id")

            def send(obj, sid=sid):
                if obj is not None:
                    obj.setdefault("params", {})["_meta"] = {"io.modelcontextprotocol/subscriptionId": sid}
                    stdio_send(obj)
            stdio_send({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
                        "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": sid},
                                   "notifications": {"toolsListChanged": True}}})
            LISTENERS.append(send)
            continue
        out = handle(msg, stdio_send)
        if isinstance(out, tuple):
            out = out[1]
        if out is not None:
            stdio_send(out)


# ---- HTTP ----------------------------------------------------------------

def decode_header(v):
    if v and v.startswith("=?base64?") and v.endswith("?="):
        return base64.b64decode(v[9:-2]).decode("utf-8")
    return v


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/__log":
            with LOCK:
                return self.send_json(200, LOG)
        with LOCK:
            LOG.append({"method": "GET", "headers": {k.lower(): v for k, v in self.headers.items()}})
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_DELETE(self):
        self.do_GET()

    def header_refusal(self, msg):
        if MODE.startswith("legacy"):
            return None
        mid, method = msg.get("id"), msg.get("method")
        why = None
        if self.headers.get("Mcp-Session-Id"):
            why = "a modern request carries no Mcp-Session-Id"
        elif self.headers.get("Mcp-Method") != method:
            why = "Mcp-Method %r is not %r" % (self.headers.get("Mcp-Method"), method)
        elif method in ("tools/call", "prompts/get", "resources/read"):
            want = (msg.get("params") or {}).get("uri" if method == "resources/read" else "name")
            if decode_header(self.headers.get("Mcp-Name")) != want:
                why = "Mcp-Name %r is not %r" % (self.headers.get("Mcp-Name"), want)
        if not why and MODE != "future" and \
                self.headers.get("MCP-Protocol-Version") != VERSION:
            why = "MCP-Protocol-Version %r" % self.headers.get("MCP-Protocol-Version")
        return error(mid, -32020, "Header mismatch: " + why) if why else None

    def sse_head(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def event(self, obj):
        self.wfile.write(("data: " + json.dumps(obj) + "\n\n").encode())
        self.wfile.flush()

    def do_POST(self):
        msg = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
        headers = {k.lower(): v for k, v in self.headers.items()}
        refusal = self.header_refusal(msg)
        if refusal:
            with LOCK:
                LOG.append({"method": msg.get("method"), "id": msg.get("id"), "headers": headers,
                            "refused": refusal["error"]["message"]})
            return self.send_json(400, refusal)
        method = msg.get("method")
        if method == "subscriptions/listen" and not MODE.startswith("legacy") and not check_meta(msg):
            return self.listen(msg, headers)
        params = msg.get("params") or {}
        if method == "server/discover" and MODE == "probe_request":
            self.sse_head()
            self.event({"jsonrpc": "2.0", "id": "s1", "method": "roots/list"})
            self.event(handle(msg, None, headers))
            return
        if method == "tools/call" and params.get("name") == "drop_once" and not STATE["dropped"]:
            STATE["dropped"] = True
            handle(msg, None, headers)  # recorded
            self.sse_head()
            self.wfile.write(b": the stream breaks before the response\n\n")
            self.wfile.flush()
            return
        if method == "tools/call" and params.get("name") == "drop_always":
            handle(msg, None, headers)  # recorded
            self.sse_head()
            self.wfile.write(b": the stream breaks before the response, every time\n\n")
            self.wfile.flush()
            return
        if method == "tools/call" and params.get("name") == "drop_once":
            handle(msg, None, headers)
            return self.send_json(200, text(msg.get("id"), "second try"))
        if method == "tools/call" and params.get("name") == "log":
            self.sse_head()
            out = handle(msg, self.event, headers)
            self.event(out)
            return
        out = handle(msg, None, headers)
        if out is None:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif isinstance(out, tuple) and isinstance(out[1], str):
            page = out[1].encode()
            self.send_response(out[0])
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
        elif isinstance(out, tuple):
            self.send_json(out[0], out[1])
        else:
            self.send_json(200, out)

    def listen(self, msg, headers):
        handle(msg, None, headers)
        sid = msg.get("id")
        self.sse_head()
        lock = threading.Lock()
        done = threading.Event()

        def send(obj):
            with lock:
                if done.is_set():
                    return
                if obj is None:
                    done.set()
                    return
                obj.setdefault("params", {})["_meta"] = {"io.modelcontextprotocol/subscriptionId": sid}
                try:
                    self.event(obj)
                except OSError:
                    done.set()
        send({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
              "params": {"notifications": {"toolsListChanged": True}}})
        if MODE == "listen_end":
            send(result(sid, {"resultType": "complete"}))
        if MODE in ("listen_drop", "listen_end"):
            return
        LISTENERS.append(send)
        done.wait(60)
        LISTENERS.remove(send)


def http_main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    if "--http" in sys.argv:
        http_main()
    else:
        stdio_main()
