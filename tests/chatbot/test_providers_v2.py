#!/usr/bin/env python3
"""hookline-chat with the providers of issue 17: --provider responses
(also spelled openai-responses) and --provider gemini against the
providers suite's server_v2.py on 127.0.0.1, GEMINI_API_KEY /
GOOGLE_API_KEY choosing Gemini when no other key is set, and clear errors
without a key.

Usage: test_providers_v2.py PATH/TO/hookline-chat
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatlib import check, clean_env, finish, run  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
TMP = tempfile.mkdtemp(prefix="hlchat-v2-")
atexit.register(shutil.rmtree, TMP, True)
ENV = clean_env(TMP)
TEXT = "Hello, world! Caf\u00e9 \u20ac5 \U0001F600 done."


def chat(*args, env=None):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          env=env or ENV, timeout=60, stdin=subprocess.DEVNULL)


class Server:
    def __enter__(self):
        path = os.path.join(HERE, "..", "providers", "server_v2.py")
        self.proc = subprocess.Popen([sys.executable, path], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.base = f"http://127.0.0.1:{self.port}/v1"
        return self

    def stats(self, model):
        q = urllib.parse.quote(model)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__stats?model={q}") as r:
            return json.load(r)

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def test_provider_flags():
    with Server() as s:
        for name in ("responses", "openai-responses"):
            model = "text@chat-" + name
            r = chat("--provider", name, "--base-url", s.base, "--model", model, "-p", "hi")
            check(r.returncode == 0 and r.stdout == TEXT + "\n",
                  f"--provider {name}: {r.returncode} {r.stdout!r} {r.stderr!r}")
            st = s.stats(model)
            check(st["count"] == 1 and st["last_headers"].get(":path") == "/v1/responses",
                  f"--provider {name} speaks the Responses API: {st['last_headers']}")
        r = chat("--provider", "gemini", "--base-url", s.base, "--model", "text__chat",
                 "-p", "hi", "--json")
        out = json.loads(r.stdout) if r.stdout else {}
        check(r.returncode == 0 and out.get("answer") == TEXT and out.get("provider") == "gemini",
              f"--provider gemini: {r.returncode} {out} {r.stderr!r}")
        check(out.get("usage", {}).get("input_tokens") == 11, f"Gemini usage: {out}")


def test_gemini_key_selects_gemini():
    with Server() as s:
        for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
            model = "text__chat-" + var.lower().replace("_", "-")
            env = dict(ENV, **{var: "gm-secret-key-0123456789", "GEMINI_BASE_URL": s.base})
            r = chat("--model", model, "-p", "hi", env=env)
            check(r.returncode == 0 and r.stdout == TEXT + "\n",
                  f"{var} selects Gemini: {r.returncode} {r.stdout!r} {r.stderr!r}")
            st = s.stats(model)
            check(st["last_headers"].get("x-goog-api-key") == "gm-secret-key-0123456789",
                  f"{var} is sent in x-goog-api-key: {st['last_headers']}")
        # A refused key: the server's words, never the key.
        env = dict(ENV, GEMINI_API_KEY="gm-secret-key-0123456789", GEMINI_BASE_URL=s.base)
        r = chat("--model", "auth__chat", "-p", "hi", env=env)
        check(r.returncode == 1 and "API key not valid" in r.stderr
              and "gm-secret-key" not in r.stderr + r.stdout,
              f"refused key, redacted: {r.returncode} {r.stderr!r}")


def test_missing_keys_are_clear():
    r = chat("--provider", "gemini", "-p", "hi")
    check(r.returncode != 0 and "GEMINI_API_KEY" in r.stderr,
          f"gemini without a key says which to set: {r.returncode} {r.stderr!r}")
    r = chat("--provider", "responses", "-p", "hi")
    check(r.returncode != 0 and "OPENAI_API_KEY" in r.stderr,
          f"responses without a key says which to set: {r.returncode} {r.stderr!r}")
    r = chat("--provider", "gemni", "-p", "hi")
    check(r.returncode == 2 and "gemini" in r.stderr,
          f"a misspelt provider lists the right names: {r.returncode} {r.stderr!r}")


run(test_provider_flags)
run(test_gemini_key_selects_gemini)
run(test_missing_keys_are_clear)
finish()
