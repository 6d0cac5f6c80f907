#!/usr/bin/env python3
"""hookline-chat keeps its conversations (issue 13), in a real terminal
(tmux) and in one-shot mode: the default SQLite file under
$XDG_DATA_HOME/hookline/ (~/.local/share/hookline/ without it), --resume
with and without an ID, /sessions (date, title, size), /new, /resume ID,
/save FILE still working, --store URL, clear errors for an unknown ID or
store URL.

Usage: test_store_tmux.py PATH/TO/hookline-chat
"""
import atexit
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatlib import Tmux, check, clean_env, finish, run  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="hlchat-store-")
atexit.register(shutil.rmtree, TMP, True)
ENV = clean_env(TMP)
PROMPT = r"(?m)^›\s*$"
DEFAULT_DB = os.path.join(TMP, ".local", "share", "hookline", "sessions.sqlite")


def oneshot(*args, env=None):
    p = subprocess.run([BIN, *args], env=env or ENV, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_repl_conversation_survives_a_restart():
    with Tmux([BIN], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("what is 17*23?")
        t.wait_for(r"17\*23 = 391", m)
        t.wait_for(PROMPT, m)
        t.type_line("/quit")
        check(t.dead_status() == 0, "/quit exits 0")
    check(os.path.exists(DEFAULT_DB), "the default store is under ~/.local/share/hookline/")
    db = sqlite3.connect(DEFAULT_DB)
    # schema 4: a session's version is its last event's number (lib/store/sqlite.c)
    first_id, title, version = db.execute(
        "SELECT s.id, s.title, MAX(e.k) - s.sid * 4294967296 FROM hl_sessions s"
        " JOIN hl_events e ON e.k BETWEEN s.sid * 4294967296 + 1 AND s.sid * 4294967296 + 4294967295"
        " GROUP BY s.sid").fetchone()
    db.close()
    check(title == "what is 17*23?" and version == 4,
          "the turn was written as it happened: %r %r" % (title, version))

    with Tmux([BIN, "--resume"], ENV) as t:
        t.wait_for(r"Resumed conversation %s \(4 messages" % first_id)
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("/sessions")
        t.wait_for(r"1 conversations", m)
        # date, the id's start, the title, the size
        t.wait_for(r"\* \d{4}-\d\d-\d\d \d\d:\d\d  %s\s+what is 17\*23\?\s+\(4 events, \d+\.\d KB\)"
                   % first_id[:12], m)
        m = t.mark()
        t.type_line("/new")
        t.wait_for(r"New conversation ([0-9a-f]{32})", m)
        second_id = re.search(r"New conversation ([0-9a-f]{32})", t.screen()[m:]).group(1)
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line("what time is it?")
        t.wait_for(r"says the clock tool", m)
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line("/sessions")
        t.wait_for(r"2 conversations", m)
        t.wait_for(r"\* .*%s\s+what time is it\?" % second_id[:12], m)
        t.wait_for(r"  .*%s\s+what is 17\*23\?" % first_id[:12], m)
        # /resume with the first characters of the id
        m = t.mark()
        t.type_line("/resume " + first_id[:6])
        t.wait_for(r"Resumed conversation %s \(4 messages" % first_id, m)
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line("/resume nosuchid")
        t.wait_for(r'no conversation "nosuchid"', m)
        t.wait_for(PROMPT, m)
        # /save still writes the current conversation as JSON
        saved = os.path.join(TMP, "saved.json")
        m = t.mark()
        t.type_line("/save " + saved)
        t.wait_for(r"Saved 4 messages to", m)
        t.wait_for(PROMPT, m)
        t.type_line("/quit")
        check(t.dead_status() == 0, "/quit exits 0")
    with open(saved) as f:
        check(json.load(f)["session_id"] == first_id, "/save wrote the resumed conversation")


def test_oneshot_store_and_resume_by_id():
    store = os.path.join(TMP, "one.sqlite")
    rc, out, err = oneshot("--store", "sqlite:" + store, "-p", "what is 17*23?", "--json")
    check(rc == 0, "one-shot with --store: %s" % err)
    sid = json.loads(out)["session_id"]
    rc, out, err = oneshot("--store", "sqlite:" + store, "--resume", sid, "-p", "what time is it?", "--json")
    check(rc == 0 and json.loads(out)["session_id"] == sid, "--resume ID -p continues it: %s" % err)
    db = sqlite3.connect(store)
    check(db.execute("SELECT MAX(e.k) - s.sid * 4294967296 FROM hl_sessions s JOIN hl_events e"
                     " ON e.k BETWEEN s.sid * 4294967296 + 1 AND s.sid * 4294967296 + 4294967295"
                     " WHERE s.id = ?", (sid,)).fetchone()[0] == 8,
          "both turns in one conversation")
    db.close()
    rc, out, err = oneshot("--store", "sqlite:" + store, "--resume", "nosuch", "-p", "x")
    check(rc == 1 and 'no conversation "nosuch"' in err, "unknown id: %r" % err)
    rc, out, err = oneshot("--store", "mysql://x", "-p", "x")
    check(rc == 1 and "unknown store URL" in err, "unknown store URL: %r" % err)
    empty = os.path.join(TMP, "empty.sqlite")
    rc, out, err = oneshot("--store", "sqlite:" + empty, "--resume", "-p", "x")
    check(rc == 1 and "no saved conversation" in err, "--resume with nothing saved: %r" % err)


def test_xdg_data_home():
    env = dict(ENV, XDG_DATA_HOME=os.path.join(TMP, "xdg"))
    rc, out, err = oneshot("-p", "what is 17*23?", env=env)
    check(rc == 0, "one-shot: %s" % err)
    check(os.path.exists(os.path.join(TMP, "xdg", "hookline", "sessions.sqlite")),
          "$XDG_DATA_HOME/hookline/sessions.sqlite")


run(test_repl_conversation_survives_a_restart)
run(test_oneshot_store_and_resume_by_id)
run(test_xdg_data_home)
finish()
