#!/usr/bin/env python3
"""hookline-chat signing in to an OAuth-protected MCP server (its "oauth"
entry in --config's mcp_servers), in a real terminal (tmux), against
tests/mcp/oauth_server.py (the MCP server and its authorization server).

First start: the chatbot prints the authorization URL; this test plays the
browser (GETs the URL without following the redirect, then GETs the
Location, which is the chatbot's listener on 127.0.0.1) and gets the short
page; the chatbot connects, /tools lists the server's tool and the model
calls it. The token file under HOME/.config/hookline/ has mode 0600 and no
token shows in the pane. Second start: the stored token is used, the
authorization server sees no second authorization and nothing is asked.
A config naming "client_secret" itself, or oauth for a command, is refused.
A server given with --mcp URL signs in the same way when it asks (a 401
with an OAuth challenge), with nothing in a config file.

Usage: test_oauth_tmux.py PATH/TO/hookline-chat PATH/TO/oauth_server.py
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "mcp"))
from chatlib import Tmux, check, clean_env, finish, run  # noqa: E402
from oauth_browser import get  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
SERVER = sys.argv[2]
TMP = tempfile.mkdtemp(prefix="hlchat-oauth-")
atexit.register(shutil.rmtree, TMP, True)
ENV = clean_env(TMP)
ENV.pop("XDG_CONFIG_HOME", None)  # the token file goes under HOME/.config
PROMPT = r"(?m)^›\s*$"
SIGN_IN = r"asks you to sign in\. Open this URL in a browser \(waiting \d+ s\):\n(http\S+)"
TOKENS = os.path.join(TMP, ".config", "hookline", "mcp-tokens.json")


def server_log(port):
    return json.loads(get(f"http://127.0.0.1:{port}/__log")[2])


def authorizations(port):
    return sum(1 for e in server_log(port) if e["path"].startswith("/as/authorize"))


def list_tools(t):
    """/tools in the chatbot's pane lists the guarded server's tool."""
    mk = t.mark()
    t.type_line("/tools")
    t.wait_for(r"whoami", mk)
    t.wait_for(PROMPT, mk)


def write(name, doc):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def test_sign_in_once_then_stored_token():
    srv = subprocess.Popen([sys.executable, SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline())
        url = f"http://127.0.0.1:{port}/mcp"
        cfg = write("chat.json", {"mcp_servers": [{"url": url, "name": "guarded", "oauth": {}}]})
        script = write("script.json", {"responses": [
            {"tool_calls": [{"id": "c1", "name": "whoami", "arguments": {}}]},
            {"text": "The server said {{result}}"}]})
        with Tmux([BIN, "--config", cfg, "--script", script], ENV, width=200) as t:
            m = t.wait_for(SIGN_IN)
            if not m:
                return
            status, location, _ = get(m.group(1))
            check(status == 302 and location and location.startswith("http://127.0.0.1:"),
                  f"the authorization server redirects to the chatbot's listener: {status} {location}")
            u = urllib.parse.urlsplit(location)
            check(u.path == "/callback", f"redirect_uri path: {location}")
            # A browser's other request (its icon) gets a 404; the listener waits on.
            status, _, _ = get(f"http://127.0.0.1:{u.port}/favicon.ico")
            check(status == 404, f"the listener answers 404 off /callback, got {status}")
            status, _, page = get(location)
            check(status == 200 and "Signed in" in page, f"the browser gets the short page: {status} {page!r}")
            t.wait_for(PROMPT)
            list_tools(t)
            mk = t.mark()
            t.type_line("who am I on the server?")
            t.wait_for(r"The server said ok", mk)
            t.wait_for(PROMPT, mk)
            first_screen = t.screen()
            t.type_line("/quit")
            check(t.dead_status() == 0, "/quit exits 0")
        check(authorizations(port) == 1, "one authorization on the first start")
        check(os.path.exists(TOKENS), f"the token file exists at {TOKENS}")
        if not os.path.exists(TOKENS):
            return
        mode = os.stat(TOKENS).st_mode & 0o777
        check(mode == 0o600, f"the token file's mode is 0600, got {oct(mode)}")
        check(os.stat(os.path.dirname(TOKENS)).st_mode & 0o077 == 0, "its directory is private")
        with open(TOKENS) as f:
            stored = json.load(f)
        check(list(stored) == [url], f"one entry, keyed by the server's URL: {list(stored)}")
        saved = json.loads(stored[url])
        secrets = [v for k, v in saved.items() if "token" in k and isinstance(v, str) and len(v) > 6]
        check(secrets, f"the entry holds the tokens: {sorted(saved)}")
        for s in secrets:
            check(s not in first_screen, "no token in the pane")
        # MCP 2026-07-28 (SEP-2352): the registration is kept under the
        # issuer of the authorization server that gave it, as the tokens name.
        issuer = "http://127.0.0.1:%d/as" % port
        check(saved.get("issuer") == issuer, f"the tokens name their issuer: {saved.get('issuer')!r}")
        reg = saved.get("clients", {}).get(issuer, {})
        check(reg.get("client_id", "").startswith("client-"),
              f"the registration is kept by issuer: {list(saved.get('clients', {}))}")

        # Second start: the stored token, no sign-in.
        with Tmux([BIN, "--config", cfg, "--script", script], ENV, width=200) as t:
            t.wait_for(PROMPT)
            list_tools(t)
            screen = t.screen()
            check("sign in" not in screen, f"the second start asks nothing: {screen!r}")
            t.type_line("/quit")
            check(t.dead_status() == 0, "/quit exits 0 (second start)")
        check(authorizations(port) == 1, "the authorization server saw no second authorization")
        bearer = [e for e in server_log(port) if e["path"] == "/mcp" and
                  any(e["headers"].get("authorization", "") == "Bearer " + s for s in secrets)]
        check(bearer, "the second start sent the stored access token")
    finally:
        srv.terminate()
        srv.wait()


def test_mcp_url_signs_in_when_asked():
    home = tempfile.mkdtemp(prefix="home-", dir=TMP)
    env = dict(ENV, HOME=home)
    tokens = os.path.join(home, ".config", "hookline", "mcp-tokens.json")
    srv = subprocess.Popen([sys.executable, SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline())
        url = f"http://127.0.0.1:{port}/mcp"
        with Tmux([BIN, "--mcp", url], env, width=200) as t:
            m = t.wait_for(SIGN_IN)
            if not m:
                return
            status, location, _ = get(m.group(1))
            check(status == 302 and location and location.startswith("http://127.0.0.1:"),
                  f"--mcp URL: redirected to the chatbot's listener: {status} {location}")
            status, _, page = get(location)
            check(status == 200 and "Signed in" in page, f"--mcp URL: the browser's page: {status} {page!r}")
            t.wait_for(PROMPT)
            list_tools(t)
            t.type_line("/quit")
            check(t.dead_status() == 0, "--mcp URL: /quit exits 0")
        check(authorizations(port) == 1, "--mcp URL: one authorization")
        check(os.path.exists(tokens) and os.stat(tokens).st_mode & 0o777 == 0o600,
              "--mcp URL: the tokens are kept in the 0600 token file")
        # Next start, not interactive: the stored token, nothing asked.
        p = subprocess.run([BIN, "--mcp", url, "-p", "hi"], env=env, capture_output=True, text=True,
                           timeout=60)
        check(p.returncode == 0 and "sign in" not in p.stderr,
              f"--mcp URL: the second start uses the stored token: {p.returncode} {p.stderr!r}")
        check(authorizations(port) == 1, "--mcp URL: no second authorization")
    finally:
        srv.terminate()
        srv.wait()


def test_bad_oauth_entries_refused():
    bad = write("secret.json", {"mcp_servers": [{"url": "http://127.0.0.1:1/mcp",
                                                  "oauth": {"client_secret": "s3cret"}}]})
    p = subprocess.run([BIN, "--config", bad, "-p", "hi"], env=ENV, capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "$.mcp_servers[0].oauth: \"client_secret\" does not belong in a file" in p.stderr,
          f"a secret in the file is refused: {p.returncode} {p.stderr!r}")
    cmd = write("cmd.json", {"mcp_servers": [{"command": "true", "oauth": {}}]})
    p = subprocess.run([BIN, "--config", cmd, "-p", "hi"], env=ENV, capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "$.mcp_servers[0].oauth: OAuth is for a server at a \"url\"" in p.stderr,
          f"oauth for a command is refused: {p.returncode} {p.stderr!r}")
    env = write("env.json", {"mcp_servers": [{"url": "http://127.0.0.1:1/mcp",
                                               "oauth": {"client_id": "c", "client_secret_env": "HL_NO_SUCH_VAR"}}]})
    p = subprocess.run([BIN, "--config", env, "-p", "hi"], env=ENV, capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "oauth.client_secret_env: HL_NO_SUCH_VAR is not set" in p.stderr,
          f"a missing secret variable is named: {p.returncode} {p.stderr!r}")


run(test_sign_in_once_then_stored_token)
run(test_mcp_url_signs_in_when_asked)
run(test_bad_oauth_entries_refused)
finish()
