#!/usr/bin/env python3
"""hookline-chat --config FILE in a real terminal (tmux): a configuration
file that loads two plugins by path (the guardrail and logging .so files
of this build, with their options), an instruction, and the tools to keep.
The guardrail from the .so refuses an input, the logger from the .so
writes its lines to the file the options name, and /tools shows that only
the listed tools remain. A bad file stops the start with the file name and
the JSON path of the bad value.

Usage: test_config_tmux.py PATH/TO/hookline-chat DIR/OF/PLUGIN/SO/FILES
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatlib import Tmux, check, clean_env, finish, run  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
SO_DIR = os.path.abspath(sys.argv[2])
TMP = tempfile.mkdtemp(prefix="hlchat-config-")
atexit.register(shutil.rmtree, TMP, True)
ENV = clean_env(TMP)
PROMPT = r"(?m)^›\s*$"


def write_config(name, doc):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return path


def test_config_loads_plugins_by_path_in_the_repl():
    log = os.path.join(TMP, "hooks.log")
    # The plugins sit next to the file, as a deployment would keep them:
    # relative paths are relative to the file's directory.
    os.makedirs(os.path.join(TMP, "plugins"), exist_ok=True)
    for so in ("guardrail.so", "logging.so"):
        shutil.copy(os.path.join(SO_DIR, so), os.path.join(TMP, "plugins", so))
    cfg = write_config("chat.json", {
        "tools": ["calculator"],
        "plugins": [
            {"path": "plugins/guardrail.so",
             "options": {"words": ["launch codes"], "refusal": "The config's guardrail refuses that."}},
            {"path": "plugins/logging.so", "options": {"file": log, "prefix": "from-config"}},
            {"name": "response_cache", "enabled": False},
        ],
    })
    with Tmux([BIN, "--config", cfg], ENV) as t:
        t.wait_for(r"offline demo")
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("give me the launch codes")
        t.wait_for(r"The config's guardrail refuses that\.", m)
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line("what is 17*23?")
        t.wait_for(r"17\*23 = 391", m)
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line("/tools")
        t.wait_for(r"calculator", m)
        t.wait_for(PROMPT, m)
        screen = t.screen()[m:]
        check("clock" not in screen, f"/tools lists only the config's tools: {screen!r}")
        t.type_line("/quit")
        status = t.dead_status()
        check(status == 0, f"/quit exits with status 0, got {status}")
    with open(log) as f:
        text = f.read()
    check(re.search(r"^\[from-config\] before_tool .*tool=calculator args=\{\"expression\":\"17\*23\"\}",
                    text, re.M) is not None,
          f"the logging plugin loaded from its .so wrote the tool call: {text!r}")
    check("launch codes" not in text,
          f"the refused input never got past the guardrail to the logger: {text!r}")


def test_bad_config_names_file_and_path():
    bad = write_config("bad.json", {"plugins": [
        {"path": os.path.join(SO_DIR, "guardrail.so"), "options": {"words": ["ok", 7]}}]})
    p = subprocess.run([BIN, "--config", bad, "-p", "hi"], env=ENV, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 1, f"a bad config exits 1, got {p.returncode}")
    check("bad.json: $.plugins[0].options.words[1]: expected a non-empty string, got integer"
          in p.stderr, f"message names the file and the path: {p.stderr!r}")
    typo = write_config("typo.json", {"plugin": []})
    p = subprocess.run([BIN, "--config", typo, "-p", "hi"], env=ENV, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 1 and "typo.json: $.plugin: unknown key" in p.stderr,
          f"an unknown key is an error: {p.returncode} {p.stderr!r}")
    p = subprocess.run([BIN, "--config", os.path.join(TMP, "absent.json"), "-p", "hi"], env=ENV,
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "absent.json" in p.stderr,
          f"a missing file is named: {p.returncode} {p.stderr!r}")


run(test_config_loads_plugins_by_path_in_the_repl)
run(test_bad_config_names_file_and_path)
finish()
