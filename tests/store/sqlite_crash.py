#!/usr/bin/env python3
"""tests/store/sqlite_crash.py - a worker killed at any moment loses at most
the turn in flight (SQLite, the embedded default).

    sqlite_crash.py STORE_WORKER

1. Killed during a turn: the worker SIGKILLs itself inside its first tool
   call. Nothing of that turn is in the log (the input and the model's
   tool call are written together with the results, one append per turn
   boundary: the turn in flight is what a crash loses), and the database
   is intact. A new process given the same input runs the turn again:
   the input appears once, the model is asked again, the tool runs, the
   turn ends with its answer.
2. Killed between turns: a worker finishes turn 1 and is killed; another
   process serves turn 2 on top of it.
3. Killed at random moments: workers serving 20 sessions x 3 turns are
   SIGKILLed 8 times at random points, each time restarted; in the end
   every conversation is complete, every message once and in order, and
   the database passes PRAGMA integrity_check.
"""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(binary, url, commands, env=None):
    p = subprocess.run([binary, url], input="\n".join(commands) + "\n", capture_output=True,
                       text=True, env=dict(os.environ, **(env or {})), timeout=60)
    return p.returncode, p.stdout.splitlines()


def dump(binary, url, sid):
    _, out = run(binary, url, ["DUMP " + sid])
    return json.loads(out[0])


def conversation_ok(d, sid, turns):
    ev = d.get("events", [])
    if d.get("version") != 4 * turns or len(ev) != 4 * turns:
        return "version %s, %d events, want %d" % (d.get("version"), len(ev), 4 * turns)
    for k in range(1, turns + 1):
        user, call, result, final = ev[(k - 1) * 4:k * 4]
        roles = [e["message"]["role"] for e in (user, call, result, final)]
        if roles != ["user", "assistant", "tool", "assistant"]:
            return "turn %d roles %s" % (k, roles)
        if user["message"]["content"][0]["text"] != "%s/t%d" % (sid, k):
            return "turn %d input %r" % (k, user["message"]["content"])
        if final["message"]["content"][0]["text"] != "done: %s/t%d" % (sid, k):
            return "turn %d answer %r" % (k, final["message"]["content"])
    return None


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="hl-sqlite-crash-")
    path = os.path.join(tmp, "sessions.sqlite")
    url = "sqlite:" + path

    # 1. during a turn
    rc, out = run(binary, url, ["TURN during 1"], {"HL_WORKER_CRASH_TOOL": "1"})
    check(rc == -signal.SIGKILL, "worker was not killed in its tool (rc %d, %s)" % (rc, out))
    d = dump(binary, url, "during")
    check(d.get("version", 0) == 0 and not d.get("events"),
          "log after the crash (want nothing of the turn in flight): %s" % d)
    rc, out = run(binary, url, ["TURN during 1"])
    check(out == ["DONE during 1 4"], "turn run again: %s" % out)
    check(conversation_ok(dump(binary, url, "during"), "during", 1) is None,
          "after resume: %s" % conversation_ok(dump(binary, url, "during"), "during", 1))

    # 2. between turns
    p = subprocess.Popen([binary, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    p.stdin.write("TURN between 1\n")
    p.stdin.flush()
    check(p.stdout.readline().strip() == "DONE between 1 4", "turn 1 before the kill")
    p.kill()
    p.wait()
    rc, out = run(binary, url, ["TURN between 2"])
    check(out == ["DONE between 2 8"], "turn 2 after the kill: %s" % out)
    check(conversation_ok(dump(binary, url, "between"), "between", 2) is None, "between-turns log")

    # 3. at random moments
    rng = random.Random(int(os.environ.get("HL_TEST_SEED", "13")))
    sessions = ["r%02d" % i for i in range(20)]
    todo = [(sid, k) for k in (1, 2, 3) for sid in sessions]   # turn k of all before k+1
    kills = 0
    while todo and kills < 8:
        env = dict(os.environ, HL_WORKER_TOOL_SLEEP_US="3000")
        p = subprocess.Popen([binary, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=env)
        p.stdin.write("".join("TURN %s %d\n" % t for t in todo))
        p.stdin.flush()
        time.sleep(rng.uniform(0.01, 0.3))
        p.kill()
        p.wait()
        kills += 1
        for line in p.stdout.read().splitlines():
            parts = line.split()
            if parts and parts[0] == "DONE":
                todo.remove((parts[1], int(parts[2])))
    rc, out = run(binary, url, ["TURN %s %d" % t for t in todo])
    check(all(l.startswith("DONE") for l in out) and len(out) == len(todo), "last worker: %s" % out[:3])
    print("%d kills, %d turns left for the last worker" % (kills, len(todo)))
    for sid in sessions:
        why = conversation_ok(dump(binary, url, sid), sid, 3)
        check(why is None, "%s: %s" % (sid, why))
    db = sqlite3.connect(path)
    check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check")
    check(db.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "WAL journal")
    db.close()
    subprocess.run(["rm", "-rf", tmp])
    print("%d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
