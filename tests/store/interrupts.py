#!/usr/bin/env python3
"""tests/store/interrupts.py - runs that stop for approval, stored with the
session and resumed by another worker process (issue 13 item 3).

    interrupts.py STORE_WORKER memory|sqlite|postgresql|redis

The same test list for every backend. The model is approval_model.py on a
loopback port (served by this script); the workers are store_worker
processes with its approval commands (worker_approval.c). Each step runs
in a new worker process that opens the session from the store, so nothing
but the store carries the interrupted run from one to the next. (The
memory: store lives in one process: there one worker serves every step,
each step on a session it opens afresh.)

  approve / reject / edit: one worker runs until the run stops for
    delete_file's approval; a second one sees the pending call through the
    store (hl_session_run_state) and resumes with the decision; checks what
    the model was shown afterwards (its answer repeats the tool results
    it saw), which tools ran in which process, and that the stored run
    state is gone once resumed;
  race: two workers that both read the interrupted session resume it: one
    finishes, the other gets Conflict, the approved call runs once;
  abandoned: a new run on a session with a pending approval replaces it.
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import approval_model  # noqa: E402

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("CHECK failed: " + what, file=sys.stderr)


class Worker:
    def __init__(self, binary, url, model_url):
        env = dict(os.environ, HL_WORKER_MODEL_URL=model_url)
        self.proc = subprocess.Popen([binary, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, text=True)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline().rstrip("\n")
        if not out:
            raise RuntimeError("worker gave no answer to %r (exit %s)" % (line, self.proc.poll()))
        return out

    def ran(self):
        return json.loads(self.ask("RAN")[len("RAN "):])

    def close(self):
        self.proc.stdin.write("QUIT\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class Workers:
    """A new worker process per step, or the one worker of memory:."""

    def __init__(self, binary, backend, url, model_url):
        self.binary, self.url, self.model_url = binary, url, model_url
        self.shared = Worker(binary, url, model_url) if backend == "memory" else None
        self.open = []

    def new(self):
        if self.shared:
            return self.shared
        w = Worker(self.binary, self.url, self.model_url)
        self.open.append(w)
        return w

    def close(self):
        for w in self.open + ([self.shared] if self.shared else []):
            w.close()


def result(line):
    """("DONE"|"INTERRUPTED"|"ERR", session, rest)."""
    kind, sid, rest = (line.split(" ", 2) + ["", ""])[:3]
    return kind, sid, rest


def pending_of(w, sid):
    kind, got, rest = result(w.ask("PENDING " + sid))
    check(kind == "PENDING" and got == sid, "PENDING answered %r" % kind)
    version, count, calls = rest.split(" ", 2)
    return int(version), int(count), json.loads(calls)


def last_request(model_url):
    with urllib.request.urlopen(model_url.replace("/v1", "/__requests")) as r:
        return json.loads(r.read())[-1]


def interrupt(workers, sid, text):
    """Run `text` on `sid` in a fresh worker until it stops for approval."""
    w = workers.new()
    w.ran()  # start from an empty log in the shared memory: worker
    kind, got, rest = result(w.ask("ASK %s %s" % (sid, text)))
    check(kind == "INTERRUPTED", "%s: the run was not interrupted: %s %s" % (sid, kind, rest))
    calls = (json.loads(rest.split(" ", 1)[1]) if kind == "INTERRUPTED" else None) or []
    check([c["path"] for c in calls] == ["call_del"], "%s: pending %r" % (sid, calls))
    check(w.ran() == 'note {"text":"%s"}\n' % text, "%s: only note ran before the interrupt" % sid)
    return calls


def decided(workers, model_url, sid, text, decisions, expect_result, expect_ran):
    interrupt(workers, sid, text)
    w = workers.new()
    # what another worker sees in the store: the pending call, the history
    # as before the run (the run's messages travel in the state)
    version, count, calls = pending_of(w, sid)
    check(count == 0, "%s: %d messages in the history while interrupted" % (sid, count))
    check(calls and calls[0]["name"] == "delete_file"
          and calls[0]["arguments"] == {"path": "/tmp/" + text},
          "%s: the other worker sees %r" % (sid, calls))
    kind, got, rest = result(w.ask("RESUME %s %s" % (sid, json.dumps(decisions))))
    check(kind == "DONE", "%s: resume gave %s %s" % (sid, kind, rest))
    answer = rest.split(" ", 1)[1] if kind == "DONE" else ""
    want = "saw: call_note=noted %s; call_del=%s" % (text, expect_result)
    check(answer == want, "%s: the model saw %r, not %r" % (sid, answer, want))
    check(w.ran() == expect_ran, "%s: the resuming worker ran the wrong calls" % sid)
    req = last_request(model_url)
    users = [m for m in req["messages"] if m["role"] == "user"]
    check(len(users) == 1 and users[0]["content"] == text,
          "%s: the model got the input %d times" % (sid, len(users)))
    # resumed: the run state is gone from the store, the turn is there
    v2, count, calls = pending_of(workers.new(), sid)
    check(calls is None, "%s: a run state is still stored after the resume" % sid)
    check(count == 4, "%s: %d messages after the resume (want 4)" % (sid, count))
    check(v2 > version, "%s: version %d after the resume, %d before" % (sid, v2, version))


def race(workers, sid):
    interrupt(workers, sid, "race")
    a, b = workers.new(), workers.new()
    for w in (a, b):  # both read the interrupted session
        kind, _, _ = result(w.ask("OPEN " + sid))
        check(kind == "OPENED", "%s: OPEN gave %s" % (sid, kind))
    approve = json.dumps({"call_del": {"action": "approve"}})
    first = result(a.ask("RESUME %s %s" % (sid, approve)))
    second = result(b.ask("RESUME %s %s" % (sid, approve)))
    check(first[0] == "DONE", "%s: the first resume gave %s" % (sid, first))
    check(second[0] == "ERR" and second[2].startswith("Conflict"),
          "%s: the second resume gave %s" % (sid, second))
    runs = (a.ran() + ("" if a is b else b.ran())).count("delete_file")
    check(runs == 1, "%s: the approved call ran %d times" % (sid, runs))


def abandoned(workers, sid):
    interrupt(workers, sid, "first")
    w = workers.new()
    kind, _, rest = result(w.ask("ASK %s second" % sid))
    check(kind == "INTERRUPTED", "%s: the second run gave %s" % (sid, kind))
    _, count, calls = pending_of(workers.new(), sid)
    check(calls and [c["arguments"]["path"] for c in calls] == ["/tmp/second"],
          "%s: the stored pending calls are %r" % (sid, calls))
    check(count == 0, "%s: %d messages" % (sid, count))


def main():
    binary, backend = sys.argv[1], sys.argv[2]
    tmp = tempfile.TemporaryDirectory(prefix="hl-interrupts-")
    url = {"memory": "memory:",
           "sqlite": "sqlite:" + os.path.join(tmp.name, "store.sqlite"),
           "postgresql": os.environ.get("HL_TEST_PG_URL", ""),
           "redis": os.environ.get("HL_TEST_REDIS_URL", "")}[backend]
    server, port = approval_model.serve()
    model_url = "http://127.0.0.1:%d/v1" % port
    workers = Workers(binary, backend, url, model_url)
    try:
        decided(workers, model_url, "approve", "alpha", {"call_del": {"action": "approve"}},
                "deleted /tmp/alpha", 'delete_file {"path":"/tmp/alpha"}\n')
        decided(workers, model_url, "reject", "beta",
                {"call_del": {"action": "reject", "message": "not this one"}}, "not this one", "")
        decided(workers, model_url, "edit", "gamma",
                {"call_del": {"action": "edit", "arguments": {"path": "/tmp/other"}}},
                "deleted /tmp/other", 'delete_file {"path":"/tmp/other"}\n')
        race(workers, "race")
        abandoned(workers, "abandoned")
    finally:
        workers.close()
        server.shutdown()
    print("%s: %s" % (backend, "ok" if not FAILURES else "%d failures" % len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
