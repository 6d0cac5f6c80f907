#!/usr/bin/env python3
"""tests/mcp/hostile_http.py - a Streamable HTTP MCP server (standard
library only) for what server-everything does not show: answers as plain
JSON, a tools/call stream that closes before its response (the client must
resume with GET + Last-Event-ID after the `retry:` delay, as the
conformance suite's sse-retry scenario does; resume_idless: the resumed
stream sends an event without an id and closes too, the second GET must
name the same event), server requests on a POST
stream (ask_then_ping: an elicitation, then a ping while the client's
handler answers it; how long the ping's answer took; ping_flood_unread:
pings on the call's stream while the client's answers are never
answered, a dead peer for the client; answer_stalls {how}: a ping on the
call's stream, and the POST with the client's answer is never read
(how "unread") or read and answered by a response that trickles (how
"trickle": a space every 2 s), a stalled answer, for the client a dead
peer; slow_reader {sizes}: sampling/createMessage requests on the call's
stream asking for texts of those sizes, whose answers are read 4 KB
every 50 ms, then their ids in the order they arrived and their texts'
sizes), sessions (404 once deleted), a proxy's HTML page with status 200
(proxy_page), a 429 (rate_limited), an event of endless data: lines
(endless_data), an error page that never ends (endless_error), and a record of what the client sent.

Prints its port, serves until killed. GET /__log returns the record:
[{method, headers, body, t}].

With HOSTILE_HTTP_TLS=DIR in its environment it serves HTTPS instead: it
makes a throwaway CA with the openssl command (DIR/ca.pem), a certificate
for 127.0.0.1 signed by it, and a second CA that signed nothing
(DIR/other-ca.pem), for clients that must trust only the first.
"""
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = []
LOCK = threading.Lock()
SESSIONS = set()
PENDING = {}          # tools/call id parked for a resumed GET
IDLESS = {}           # event id -> resumed streams still to break after an id-less event
CLIENT_ANSWERS = {}   # our request id -> client's response
UNREAD = {"on": False}  # ping_flood_unread: the client's answers are left hanging
STALL = {"how": None}   # answer_stalls: what the next answer POST meets
SLOW = {"on": False, "order": []}  # slow_reader: answers read slowly, their ids as they came
EVENTS = {"n": 0}
GET_STREAMS = {}      # session id -> (handler, write lock) of its open GET stream
TOOLS = [{"name": n, "inputSchema": {"type": "object"}} for n in
         ("json_echo", "resume", "resume_idless", "ask_roots", "headers", "forget_session", "hang",
          "proxy_page", "rate_limited", "endless_data", "endless_error", "ask_on_get", "ask_then_ping", "ping_flood_unread", "answer_stalls", "slow_reader")] + [
    {"name": "structured_bad", "inputSchema": {"type": "object"},
     "outputSchema": {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}}]


def next_id():
    with LOCK:
        EVENTS["n"] += 1
        return "ev-%d" % EVENTS["n"]


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self, body):
        with LOCK:
            LOG.append({"method": self.command, "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "t": time.monotonic()})

    def json(self, status, obj, extra=()):
        data = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def sse_head(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def event(self, obj, eid=None, retry=None):
        s = ""
        if eid:
            s += "id: %s\n" % eid
        if retry is not None:
            s += "retry: %d\n" % retry
        s += "data: %s\n\n" % (json.dumps(obj) if obj is not None else "")
        self.wfile.write(s.encode())
        self.wfile.flush()

    def flood(self, tool, line):
        """Send `line` over and over, up to 48 MB; how much went before
        the client hung up goes into the log."""
        sent = 0
        try:
            while sent < 48 << 20:
                self.wfile.write(line * 64)
                sent += len(line) * 64
        except OSError:
            pass
        with LOCK:
            LOG.append({"method": tool, "sent": sent})

    def session_ok(self):
        sid = self.headers.get("Mcp-Session-Id")
        if sid not in SESSIONS:
            self.json(404, {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": "Session not found"}})
            return False
        return True

    def do_GET(self):
        if self.path == "/__log":
            with LOCK:
                return self.json(200, LOG)
        self.record(None)
        if not self.session_ok():
            return
        last = self.headers.get("Last-Event-ID")
        if last and IDLESS.get(last):
            # An event without an id field, then the stream breaks again:
            # the last event ID stays `last` (WHATWG).
            IDLESS[last] -= 1
            self.sse_head()
            self.event({"jsonrpc": "2.0", "method": "notifications/message",
                        "params": {"level": "info", "data": "an event without an id"}}, None, retry=100)
            return
        if last and last in PENDING:
            again = last in IDLESS
            self.sse_head()
            mid = PENDING.pop(last)
            self.event({"jsonrpc": "2.0", "id": mid, "result": {
                "content": [{"type": "text", "text": ("resumed again after " if again else "resumed after ") + last}]}},
                next_id())
            # and the stream stays open, as a GET stream may
            time.sleep(30)
            return
        # Slow to open the standalone stream (a busy server): what it sends
        # there before the stream is open is lost, as the reference SDK's
        # server drops it, so the client must not go on before it is open.
        time.sleep(0.5)
        sid = self.headers.get("Mcp-Session-Id")
        lock = threading.Lock()
        try:
            with lock:  # registered first: a request waits for the lock, not lost
                GET_STREAMS[sid] = (self, lock)
                self.sse_head()
                self.event(None, next_id())  # priming event of the standalone stream
        except OSError:
            return  # the client closed while we were slow
        time.sleep(30)

    def do_DELETE(self):
        self.record(None)
        SESSIONS.discard(self.headers.get("Mcp-Session-Id"))
        self.json(200, None)

    def read_slowly(self, n):
        """The body, 4 KB every 50 ms: a slow reader, but a live one."""
        data = b""
        while len(data) < n:
            got = self.rfile.read(min(4096, n - len(data)))
            if not got:
                break
            data += got
            time.sleep(0.05)
        return data

    def trickle(self):
        """A response that never ends: a space every 2 s of 64 promised."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "64")
        self.end_headers()
        try:
            for _ in range(64):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(2)
        except OSError:
            pass
        self.close_connection = True

    def do_POST(self):
        if STALL["how"] == "unread":
            # The client's answer: never read, never answered.
            STALL["how"] = None
            with LOCK:
                LOG.append({"method": "answer unread", "t": time.monotonic()})
            time.sleep(60)
            self.close_connection = True
            return
        n = int(self.headers.get("Content-Length", 0))
        raw = self.read_slowly(n) if SLOW["on"] else self.rfile.read(n)
        body = json.loads(raw or b"null")
        self.record(body)
        method, mid = body.get("method"), body.get("id")
        if method is None and STALL["how"] == "trickle":
            STALL["how"] = None
            return self.trickle()
        if method == "initialize":
            sid = str(uuid.uuid4())
            SESSIONS.add(sid)
            return self.json(200, {"jsonrpc": "2.0", "id": mid, "result": {
                "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile-http", "version": "1"}}}, [("Mcp-Session-Id", sid)])
        if not self.session_ok():
            return
        if method is None:  # a response from the client
            if UNREAD["on"]:
                time.sleep(60)  # never answered: the client's sender waits
                return
            CLIENT_ANSWERS[mid] = body
            if SLOW["on"]:
                SLOW["order"].append(mid)
            return self.json(202, None)
        if mid is None:     # a notification
            return self.json(202, None)
        if method == "tools/list":
            return self.json(200, {"jsonrpc": "2.0", "id": mid, "result": {"tools": TOOLS}})
        if method != "tools/call":
            return self.json(200, {"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "Method not found"}})
        name = body["params"]["name"]
        if name == "json_echo":
            return self.json(200, {"jsonrpc": "2.0", "id": mid, "result": {"content": [
                {"type": "text", "text": json.dumps(body["params"].get("arguments"))}]}})
        if name == "proxy_page":
            # A proxy's sign-in page with status 200 (echoing the token).
            page = ("<!DOCTYPE html>\n<html><body>token %s refused</body></html>\n" %
                    self.headers.get("Authorization", "")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if name == "endless_data":
            # One event of ever more short data: lines, never ended: the
            # client must stop reading at its cap, not buffer all 48 MB.
            self.sse_head()
            return self.flood(name, b"data: " + b"x" * 1000 + b"\n")
        if name == "endless_error":
            # A 500 whose HTML page goes on for 48 MB, without a length:
            # the client must stop at its cap for error bodies.
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return self.flood(name, b"<p>" + b"e" * 1020 + b"</p>\n")
        if name == "rate_limited":
            self.send_response(429)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Retry-After", "86400")
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"slow down")
            return
        if name == "hang":
            self.sse_head()
            self.event(None, next_id())
            # One progress notification (the client's observers see it on
            # the calling thread), then nothing.
            token = (body["params"].get("_meta") or {}).get("progressToken")
            if token is not None:
                self.event({"jsonrpc": "2.0", "method": "notifications/progress",
                            "params": {"progressToken": token, "progress": 1}}, next_id())
            time.sleep(30)
            return
        if name == "forget_session":
            SESSIONS.discard(self.headers.get("Mcp-Session-Id"))
            return self.json(200, {"jsonrpc": "2.0", "id": mid, "result": {"content": [
                {"type": "text", "text": "forgotten"}]}})
        if name == "headers":
            return self.json(200, {"jsonrpc": "2.0", "id": mid, "result": {"content": [
                {"type": "text", "text": json.dumps({k.lower(): v for k, v in self.headers.items()})}]}})
        if name == "structured_bad":
            return self.json(200, {"jsonrpc": "2.0", "id": mid, "result": {
                "content": [{"type": "text", "text": "{}"}], "structuredContent": {"n": "not a number"}}})
        if name in ("resume", "resume_idless"):
            # A priming event with an id and retry, then the stream closes.
            eid = next_id()
            PENDING[eid] = mid
            if name == "resume_idless":
                IDLESS[eid] = 1
            self.sse_head()
            self.event(None, eid, retry=300)
            return
        if name == "ask_on_get":
            # A server request on the standalone GET stream (how the
            # reference SDK sends a request unrelated to a client request):
            # dropped when that stream is not open yet.
            got = GET_STREAMS.get(self.headers.get("Mcp-Session-Id"))
            if not got:
                return self.json(200, {"jsonrpc": "2.0", "id": mid, "result": {"content": [
                    {"type": "text", "text": "dropped: no GET stream open"}]}})
            rid = "get-%s" % mid
            handler, lock = got
            with lock:
                handler.event({"jsonrpc": "2.0", "id": rid, "method": "roots/list"}, next_id())
            for _ in range(100):
                if rid in CLIENT_ANSWERS:
                    break
                time.sleep(0.05)
            return self.json(200, {"jsonrpc": "2.0", "id": mid, "result": {"content": [
                {"type": "text", "text": json.dumps(CLIENT_ANSWERS.get(rid))}]}})
        if name == "ping_flood_unread":
            UNREAD["on"] = True
            self.sse_head()
            try:
                for i in range(int((body["params"].get("arguments") or {}).get("count", 3000))):
                    self.event({"jsonrpc": "2.0", "id": "flood-%d" % i, "method": "ping"})
            except OSError:
                return  # the client ended the stream
            time.sleep(30)
            return
        if name == "answer_stalls":
            # A ping on the call's stream; its answer's POST stalls (do_POST),
            # and the stream stays open without a response.
            STALL["how"] = (body["params"].get("arguments") or {}).get("how", "unread")
            self.sse_head()
            self.event({"jsonrpc": "2.0", "id": "stall-%s" % mid, "method": "ping"}, next_id())
            time.sleep(60)
            return
        if name == "slow_reader":
            # Sampling requests asking for texts of `sizes` bytes; their
            # answers are read slowly (do_POST). Progress every 0.5 s keeps
            # a client whose time limit progress resets waiting.
            sizes = (body["params"].get("arguments") or {}).get("sizes", [65536])
            token = (body["params"].get("_meta") or {}).get("progressToken")
            SLOW["on"], SLOW["order"] = True, []
            ids = ["slow-%s-%d" % (mid, i) for i in range(len(sizes))]
            self.sse_head()
            for rid, size in zip(ids, sizes):
                self.event({"jsonrpc": "2.0", "id": rid, "method": "sampling/createMessage", "params": {
                    "messages": [{"role": "user", "content": {"type": "text", "text": "a text, please"}}],
                    "maxTokens": size}}, next_id())
            t0, step = time.monotonic(), 0
            while not all(r in CLIENT_ANSWERS for r in ids) and time.monotonic() - t0 < 60:
                time.sleep(0.5)
                step += 1
                if token is not None:
                    self.event({"jsonrpc": "2.0", "method": "notifications/progress",
                                "params": {"progressToken": token, "progress": step}}, next_id())
            SLOW["on"] = False
            got = [CLIENT_ANSWERS.get(r) for r in ids]
            self.event({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": json.dumps({
                "order": SLOW["order"], "ids": ids,
                "sizes": [len(((a or {}).get("result") or {}).get("content", {}).get("text", "")) for a in got]})}]}},
                next_id())
            return
        if name == "ask_then_ping":
            # An elicitation (the client's handler takes its time), then,
            # while it runs, a ping: its answer's delay is the result.
            self.sse_head()
            eid, pid = "eli-%s" % mid, "ping-%s" % mid
            self.event({"jsonrpc": "2.0", "id": eid, "method": "elicitation/create",
                        "params": {"message": "name?", "requestedSchema": {"type": "object", "properties": {}}}},
                       next_id())
            time.sleep(0.2)
            self.event({"jsonrpc": "2.0", "id": pid, "method": "ping"}, next_id())
            t0 = time.monotonic()
            while pid not in CLIENT_ANSWERS and time.monotonic() - t0 < 20:
                time.sleep(0.01)
            ping_ms = int((time.monotonic() - t0) * 1000)
            while eid not in CLIENT_ANSWERS and time.monotonic() - t0 < 20:
                time.sleep(0.01)
            self.event({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": json.dumps(
                {"ping_ms": ping_ms, "ping": CLIENT_ANSWERS.get(pid), "elicit": CLIENT_ANSWERS.get(eid)})}]}},
                next_id())
            return
        if name == "ask_roots":
            # A server request on the call's own stream, then the answer.
            self.sse_head()
            rid = "srv-%s" % mid
            self.event({"jsonrpc": "2.0", "id": rid, "method": "roots/list"}, next_id())
            for _ in range(100):
                if rid in CLIENT_ANSWERS:
                    break
                time.sleep(0.05)
            self.event({"jsonrpc": "2.0", "id": mid, "result": {"content": [
                {"type": "text", "text": json.dumps(CLIENT_ANSWERS.get(rid))}]}}, next_id())
            return


def make_tls(d):
    """A CA, a server certificate for 127.0.0.1 that it signed, another CA."""
    def sh(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        sh("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2",
           "-subj", "/CN=hookline test " + ca)
    sh("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    sh("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
       "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    return ctx


server = ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
if os.environ.get("HOSTILE_HTTP_TLS"):
    server.socket = make_tls(os.environ["HOSTILE_HTTP_TLS"]).wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
