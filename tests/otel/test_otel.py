#!/usr/bin/env python3
"""tests/otel/test_otel.py - hookline's OpenTelemetry export, end to end.

Usage: test_otel.py CASE OTEL_RUN SOURCE_ROOT

Starts, on random 127.0.0.1 ports: an OTLP/HTTP receiver written for this
test (it decodes the JSON and keeps it), an OpenAI Chat Completions server
that records the traceparent of each request, and for the tree the MCP
server of tests/mcp (hostile_http.py, which logs the headers it got). Runs
one scenario of otel_run against them and checks what arrived:

  tree            the span tree: ids, parents, kinds, names, attributes,
                  hook events, error status; traceparent on model and MCP
                  requests; resource, headers; the metrics; no API key
  content         the same with content capture on: content present, the
                  API key still absent
  fail            a failed model call: chat and invoke_agent spans in error
  remote          a run joins the caller's trace (hl_otel_set_parent)
  hooks           a before_tool hook's decision is an event named "hook"
                  on the tool's span, with the hook's name: an edit of the
                  arguments, an abort (the span in error, the message
                  said), an interrupt (not an error)
  collector_down  nothing listens: runs are not slowed, one warning
  collector_hang  the receiver never answers: same, shutdown is bounded
  collector_503   always 503: retried, then dropped and counted
  collector_429   429 twice, then accepted: retried with backoff, no loss
  refused         400 with a google.rpc.Status: not retried, one warning
                  naming its message, cleaned
  retry_after     429 and 503 with Retry-After in seconds and as an
                  HTTP-date: each waited for
  env             OTEL_BSP_*, OTEL_METRIC_EXPORT_INTERVAL, per-signal headers
                  merged over the generic ones; bad values warned of
  schedule_delay  OTEL_BSP_SCHEDULE_DELAY: the default (5000 ms) and the variable
  env_resource    OTEL_SERVICE_NAME over the list's service.name, percent-
                  decoding of OTEL_RESOURCE_ATTRIBUTES and _HEADERS values,
                  OTEL_EXPORTER_OTLP_INSECURE ignored
  env_signals     OTEL_{TRACES,METRICS}_EXPORTER and _PROTOCOL turn a
                  signal off
  env_timeout     OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT, OTEL_BSP_EXPORT_TIMEOUT
  gzip            OTEL_EXPORTER_OTLP_[METRICS_]COMPRESSION
  tls             OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE / CLIENT_CERTIFICATE /
                  CLIENT_KEY against an https receiver of a throwaway CA
                  that requires a client certificate
  propagators     OTEL_PROPAGATORS: tracecontext, none, baggage, unknown
                  ones warned of
  limits          span limits: values cut at whole characters, attributes
                  and events beyond the counts dropped and counted
  sampling        OTEL_TRACES_SAMPLER / _ARG: unsampled runs export metrics
                  only; the caller's flag; traceparent flags 00
  partial         200 with a partialSuccess: not retried, the rejected
                  spans and data points counted, one clean warning
  mockotlpserver  the same export accepted by @elastic/mockotlpserver (npm,
                  pinned; scripts/setup.d/mockotlpserver.sh), whose
                  normaliser and waterfall printer read it without error
"""
import email.utils
import gzip
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "sk-otel-SECRET-0123456789abcdef"
COLLECTOR_TOKEN = "collector-token-9876"
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


# ---- the OTLP receiver ----------------------------------------------------

# An errorMessage of a partial success: long, with an escape sequence
# (ESC [ 2 J clears a terminal) and a C1 CSI (U+009B), neither of which
# may reach the warning.
PARTIAL_MESSAGE = "quota \x1b[2Jexceeded \u009b31m for tenant a" + "x" * 5000


# The message of a google.rpc.Status refusing an export, with an OSC
# sequence that would set a terminal's title.
STATUS_MESSAGE = "span attribute \x1b]0;PWNED\x07 too long"


class Receiver:
    """mode: ok | 503 | 429 (twice, then ok) | hang | partial (200 with a
    partialSuccess: 3 spans or 2 data points rejected) | 400 (a
    google.rpc.Status) | retry_after (traces: 429 with Retry-After: 1,
    then 503 with Retry-After as an HTTP-date 2 s ahead, then ok)."""

    def __init__(self, mode="ok", tls=None):
        self.mode = mode
        self.posts = []  # (path, headers, raw bytes, status answered)
        self.times = []  # time.monotonic() of each post, as self.posts
        self.lock = threading.Lock()
        self.release = threading.Event()
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                with rec.lock:
                    n = len(rec.posts)
                    n_traces = sum(1 for p in rec.posts if p[0] == "/v1/traces")
                    status = {"ok": 200, "503": 503, "hang": 200, "partial": 200, "400": 400,
                              "429": 429 if n < 2 else 200,
                              "retry_after": 200 if self.path != "/v1/traces" else
                              [429, 503][n_traces] if n_traces < 2 else 200}[rec.mode]
                    rec.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                                      raw, status))
                    rec.times.append(time.monotonic())
                if rec.mode == "hang":
                    rec.release.wait(60)
                    return
                body = b"{}"
                if rec.mode == "partial":
                    # int64 as a string (traces) and as a number (metrics):
                    # the protobuf JSON mapping allows both
                    rejected = {"rejectedSpans": "3"} if self.path == "/v1/traces" else {"rejectedDataPoints": 2}
                    body = json.dumps({"partialSuccess": dict(rejected, errorMessage=PARTIAL_MESSAGE)}).encode()
                if status == 400:
                    body = json.dumps({"code": 3, "message": STATUS_MESSAGE, "details": []}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if rec.mode == "retry_after" and status == 429:
                    self.send_header("Retry-After", "1")
                elif rec.mode == "retry_after" and status == 503:
                    self.send_header("Retry-After", email.utils.formatdate(time.time() + 2, usegmt=True))
                elif status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self, path):
        with self.lock:
            return [json.loads(raw) for p, _, raw, st in self.posts if p == path and st == 200]

    def close(self):
        self.release.set()
        self.server.shutdown()


# ---- the model server -----------------------------------------------------

class ModelServer:
    def __init__(self):
        self.requests = []  # (headers, body)
        srv = self

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

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                srv.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if body.get("model") == "fail":
                    return self.send_json(400, {"error": {"message": "model fail is refused",
                                                          "type": "invalid_request_error"}})
                tools = {t["function"]["name"] for t in body.get("tools", [])}
                if any(m.get("role") == "tool" for m in body["messages"]):
                    msg = {"role": "assistant", "content": "all done"}
                    return self.send_json(200, {
                        "id": "chatcmpl-2", "model": "gpt-test-2026-01",
                        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 20, "completion_tokens": 2}})
                calls = [("call_add", "add", {"a": 2, "b": 3}), ("call_broken", "broken", {}),
                         ("call_research", "researcher", {"input": "find x"}),
                         ("call_rm", "rm", {"path": "/tmp/x"})]
                if "run_javascript" in tools:
                    calls.append(("call_js", "run_javascript", {"code":
                        "const [a, b] = await Promise.all([add({a: 1, b: 1}), add({a: 2, b: 2})]);"
                        " a + b"}))
                if "json_echo" in tools:
                    calls.append(("call_echo", "json_echo", {"msg": "hi"}))
                msg = {"role": "assistant", "content": None, "tool_calls": [
                    {"id": i, "type": "function",
                     "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in calls]}
                return self.send_json(200, {
                    "id": "chatcmpl-1", "model": "gpt-test-2026-01",
                    "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# ---- helpers --------------------------------------------------------------

def run(otel_run, args, env_extra, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(env_extra)
    p = subprocess.run([otel_run] + args, env=env, capture_output=True, text=True, timeout=timeout)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p


def spans_of(exports):
    out = []
    for e in exports:
        for rs in e["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    s["_resource"] = rs["resource"]
                    out.append(s)
    return out


def attrs(obj):
    res = {}
    for a in obj.get("attributes", []):
        v = a["value"]
        if "stringValue" in v:
            res[a["key"]] = v["stringValue"]
        elif "intValue" in v:
            check(isinstance(v["intValue"], str), "64-bit ints are strings: %r" % a)
            res[a["key"]] = int(v["intValue"])
        elif "arrayValue" in v:
            res[a["key"]] = [x.get("stringValue") for x in v["arrayValue"]["values"]]
        else:
            res[a["key"]] = list(v.values())[0]
    return res


def one(spans, name, parent=None):
    found = [s for s in spans if s["name"] == name and (parent is None or s.get("parentSpanId") == parent["spanId"])]
    check(len(found) == 1, "one span %r under %s, found %d" % (name, parent and parent["name"], len(found)))
    return found[0] if found else {"spanId": "-", "name": name, "attributes": [], "events": [], "status": {}}


def hook_events(span):
    return [attrs(e) for e in span.get("events", []) if e["name"] == "hook"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_mcp(root):
    p = subprocess.Popen([sys.executable, os.path.join(root, "tests/mcp/hostile_http.py")],
                         stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    return p, port


def common_checks(spans):
    """What every export must satisfy: ids, parents, kinds, status."""
    ids = set()
    for s in spans:
        check(re.fullmatch(r"[0-9a-f]{32}", s["traceId"]) and s["traceId"] != "0" * 32, "trace id hex: %r" % s["traceId"])
        check(re.fullmatch(r"[0-9a-f]{16}", s["spanId"]), "span id hex: %r" % s["spanId"])
        check(s["spanId"] not in ids, "span id unique: %s" % s["spanId"])
        ids.add(s["spanId"])
        check(s["kind"] in (1, 3), "kind is an integer enum: %r" % s["kind"])
        check(isinstance(s["startTimeUnixNano"], str) and isinstance(s["endTimeUnixNano"], str), "times are strings")
        check(int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]) > 1.6e18, "times make sense: %s" % s["name"])
        check("code" in s["status"], "status on every span: %s" % s["name"])
        kind = {"invoke_agent": 1, "chat": 3, "execute_tool": 1, "tools/call": 3}[s["name"].split(" ")[0]]
        check(s["kind"] == kind, "kind of %s is %d" % (s["name"], kind))
    return ids


# ---- cases ----------------------------------------------------------------

def run_tree(otel_run, root, rec, model, env):
    """otel_run tree against rec, model and an MCP server of its own, with
    `env`; stops them all; returns the MCP server's log."""
    mcp, mcp_port = start_mcp(root)
    try:
        p = run(otel_run, ["tree"], dict(env, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % rec.port,
                                         MODEL_URL="http://127.0.0.1:%d/v1" % model.port, OTEL_TEST_KEY=API_KEY,
                                         MCP_URL="http://127.0.0.1:%d/mcp" % mcp_port))
        check(p.returncode == 0, "otel_run tree exits 0")
        import urllib.request
        return json.loads(urllib.request.urlopen("http://127.0.0.1:%d/__log" % mcp_port).read())
    finally:
        mcp.kill()
        mcp.wait()
        rec.close()
        model.server.shutdown()


def case_tree(otel_run, root, capture):
    rec, model = Receiver(), ModelServer()
    env = {"OTEL_SERVICE_NAME": "otel-test-svc",
           "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,team=a%2Cb",
           "OTEL_EXPORTER_OTLP_HEADERS": "x-collector-token=" + COLLECTOR_TOKEN}
    if capture:
        env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
    mcp_log = run_tree(otel_run, root, rec, model, env)

    with rec.lock:
        posts = list(rec.posts)
    raw_all = b"".join(raw for _, _, raw, _ in posts)
    check(API_KEY.encode() not in raw_all, "the API key is nowhere in the export")
    check(COLLECTOR_TOKEN.encode() not in raw_all, "the collector token is only a header")
    check(all(h.get("x-collector-token") == COLLECTOR_TOKEN for _, h, _, _ in posts),
          "OTEL_EXPORTER_OTLP_HEADERS on every export")
    check(all(h.get("content-type") == "application/json" for _, h, _, _ in posts), "JSON content type")
    spans = spans_of(rec.accepted("/v1/traces"))
    if os.environ.get("OTEL_TEST_DUMP"):
        json.dump(spans, open(os.environ["OTEL_TEST_DUMP"], "w"), indent=1)
    check(len(spans) > 0, "spans arrived")
    common_checks(spans)
    check(len({s["traceId"] for s in spans}) == 1, "one trace for the whole run")
    by_id = {s["spanId"]: s for s in spans}
    roots = [s for s in spans if "parentSpanId" not in s]
    check(len(roots) == 1, "one root span, got %d" % len(roots))
    for s in spans:
        if "parentSpanId" in s:
            check(s["parentSpanId"] in by_id, "parent of %s was exported" % s["name"])
    res = attrs(spans[0]["_resource"])
    check(res.get("service.name") == "otel-test-svc", "service.name from OTEL_SERVICE_NAME")
    check(res.get("deployment.environment") == "test" and res.get("team") == "a,b",
          "OTEL_RESOURCE_ATTRIBUTES, percent-decoded: %r" % res)

    pipeline = one(spans, "invoke_agent pipeline")
    check("parentSpanId" not in pipeline, "the pipeline is the root")
    pa = attrs(pipeline)
    check(pa.get("gen_ai.operation.name") == "invoke_agent" and pa.get("gen_ai.agent.name") == "pipeline",
          "invoke_agent attributes: %r" % pa)
    check(pa.get("gen_ai.conversation.id") == "sess-otel-42\ufffd",
          "conversation id is the session id, its byte that is not UTF-8 replaced: %r" % pa.get("gen_ai.conversation.id"))
    coord = one(spans, "invoke_agent coordinator", pipeline)
    one(spans, "invoke_agent summarizer", pipeline)
    ca = attrs(coord)
    check(ca.get("gen_ai.usage.input_tokens") == 30 and ca.get("gen_ai.usage.output_tokens") == 7,
          "the coordinator's usage: %r" % ca)
    chats = sorted([s for s in spans if s["name"] == "chat gpt-test"], key=lambda s: int(s["startTimeUnixNano"]))
    check(len(chats) == 2, "two chat spans of the coordinator")
    for i, c in enumerate(chats):
        a = attrs(c)
        check(c.get("parentSpanId") == coord["spanId"], "chat under the coordinator")
        check(a.get("gen_ai.operation.name") == "chat" and a.get("gen_ai.provider.name") == "openai" and
              a.get("gen_ai.request.model") == "gpt-test" and a.get("gen_ai.response.model") == "gpt-test-2026-01",
              "chat attributes: %r" % a)
        check(a.get("gen_ai.response.id") == "chatcmpl-%d" % (i + 1), "response id: %r" % a)
        check(a.get("gen_ai.response.finish_reasons") == [["tool_calls"], ["stop"]][i], "finish reasons: %r" % a)
        check(a.get("gen_ai.usage.input_tokens") == [10, 20][i] and a.get("gen_ai.usage.output_tokens") == [5, 2][i],
              "chat usage: %r" % a)
        check(c["status"]["code"] == 0, "a successful chat leaves status unset")
    # traceparent on the model requests: the trace and the chat span of each
    tps = [h.get("traceparent", "") for h, _ in model.requests]
    check(len(tps) == 2, "two model requests")
    for tp, c in zip(tps, chats):
        check(tp == "00-%s-%s-01" % (c["traceId"], c["spanId"]), "traceparent %r names its chat span" % tp)

    tools = {}
    for s in spans:
        if s["name"].startswith("execute_tool ") and s.get("parentSpanId") == coord["spanId"]:
            tools[attrs(s).get("gen_ai.tool.call.id")] = s
    add = tools.get("call_add", {"name": "-", "attributes": [], "events": [], "status": {}, "spanId": "-"})
    check(add["name"] == "execute_tool add", "add's span")
    aa = attrs(add)
    check(aa.get("gen_ai.operation.name") == "execute_tool" and aa.get("gen_ai.tool.name") == "add", "tool attributes: %r" % aa)
    check({"hookline.hook.name": "double_b", "hookline.hook.point": "before_tool",
           "hookline.hook.action": "continue"} in hook_events(add), "the argument edit is a hook event: %r" % hook_events(add))
    broken = tools.get("call_broken", {"attributes": [], "status": {}})
    check(broken.get("status", {}).get("code") == 2, "the failing tool's span is in error")
    check(attrs(broken).get("error.type") == "ExecutionFailed", "error.type of the failing tool")
    check("disk is on fire" in broken.get("status", {}).get("message", ""), "status message of the failing tool")
    rm = tools.get("call_rm", {"name": "-", "events": [], "status": {}})
    check(rm["name"] == "execute_tool rm", "rm has a span though it never ran")
    check({"hookline.hook.name": "deny_rm", "hookline.hook.point": "before_tool",
           "hookline.hook.action": "override"} in hook_events(rm), "the override is a hook event: %r" % hook_events(rm))
    check(rm["status"].get("code") == 0, "an override is not an error")
    research = tools.get("call_research", {"spanId": "-", "name": "-"})
    check(research["name"] == "execute_tool researcher", "the agent-as-tool span")
    child = one(spans, "invoke_agent researcher", research)
    rchats = [s for s in spans if s["name"] == "chat script-model" and s.get("parentSpanId") == child["spanId"]]
    check(len(rchats) == 2, "the sub-agent's two chat spans under it")
    check(rchats and attrs(rchats[0]).get("gen_ai.provider.name") == "scripted", "the sub-agent's provider")
    one(spans, "execute_tool lookup", child)
    # parallel tool calls: their spans overlap in time
    starts = [int(t["startTimeUnixNano"]) for t in tools.values()]
    ends = [int(t["endTimeUnixNano"]) for t in tools.values()]
    check(len(tools) >= 4, "the parallel calls have spans: %r" % sorted(tools))
    js = tools.get("call_js")
    if js:
        nested = [s for s in spans if s.get("parentSpanId") == js["spanId"]]
        check(sorted(s["name"] for s in nested) == ["execute_tool add", "execute_tool add"],
              "code mode's calls are children of the code tool's span: %r" % [s["name"] for s in nested])
    else:
        print("note: no sandbox in this build; code mode not checked")
    echo = tools.get("call_echo")
    check(echo is not None, "the MCP tool's span")
    if echo:
        call = one(spans, "tools/call json_echo", echo)
        check(attrs(call).get("mcp.method.name") == "tools/call", "MCP span attributes")
        tp = [e["headers"].get("traceparent") for e in mcp_log
              if e["method"] == "POST" and (e.get("body") or {}).get("method") == "tools/call"]
        check(tp == ["00-%s-%s-01" % (call["traceId"], call["spanId"])],
              "the MCP request carries the tools/call span's traceparent: %r" % tp)

    # content: only on opt-in
    has_content = [s["name"] for s in spans if any(k in attrs(s) for k in (
        "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"))]
    if capture:
        c0 = attrs(chats[0]) if chats else {}
        check("plan the secret picnic" in c0.get("gen_ai.input.messages", ""), "chat input captured")
        check("all done" in (attrs(chats[1]).get("gen_ai.output.messages", "") if len(chats) > 1 else ""),
              "chat output captured")
        check(json.loads(aa.get("gen_ai.tool.call.arguments", "{}")) == {"a": 2, "b": 6},
              "tool arguments captured after the hook's edit: %r" % aa.get("gen_ai.tool.call.arguments"))
        check(aa.get("gen_ai.tool.call.result") == "8", "tool result captured")
    else:
        check(has_content == [], "no content attributes without opt-in: %r" % has_content)
        check(b"secret picnic" not in raw_all, "the user's input is not exported without opt-in")

    # metrics
    metrics = rec.accepted("/v1/metrics")
    check(len(metrics) >= 1, "metrics arrived at flush")
    points = {}
    for m in metrics:
        for rm_ in m["resourceMetrics"]:
            for sm in rm_["scopeMetrics"]:
                for met in sm["metrics"]:
                    check(met["histogram"]["aggregationTemporality"] == 2, "cumulative histograms")
                    for dp in met["histogram"]["dataPoints"]:
                        check(isinstance(dp["count"], str), "counts are strings")
                        check(len(dp["bucketCounts"]) == len(dp["explicitBounds"]) + 1, "buckets fit bounds")
                        check(sum(int(x) for x in dp["bucketCounts"]) == int(dp["count"]), "buckets add up")
                        points[(met["name"], tuple(sorted(attrs(dp).items())))] = dp
    tok_in = [dp for (n, a), dp in points.items() if n == "gen_ai.client.token.usage" and
              ("gen_ai.token.type", "input") in a and ("gen_ai.request.model", "gpt-test") in a]
    check(len(tok_in) == 1 and tok_in[0]["sum"] == 30 and tok_in[0]["count"] == "2",
          "input token histogram of gpt-test: %r" % tok_in)
    ops = {dict(a).get("gen_ai.operation.name") for (n, a) in points if n == "gen_ai.client.operation.duration"}
    check({"chat", "execute_tool", "invoke_agent"} <= ops, "operation durations: %r" % ops)
    tool_err = [a for (n, a) in points if n == "gen_ai.client.operation.duration" and
                ("gen_ai.tool.name", "broken") in a]
    check(tool_err and ("error.type", "ExecutionFailed") in tool_err[0], "tool duration with its error")


def tree_spans(otel_run, root, env):
    """otel_run tree with `env` against receivers of its own: its spans."""
    rec, model = Receiver(), ModelServer()
    run_tree(otel_run, root, rec, model, env)
    spans = spans_of(rec.accepted("/v1/traces"))
    check(len(spans) > 0, "spans arrived")
    common_checks(spans)
    return spans


def tool_spans(spans):
    return {attrs(s).get("gen_ai.tool.call.id"): s for s in spans if s["name"].startswith("execute_tool ")}


def case_limits(otel_run, root):
    """Span limits (OTEL_[SPAN_]ATTRIBUTE_*_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, the option) with content captured,
    their most likely victim: values cut at whole characters, the first
    attributes and events kept, the others counted as dropped."""
    snow = "\u2603" * 10  # 3 bytes each in UTF-8: a cut by bytes splits one
    user = "plan the secret picnic " + snow
    full = '[{"role":"user","parts":[{"type":"text","content":"%s"}]}]' % user
    check(full[:80].endswith("\u2603") and len(full.encode()) > 80, "(the test's input is cut inside the snowmen)")
    spans = tree_spans(otel_run, root, {
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true", "OTEL_TEST_INPUT": user,
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "5", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "80",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "2"})
    pipeline = one(spans, "invoke_agent pipeline")
    pa = attrs(pipeline)
    check(pa.get("gen_ai.agent.name") == "pipeline", "the span's own length limit wins over the general one: %r" % pa)
    check(pa.get("gen_ai.input.messages") == full[:80],
          "the captured input cut at 80 whole characters: %r" % pa.get("gen_ai.input.messages"))
    check(pa.get("gen_ai.conversation.id") == "sess-otel-42\ufffd", "a short value whole: %r" % pa)
    for s in spans:
        for k, v in attrs(s).items():
            if isinstance(v, str):
                check(len(v) <= 80 and "\ufffd" not in v[-1:] or k == "gen_ai.conversation.id",
                      "%s of %s within 80 characters, no character cut: %r" % (k, s["name"], v[-8:]))
        check("droppedAttributesCount" not in s, "128 attributes: none dropped on %s" % s["name"])
    # content longer than the limit is cut on the run's thread first (only
    # what the exporter keeps is copied): the exported value is the same
    long_user = 'say "' + snow * 100  # a quote: escaped, 2 characters of the value for 1 of the input
    long_full = '[{"role":"user","parts":[{"type":"text","content":%s}]}]' % json.dumps(long_user, ensure_ascii=False)
    long_spans = tree_spans(otel_run, root, {
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true", "OTEL_TEST_INPUT": long_user,
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "80"})
    got = attrs(one(long_spans, "invoke_agent pipeline")).get("gen_ai.input.messages")
    check(got == long_full[:80], "a long input cut at 80 characters of the message: %r" % got)
    chat_in = [attrs(s).get("gen_ai.input.messages", "") for s in spans if s["name"] == "chat gpt-test"]
    check(len(chat_in) == 2 and all(len(v) <= 80 for v in chat_in) and any(len(v) == 80 for v in chat_in),
          "chat input messages cut (the second turn's, longer): %r" % chat_in)
    add = tool_spans(spans).get("call_add", {"events": []})
    evs = [e for e in add.get("events", []) if e["name"] == "hook"]
    check(len(evs) == 1 and [a["key"] for a in evs[0]["attributes"]] == ["hookline.hook.name", "hookline.hook.point"]
          and evs[0].get("droppedAttributesCount") == 1,
          "2 attributes per event, the third counted as dropped: %r" % evs)

    spans = tree_spans(otel_run, root, {
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "OTEL_ATTRIBUTE_COUNT_LIMIT": "4", "OTEL_SPAN_EVENT_COUNT_LIMIT": "0"})
    tools = tool_spans(spans)
    add = tools.get("call_add", {})
    check([a["key"] for a in add.get("attributes", [])] ==
          ["gen_ai.tool.name", "gen_ai.operation.name", "gen_ai.tool.call.id", "gen_ai.tool.type"],
          "the general count limit: the first 4 attributes kept: %r" % add.get("attributes"))
    check(add.get("droppedAttributesCount") == 2, "the captured arguments and result dropped and counted: %r"
          % add.get("droppedAttributesCount"))
    check(add.get("events") == [] and add.get("droppedEventsCount") == 1,
          "no event kept, the hook's counted: %r %r" % (add.get("events"), add.get("droppedEventsCount")))
    rm = tools.get("call_rm", {})
    check(rm.get("events") == [] and rm.get("droppedEventsCount") == 1, "the override's event counted on rm")
    broken = tools.get("call_broken", {"status": {}})
    check(broken["status"].get("code") == 2 and "error.type" not in attrs(broken)
          and broken.get("droppedAttributesCount", 0) >= 2,
          "no room for error.type: the status still says the error, the attribute counted: %r" % broken)
    for s in spans:
        check(len(s["attributes"]) <= 4, "at most 4 attributes on %s" % s["name"])
    pa = attrs(one(spans, "invoke_agent pipeline"))
    check(list(pa) == ["gen_ai.operation.name", "gen_ai.agent.name", "gen_ai.conversation.id", "gen_ai.agent.id"],
          "the agent's first 4 kept, content dropped: %r" % list(pa))
    chats = [s for s in spans if s["name"] == "chat gpt-test"]
    check(chats and all(list(attrs(c)) == ["gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                                           "gen_ai.agent.name"] and c.get("droppedAttributesCount", 0) >= 5
                        for c in chats), "chat spans: the first 4 kept: %r" % [list(attrs(c)) for c in chats])

    spans = tree_spans(otel_run, root, {"OTEL_ATTRIBUTE_COUNT_LIMIT": "100", "OTEL_TEST_ATTRIBUTE_COUNT_LIMIT": "3"})
    add = tool_spans(spans).get("call_add", {})
    check(len(add.get("attributes", [])) == 3 and add.get("droppedAttributesCount") == 1,
          "hl_otel_options.attribute_count_limit wins over the variable: %r" % add)


def case_fail(otel_run, root):
    rec, model = Receiver(), ModelServer()
    try:
        # the per-signal variables are full URLs and win over the base one
        base = "http://127.0.0.1:%d" % rec.port
        p = run(otel_run, ["fail"], {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1/",
                                     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": base + "/custom/traces",
                                     "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": base + "/custom/metrics",
                                     "MODEL_URL": "http://127.0.0.1:%d/v1" % model.port, "OTEL_TEST_KEY": API_KEY})
        check(p.returncode == 0, "otel_run fail exits 0")
    finally:
        rec.close()
    check(len(rec.accepted("/custom/metrics")) >= 1, "metrics at OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    spans = spans_of(rec.accepted("/custom/traces"))
    common_checks(spans)
    agent = one(spans, "invoke_agent doomed")
    chat = one(spans, "chat fail", agent)
    for s in (agent, chat):
        check(s["status"].get("code") == 2, "%s is in error" % s["name"])
        check(attrs(s).get("error.type") == "HttpError", "%s has error.type: %r" % (s["name"], attrs(s)))
        check("refused" in s["status"].get("message", ""), "%s says why: %r" % (s["name"], s["status"]))
    check(attrs(chat).get("error.type") == attrs(agent).get("error.type"), "the same failure")
    check(API_KEY.encode() not in b"".join(r for _, _, r, _ in rec.posts), "no API key")


def case_propagators(otel_run, root):
    """OTEL_PROPAGATORS (and the option): tracecontext puts the traceparent
    on the model request, none and baggage alone put nothing (the run is
    traced all the same); baggage (not propagated here) and propagators
    not spoken here (b3, jaeger, xray) are one warning each, never a
    failure."""
    def fail_run(env):
        rec, model = Receiver(), ModelServer()
        try:
            p = run(otel_run, ["fail"], dict(env, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % rec.port,
                                             MODEL_URL="http://127.0.0.1:%d/v1" % model.port, OTEL_TEST_KEY=API_KEY))
            check(p.returncode == 0, "otel_run fail exits 0 with %r" % env)
        finally:
            rec.close()
            model.server.shutdown()
        spans = spans_of(rec.accepted("/v1/traces"))
        check(any(s["name"] == "chat fail" for s in spans), "the run is traced with %r" % env)
        tps = [h.get("traceparent") for h, _ in model.requests]
        check(len(tps) == 1, "one model request")
        return tps[0] if tps else None, p.stderr

    def warnings(err, what):
        return [l for l in err.splitlines() if l.startswith("hookline otel: ") and what in l]

    tp, err = fail_run({"OTEL_PROPAGATORS": "none"})
    check(tp is None, "none: no traceparent: %r" % tp)
    check(warnings(err, "") == [], "none: no warning: %r" % err)
    tp, err = fail_run({"OTEL_PROPAGATORS": "tracecontext, baggage,b3,jaeger,xray,b3"})
    check(tp and re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", tp), "tracecontext listed: traceparent %r" % tp)
    for name in ("baggage", "b3", "jaeger", "xray"):
        check(len(warnings(err, '"%s"' % name)) == 1, "one warning naming %s: %r" % (name, err))
    check(len(warnings(err, "")) == 4, "four warnings in all: %r" % err)
    tp, err = fail_run({"OTEL_PROPAGATORS": "baggage"})
    check(tp is None, "baggage alone: no traceparent: %r" % tp)
    check(len(warnings(err, '"baggage"')) == 1, "baggage alone: warned of: %r" % err)
    tp, err = fail_run({"OTEL_PROPAGATORS": "tracecontext", "OTEL_TEST_PROPAGATORS": "none"})
    check(tp is None, "hl_otel_options.propagators wins over the variable: %r" % tp)
    tp, err = fail_run({"OTEL_PROPAGATORS": "tracecontext", "OTEL_TEST_PROPAGATORS": "tracecontext,b3"})
    check(tp is not None and warnings(err, "") ==
          ['hookline otel: hl_otel_options.propagators="tracecontext,b3": "b3" is not a propagator of this '
           'exporter (tracecontext, baggage, none); ignored'],
          "a warning about the option quotes the option's value, not the variable's: %r" % err)
    tp, _ = fail_run({"OTEL_TEST_PROPAGATORS": ""})
    check(tp is not None, "an empty option is unset: the default, tracecontext: %r" % tp)


def case_remote(otel_run, root):
    rec = Receiver()
    trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    try:
        p = run(otel_run, ["remote"], {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % rec.port,
                                       "TRACEPARENT": "00-%s-%s-01" % (trace, parent)})
        check(p.returncode == 0, "otel_run remote exits 0")
    finally:
        rec.close()
    spans = sorted(spans_of(rec.accepted("/v1/traces")), key=lambda s: int(s["startTimeUnixNano"]))
    runs = [s for s in spans if s["name"] == "invoke_agent joiner"]
    check(len(runs) == 2, "two runs")
    if len(runs) == 2:
        check(runs[0]["traceId"] == trace and runs[0].get("parentSpanId") == parent,
              "the first run joins the caller's trace")
        check(runs[1]["traceId"] != trace and "parentSpanId" not in runs[1], "the second starts its own")


def case_hooks(otel_run, root):
    rec = Receiver()
    try:
        p = run(otel_run, ["hooks"], {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % rec.port})
        check(p.returncode == 0, "otel_run hooks exits 0: %s %s" % (p.stdout, p.stderr))
    finally:
        rec.close()
    spans = spans_of(rec.accepted("/v1/traces"))
    common_checks(spans)

    def tool_span(agent_name):
        agent = one(spans, "invoke_agent " + agent_name)
        return agent, one(spans, "execute_tool add", agent)

    def the_event(span, hook):
        found = [e for e in span.get("events", []) if e["name"] == "hook" and
                 attrs(e).get("hookline.hook.name") == hook]
        check(len(found) == 1, "one hook event of %r on %s: %r" % (hook, span["name"], span.get("events")))
        if found:
            t = int(found[0]["timeUnixNano"])
            check(int(span["startTimeUnixNano"]) <= t <= int(span["endTimeUnixNano"]),
                  "the event of %r is within its span" % hook)
        return attrs(found[0]) if found else {}

    # the edit: the call runs with the edited arguments, the event says who
    _, add = tool_span("editor")
    ev = the_event(add, "double_b")
    check(ev.get("hookline.hook.point") == "before_tool" and ev.get("hookline.hook.action") == "continue",
          "the argument edit is a hook event: %r" % ev)
    check(add["status"].get("code") != 2, "an edit is not an error: %r" % add["status"])

    # the abort: the event with the hook's message, the span and the run in error
    agent, add = tool_span("aborter")
    ev = the_event(add, "stop_add")
    check(ev.get("hookline.hook.point") == "before_tool" and ev.get("hookline.hook.action") == "abort",
          "the abort is a hook event: %r" % ev)
    check("add is forbidden here" in ev.get("hookline.hook.message", ""), "the abort's message: %r" % ev)
    check(add["status"].get("code") == 2 and attrs(add).get("error.type") == "Aborted",
          "the aborted call's span is in error: %r %r" % (add["status"], attrs(add)))
    check(agent["status"].get("code") == 2, "the aborted run's span is in error: %r" % agent["status"])

    # the interrupt: an event, and not an error (the run waits for a human)
    agent, add = tool_span("pauser")
    ev = the_event(add, "ask_human")
    check(ev.get("hookline.hook.point") == "before_tool" and ev.get("hookline.hook.action") == "interrupt",
          "the interrupt is a hook event: %r" % ev)
    check(add["status"].get("code") != 2 and agent["status"].get("code") != 2,
          "an interrupt is not an error: %r %r" % (add["status"], agent["status"]))


def case_collector(otel_run, root, mode):
    rec = None
    if mode == "down":
        url = "http://127.0.0.1:%d" % free_port()
    else:
        rec = Receiver({"hang": "hang", "503": "503", "429": "429"}[mode])
        url = "http://127.0.0.1:%d" % rec.port
    try:
        n = 8 if mode == "429" else 300  # 429: few enough to fit the queue, to show no loss
        # 429: the shutdown's deadline must leave room for the two
        # backoffs (100 + 200 ms) and four answers of a Python server on a
        # loaded machine (500 ms was sometimes cut short: a warning); the
        # others show that a bad collector cannot hold it past 500 ms.
        deadline = "2000" if mode == "429" else "500"
        # Down, hanging or 503: spans are lost, and otel_run waits until
        # the exporter has counted that before it reads the counters.
        args = ["load", str(n), deadline] + ([] if mode == "429" else ["lossy"])
        p = run(otel_run, args, {"OTEL_EXPORTER_OTLP_ENDPOINT": url})
        check(p.returncode == 0, "every run succeeded")
        out = json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        if rec:
            rec.close()
    check(out["ok"] == n, "all %d runs answered" % n)
    # Every span of (b) (invoke_agent, 2 chat, 3 execute_tool) counted
    # once as started, whether it was dropped (a full ring of records or
    # a full span queue) or not.
    check(out["started"] == 6 * n, "every span counted as started: %r" % out)
    # A run that waited for the collector would take its timeout (3 s);
    # 300 runs that do not wait take milliseconds. The bound is generous
    # for a loaded machine and still far below one wait.
    check(out["runs_ms"] < 2500, "runs were not slowed: %.1f ms for %d runs" % (out["runs_ms"], n))
    check(out["shutdown_ms"] < 2500, "shutdown is bounded by its deadline: %.1f ms" % out["shutdown_ms"])
    warnings = [l for l in p.stderr.splitlines() if l.startswith("hookline otel:")]
    if mode == "429":
        check(warnings == [], "no warning when the retries succeed: %r" % warnings)
        check(out["failures"] == 0, "no export failed")
        with rec.lock:
            statuses = [st for path, _, _, st in rec.posts if path == "/v1/traces"]
        check(statuses[:2] == [429, 429] and 200 in statuses, "429 retried: %r" % statuses[:5])
        accepted = rec.accepted("/v1/traces")
        ids = [s["spanId"] for s in spans_of(accepted)]
        # 48 spans in batches of at most 16 (otel_run's max_batch): each
        # batch is cut from the queue and the rest put back, so every
        # span must arrive once, none twice, none lost.
        check(len(ids) == 6 * n and len(set(ids)) == 6 * n,
              "every span exported exactly once: %d spans, %d distinct, of %d" % (len(ids), len(set(ids)), 6 * n))
        sizes = [len(spans_of([e])) for e in accepted]
        check(len(sizes) >= 3 and max(sizes) <= 16, "batches of at most 16 spans: %r" % sizes)
    else:
        check(len(warnings) == 1, "exactly one warning: %r" % warnings)
        check(out["dropped_before_shutdown"] > 0 or out["failures"] > 0, "drops are counted: %r" % out)
    if mode == "503":
        with rec.lock:
            check(len(rec.posts) >= 2, "503 is retried (%d requests)" % len(rec.posts))


def run_load(otel_run, rec, args):
    """otel_run load ARGS... against rec (closed after); returns the process
    and its counters."""
    try:
        p = run(otel_run, ["load"] + args, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % rec.port})
        check(p.returncode == 0, "every run succeeded")
        return p, json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        rec.close()


def load_answered(otel_run, mode, n):
    """otel_run load of n runs against a receiver in `mode`, flushed before
    the counters are read (every answer counted). Returns its counters,
    its stderr, the trace requests' bodies and the warnings; checks that
    no request was sent twice (the answers of `mode` are not retried)."""
    rec = Receiver(mode)
    p, out = run_load(otel_run, rec, [str(n), "2000", "flush"])
    with rec.lock:
        traces = [raw for path, _, raw, _ in rec.posts if path == "/v1/traces"]
    ids = [s["spanId"] for s in spans_of([json.loads(r) for r in traces])]
    check(len(ids) == 6 * n and len(set(ids)) == 6 * n,
          "%s is not retried: %d spans sent, %d distinct" % (mode, len(ids), len(set(ids))))
    return out, p.stderr, traces, [l for l in p.stderr.splitlines() if l.startswith("hookline otel:")]


def case_partial(otel_run, root):
    """A 200 with a partialSuccess: not retried, the rejected counted, one
    warning naming the collector's message, bounded and without control
    characters."""
    n = 8
    out, stderr, traces, warnings = load_answered(otel_run, "partial", n)
    check(out.get("failures") == 0, "a partial success is no failure: %r" % out)
    check(out.get("rejected_spans") == 3 * len(traces),
          "3 rejected spans counted per request (%d requests): %r" % (len(traces), out))
    check(out.get("exported") == 6 * n - 3 * len(traces), "the rejected are not counted as exported: %r" % out)
    check(out.get("rejected_points", 0) >= 2 and out.get("rejected_points", 1) % 2 == 0,
          "rejected data points counted: %r" % out)
    check(len(warnings) == 1, "one warning for every partial success: %r" % warnings)
    w = warnings[0] if warnings else ""
    check("quota" in w and "exceeded" in w and "rejected" in w, "the warning names the message: %r" % w[:300])
    check("\x1b" not in stderr and "\u009b" not in stderr, "no control character reaches stderr")
    check(len(w) < 600, "the message is bounded: %d characters" % len(w))


def case_refused(otel_run, root):
    """A 400 is not retried; the warning names the google.rpc.Status
    message, cleaned."""
    out, stderr, _, warnings = load_answered(otel_run, "400", 8)
    check(out.get("failures", 0) >= 1 and out.get("exported") == 0, "the refused exports failed: %r" % out)
    check(len(warnings) == 1, "one warning: %r" % warnings)
    w = warnings[0] if warnings else ""
    check("HTTP 400" in w and "span attribute" in w and "too long" in w, "the warning names the status message: %r" % w)
    check("\x1b" not in stderr and "\x07" not in stderr, "no control character reaches stderr")


def case_retry_after(otel_run, root):
    """Retry-After as seconds (429) and as an HTTP-date (503) is waited for."""
    rec = Receiver("retry_after")
    _, out = run_load(otel_run, rec, ["2", "8000", "flush", "timeout=8000"])
    with rec.lock:
        t = [(st, when) for (path, _, _, st), when in zip(rec.posts, rec.times) if path == "/v1/traces"]
    check([st for st, _ in t[:3]] == [429, 503, 200], "429, 503, then accepted: %r" % [st for st, _ in t])
    if len(t) >= 3:
        check(t[1][1] - t[0][1] >= 0.9, "Retry-After: 1 waited: %.2f s" % (t[1][1] - t[0][1]))
        check(t[2][1] - t[1][1] >= 0.9, "Retry-After as an HTTP-date 2 s ahead waited: %.2f s" % (t[2][1] - t[1][1]))
    check(out.get("failures") == 0 and out.get("exported") == 12, "no loss: %r" % out)


def run_env(otel_run, rec, env, n=4, sleep_ms=700, scheme="http"):
    """otel_run env against `rec` (None: nothing listens), configured by
    `env` alone; returns (its counters, the warnings it printed)."""
    url = "%s://127.0.0.1:%d" % (scheme, rec.port if rec else free_port())
    p = run(otel_run, ["env", str(n), str(sleep_ms)], dict({"OTEL_EXPORTER_OTLP_ENDPOINT": url}, **env))
    check(p.returncode == 0, "otel_run env exits 0: %r" % env)
    lines = p.stdout.strip().splitlines()
    out = json.loads(lines[-1]) if lines else {}
    return out, [l for l in p.stderr.splitlines() if l.startswith("hookline otel:")]


def case_env(otel_run, root):
    """The SDK variables of the batch span processor, the metric reader and
    the OTLP exporter (per signal over generic), and bad values warned of
    and ignored."""
    rec = Receiver()
    try:
        out, warnings = run_env(otel_run, rec, {
            "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "5",
            "OTEL_METRIC_EXPORT_INTERVAL": "200",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-a=generic,x-b=generic-b",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "X-A=traces",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-b=metrics",
            "OTEL_BSP_MAX_QUEUE_SIZE": "lots", "OTEL_EXPORTER_OTLP_TIMEOUT": "-5"})
    finally:
        rec.close()
    n = 4
    # 700 ms after the runs, without a flush: the default delay (5 s) and
    # interval (60 s) would have sent nothing yet
    check(out.get("exported") == 6 * n, "OTEL_BSP_SCHEDULE_DELAY: every span sent without a flush: %r" % out)
    # (metrics are sent when something was recorded since the last time)
    check(out.get("metric_exports", 0) >= 1, "OTEL_METRIC_EXPORT_INTERVAL: metrics after 200 ms: %r" % out)
    with rec.lock:
        posts = list(rec.posts)
    traces = [(h, json.loads(raw)) for path, h, raw, _ in posts if path == "/v1/traces"]
    sizes = [len(spans_of([body])) for _, body in traces]
    check(sizes and max(sizes) <= 5 and sum(sizes) == 6 * n, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE: %r" % sizes)
    check(all(h.get("x-a") == "traces" and h.get("x-b") == "generic-b" for h, _ in traces),
          "traces: their own headers over the generic ones: %r" % [h for h, _ in traces[:1]])
    metrics = [h for path, h, _, _ in posts if path == "/v1/metrics"]
    check(metrics and all(h.get("x-a") == "generic" and h.get("x-b") == "metrics" for h in metrics),
          "metrics: their own headers over the generic ones: %r" % metrics[:1])
    check(len(warnings) == 2 and "OTEL_BSP_MAX_QUEUE_SIZE" in warnings[0] and "lots" in warnings[0] and
          "OTEL_EXPORTER_OTLP_TIMEOUT" in warnings[1], "a warning per bad value: %r" % warnings)


def case_schedule_delay(otel_run, root):
    """OTEL_BSP_SCHEDULE_DELAY's default is the specification's, 5000 ms:
    2 s after the runs, without a flush, nothing was sent; with the
    variable at 1000, everything was."""
    rec = Receiver()
    try:
        out, _ = run_env(otel_run, rec, {}, n=2, sleep_ms=2000)
        check(out.get("exported") == 0, "the default delay (5 s): nothing sent after 2 s: %r" % out)
        out, _ = run_env(otel_run, rec, {"OTEL_BSP_SCHEDULE_DELAY": "1000"}, n=2, sleep_ms=2000)
        check(out.get("exported") == 12, "OTEL_BSP_SCHEDULE_DELAY=1000: all sent after 2 s: %r" % out)
    finally:
        rec.close()


def case_env_resource(otel_run, root):
    """OTEL_SERVICE_NAME over service.name of OTEL_RESOURCE_ATTRIBUTES (the
    specification), the list's when alone; the lists' values percent-
    decoded as W3C Baggage values are (keys are tokens: taken as they
    are; '+' is a plus; %00 and bad escapes kept as written);
    OTEL_EXPORTER_OTLP_[TRACES_]INSECURE (gRPC's) ignored without a word."""
    rec = Receiver()
    try:
        out, warnings = run_env(otel_run, rec, {
            "OTEL_SERVICE_NAME": "from-var", "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-list, a%3Db = x%3Dy ,k=%E2%98%83+1,z=%00end,bad=%zz%4",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-enc=a%20b%2Cc,x%2Dk=v",
            "OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "true"}, n=2)
        check(out.get("exported") == 12, "exported over http with INSECURE set: %r" % out)
        check(warnings == [], "no warning: %r" % warnings)
        with rec.lock:
            posts = list(rec.posts)
        traces = [json.loads(raw) for path, _, raw, _ in posts if path == "/v1/traces"]
        res = attrs(traces[0]["resourceSpans"][0]["resource"]) if traces else {}
        check(res.get("service.name") == "from-var", "OTEL_SERVICE_NAME wins over the list's: %r" % res)
        check(res.get("a%3Db") == "x=y" and "a=b" not in res, "keys as written, values decoded, trimmed: %r" % res)
        check(res.get("k") == "\u2603+1", "UTF-8 decoded, '+' a plus: %r" % res.get("k"))
        check(res.get("z") == "%00end" and res.get("bad") == "%zz%4", "%%00 and bad escapes kept: %r" % res)
        heads = [h for path, h, _, _ in posts if path == "/v1/traces"]
        check(heads and heads[0].get("x-enc") == "a b,c" and heads[0].get("x%2dk") == "v",
              "OTEL_EXPORTER_OTLP_HEADERS: values decoded, keys as written: %r" % heads[:1])
        out, _ = run_env(otel_run, rec, {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from%20list",
                                         "OTEL_BSP_SCHEDULE_DELAY": "50"}, n=1)
        with rec.lock:
            last = [json.loads(raw) for path, _, raw, _ in rec.posts if path == "/v1/traces"][-1]
        check(attrs(last["resourceSpans"][0]["resource"]).get("service.name") == "from list",
              "service.name of the list when OTEL_SERVICE_NAME is unset")
    finally:
        rec.close()


def case_env_signals(otel_run, root):
    """OTEL_{TRACES,METRICS}_EXPORTER=none and a protocol other than
    http/json turn a signal off (nothing sent to a gRPC port as JSON)."""
    cases = [({"OTEL_TRACES_EXPORTER": "none"}, False, True, None),
             ({"OTEL_METRICS_EXPORTER": "none"}, True, False, None),
             ({"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"}, True, False, "grpc"),
             ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
              True, False, "http/protobuf"),
             ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_TRACES_EXPORTER": "otlp"}, True, True, None),
             ({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}, False, False, None)]
    for env, traces_on, metrics_on, warn in cases:
        rec = Receiver()
        try:
            out, warnings = run_env(otel_run, rec, dict(env, OTEL_BSP_SCHEDULE_DELAY="50",
                                                        OTEL_METRIC_EXPORT_INTERVAL="200"), n=2)
        finally:
            rec.close()
        with rec.lock:
            paths = {path for path, _, _, _ in rec.posts}
        check(("/v1/traces" in paths) == traces_on and ("/v1/metrics" in paths) == metrics_on,
              "%r: traces %s, metrics %s; sent to %r" % (env, traces_on, metrics_on, sorted(paths)))
        if warn:
            check(len(warnings) == 1 and warn in warnings[0] and "http/json" in warnings[0],
                  "%r: a warning names the protocol: %r" % (env, warnings))
        else:
            check(warnings == [], "%r: no warning: %r" % (env, warnings))
        check(out.get("ok") == 2 and out.get("enabled") == (1 if traces_on or metrics_on else 0),
              "%r: runs unaffected, the exporter %s: %r" % (env, "on" if traces_on or metrics_on else "inert", out))


def case_env_timeout(otel_run, root):
    """OTEL_EXPORTER_OTLP_TIMEOUT and OTEL_BSP_EXPORT_TIMEOUT bound an
    export: a hanging collector fails it within 300 ms, not 10 s."""
    for env in ({"OTEL_EXPORTER_OTLP_TIMEOUT": "300"}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "300"},
                {"OTEL_BSP_EXPORT_TIMEOUT": "300"}):
        rec = Receiver("hang")
        try:
            out, _ = run_env(otel_run, rec, dict(env, OTEL_BSP_SCHEDULE_DELAY="50"), n=2, sleep_ms=1500)
        finally:
            rec.close()
        check(out.get("failures", 0) >= 1, "%r: the export gave up within 1.5 s: %r" % (env, out))


def case_gzip(otel_run, root):
    """OTEL_EXPORTER_OTLP_COMPRESSION=gzip, and none for metrics alone."""
    rec = Receiver()
    try:
        out, warnings = run_env(otel_run, rec, {"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
                                                "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": "none",
                                                "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_METRIC_EXPORT_INTERVAL": "200"})
    finally:
        rec.close()
    with rec.lock:
        posts = list(rec.posts)
    traces = [h for path, h, _, _ in posts if path == "/v1/traces"]
    metrics = [h for path, h, _, _ in posts if path == "/v1/metrics"]
    check(traces and all(h.get("content-encoding") == "gzip" for h in traces), "traces gzipped: %r" % traces[:1])
    check(traces and all(int(h["content-length"]) < 4000 for h in traces),
          "and smaller than their JSON (24 spans, ~17 KB): %r" % [h.get("content-length") for h in traces])
    check(len(spans_of(rec.accepted("/v1/traces"))) == 24, "every span decoded from the gzip")
    check(metrics and all("content-encoding" not in h for h in metrics), "metrics not: %r" % metrics[:1])
    check(warnings == [] and out.get("exported") == 24, "no warning, all exported: %r %r" % (warnings, out))
    rec = Receiver()
    try:
        out, warnings = run_env(otel_run, rec, {"OTEL_EXPORTER_OTLP_COMPRESSION": "brotli"}, n=1, sleep_ms=0)
    finally:
        rec.close()
    check(len(warnings) == 1 and "OTEL_EXPORTER_OTLP_COMPRESSION" in warnings[0] and "brotli" in warnings[0],
          "an unknown compression is warned of: %r" % warnings)
    check(all("content-encoding" not in h for _, h, _, _ in rec.posts), "and nothing is compressed")


def mutual_tls(d):
    """A throwaway CA (d/ca.pem) that signed a server certificate for
    127.0.0.1 and a client's (d/client.pem, d/client.key), another CA
    (d/other-ca.pem), and a server context that requires a client
    certificate of the first CA."""
    def sh(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        sh("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2", "-subj", "/CN=otel " + ca)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for who, cn in (("server", "127.0.0.1"), ("client", "hookline exporter")):
        sh("req", *ec, "-keyout", who + ".key", "-out", who + ".csr", "-subj", "/CN=" + cn)
        sh("x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
           "-out", who + ".pem", "-days", "2", *(["-extfile", "server.ext"] if who == "server" else []))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(os.path.join(d, "ca.pem"))
    return ctx


def case_tls(otel_run, root):
    """OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE, _CLIENT_CERTIFICATE and
    _CLIENT_KEY: an https collector of a private CA that requires a client
    certificate."""
    import tempfile
    d = tempfile.mkdtemp(prefix="otel-tls-")
    ctx = mutual_tls(d)
    f = lambda name: os.path.join(d, name)
    client = {"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": f("client.pem"), "OTEL_EXPORTER_OTLP_CLIENT_KEY": f("client.key")}
    cases = [("trusted CA and client certificate", dict(client, OTEL_EXPORTER_OTLP_CERTIFICATE=f("ca.pem")), True, True),
             ("the system's CAs", dict(client), False, False),
             ("no client certificate", {"OTEL_EXPORTER_OTLP_CERTIFICATE": f("ca.pem")}, False, False),
             ("traces' own CA", dict(client, OTEL_EXPORTER_OTLP_CERTIFICATE=f("other-ca.pem"),
                                     OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=f("ca.pem")), True, False),
             ("metrics' own client certificate",
              {"OTEL_EXPORTER_OTLP_CERTIFICATE": f("ca.pem"), "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "300",
               "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE": f("client.pem"),
               "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY": f("client.key")}, False, True),
             # gRPC's alone (the specification): it must not turn https's verification off
             ("OTEL_EXPORTER_OTLP_INSECURE=true, no CA", dict(client, OTEL_EXPORTER_OTLP_INSECURE="true",
                                                             OTEL_EXPORTER_OTLP_TRACES_INSECURE="true"), False, False)]
    for what, env, traces_on, metrics_on in cases:
        rec = Receiver(tls=ctx)
        try:
            out, warnings = run_env(otel_run, rec, dict(env, OTEL_BSP_SCHEDULE_DELAY="50",
                                                        OTEL_METRIC_EXPORT_INTERVAL="200"), n=2, scheme="https")
        finally:
            rec.close()
        with rec.lock:
            paths = {path for path, _, _, _ in rec.posts}
        check(("/v1/traces" in paths) == traces_on and ("/v1/metrics" in paths) == metrics_on,
              "%s: traces %s, metrics %s; got %r" % (what, traces_on, metrics_on, sorted(paths)))
        if not (traces_on and metrics_on):
            check(len(warnings) == 1 and "failed" in warnings[0], "%s: the failure is warned of: %r" % (what, warnings))
        check(out.get("ok") == 2, "%s: runs unaffected: %r" % (what, out))


def metric_counts(rec):
    """{(metric, operation): count} of the last metrics export (cumulative)."""
    last = rec.accepted("/v1/metrics")[-1:] or [{"resourceMetrics": []}]
    counts = {}
    for rm_ in last[0]["resourceMetrics"]:
        for sm in rm_["scopeMetrics"]:
            for met in sm["metrics"]:
                for dp in met["histogram"]["dataPoints"]:
                    key = (met["name"], attrs(dp).get("gen_ai.operation.name"), attrs(dp).get("gen_ai.token.type"))
                    counts[key] = counts.get(key, 0) + int(dp["count"])
    return counts


def case_sampling(otel_run, root):
    """OTEL_TRACES_SAMPLER / _ARG: an unsampled run exports no span but
    its metrics; traceidratio keeps whole traces; parentbased_* follows
    the caller's flag; outgoing traceparent headers carry the decision."""
    def full_metrics(counts, n):
        return (counts.get(("gen_ai.client.operation.duration", "invoke_agent", None)) == n and
                counts.get(("gen_ai.client.operation.duration", "chat", None)) == 2 * n and
                counts.get(("gen_ai.client.operation.duration", "execute_tool", None)) == 3 * n and
                counts.get(("gen_ai.client.token.usage", "chat", "input")) == 2 * n)

    # always_off: no span, every run in the metrics
    rec = Receiver()
    try:
        out, warnings = run_env(otel_run, rec, {"OTEL_TRACES_SAMPLER": "always_off", "OTEL_BSP_SCHEDULE_DELAY": "50",
                                                "OTEL_METRIC_EXPORT_INTERVAL": "200"}, n=5)
    finally:
        rec.close()
    check(rec.accepted("/v1/traces") == [] and out.get("started") == 0, "always_off: no span: %r" % out)
    check(full_metrics(metric_counts(rec), 5), "always_off: metrics count every run: %r" % metric_counts(rec))
    check(warnings == [], "no warning: %r" % warnings)

    # traceidratio 0.5 over 60 runs: some traces, each whole; all in the metrics
    rec = Receiver()
    try:
        out, warnings = run_env(otel_run, rec, {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5",
                                                "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_METRIC_EXPORT_INTERVAL": "200"},
                                n=60)
    finally:
        rec.close()
    spans = spans_of(rec.accepted("/v1/traces"))
    per_trace = {}
    for s in spans:
        per_trace[s["traceId"]] = per_trace.get(s["traceId"], 0) + 1
    # (outside 10..50 of 60 at 0.5: a chance below one in a million)
    check(10 <= len(per_trace) <= 50, "traceidratio 0.5: %d of 60 traces sampled" % len(per_trace))
    check(all(v == 6 for v in per_trace.values()), "each sampled trace whole: %r" % sorted(set(per_trace.values())))
    check(full_metrics(metric_counts(rec), 60), "traceidratio: metrics count every run: %r" % metric_counts(rec))

    # bad values: a warning each, the default (parentbased_always_on: all sampled)
    rec = Receiver()
    try:
        out, warnings = run_env(otel_run, rec, {"OTEL_TRACES_SAMPLER": "sometimes", "OTEL_BSP_SCHEDULE_DELAY": "50"}, n=2)
        out2, warnings2 = run_env(otel_run, rec, {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2",
                                                  "OTEL_BSP_SCHEDULE_DELAY": "50"}, n=2)
    finally:
        rec.close()
    check(len(warnings) == 1 and "OTEL_TRACES_SAMPLER" in warnings[0] and "sometimes" in warnings[0],
          "an unknown sampler is warned of: %r" % warnings)
    check(len(warnings2) == 1 and "OTEL_TRACES_SAMPLER_ARG" in warnings2[0], "a ratio above 1 is warned of: %r" % warnings2)
    check(out.get("exported") == 12 and out2.get("exported") == 12, "and the default samples all: %r %r" % (out, out2))

    # the caller's flag: parentbased_always_on follows 00, parentbased_always_off follows 01
    trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    for sampler, flags, first, second in (("", "00", False, True), ("parentbased_always_off", "01", True, False),
                                          ("parentbased_always_on", "01", True, True)):
        rec = Receiver()
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % rec.port,
               "TRACEPARENT": "00-%s-%s-%s" % (trace, parent, flags)}
        if sampler:
            env["OTEL_TRACES_SAMPLER"] = sampler
        try:
            p = run(otel_run, ["remote"], env)
            check(p.returncode == 0, "otel_run remote exits 0")
        finally:
            rec.close()
        runs = [s for s in spans_of(rec.accepted("/v1/traces")) if s["name"] == "invoke_agent joiner"]
        joined = [s for s in runs if s["traceId"] == trace]
        alone = [s for s in runs if s["traceId"] != trace]
        check(len(joined) == (1 if first else 0) and len(alone) == (1 if second else 0),
              "%s, caller's flags %s: the joining run %s, the next %s: %d, %d" %
              (sampler or "default", flags, first, second, len(joined), len(alone)))

    # outgoing requests say "not sampled" (model and MCP)
    rec, model = Receiver(), ModelServer()
    mcp_log = run_tree(otel_run, root, rec, model, {"OTEL_TRACES_SAMPLER": "always_off"})
    tps = [h.get("traceparent", "") for h, _ in model.requests]
    check(len(tps) == 2 and all(re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", tp) for tp in tps),
          "model requests say not sampled: %r" % tps)
    tp = [e["headers"].get("traceparent", "") for e in mcp_log
          if e["method"] == "POST" and (e.get("body") or {}).get("method") == "tools/call"]
    check(len(tp) == 1 and tp[0].endswith("-00"), "the MCP request says not sampled: %r" % tp)
    check(rec.accepted("/v1/traces") == [], "no span of the tree")


def case_mockotlpserver(otel_run, root):
    cache = os.environ.get("HOOKLINE_CACHE", os.path.join(root, ".cache"))
    dest = os.path.join(cache, "mockotlpserver", "0.10.0")
    node = os.path.join(dest, "node_modules", ".bin", "node")
    if not (os.path.exists(os.path.join(dest, ".installed")) and os.path.exists(node)):
        check(False, "@elastic/mockotlpserver is not installed: run scripts/setup.sh")
        return
    srv = subprocess.Popen([node, os.path.join(root, "tests/otel/mockotlp.cjs"), dest],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        first = srv.stdout.readline().strip()
        check(first.startswith("LISTENING "), "mockotlpserver started: %r" % first)
        url = first.split(" ", 1)[1]
        model = ModelServer()
        p = run(otel_run, ["tree"], {"OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                     "MODEL_URL": "http://127.0.0.1:%d/v1" % model.port, "OTEL_TEST_KEY": API_KEY})
        check(p.returncode == 0, "otel_run tree exits 0 against mockotlpserver")
        exported = json.loads([l for l in p.stdout.splitlines() if l.startswith("{\"started\"")][-1])
    finally:
        time.sleep(0.5)
        srv.terminate()
        out, err = srv.communicate(timeout=30)
        lines = out.splitlines()
    traces = [json.loads(l[6:]) for l in lines if l.startswith("TRACE ")]
    errors = [l for l in lines if l.startswith("ERROR ")] + [l for l in err.splitlines() if "threw" in l]
    check(errors == [], "mockotlpserver read everything: %r" % errors[:3])
    names = [s["name"] for t in traces for rs in t["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    check(len(names) == exported["exported"], "mockotlpserver got every exported span (%d of %d)" %
          (len(names), exported["exported"]))
    for n in ("invoke_agent pipeline", "invoke_agent coordinator", "chat gpt-test", "execute_tool broken",
              "invoke_agent researcher"):
        check(n in names, "mockotlpserver saw %r" % n)
    check(any(l.startswith("WATERFALL ") for l in lines), "its waterfall printer rendered the trace")
    check(any(l.startswith("METRICS ") for l in lines), "it accepted the metrics")


def case_chatbot(chat, root):
    """hookline-chat exports with --otel URL or OTEL_EXPORTER_OTLP_ENDPOINT,
    and refuses a --otel value that is not a URL."""
    import tempfile
    tmp = tempfile.mkdtemp(prefix="otel-chat-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k not in (
        "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL",
        "GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env.update({"HOME": tmp, "HOOKLINE_CHAT_HISTORY": os.path.join(tmp, "history"), "NO_COLOR": "1"})
    for how in ("flag", "env"):
        rec = Receiver()
        try:
            url = "http://127.0.0.1:%d" % rec.port
            e = dict(env)
            args = [chat, "-p", "what is 6*7?"]
            if how == "flag":
                args += ["--otel", url]
            else:
                e["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
            p = subprocess.run(args, env=e, capture_output=True, text=True, timeout=120)
            check(p.returncode == 0, "chatbot (%s) exits 0: %s" % (how, p.stderr))
            check("42" in p.stdout, "the chatbot answered: %r" % p.stdout)
        finally:
            rec.close()
        spans = spans_of(rec.accepted("/v1/traces"))
        names = [s["name"] for s in spans]
        check("invoke_agent assistant" in names, "the chatbot's run was exported (%s): %r" % (how, names))
        check(any(n.startswith("chat ") for n in names) and any(n.startswith("execute_tool ") for n in names),
              "its model and tool calls too (%s): %r" % (how, names))
    p = subprocess.run([chat, "--otel", "localhost:4318", "-p", "hi"], env=env, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 2 and "--otel needs" in p.stderr, "a bad --otel is refused: %r" % p.stderr)


def main():
    case, otel_run, root = sys.argv[1], sys.argv[2], sys.argv[3]
    if case in ("tree", "content"):
        case_tree(otel_run, root, capture=case == "content")
    elif case.startswith("collector_"):
        case_collector(otel_run, root, case.split("_", 1)[1])
    elif case == "chatbot":
        case_chatbot(otel_run, root)  # otel_run is hookline-chat here
    elif callable(globals().get("case_" + case)):
        # fail, remote, hooks, env, env_signals, env_timeout, gzip, tls,
        # sampling, refused, retry_after, partial, limits, propagators, schedule_delay,
        # env_resource, mockotlpserver
        globals()["case_" + case](otel_run, root)
    else:
        sys.exit("unknown case " + case)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES), file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
