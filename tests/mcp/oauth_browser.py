"""tests/mcp/oauth_browser.py - the browser of the OAuth tests: one GET that
does not follow redirects, so that a test can take the authorization
server's Location and then visit it on the client's redirect listener
(run_readme_oauth.py, test_cli_oauth.py, tests/chatbot/test_oauth_tmux.py).
"""
import http.client
import urllib.parse


def get(url):
    """GET `url` without following a redirect: (status, Location, body)."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request("GET", u.path + ("?" + u.query if u.query else ""))
        r = c.getresponse()
        return r.status, r.getheader("Location"), r.read().decode(errors="replace")
    finally:
        c.close()
