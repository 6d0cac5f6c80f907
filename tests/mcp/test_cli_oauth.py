#!/usr/bin/env python3
"""tests/mcp/test_cli_oauth.py - hookline-mcp --oauth against oauth_server.py:
the first run prints the authorization URL on stderr; this script plays the
browser (GETs it without following the redirect, then GETs the Location on
hookline-mcp's 127.0.0.1 listener) and the tools come out on stdout; the
token file under HOME/.config/hookline/ is 0600; the second run uses the
stored token: nothing asked, no second authorization at the server.

usage: test_cli_oauth.py HOOKLINE_MCP OAUTH_SERVER_PY
"""
import json
import os
import subprocess
import sys
import tempfile

from oauth_browser import get

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("CHECK failed: " + what, file=sys.stderr)


def main():
    cli, server_py = sys.argv[1], sys.argv[2]
    srv = subprocess.Popen([sys.executable, server_py], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline())
        url = "http://127.0.0.1:%d/mcp" % port
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, HOME=home)
            env.pop("XDG_CONFIG_HOME", None)
            p = subprocess.Popen([cli, "--oauth", url], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
            line = p.stderr.readline()
            check("asks you to sign in" in line, "the first run asks: %r" % line)
            status, location, _ = get(p.stderr.readline().strip())
            check(status == 302 and location.startswith("http://127.0.0.1:"), "redirect: %s %s" % (status, location))
            status, _, page = get(location)
            check(status == 200 and "Signed in" in page, "the short page: %s %r" % (status, page))
            out, err = p.communicate(timeout=60)
            check(p.returncode == 0 and '"whoami"' in out, "first run lists the tools: %d %r %r" % (p.returncode, out, err))
            tokens = os.path.join(home, ".config", "hookline", "mcp-tokens.json")
            check(os.path.exists(tokens) and os.stat(tokens).st_mode & 0o777 == 0o600, "token file 0600")
            stored = json.loads(json.load(open(tokens))[url])
            check(stored.get("access_token", "") not in out + err, "the token is not printed")
            p = subprocess.run([cli, "--oauth", url], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               env=env, timeout=60)
            check(p.returncode == 0 and '"whoami"' in p.stdout and p.stderr == "",
                  "second run: stored token, nothing asked: %d %r" % (p.returncode, p.stderr))
            log = json.loads(get("http://127.0.0.1:%d/__log" % port)[2])
            n = sum(1 for e in log if e["path"].startswith("/as/authorize"))
            check(n == 1, "one authorization in two runs, got %d" % n)
    finally:
        srv.terminate()
        srv.wait()
    print("hookline-mcp --oauth: %s" % ("FAIL" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
