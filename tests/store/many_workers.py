#!/usr/bin/env python3
"""tests/store/many_workers.py - many workers share one store.

    many_workers.py STORE_WORKER postgresql|redis

4 worker processes (store_worker.c) serve 200 sessions x 5 turns through
the store whose URL servers.py passed in (HL_TEST_PG_URL or
HL_TEST_REDIS_URL). Each turn goes to a random worker; a session's next
turn is dealt once its previous one is done, so consecutive turns of one
conversation usually land on different processes. Once a third of the
turns are done, one worker that has turns in hand is killed with SIGKILL
and restarted; its turns are dealt again to random workers. At the end
every log is read back and must be exactly: for each turn, the user's
input, the assistant's tool call, the tool's result, the final answer,
each once, in order, versions 1..20 without a gap.
"""
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time

SESSIONS, TURNS, WORKERS, IN_HAND = 200, 5, 4, 3
EVENTS_PER_TURN = 4


class Worker:
    def __init__(self, binary, url, slot):
        env = dict(os.environ, HL_WORKER_TOOL_SLEEP_US="2000")
        self.proc = subprocess.Popen([binary, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env)
        self.slot = slot
        self.buf = b""
        self.in_hand = set()
        os.set_blocking(self.proc.stdout.fileno(), False)

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def lines(self):
        try:
            data = os.read(self.proc.stdout.fileno(), 65536)
        except BlockingIOError:
            return []
        self.buf += data
        *done, self.buf = self.buf.split(b"\n")
        return [l.decode() for l in done]


def main():
    binary, backend = sys.argv[1], sys.argv[2]
    url = os.environ["HL_TEST_PG_URL" if backend == "postgresql" else "HL_TEST_REDIS_URL"]
    rng = random.Random(int(os.environ.get("HL_TEST_SEED", "13")))
    sel = selectors.DefaultSelector()
    workers = []

    def start(slot):
        w = Worker(binary, url, slot)
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        return w

    workers = [start(i) for i in range(WORKERS)]
    ids = ["s%03d:it's" % i for i in range(SESSIONS)]   # odd characters on purpose
    next_turn = {sid: 1 for sid in ids}
    ready = list(ids)
    done_turns, errors, resumed, total = 0, 0, 0, SESSIONS * TURNS
    killed = None
    t0 = time.time()
    failures = []

    while done_turns < total:
        if time.time() - t0 > 240:
            failures.append("timed out with %d of %d turns done" % (done_turns, total))
            break
        rng.shuffle(ready)
        while ready:
            free = [w for w in workers if len(w.in_hand) < IN_HAND]
            if not free:
                break
            w = rng.choice(free)
            sid = ready.pop()
            w.in_hand.add((sid, next_turn[sid]))
            w.send("TURN %s %d" % (sid, next_turn[sid]))
        if killed is None and done_turns >= total // 3:
            victims = [w for w in workers if w.in_hand]
            if victims:
                w = rng.choice(victims)
                os.kill(w.proc.pid, signal.SIGKILL)
                w.proc.wait()
                sel.unregister(w.proc.stdout)
                killed = (w.slot, sorted(w.in_hand))
                for sid, k in w.in_hand:   # dealt again, to whoever is free
                    ready.append(sid)
                w.proc.stdin.close()
                w.proc.stdout.close()
                workers[w.slot] = start(w.slot)
                print("killed worker %d holding %d turns, restarted it" % (w.slot, len(killed[1])))
        for key, _ in sel.select(timeout=1.0):
            w = key.data
            for line in w.lines():
                parts = line.split(" ", 3)
                kind, sid, k = parts[0], parts[1], int(parts[2])
                w.in_hand.discard((sid, k))
                if kind == "DONE":
                    version, _, note = parts[3].partition(" ")
                    resumed += note == "resumed"
                    if int(version) != EVENTS_PER_TURN * k:
                        failures.append("%s turn %d: version %s, want %d" % (sid, k, version, EVENTS_PER_TURN * k))
                    done_turns += 1
                    if k < TURNS:
                        next_turn[sid] = k + 1
                        ready.append(sid)
                else:
                    errors += 1
                    ready.append(sid)  # try again elsewhere
                    if errors > 50:
                        failures.append("too many errors; last: " + line)
            if failures:
                break
        if failures:
            break

    print("%d turns in %.1f s, %d retried after an error, %d continued an unfinished run"
          % (done_turns, time.time() - t0, errors, resumed))
    if killed is None:
        failures.append("no worker was killed")

    # Read every log back through one worker and check it event by event.
    checker = workers[0]
    for sid in ids:
        checker.send("DUMP " + sid)
    dumps, deadline = {}, time.time() + 60
    while len(dumps) < len(ids) and time.time() < deadline:
        for key, _ in sel.select(timeout=1.0):
            if key.data is checker:
                for line in checker.lines():
                    d = json.loads(line)
                    dumps[d["id"]] = d
    for sid in ids:
        d = dumps.get(sid)
        if d is None or "error" in d:
            failures.append("%s: %s" % (sid, d and d["error"]))
            continue
        ev = d["events"]
        if d["version"] != TURNS * EVENTS_PER_TURN or len(ev) != TURNS * EVENTS_PER_TURN:
            failures.append("%s: version %d with %d events, want %d" % (sid, d["version"], len(ev), TURNS * EVENTS_PER_TURN))
            continue
        for k in range(1, TURNS + 1):
            want_input = "%s/t%d" % (sid, k)
            user, call, result, final = ev[(k - 1) * 4:k * 4]
            got = [e.get("type") for e in (user, call, result, final)]
            roles = [e.get("message", {}).get("role") for e in (user, call, result, final)]
            if got != ["message"] * 4 or roles != ["user", "assistant", "tool", "assistant"]:
                failures.append("%s turn %d: events %s roles %s" % (sid, k, got, roles))
                break
            if user["message"]["content"][0].get("text") != want_input:
                failures.append("%s turn %d: user said %r" % (sid, k, user["message"]["content"]))
                break
            if final["message"]["content"][0].get("text") != "done: " + want_input:
                failures.append("%s turn %d: answer %r" % (sid, k, final["message"]["content"]))
                break
        if len(failures) > 10:
            break

    for w in workers:
        try:
            w.send("QUIT")
            w.proc.stdin.close()
        except OSError:
            pass
        try:
            w.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
    for f in failures[:20]:
        print("FAIL:", f)
    print("%d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
