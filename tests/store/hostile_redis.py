#!/usr/bin/env python3
"""tests/store/hostile_redis.py - a Redis that lies, for the store's client.

    hostile_redis.py SCENARIO

Listens on 127.0.0.1 (a free port, printed on the first line of stdout),
answers the store's connection set-up as a real Redis does (SELECT, SET,
GET hl:schema, SCRIPT LOAD), then answers the command the scenario names
with garbage. Runs until stdin closes (the test's end). One scenario per
process; each connection is served the same way (the client reconnects).

Scenarios: COMMAND:REPLY where COMMAND is the first word the client sends
(EVALSHA for an append or a load, ZREVRANGE for a listing) and REPLY one
of the names in REPLIES; "split-" before a name sends it one byte per write.
"""
import socket
import sys
import threading
import time

SHA = b"0123456789abcdef0123456789abcdef01234567"

REPLIES = {
    # a type the caller does not expect
    "integer": b":5\r\n",
    "status": b"+OK\r\n",
    "nil": b"$-1\r\n",
    # an append's reply: a version that is not the writer's + 1
    "version-999": b":999\r\n",
    # a load's reply with elements of the wrong types
    "load-int-version": b"*2\r\n:3\r\n*0\r\n",
    "load-int-events": b"*2\r\n$1\r\n2\r\n*2\r\n:1\r\n*1\r\n:2\r\n",
    "load-negative-bulk": b"*2\r\n$-7\r\n*0\r\n",
    "load-short": b"*2\r\n$1\r\n5\r\n*1\r\n$12\r\n{\"type\":\"x\"}\r\n",
    # a listing's ids that are not strings
    "list-int-ids": b"*3\r\n:1\r\n$-1\r\n*1\r\n$1\r\na\r\n",
    # nesting deeper than any reply of ours
    "deep": b"*1\r\n" * 40 + b":1\r\n",
    # an error whose text holds CR/LF: RESP ends it at the first CRLF
    "error-crlf": b"-ERR first line\r\nsecond line\r\n",
    # a reply cut off: the connection closes in the middle of it
    "cut": b"*2\r\n$1\r\n1\r\n*1\r\n$100\r\n{\"type\":",
    # RESP3 types, which a RESP2 client never asked for
    "resp3-map": b"%1\r\n+a\r\n:1\r\n",
    "resp3-double": b",3.14\r\n",
    # a bulk length that no reply can have
    "huge-bulk": b"$9223372036854775807\r\n",
    "huge-array": b"*9223372036854775807\r\n",
    # lengths hiredis accepts, whose element slots alone would take GBs
    "big-array": b"*2000000000\r\n",
    "nested-arrays": b"*2\r\n$1\r\n1\r\n*6000000\r\n*6000000\r\n",
    # a bulk of 2 GB (a length hiredis accepts), then its bytes, streamed
    # (STREAMS): hiredis would hold all of it before handing it over
    "stream-bulk": b"$2000000000\r\n",
    # a status line that never ends (no CRLF), streamed
    "stream-line": b"+",
}

# Replies followed by (chunk, total bytes) of filler, sent until the
# client drops the connection.
STREAMS = {"stream-bulk": (b"x" * (1 << 20), 2000000000),
           "stream-line": (b"x" * (1 << 20), 2000000000)}


def read_command(f):
    """One RESP array of bulk strings; None at EOF."""
    line = f.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return [line.strip()]
    words = []
    for _ in range(int(line[1:])):
        n = int(f.readline()[1:])
        words.append(f.read(n + 2)[:-2])
    return words


def serve(conn, command, name, split):
    reply = REPLIES[name]
    f = conn.makefile("rb")
    try:
        while True:
            words = read_command(f)
            if words is None:
                return
            word = words[0].upper()
            if word == command:
                if split:
                    for i in range(len(reply)):
                        conn.sendall(reply[i:i + 1])
                        time.sleep(0.001)
                else:
                    conn.sendall(reply)
                if name in STREAMS:
                    chunk, total = STREAMS[name]
                    for _ in range(total // len(chunk)):
                        conn.sendall(chunk)
                if reply == REPLIES["cut"]:
                    return
            elif word == b"GET":
                conn.sendall(b"$1\r\n1\r\n")
            elif word == b"SCRIPT":
                conn.sendall(b"$40\r\n" + SHA + b"\r\n")
            elif word in (b"ZREM", b"DEL"):
                conn.sendall(b":1\r\n")
            else:
                conn.sendall(b"+OK\r\n")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    command, name = sys.argv[1].split(":", 1)
    split = name.startswith("split-")
    name = name[6:] if split else name
    REPLIES[name]  # an unknown scenario fails here, before the port is printed
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    print(srv.getsockname()[1], flush=True)

    def accept():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn, command.encode(), name, split),
                             daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
