#!/usr/bin/env python3
"""tests/mcp/tool_defs_server.py - a Streamable HTTP MCP server (standard
library only, plain JSON answers) whose tool definitions use what the MCP
2026-07-28 revision adds to them, for test_tool_defs.c:

- "headers": properties annotated with x-mcp-header (also one nested under
  an object property); its calls answer with the Mcp-Param-* headers they
  carried, as a JSON object of lowercase names.
- tools whose x-mcp-header annotations are invalid ("bad_*"), beside
  valid ones.
- "rich": an inputSchema using every JSON Schema 2020-12 keyword; "echo"
  answers with the arguments it got.
- "deep" (properties nested 300 levels) and "cycle" ($ref cycles, a
  self-reference of the root, "$ref" keys in data: default and enum);
  "remote_ref" (a network $ref in its inputSchema) and "relative_ref" (a
  $ref to another document in its outputSchema), which a client must
  not fetch and leaves out.
- "mismatch": once POST /__annotate was made, its "region" is annotated
  and a call without the matching Mcp-Param-Region header is refused as
  HeaderMismatch (HTTP 400, -32020); "always_mismatch" is always refused;
  "mentions_mismatch" is refused with HTTP 400 and a JSON-RPC error of
  another code whose message names -32020, "text_mismatch" with a 400
  whose body is plain text naming it.
- ttlMs on tools/list, set by POST /__ttl (a number, or "none" to leave
  it out); POST /__add adds the tool "added", POST /__too_deep a tool
  nested 1000 levels (deeper than a client's JSON parser takes).

It also answers OpenAI Chat Completions at /v1/chat/completions with
"done", keeping the request. GET /__log: {"lists": tools/list count,
"calls": tools/call count, "model": the last model request}. Prints its
port, serves until killed. With the argument "stdio" it serves the same
tools on stdin/stdout instead.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"lists": 0, "calls": 0, "model": None, "ttl": None, "added": False, "too_deep": False,
         "annotate": False}


def deep_schema(levels):
    leaf = {"type": "string"}
    for i in range(levels):
        leaf = {"type": "object", "properties": {"n%d" % i: leaf}}
    leaf["type"] = "object"
    return leaf


RICH = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.com/schemas/rich",
    "$comment": "every 2020-12 keyword",
    "type": "object",
    "$defs": {
        "address": {"$anchor": "addr", "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
                    "required": ["city"]},
        "node": {"$dynamicAnchor": "node", "type": "object",
                 "properties": {"next": {"$dynamicRef": "#node"}}},
    },
    "properties": {
        "name": {"type": "string", "minLength": 1, "pattern": "^[A-Z]", "format": "hostname",
                 "deprecated": False, "readOnly": False, "examples": ["Ada"]},
        "format": {"type": "string", "description": "a property named like a keyword"},
        "address": {"$ref": "#/$defs/address"},
        "home": {"$ref": "#addr"},
        "tuple": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
                  "items": {"type": "boolean"}, "contains": {"type": "string"}, "minContains": 1,
                  "maxContains": 3, "uniqueItems": True, "unevaluatedItems": False},
        "tags": {"type": "object", "patternProperties": {"^x-": {"type": "string"}},
                 "additionalProperties": False, "propertyNames": {"maxLength": 20},
                 "minProperties": 0, "maxProperties": 9},
        "amount": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1000, "multipleOf": 0.5},
        "kind": {"enum": ["a", "b"], "const": "a", "default": "a"},
        "either": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "not_null": {"not": {"type": "null"}},
        "blob": {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png"},
        "anything": True,
    },
    "allOf": [{"anyOf": [{"required": ["name"]}, {"required": ["address"]}]}],
    "if": {"properties": {"kind": {"const": "a"}}, "required": ["kind"]},
    "then": {"required": ["name"]},
    "else": {"required": ["address"]},
    "dependentRequired": {"amount": ["name"]},
    "dependentSchemas": {"tuple": {"required": ["tags"]}},
    "unevaluatedProperties": False,
    "required": ["kind"],
}

CYCLE = {
    "type": "object",
    "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
    "properties": {
        "x": {"$ref": "#/$defs/a"},
        "self": {"$ref": "#"},
        "n": {"type": "integer"},
        # Data, not schemas: a $ref there is no reference.
        "d": {"type": "object", "default": {"$ref": "http://127.0.0.1:9/data"},
              "enum": [{"$ref": "x.json"}, {"$ref": "http://127.0.0.1:9/data"}]},
    },
}

HEADERS = {
    "type": "object",
    "properties": {
        "s": {"type": "string", "x-mcp-header": "S"},
        "i": {"type": "integer", "x-mcp-header": "I"},
        "b": {"type": "boolean", "x-mcp-header": "B"},
        "maybe": {"type": ["string", "null"], "x-mcp-header": "Maybe"},
        "meta": {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}},
        "plain": {"type": "string"},
    },
}


def tools():
    t = [
        {"name": "headers", "inputSchema": HEADERS},
        {"name": "echo", "inputSchema": {"type": "object"}},
        {"name": "rich", "description": "every keyword", "inputSchema": RICH},
        {"name": "deep", "inputSchema": deep_schema(200)},
        {"name": "cycle", "inputSchema": CYCLE},
        {"name": "remote_ref", "inputSchema": {"type": "object", "properties": {
            "x": {"anyOf": [{"type": "string"}, {"$ref": "http://127.0.0.1:9/never-fetched.json"}]}}}},
        {"name": "relative_ref", "inputSchema": {"type": "object", "properties": {"x": {"type": "integer"}}},
         "outputSchema": {"type": "object", "$defs": {"o": {"$ref": "other.json#/o"}}}},
        {"name": "bad_number", "inputSchema": {"type": "object", "properties": {
            "f": {"type": "number", "x-mcp-header": "F"}}}},
        {"name": "bad_items", "inputSchema": {"type": "object", "properties": {
            "l": {"type": "array", "items": {"type": "string", "x-mcp-header": "L"}}}}},
        {"name": "bad_anyof", "inputSchema": {"type": "object", "anyOf": [{"properties": {
            "a": {"type": "string", "x-mcp-header": "A"}}}]}},
        {"name": "bad_dup", "inputSchema": {"type": "object", "properties": {
            "a": {"type": "string", "x-mcp-header": "Same"},
            "b": {"type": "string", "x-mcp-header": "sAME"}}}},
        {"name": "bad_token", "inputSchema": {"type": "object", "properties": {
            "a": {"type": "string", "x-mcp-header": "Bad\r\nInjected: 1"}}}},
    ]
    region = {"type": "string"}
    if STATE["annotate"]:
        region["x-mcp-header"] = "Region"
    t.append({"name": "mismatch", "inputSchema": {"type": "object", "properties": {"region": region}}})
    t.append({"name": "always_mismatch", "inputSchema": {"type": "object"}})
    t.append({"name": "mentions_mismatch", "inputSchema": {"type": "object"}})
    t.append({"name": "text_mismatch", "inputSchema": {"type": "object"}})
    if STATE["added"]:
        t.append({"name": "added", "inputSchema": {"type": "object"}})
    if STATE["too_deep"]:
        t.append({"name": "too_deep", "inputSchema": deep_schema(1000)})
    return t


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, obj):
        out = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def send_text(self, status, text):
        out = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        if self.path != "/__log":  # no GET stream: the client does without
            return self.send(405, None)
        with LOCK:
            self.send(200, {k: STATE[k] for k in ("lists", "calls", "model")})

    def do_DELETE(self):
        self.send(200, {})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/__ttl":
            with LOCK:
                STATE["ttl"] = None if body == b"none" else int(body)
            return self.send(200, {})
        if self.path in ("/__add", "/__too_deep", "/__annotate"):
            with LOCK:
                STATE[{"/__add": "added", "/__too_deep": "too_deep", "/__annotate": "annotate"}[self.path]] = True
            return self.send(200, {})
        if self.path == "/v1/chat/completions":
            with LOCK:
                STATE["model"] = json.loads(body)
            return self.send(200, {"id": "x", "object": "chat.completion", "model": "m",
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": "done"}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        msg = json.loads(body)
        method, mid, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
        if mid is None:
            return self.send(202, None)
        if method == "initialize":
            result = {"protocolVersion": params.get("protocolVersion"), "capabilities": {"tools": {}},
                      "serverInfo": {"name": "tool-defs", "version": "1"}}
        elif method == "tools/list":
            with LOCK:
                STATE["lists"] += 1
                result = {"tools": tools()}
                if STATE["ttl"] is not None:
                    result["ttlMs"] = STATE["ttl"]
                    result["cacheScope"] = "private"
        elif method == "tools/call":
            with LOCK:
                STATE["calls"] += 1
            name, args = params.get("name"), params.get("arguments") or {}
            want = args.get("region") if name == "mismatch" and STATE["annotate"] else None
            if name == "always_mismatch" or (name == "mismatch" and self.headers.get("Mcp-Param-Region") != want):
                return self.send(400, {"jsonrpc": "2.0", "id": mid,
                                       "error": {"code": -32020, "message": "HeaderMismatch"}})
            if name == "mentions_mismatch":
                return self.send(400, {"jsonrpc": "2.0", "id": mid, "error": {
                    "code": -32602, "message": "bad region; this is not -32020 HeaderMismatch"}})
            if name == "text_mismatch":
                return self.send_text(400, "error -32020 (not JSON)")
            if name == "mismatch":
                text = "matched %s" % want
            elif params.get("name") == "headers":
                seen = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("mcp-param-")}
                text = json.dumps(seen, sort_keys=True)
            else:
                text = json.dumps(params.get("arguments"), sort_keys=True)
            result = {"content": [{"type": "text", "text": text}]}
        else:
            return self.send(200, {"jsonrpc": "2.0", "id": mid,
                                   "error": {"code": -32601, "message": "no " + str(method)}})
        self.send(200, {"jsonrpc": "2.0", "id": mid, "result": result})


def serve_stdio():
    """The same tools over stdio (one JSON-RPC message a line), where
    x-mcp-header means nothing: the client keeps every tool."""
    for line in sys.stdin:
        msg = json.loads(line)
        method, mid, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
        if mid is None:
            continue
        if method == "initialize":
            result = {"protocolVersion": params.get("protocolVersion"), "capabilities": {"tools": {}},
                      "serverInfo": {"name": "tool-defs", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": tools()}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": json.dumps(params.get("arguments"), sort_keys=True)}]}
        else:
            result = None
        out = {"jsonrpc": "2.0", "id": mid}
        if result is None:
            out["error"] = {"code": -32601, "message": "no " + str(method)}
        else:
            out["result"] = result
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


def main():
    if sys.argv[1:] == ["stdio"]:
        return serve_stdio()
    # too_deep's 2000 levels of JSON, encoded by recursion.
    sys.setrecursionlimit(20000)
    threading.stack_size(64 << 20)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
