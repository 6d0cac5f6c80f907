#!/usr/bin/env python3
"""tests/mcp/hostile_server.py - an MCP server over stdio (Python standard
library only) that follows the protocol for most tools and breaks it on
purpose for others, so that the client's failure handling can be tested.

Tools (tools/list is paginated, two tools per page):
  echo {text}        normal answer
  slow {steps}       a progress notification per step, 0.05 s apart, then an answer
  hang               never answers (the client's timeout and cancellation)
  garbage {kind, count} answers with `count` (1) lines that are not JSON
                     (kind "nul": JSON but for a raw NUL and control
                     character in strings)
  huge {bytes}       answers with one message of that size
  unknown_id         answers with an id the client never sent
  bad_utf8           answers with invalid UTF-8 inside a string
  exit               the process exits mid-call
  exit_later {status, after} (unlisted) stops reading stdin (the client's
                     writes fail with EPIPE from then on), then exits with
                     `status` (3) `after` seconds (0.3) later, as a server
                     whose exit handlers take their time
  cancelled_ids      the request ids of the notifications/cancelled received
  add_tool           adds tool "extra" and sends notifications/tools/list_changed
  ask {method}       sends a request to the client and answers with its response
  error_result {text} an isError result whose one text item is `text`
                     (default "the tool failed on purpose")
  rpc_error          a JSON-RPC error -32000
  flood {count, end} `count` notifications (logging/message, with a progress
                     and a tools/list_changed every 1000th) as fast as the
                     pipe takes them, then an answer (end "garbage": a line
                     that is not JSON instead)
  request_flood {method, count, pad, pause, never_read, exit_after}
                     `count` requests of `method` to the client (params: a
                     message of `pad` bytes) as fast as the pipe takes
                     them; answers, once every one was answered (or none
                     was for 3 s more than `pause`), with {"results": n,
                     "errors": {code: n}, "missing": n}. `pause`: stdin is
                     not read for that many seconds from the flood's start
                     (a slow reader); `never_read`: never again (a dead
                     peer: the client's answers pile up); `exit_after`:
                     the process exits (status 4) that many seconds after
                     the flood starts
  garbage {kind: "numbered", count}: lines "this is not json {N", N from 0
Environment: HOSTILE_VERSION sets the protocol version answered;
HOSTILE_NOISE=1 sends a notifications/message and a ping before every
response; HOSTILE_INIT=hang never answers initialize; HOSTILE_DISCOVER=ignore
never answers server/discover (as some legacy servers do with a request
before initialize); HOSTILE_LOG=path appends the method of every message
received to that file, one a line.
"""
import json
import os
import queue
import socket
import sys
import threading
import time

# Messages go out through one writer thread (send, raw), so that the
# thread reading stdin never waits for stdout: while the client holds
# back (it stops reading a server whose answers it cannot send), this
# server still reads those answers, as an asynchronous server does.
# The floods write stdout themselves, under out_lock.
out_lock = threading.Lock()
out_queue = queue.Queue()
# request_flood: stdin is not read until this time.time() (pause), or
# never again (never_read)
read_pause = {"until": 0.0, "never": False}
# exit_later: stdin is shut, the process exits soon; main() waits for it
exiting = threading.Event()
cancelled = []
pending_client = {}  # id -> Event/result for our requests to the client
next_id = [1000]
extra = [False]
# request_flood: the ids it sent start here; its answers are tallied
FLOOD_BASE = 10 ** 9
flood_tally = {"results": 0, "errors": {}, "cond": threading.Condition()}


def writer():
    while True:
        data = out_queue.get()
        with out_lock:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()


def send(obj):
    out_queue.put((json.dumps(obj) + "\n").encode())


def raw(text_bytes):
    out_queue.put(text_bytes + b"\n")


TOOLS = [
    {"name": n, "description": "hostile " + n,
     "inputSchema": {"type": "object", "properties": props}}
    for n, props in [
        ("echo", {"text": {"type": "string"}}), ("slow", {"steps": {"type": "integer"}}),
        ("hang", {}), ("garbage", {}), ("huge", {"bytes": {"type": "integer"}}),
        ("unknown_id", {}), ("bad_utf8", {}), ("exit", {}), ("cancelled_ids", {}),
        ("add_tool", {}), ("ask", {"method": {"type": "string"}}),
        ("error_result", {"text": {"type": "string"}}), ("rpc_error", {}),
        ("flood", {"count": {"type": "integer"}}),
        ("request_flood", {"method": {"type": "string"}, "count": {"type": "integer"}})]
]


def result(mid, res):
    if os.environ.get("HOSTILE_NOISE"):
        send({"jsonrpc": "2.0", "method": "notifications/message",
              "params": {"level": "info", "data": "noise before %s" % mid}})
        send({"jsonrpc": "2.0", "id": "srv-ping-%s" % mid, "method": "ping"})
    send({"jsonrpc": "2.0", "id": mid, "result": res})


def text(mid, t):
    result(mid, {"content": [{"type": "text", "text": t}]})


def ask_client(method, params):
    with out_lock:
        rid = next_id[0]
        next_id[0] += 1
    ev = threading.Event()
    pending_client[rid] = [ev, None]
    send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
    ev.wait(10)
    return pending_client.pop(rid)[1]


def call_tool(mid, name, args, meta):
    if name == "echo":
        text(mid, "echo: " + str(args.get("text", "")))
    elif name == "slow":
        token = meta.get("progressToken")
        steps = int(args.get("steps", 3))
        for i in range(steps):
            time.sleep(0.05)
            if token is not None:
                send({"jsonrpc": "2.0", "method": "notifications/progress",
                      "params": {"progressToken": token, "progress": i + 1, "total": steps,
                                 "message": "step %d" % (i + 1)}})
        text(mid, "slow done")
    elif name == "hang":
        return
    elif name == "garbage" and args.get("kind") == "nul":
        # JSON but for a raw NUL and a raw control character in its
        # strings, which JSON forbids (a lenient parser cut "a\0b" to "a").
        raw(b'{"jsonrpc":"2.0","id":' + str(mid).encode() +
            b',"result":{"content":[{"type":"text","text":"a\x00b","\x0c\x00x":1}]}}')
    elif name == "garbage" and args.get("kind") == "numbered":
        raw(b"\n".join(b"this is not json {%d" % i for i in range(int(args.get("count", 1)))))
    elif name == "garbage":
        raw(b"this is not json {\n" * int(args.get("count", 1)))
    elif name == "huge":
        n = int(args.get("bytes", 2 << 20))
        body = json.dumps({"jsonrpc": "2.0", "id": mid, "result": {
            "content": [{"type": "text", "text": "x" * n}]}})
        raw(body.encode())
    elif name == "unknown_id":
        send({"jsonrpc": "2.0", "id": 987654, "result": {"content": []}})
    elif name == "bad_utf8":
        raw(b'{"jsonrpc":"2.0","id":' + str(mid).encode() +
            b',"result":{"content":[{"type":"text","text":"bad \xff\xfe here"}]}}')
    elif name == "exit":
        sys.stderr.write("hostile: exiting mid-call\n")
        sys.stderr.flush()
        os._exit(3)
    elif name == "exit_later":
        exiting.set()
        # The reading side of stdin (a socket) shut: the client's next
        # write fails with EPIPE, while the process still runs.
        s = socket.socket(fileno=os.dup(0))
        s.shutdown(socket.SHUT_RD)
        s.close()
        time.sleep(float(args.get("after", 0.3)))
        os._exit(int(args.get("status", 3)))
    elif name == "fds":
        # The descriptors this process holds (unlisted: the listing's
        # count is checked). One is listdir's own, gone after the call.
        text(mid, json.dumps(sorted(int(f) for f in os.listdir("/proc/self/fd"))))
    elif name == "cancelled_ids":
        text(mid, json.dumps(cancelled))
    elif name == "add_tool":
        extra[0] = True
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        text(mid, "added")
    elif name == "extra":
        text(mid, "extra tool")
    elif name == "ask":
        resp = ask_client(args.get("method", "roots/list"), args.get("params", {}))
        text(mid, json.dumps(resp))
    elif name == "error_result":
        result(mid, {"content": [{"type": "text", "text": args.get("text", "the tool failed on purpose")}],
                     "isError": True})
    elif name == "rpc_error":
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32000, "message": "rpc failure on purpose"}})
    elif name == "flood":
        flood(int(args.get("count", 1000)), meta.get("progressToken"))
        if args.get("end") == "garbage":
            raw(b"the flood ends in garbage {")
        else:
            text(mid, "flood done")
    elif name == "request_flood":
        text(mid, json.dumps(request_flood(args.get("method", "ping"), int(args.get("count", 1000)),
                                           int(args.get("pad", 0)), float(args.get("pause", 0)),
                                           bool(args.get("never_read")), args.get("exit_after"))))
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32602, "message": "Unknown tool: " + name}})


def flood(count, token):
    """Written in blocks of 1000 lines: one message at a time would make
    Python, not the client, the bottleneck."""
    log = json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                      "params": {"level": "info", "data": "flooding the client"}}) + "\n"
    block = log * 997 + json.dumps({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}) + "\n"
    if token is not None:
        block += json.dumps({"jsonrpc": "2.0", "method": "notifications/progress",
                             "params": {"progressToken": token, "progress": 1}}) + "\n"
    block += log * (1000 - block.count("\n"))
    with out_lock:
        for _ in range(count // 1000):
            sys.stdout.write(block)
        sys.stdout.write(log * (count % 1000))
        sys.stdout.flush()


def request_flood(method, count, pad, pause, never_read, exit_after=None):
    """Written in blocks, as flood() is; the tally is kept by handle()."""
    if exit_after is not None:
        threading.Timer(float(exit_after), lambda: os._exit(4)).start()
    with flood_tally["cond"]:
        flood_tally["results"] = 0
        flood_tally["errors"] = {}
    read_pause["until"] = time.time() + pause
    read_pause["never"] = never_read
    params = {"message": "x" * pad} if pad else {}
    with out_lock:
        for start in range(0, count, 1000):
            sys.stdout.write("".join(
                json.dumps({"jsonrpc": "2.0", "id": FLOOD_BASE + i, "method": method, "params": params}) + "\n"
                for i in range(start, min(count, start + 1000))))
        sys.stdout.flush()
    # Until every request was answered, or none was for 3 s (a client
    # that leaves some unanswered).
    last, last_change = -1, time.time()
    with flood_tally["cond"]:
        while True:
            got = flood_tally["results"] + sum(flood_tally["errors"].values())
            if got != last:
                last, last_change = got, time.time()
            if got >= count or time.time() - last_change >= 3 + pause:
                break
            flood_tally["cond"].wait(0.5)
        return {"results": flood_tally["results"], "errors": dict(flood_tally["errors"]),
                "missing": count - got}


def handle(msg):
    method = msg.get("method")
    mid = msg.get("id")
    if method is None and isinstance(mid, int) and mid >= FLOOD_BASE:
        with flood_tally["cond"]:
            if "error" in msg:
                code = str(msg["error"].get("code"))
                flood_tally["errors"][code] = flood_tally["errors"].get(code, 0) + 1
            else:
                flood_tally["results"] += 1
            flood_tally["cond"].notify()
        return
    if method is None:  # a response to one of our requests
        entry = pending_client.get(mid)
        if entry:
            entry[1] = msg
            entry[0].set()
        return
    params = msg.get("params") or {}
    if os.environ.get("HOSTILE_LOG"):
        with open(os.environ["HOSTILE_LOG"], "a") as f:
            f.write("%s\n" % method)
    if method == "server/discover" and os.environ.get("HOSTILE_DISCOVER") == "ignore":
        return
    if method == "initialize":
        if os.environ.get("HOSTILE_INIT") == "hang":
            return
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        result(mid, {"protocolVersion": os.environ.get("HOSTILE_VERSION", params.get("protocolVersion")),
                     "capabilities": {"tools": {"listChanged": True}, "logging": {}},
                     "serverInfo": {"name": "hostile", "version": "1"},
                     "clientCapabilities": params.get("capabilities")})
    elif method == "notifications/cancelled":
        cancelled.append(params.get("requestId"))
    elif method == "tools/list":
        tools = TOOLS + ([{"name": "extra", "inputSchema": {"type": "object"}}] if extra[0] else [])
        start = int(params.get("cursor", "0"))
        page = tools[start:start + 2]
        res = {"tools": page}
        if start + 2 < len(tools):
            res["nextCursor"] = str(start + 2)
        result(mid, res)
    elif method == "tools/call":
        threading.Thread(target=call_tool, daemon=True,
                         args=(mid, params.get("name"), params.get("arguments") or {},
                               params.get("_meta") or {})).start()
    elif method == "ping":
        result(mid, {})
    elif method == "logging/setLevel":
        result(mid, {})
    elif mid is not None:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "Method not found"}})


def main():
    sys.stderr.write("hostile: started\n")
    sys.stderr.flush()
    threading.Thread(target=writer, daemon=True).start()
    for line in sys.stdin:
        while read_pause["never"]:
            time.sleep(3600)
        wait = read_pause["until"] - time.time()
        if wait > 0:
            time.sleep(wait)
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
            continue
        handle(msg)
    if exiting.is_set():  # stdin ended on purpose: the tool exits the process
        time.sleep(3600)


if __name__ == "__main__":
    main()
