#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, generated at build time from the other
tests' fixtures (nothing binary is committed):

  - tests/providers/server.py: the bodies and event streams the providers
    tests are answered with (imported, its functions called);
  - tests/mcp/hostile_server.py: what the MCP server of the MCP tests
    sends for each of its tools (imported, its output captured), framed as
    the HTTP transport carries it (one JSON body, or SSE events);
  - C string literals of the core, observe, providers and sandbox tests:
    JSON texts (valid and invalid), schemas, SSE streams, JavaScript.

usage: make_corpus.py CORPUS_DIR STAMP TESTS_DIR TARGET,TARGET,...
Writes CORPUS_DIR/TARGET/<sha1 of the seed> and, as STAMP, the target list.
"""
import hashlib
import importlib.util
import json
import os
import re
import sys

corpus_dir, stamp, tests, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
CHUNKING = [b"\x00\x00", b"\x02\x07", b"\x0f\x2a", b"\xff\x01"]  # see fuzz_util.h
seeds = {t: set() for t in targets}


def add(target, data):
    if target in seeds:
        seeds[target].add(data if isinstance(data, bytes) else data.encode("utf-8"))


# ---------------------------------------------------------------- C literals

LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'",
           "a": "\a", "b": "\b", "f": "\f", "v": "\v", "?": "?"}


def unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out.append(c.encode("utf-8"))
            i += 1
            continue
        e = s[i + 1]
        if e == "x":
            m = re.match(r"[0-9a-fA-F]+", s[i + 2:])
            out.append(bytes([int(m.group(0), 16) & 0xFF]))
            i += 2 + len(m.group(0))
        elif e in "uU":
            n = 4 if e == "u" else 8
            out.append(chr(int(s[i + 2:i + 2 + n], 16)).encode("utf-8", "surrogatepass"))
            i += 2 + n
        elif e in "01234567" and re.match(r"[0-7]{1,3}", s[i + 1:]):
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            out.append(bytes([int(m.group(0), 8) & 0xFF]))
            i += 1 + len(m.group(0))
        else:
            out.append(ESCAPES.get(e, e).encode("utf-8"))
            i += 2
    return b"".join(out)


def literals(path):
    """String literals of a C file, adjacent ones joined as the compiler does."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*#\s*include.*$", " ", text, flags=re.M)
    out, pos, cur = [], 0, None
    for m in LITERAL.finditer(text):
        between = text[pos:m.start()]
        try:
            val = unescape(m.group(1))
        except (AttributeError, ValueError, IndexError):
            val = None
        if cur is not None and between.strip() == "" and val is not None:
            cur += val
        else:
            if cur is not None:
                out.append(cur)
            cur = val
        pos = m.end()
    if cur is not None:
        out.append(cur)
    return out


def as_json(b):
    try:
        return json.loads(b.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def c_files(*dirs):
    for d in dirs:
        full = os.path.join(tests, d)
        for f in sorted(os.listdir(full)):
            if f.endswith((".c", ".h")):
                yield os.path.join(full, f)


all_json = []  # (bytes, value) of every valid JSON literal
for path in c_files("core", "observe", "providers", "plugins", "hooks"):
    for lit in literals(path):
        v = as_json(lit)
        if v is not None and lit.strip()[:1] in (b"{", b"["):
            all_json.append((lit, v))
        if os.path.basename(path) == "test_json.c" or (v is not None and lit.strip()[:1] in (b"{", b"[")):
            add("fuzz_json", lit)
        if b"data:" in lit:
            for c in CHUNKING[:2]:
                add("fuzz_sse", c + lit)

# Schemas and documents: every schema-looking object against every JSON
# literal of the schema and tool tests (bounded).
schemas, docs = [], []
for path in c_files("core"):
    if os.path.basename(path) not in ("test_schema.c", "test_tool.c"):
        continue
    for lit in literals(path):
        v = as_json(lit)
        if v is None:
            continue
        if isinstance(v, dict) and any(k in v for k in ("type", "properties", "enum", "const",
                                                         "anyOf", "allOf", "oneOf", "not", "items")):
            schemas.append(lit)
        docs.append(lit)
for s in schemas[:60]:
    add("fuzz_schema", s)
    for d in docs[:25]:
        add("fuzz_schema", s + b"\0" + d)

# Codecs: every JSON object or array under each codec selector (message,
# messages, request, response, session: fuzz_codecs.c's order).
for lit, v in all_json:
    keys = set(v) if isinstance(v, dict) else set()
    if isinstance(v, list) or keys & {"role", "content", "messages", "message", "finish",
                                      "usage", "app_name", "state", "tools", "model"}:
        for sel in range(5):
            add("fuzz_codecs", bytes([sel]) + lit)
    add("fuzz_sandbox_bridge", lit)
    if "choices" in keys:
        add("fuzz_openai_body", lit)
    if v.get("type") == "message" if isinstance(v, dict) else False:
        add("fuzz_anthropic_body", lit)

# ---------------------------------------------------------------- server.py

def from_server():
    """Bodies and streams from server.py's own answer builders."""
    spec = importlib.util.spec_from_file_location("server", os.path.join(tests, "providers", "server.py"))
    server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server)
    for scenario in ("text", "tools", "badargs", "agent", "echo"):
        for fmt in ("openai", "anthropic"):
            text, calls, finish = server.answer_for(scenario, {"messages": []}, fmt)
            body = getattr(server, fmt + "_body")(scenario, text, calls, finish)
            add("fuzz_%s_body" % fmt, server.dumps(body))
            add("fuzz_sandbox_bridge", server.dumps(body))
            events = getattr(server, fmt + "_events")(scenario, text, calls, finish)
            for eol, comments in (("\n", False), ("\r\n", True)):
                sse = server.sse_bytes(events, eol, comments)
                add("fuzz_sse", CHUNKING[2] + sse)
                for c in CHUNKING:
                    add("fuzz_%s_stream" % fmt, c + sse)
        for fmt, status in (("openai", 429), ("anthropic", 500)):
            add("fuzz_%s_body" % fmt, server.dumps(server.error_body(fmt, status, "slow down")))
    add("fuzz_anthropic_stream", CHUNKING[0] + server.sse_bytes(
        [("error", server.dumps({"type": "error", "error": {"type": "overloaded_error",
                                                            "message": "busy"}}))]))


# server.py belongs to the providers tests and may change shape: seeds from
# it are a bonus, the literals above are enough to start fuzzing.
try:
    from_server()
except Exception as e:  # noqa: BLE001 - any change there must not break the build
    print("make_corpus: no seeds from server.py (%s: %s)" % (type(e).__name__, e), file=sys.stderr)

# ---------------------------------------------------------------- MCP

def from_mcp():
    """fuzz_mcp.c's four modes, from the MCP tests' stdio server: its
    messages for each tool call (answer, progress, notifications, errors,
    garbage) as HTTP answers to request 1, its results, its tool list."""
    spec = importlib.util.spec_from_file_location("hostile", os.path.join(tests, "mcp", "hostile_server.py"))
    hostile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hostile)
    lines = []
    hostile.send = lambda obj: lines.append(json.dumps(obj).encode("utf-8"))
    hostile.raw = lines.append
    results = []
    for name, args in (("echo", {"text": "hi \u00e9"}), ("slow", {"steps": 2}), ("garbage", {}),
                       ("huge", {"bytes": 64}), ("unknown_id", {}), ("bad_utf8", {}),
                       ("cancelled_ids", {}), ("add_tool", {}), ("error_result", {}),
                       ("rpc_error", {}), ("nonesuch", {})):
        del lines[:]
        hostile.call_tool(1, name, args, {"progressToken": 1})
        msgs = list(lines)
        if len(msgs) == 1:
            for c in CHUNKING[:2]:
                add("fuzz_mcp", b"\x00" + c + msgs[0])
        sse = b"id: 0\nretry: 10\ndata:\n\n" + b"".join(
            b"id: %d\ndata: %s\n\n" % (k + 1, m) for k, m in enumerate(msgs))
        for c in CHUNKING:
            add("fuzz_mcp", b"\x00" + c + sse)
        for m in msgs:
            v = as_json(m)
            if isinstance(v, dict) and isinstance(v.get("result"), dict):
                results.append(json.dumps(v["result"]).encode("utf-8"))
                add("fuzz_mcp", b"\x01" + results[-1])
    tools = json.dumps(hostile.TOOLS).encode("utf-8")
    for r in results:
        add("fuzz_mcp", b"\x02" + tools + b"\0" + r)
    # The same list with an outputSchema on the first tool, and a result
    # that has structuredContent for it.
    typed = [dict(hostile.TOOLS[0], outputSchema={"type": "object", "properties": {
        "text": {"type": "string"}}, "required": ["text"]})] + hostile.TOOLS[1:]
    add("fuzz_mcp", b"\x02" + json.dumps(typed).encode("utf-8") + b"\0" + json.dumps(
        {"content": [{"type": "text", "text": "{}"}], "structuredContent": {"text": "hi"}}).encode("utf-8"))
    # A modern server's answers (mode 3): modern_server.py's input_required
    # rounds, a complete result, a -32022 refusal.
    spec = importlib.util.spec_from_file_location("modern", os.path.join(tests, "mcp", "modern_server.py"))
    modern = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(modern)
    for name, state in (("two_rounds", None), ("two_rounds", modern.STATE1), ("ask_forever", None),
                        ("ask_sampling", None), ("echo", None)):
        params = {"name": name, "requestState": state} if state else {"name": name}
        if state:
            params["inputResponses"] = {"who": {"action": "accept", "content": {"name": "a"}}}
        add("fuzz_mcp", b"\x03" + json.dumps(modern.call_tool(1, params, lambda o: None)).encode("utf-8"))
    add("fuzz_mcp", b"\x03" + json.dumps(modern.error(1, -32022, "Unsupported protocol version", {
        "supported": ["2026-07-28"], "requested": "2026-07-28"})).encode("utf-8"))


# JSON literals of the MCP tests (schemas, arguments, results) as results
# and as one-tool lists.
for path in c_files("mcp"):
    for lit in literals(path):
        v = as_json(lit)
        if isinstance(v, dict):
            add("fuzz_mcp", b"\x01" + lit)
            add("fuzz_mcp", b"\x02" + json.dumps([{"name": "t", "inputSchema": v}]).encode("utf-8"))
try:
    from_mcp()
except Exception as e:  # noqa: BLE001 - as for server.py
    print("make_corpus: no seeds from hostile_server.py (%s: %s)" % (type(e).__name__, e), file=sys.stderr)

# ---------------------------------------------------------------- OAuth

# fuzz_oauth: the challenges of test_www_auth.c (mode 0), the URLs and
# queries of the OAuth tests (mode 1) and token endpoint refusals (mode 2).
for lit in literals(os.path.join(tests, "mcp", "test_www_auth.c")):
    if b"Bearer" in lit or b"=" in lit:
        add("fuzz_oauth", b"\x00" + lit)
for name in ("test_oauth.c", "test_oauth_url.c"):
    for lit in literals(os.path.join(tests, "mcp", name)):
        if lit.startswith(b"http") or b"=" in lit:
            add("fuzz_oauth", b"\x01" + lit)
add("fuzz_oauth", b'\x02{"error":"invalid_grant","error_description":"code code-Xy7_secret verifier verifier-9f3Q"}')
add("fuzz_oauth", b'\x02{"error":"verifier-9f3Q","error_description":"code-Xy7_secretcode-Xy7_secret\\u0000"}')
add("fuzz_oauth", b"\x01http://127.0.0.1:1/callback?code=a%20b&state=x+y#frag")
add("fuzz_oauth", b"\x01HTTPS://Example.COM:443/a/b?c=d")

# ---------------------------------------------------------------- JavaScript

for path in c_files("sandbox"):
    for lit in literals(path):
        s = lit.decode("utf-8", "replace")
        if len(s) >= 3 and re.search(r"[;()=\[\]{}+*]|\bawait\b|\breturn\b", s) and "%" not in s:
            add("fuzz_sandbox_source", lit)
add("fuzz_sandbox_source", b"const r = await echo({x: [1, 'two', null]}); console.log(r.x); r")

# ---------------------------------------------------------------- store rows

# Logs of events: the event literals of tests/store (valid and broken), one
# per row, and logs made of the message literals of the other tests.
store_rows = [lit for lit in literals(os.path.join(tests, "store", "test_store.c"))
              if lit.strip()[:1] in (b"{", b"[")]
messages = [lit for lit, v in all_json if isinstance(v, dict) and "role" in v and "content" in v]
for row in store_rows:
    add("fuzz_store", row)
for m in messages[:40]:
    ev = b'{"type":"message","message":' + m + b'}'
    add("fuzz_store", ev)
    add("fuzz_store", b"\n".join([ev, b'{"type":"state","key":"k","value":[1,"x"]}',
                                   b'{"type":"truncate","count":0}', ev]))
add("fuzz_store", b'1{"type":"reset"}\n{"type":"run_state","state":{"turn":1}}')

# ---------------------------------------------------------------- tool headers

# fuzz_tool_headers: the tool definitions of tests/mcp/tool_defs_server.py
# (x-mcp-header annotations valid and not, every 2020-12 keyword, $ref
# cycles), each with the argument literals of test_tool_defs.c.
spec = importlib.util.spec_from_file_location("tool_defs_server", os.path.join(tests, "mcp", "tool_defs_server.py"))
tool_defs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool_defs)
tool_args = [lit for lit in literals(os.path.join(tests, "mcp", "test_tool_defs.c")) if lit[:1] == b"{"]
for t in tool_defs.tools():
    schema = json.dumps(t["inputSchema"]).encode()
    add("fuzz_tool_headers", schema)
    for a in tool_args:
        add("fuzz_tool_headers", schema + b"\0" + a)

# ---------------------------------------------------------------- output

for t in targets:
    d = os.path.join(corpus_dir, t)
    os.makedirs(d, exist_ok=True)
    for data in seeds[t]:
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
    if not seeds[t]:
        print("make_corpus: no seeds for " + t, file=sys.stderr)
        sys.exit(1)
with open(stamp, "w") as f:
    f.write("\n".join(targets) + "\n")
