#!/usr/bin/env python3
"""tests/mcp/run_readme_oauth.py - run the README's OAuth example (extracted
from README.md at build time) against oauth_server.py, twice with one token
file: the first run must ask for the sign-in (the URL on stderr; this script
plays the user and the browser, GETting it without following the redirect
and pasting the Location), the second must connect with the stored tokens
without asking.

usage: run_readme_oauth.py EXAMPLE OAUTH_SERVER_PY
"""
import os
import subprocess
import sys
import tempfile

from oauth_browser import get


def main():
    example, server_py = sys.argv[1], sys.argv[2]
    srv = subprocess.Popen([sys.executable, server_py], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline())
        url = "http://127.0.0.1:%d/mcp" % port
        with tempfile.TemporaryDirectory() as d:
            store = os.path.join(d, "tokens.json")
            p = subprocess.Popen([example, url, store], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            assert "Open this URL" in p.stderr.readline()
            auth_url = p.stderr.readline().strip()
            location = get(auth_url)[1]
            out, err = p.communicate(location + "\n", timeout=60)
            print(out + err)
            if p.returncode != 0 or out.strip() != "1 tools":
                print("FAIL: first run: exit %d" % p.returncode)
                return 1
            if oct(os.stat(store).st_mode & 0o777) != "0o600":
                print("FAIL: the token file is not private")
                return 1
            p = subprocess.run([example, url, store], stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=60)
            print(p.stdout + p.stderr)
            if p.returncode != 0 or p.stdout.strip() != "1 tools" or "Open this URL" in p.stderr:
                print("FAIL: second run did not connect with the stored tokens")
                return 1
    finally:
        srv.terminate()
        srv.wait()
    print("readme oauth example ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
