"""Helpers shared by the chatbot tests: a tiny check/run harness, a clean
environment for hookline-chat, the loopback model server (model_server.py)
in a process of its own, and a tmux session driver.

The tmux driver uses a private server socket per session (-S, in a temporary
directory) so tests never touch a user's tmux or each other, a fixed window
size, and polls the pane with a generous deadline instead of sleeping for
fixed times.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE = 30.0  # seconds to wait for text to appear: generous on slow CI

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"CHECK failed: {what}", file=sys.stderr)
    return cond


def run(fn):
    """Run one test function; an exception counts as a failure."""
    global failures
    before = failures
    try:
        fn()
    except Exception:  # noqa: BLE001 - report and keep going
        failures += 1
        traceback.print_exc()
    print(f"{'ok  ' if failures == before else 'FAIL'} {fn.__name__}", file=sys.stderr)


def finish():
    sys.exit(1 if failures else 0)


def clean_env(tmpdir):
    """Environment for hookline-chat: no API keys (so the offline demo model
    is the default), history kept in the temp dir, UTF-8, colour off."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                        "ANTHROPIC_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                        "GEMINI_BASE_URL", "TMUX", "TMUX_PANE")}
    env["HOME"] = tmpdir
    env.pop("XDG_DATA_HOME", None)  # conversations are saved under HOME (sessions.c)
    env["HOOKLINE_CHAT_HISTORY"] = os.path.join(tmpdir, "history")
    env["LANG"] = "C.UTF-8"
    env.pop("LC_ALL", None)
    env["NO_COLOR"] = "1"
    return env


class Tmux:
    """One hookline-chat process in its own tmux server, whose socket lives
    in a private temporary directory (-S, removed at the end)."""

    count = 0

    def __init__(self, argv, env, width=160, height=50):
        if not shutil.which("tmux"):
            print("tmux not installed: skipping", file=sys.stderr)
            sys.exit(77)
        Tmux.count += 1
        self.dir = tempfile.mkdtemp(prefix="hlchat-tmux-")
        self.socket = os.path.join(self.dir, "tmux.sock")
        conf = os.path.join(self.dir, "tmux.conf")
        with open(conf, "w") as f:
            # A long history so nothing scrolls away.
            f.write("set -g history-limit 20000\n"
                    "set -g status off\n")
        self.env = env
        cmd = ["tmux", "-S", self.socket, "-f", conf, "new-session", "-d",
               "-x", str(width), "-y", str(height), "-s", "chat"]
        for key in ("HOME", "HOOKLINE_CHAT_HISTORY", "LANG", "NO_COLOR", "PATH"):
            if key in env:
                cmd += ["-e", f"{key}={env[key]}"]
        # The program runs under sh, which prints its exit status when it
        # ends ("EXIT=0"): tmux's own pane_dead_status is not always filled
        # in. `trap : INT` keeps sh alive when Ctrl-C reaches the whole
        # foreground process group; the program itself starts with the
        # default SIGINT disposition (a trapped signal is reset by exec).
        cmd += ["--", "sh", "-c", 'trap : INT; "$0" "$@"; echo "EXIT=$?"; sleep 600']
        cmd += list(argv)
        subprocess.run(cmd, check=True, env=env)

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.socket] + list(args),
                              check=check, capture_output=True, text=True, env=self.env)

    def send(self, *keys):
        """Send keys (tmux key names such as 'Enter', 'C-c')."""
        self.tmux("send-keys", "-t", "chat", *keys)

    def type_line(self, text):
        self.tmux("send-keys", "-t", "chat", "-l", text)
        self.tmux("send-keys", "-t", "chat", "Enter")

    def screen(self, escapes=False):
        """The whole pane including scrollback, wrapped lines joined; with
        `escapes`, colours and attributes as escape sequences."""
        extra = ["-e"] if escapes else []
        return self.tmux("capture-pane", "-p", "-J", *extra, "-t", "chat", "-S", "-").stdout

    def wait_for(self, pattern, after=0, deadline=DEADLINE):
        """Poll until `pattern` (a regex) appears in the screen text after
        offset `after`. Returns the match or None (and records a failure)."""
        rx = re.compile(pattern)
        end = time.monotonic() + deadline
        while True:
            text = self.screen()
            m = rx.search(text, after)
            if m:
                self.last_screen = text  # the capture that matched
                return m
            if time.monotonic() > end:
                check(False, f"pattern {pattern!r} did not appear; screen:\n{text}")
                return None
            time.sleep(0.05)

    def mark(self):
        """Current length of the screen text, to search only what comes next."""
        return len(self.screen().rstrip("\n"))

    def wait_prompt(self, after=0):
        """Wait until the pane ends with an empty prompt line."""
        return self.wait_for(r"(?m)^› $", after)

    def dead_status(self, deadline=DEADLINE):
        """Wait for the program to exit; its exit status, or None."""
        m = self.wait_for(r"(?m)^EXIT=(\d+)$", deadline=deadline)
        return int(m.group(1)) if m else None

    def close(self):
        self.tmux("kill-server", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ModelServer:
    """model_server.py (or another server script that prints its port) in
    its own process for a `with` block: .port, .base (the /v1 URL),
    .requests() (what it recorded)."""

    def __init__(self, script=None):
        self.script = script or os.path.join(HERE, "model_server.py")

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, self.script],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.base = f"http://127.0.0.1:{self.port}/v1"
        return self

    def requests(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__requests") as r:
            return json.load(r)

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
