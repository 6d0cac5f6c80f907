#!/usr/bin/env python3
"""hookline-chat asks before tools marked with --approve run (issue 13):
in a real terminal (tmux), approve, reject with a reason and edit the
arguments, each checked against what the model was sent afterwards (the
local model server of model_server.py answers with the last tool result
it saw); a decision left for later survives quitting and --resume asks
again. One-shot: -p stops with exit status 3 and prints the waiting call
(JSON with --json); --resume ID --approve-call / --deny-call continue it.
The --config file's "approve" list does what --approve does.

Usage: test_approval_tmux.py PATH/TO/hookline-chat
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatlib import Tmux, check, clean_env, finish, run  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="hlchat-approval-")
atexit.register(shutil.rmtree, TMP, True)
ENV = clean_env(TMP)
PROMPT = r"(?m)^›\s*$"
ASK = r"\[a\]pprove, \[r\]eject, \[e\]dit the arguments"

SERVER = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "model_server.py")],
                          stdout=subprocess.PIPE, text=True)
atexit.register(SERVER.kill)
PORT = int(SERVER.stdout.readline())
BASE = "http://127.0.0.1:%d/v1" % PORT
STORE = "sqlite:" + os.path.join(TMP, "chat.sqlite")
MODEL = ["--base-url", BASE, "-m", "test-model", "--store", STORE, "--no-stream"]


def tool_results_sent():
    """The tool messages of the last request the model server got."""
    with urllib.request.urlopen("http://127.0.0.1:%d/__requests" % PORT) as r:
        last = json.loads(r.read())[-1]["body"]
    return [m.get("content") for m in last["messages"] if m.get("role") == "tool"]


def oneshot(*args):
    p = subprocess.run([BIN, *MODEL, *args], env=ENV, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def ask_and_decide(t, question, keys):
    """Type `question`, wait for the approval prompt, answer `keys[0]` and,
    when given, `keys[1]` to the follow-up question (reason, arguments).
    Returns the screen offset before the question."""
    # a new conversation each time: the model server calls the tool only
    # while the conversation has no tool result yet
    m = t.mark()
    t.type_line("/new")
    t.wait_for(r"New conversation", m)
    t.wait_for(PROMPT, m)
    m = t.mark()
    t.type_line(question)
    t.wait_for(r"Approval needed: calculator \{", m)
    t.wait_for(ASK, m)
    m2 = t.mark()
    t.type_line(keys[0])
    if len(keys) > 1:
        t.wait_for(r"(Reason|New arguments)[^\n]*: ", m2)
        t.type_line(keys[1])
    return m


def test_approve_reject_edit_in_the_terminal():
    with Tmux([BIN, *MODEL, "--approve", "calc*"], ENV) as t:
        t.wait_for(PROMPT)
        m = ask_and_decide(t, "what is 17*23?", ["a"])
        t.wait_for(r"The answer is 391\.", m)
        t.wait_for(PROMPT, m)
        check(tool_results_sent() == ["391"], "approved: the model got the result")

        m = ask_and_decide(t, "what is 2+2?", ["r", "not now, thanks"])
        t.wait_for(r"The answer is not now, thanks\.", m)
        t.wait_for(PROMPT, m)
        check(tool_results_sent() == ["not now, thanks"], "rejected: the model got the reason")

        m = ask_and_decide(t, "what is 1+1?", ["e", '{"expression": "5*5"}'])
        t.wait_for(r"The answer is 25\.", m)
        t.wait_for(PROMPT, m)
        check(tool_results_sent() == ["25"], "edited: the tool ran with the new arguments")

        # arguments that break the tool's schema: said, and asked again
        m = ask_and_decide(t, "what is 3+4?", ["e", '{"expr": 1}'])
        err = t.wait_for(r"arguments[^\n]*expression[^\n]*\n", m)
        t.wait_for(ASK, err.end() if err else m)
        m = t.mark()
        t.type_line("a")
        t.wait_for(r"The answer is 7\.", m)
        t.wait_for(PROMPT, m)
        t.type_line("/quit")
        check(t.dead_status() == 0, "/quit exits 0")


def test_left_for_later_survives_quitting():
    with Tmux([BIN, *MODEL, "--approve", "calculator"], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("what is 6*7?")
        t.wait_for(ASK, m)
        t.type_line("")  # decide later
        t.wait_for(r"waits for a decision; it is kept with conversation ([0-9a-f]{32})", m)
        t.wait_for(PROMPT, m)
        t.type_line("/quit")
        check(t.dead_status() == 0, "/quit exits 0")
    n_requests = len(json.loads(urllib.request.urlopen(
        "http://127.0.0.1:%d/__requests" % PORT).read()))
    with Tmux([BIN, *MODEL, "--approve", "calculator", "--resume"], ENV) as t:
        m = t.wait_for(r"This conversation stopped for approval")
        t.wait_for(r"Approval needed: calculator \{\"expression\":\"6\*7\"\}")
        t.wait_for(ASK)
        m = t.mark()
        t.type_line("a")
        t.wait_for(r"The answer is 42\.", m)
        t.wait_for(PROMPT, m)
        t.type_line("/quit")
        check(t.dead_status() == 0, "/quit exits 0")
    requests = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/__requests" % PORT).read())
    # the resumed run asked the model once, with the tool's result: the
    # question was not asked again
    check(len(requests) == n_requests + 1, "one model call after the resume")
    check(tool_results_sent() == ["42"], "the resumed run sent the result")


def test_oneshot_stops_and_continues():
    rc, out, err = oneshot("--approve", "calculator", "-p", "what is 9*9?")
    check(rc == 3, "-p waiting for approval exits 3: %r %r" % (rc, err))
    check("call_1  calculator {\"expression\":\"9*9\"}" in out, "the waiting call is printed: %r" % out)
    sid = out.split("conversation ", 1)[1].split(")", 1)[0] if "conversation " in out else ""
    # decisions missing: still waiting, the calls printed again (JSON)
    rc, out, err = oneshot("--resume", sid, "--json", "--approve-call", "call_9")
    check(rc == 3 and json.loads(out)["pending"][0]["id"] == "call_1",
          "no decision for the waiting call: still waiting: %r %r" % (out, err))
    rc, out, err = oneshot("--resume", sid, "--approve-call", "call_1")
    check(rc == 0 and out.strip() == "The answer is 81.", "--approve-call continues: %r %r" % (out, err))
    rc, out, err = oneshot("--resume", sid, "--approve-call", "call_1")
    check(rc == 1 and "no call waiting for approval" in err, "nothing waits any more: %r" % err)

    rc, out, err = oneshot("--approve", "calculator", "-p", "what is 2*3?", "--json")
    j = json.loads(out)
    check(rc == 3 and j["status"] == "Interrupted" and j["pending"][0]["id"] == "call_1"
          and j["pending"][0]["arguments"] == {"expression": "2*3"}, "--json: %r" % out)
    rc, out, err = oneshot("--resume", j["session_id"], "--deny-call", "call_1:too easy")
    check(rc == 0 and out.strip() == "The answer is too easy.", "--deny-call: %r %r" % (out, err))
    rc, out, err = oneshot("-p", "x", "--approve-call", "call_1")
    check(rc == 2 and "--resume ID" in err, "decisions need --resume: %r" % err)
    rc, out, err = oneshot("--approve", "nosuchtool", "-p", "x")
    check(rc == 1 and "matches no tool" in err, "a pattern that matches nothing: %r" % err)


def test_approve_from_the_config_file():
    """"approve" in the --config file marks tools as --approve does."""
    cfg = os.path.join(TMP, "approve.json")
    with open(cfg, "w") as f:
        json.dump({"approve": ["calc*"]}, f)
    rc, out, err = oneshot("--config", cfg, "-p", "what is 7*6?")
    check(rc == 3, "-p with the file's approve waits for approval: %r %r %r" % (rc, out, err))
    check("call_1  calculator {\"expression\":\"7*6\"}" in out, "the waiting call: %r" % out)
    sid = out.split("conversation ", 1)[1].split(")", 1)[0] if "conversation " in out else ""
    rc, out, err = oneshot("--config", cfg, "--resume", sid, "--approve-call", "call_1")
    check(rc == 0 and out.strip() == "The answer is 42.", "continued: %r %r" % (out, err))
    # without the file the same question runs the tool at once
    rc, out, err = oneshot("-p", "what is 7*6?")
    check(rc == 0 and out.strip() == "The answer is 42.", "no approval without it: %r %r" % (out, err))
    # a pattern that matches no tool names the file and the JSON path
    with open(cfg, "w") as f:
        json.dump({"approve": ["calculator", "nosuchtool"]}, f)
    rc, out, err = oneshot("--config", cfg, "-p", "x")
    check(rc == 1 and "approve.json: $.approve[1]" in err and "matches no tool" in err,
          "bad pattern in the file: %r" % err)
    with open(cfg, "w") as f:
        json.dump({"approve": "calculator"}, f)
    rc, out, err = oneshot("--config", cfg, "-p", "x")
    check(rc == 1 and "$.approve" in err, "approve must be a list of names: %r" % err)


run(test_approve_reject_edit_in_the_terminal)
run(test_left_for_later_survives_quitting)
run(test_oneshot_stops_and_continues)
run(test_approve_from_the_config_file)
finish()
