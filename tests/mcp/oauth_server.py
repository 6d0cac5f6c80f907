#!/usr/bin/env python3
"""tests/mcp/oauth_server.py - an OAuth-protected Streamable HTTP MCP server
and its authorization server in one process (standard library only), for
what the official conformance suite does not show: authorization servers
that misbehave.

Serves, on 127.0.0.1 and a free port (printed on the first line):
  POST /mcp    MCP (initialize, tools/list, tools/call "whoami"), only with
               a valid Bearer token, else 401 with a WWW-Authenticate
               challenge naming the PRM
  GET  /.well-known/oauth-protected-resource/mcp   the PRM
  GET  /.well-known/oauth-authorization-server/as  the AS metadata
  POST /as/register, GET /as/authorize (302 to the redirect_uri with code
  and state), POST /as/token (authorization_code with PKCE S256 checked,
  refresh_token with rotation: a refresh token works once, and RFC 7523's
  jwt-bearer with any non-empty assertion)
  POST /idp/token  an enterprise identity provider's token exchange (RFC
               8693, SEP-990): an ID token for an ID-JAG "jag.<ID token>"
Test controls: POST /__mode with a mode name as the body, POST /__revoke
(every access token stops working), GET /__log (every request so far:
[{method, path, headers, body}]).

Modes (what goes wrong): ok, garbage_prm, prm_mismatch, oversized_meta,
issuer_mismatch, nul_issuer (the issuer's text goes on after a NUL),
no_s256, s256_object, insecure_endpoint, state_mismatch, token_500,
token_hang (the token endpoint answers after 30 s), get_stream (GET /mcp
opens the standalone SSE stream for a valid token, kept until that token
is revoked; else 405), forbid_echo (the MCP server answers 403 quoting
the token), html_echo (200 text/html quoting the token), token_echo (the
token endpoint refuses every grant, quoting the code, the verifier and
the request's body in error_description; codes end in "/+=", which a
form encodes), challenge_echo (the MCP server refuses every token,
quoting it in the challenge's error_description), no_prm_hint (the
challenge names no resource_metadata), short_expiry and expiry_string
(tokens expire in 10 s, as a number or as a string), iss (the metadata
promises RFC 9207's iss in the redirect, which names the issuer),
iss_missing (promised, not sent), wrong_iss (another server's iss, not
promised), redirect_elsewhere (the MCP server answers 307 to another host
name), legacy (a 2025-03-26 server: no PRM, the metadata at the root with
the origin as issuer), prm_moved (the PRM's path location answers 301
to /moved-away, a 404, the root one serves it; the challenge names none),
as_moved (the metadata's oauth-authorization-server location answers 302
to /moved-away, the openid-configuration one serves it), prm_slash (the PRM's path location
answers 301 with a relative Location, the same path with a trailing
slash, which serves it; the root location answers 404), as_slash (the
metadata's location answers 308 to itself with a trailing slash, which
serves it; the other locations 404), prm_other_origin (the PRM's path
location answers 301 to the same server named "localhost", another
origin, whose document would name another authorization server),
prm_loop (the PRM's path location redirects to itself, forever; the
root location answers 404), prm_503, issuer_slash (the
issuer has a trailing slash the PRM's entry has not), root_issuer (the
PRM lists the origin with "/", the root metadata names the origin),
root_issuer_slash (the other way round), continue_challenge (the 401
comes after a 100 Continue whose own WWW-Authenticate names a decoy
resource_metadata), offline (the metadata's scopes_supported lists
offline_access, SEP-2207; otherwise only "read"), as2 (the server moved
to another authorization server, SEP-2352: the PRM names /as2, whose
endpoints mirror /as/'s with identities and tokens of their own, and the
MCP server takes only its tokens), as2_no_rt (the same, /as2 issuing no
refresh tokens), jwt_refuse (the jwt-bearer grant is
refused, quoting the assertion), idp_refuse (the identity provider
refuses, quoting the subject token), idp_wrong_type (it answers an access
token, not an ID-JAG), idp_no_token (its answer has no access_token),
pkjwt (the metadata lists only private_key_jwt, with ES256; the
client_credentials grant is served), pkjwt_rs256 (the same, listing only
RS256 as signing alg), pkjwt_unlisted (it lists only client_secret_basic),
pkjwt_echo (the client's assertion is refused, quoted back). Registration
answers token_endpoint_auth_method private_key_jwt to a client that asks
for it with a jwks, else none.
private_key_jwt: POST /__jwt_key with the client's public key (PEM) as the
body; a token request's client_assertion is then verified (ES256, with
`openssl dgst` and that key; its claims: iss = sub = client_id, aud = the
issuer, exp after now) or refused with 401 invalid_client saying why; GET
/__jwt gives the last one seen: {header, claims, verified, why}.
DPoP (RFC 9449), modes dpop* (the metadata as pkjwt's, and
dpop_signing_alg_values_supported ES256; POST /__dpop_jwk with the
client's public JWK; proofs are verified with the /__jwt_key key): the token endpoint
wants a proof (400 invalid_dpop_proof saying why) and answers token_type
DPoP, the MCP server wants "Authorization: DPoP" and a proof with ath
(401 DPoP invalid_dpop_proof); dpop_nonce: both want a nonce of theirs
(400 / 401 use_dpop_nonce with DPoP-Nonce as-nonce / rs-nonce);
dpop_nonce_forever: the MCP server asks for a new nonce every time;
dpop_bearer: the token endpoint checks the proof but answers Bearer.
GET /__dpop: every proof seen in this mode, {header, claims, why}.
POST /__fail_refresh: the next refresh grant fails for a while, the
refresh token staying valid: the body says how, "503" or "429" (that
status) or "hang" (no answer for 6 s, then a 503); empty is "503".
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"
LOCK = threading.Lock()
STATE = {"mode": "ok", "n": 0, "fail_refresh": False, "jwt_key": None, "jwt": None, "dpop_jwk": None,
         "dpop": []}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LOG = []
ACCESS = set()
REFRESH = set()
CODES = {}


def fresh(prefix):
    with LOCK:
        STATE["n"] += 1
        return "%s-%d-%s" % (prefix, STATE["n"], base64.urlsafe_b64encode(hashlib.sha256(
            str(STATE["n"]).encode()).digest()[:9]).decode())


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def der_integer(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b


def es256_verify(pem, signing_input, sig):
    """An ES256 signature (R || S) checked by `openssl dgst` with the PEM key."""
    if len(sig) != 64:
        return False
    seq = der_integer(sig[:32]) + der_integer(sig[32:])
    der = b"\x30" + bytes([len(seq)]) + seq
    with tempfile.TemporaryDirectory() as d:
        files = {"key.pem": pem.encode(), "sig.der": der, "input": signing_input}
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", os.path.join(d, "key.pem"), "-signature",
                            os.path.join(d, "sig.der"), os.path.join(d, "input")], capture_output=True)
        return r.returncode == 0


def check_assertion(form, issuer_url):
    """private_key_jwt: the record of the form's client assertion (kept for
    GET /__jwt) and why it is refused ("" when it is not)."""
    rec = {"header": None, "claims": None, "verified": False, "why": ""}
    parts = form.get("client_assertion", "").split(".")
    try:
        rec["header"] = json.loads(b64url_decode(parts[0]))
        rec["claims"] = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except (ValueError, IndexError):
        rec["why"] = "not a compact JWS"
        return rec
    if any(p.endswith("=") for p in parts):
        rec["why"] = "padded base64url"
    elif form.get("client_assertion_type") != ASSERTION_TYPE:
        rec["why"] = "client_assertion_type"
    elif not STATE["jwt_key"] or not es256_verify(STATE["jwt_key"], (parts[0] + "." + parts[1]).encode(), sig):
        rec["why"] = "bad signature"
    else:
        rec["verified"] = True
        c, cid = rec["claims"], form.get("client_id")
        if c.get("iss") != cid or c.get("sub") != cid:
            rec["why"] = "iss/sub is not client_id"
        elif c.get("aud") != issuer_url:
            rec["why"] = "aud is not the issuer"
        elif not isinstance(c.get("exp"), int) or c["exp"] <= time.time():
            rec["why"] = "expired"
    return rec


def check_dpop(proof, htm, htu, token):
    """DPoP (RFC 9449): the record of a proof (kept for GET /__dpop) and why
    it is refused ("" when it is not): signature by the /__jwt_key key,
    whose public JWK (/__dpop_jwk) the header must carry; typ, alg, jti,
    htm, htu, iat, and ath for `token`."""
    rec = {"header": None, "claims": None, "why": ""}
    parts = (proof or "").split(".")
    try:
        rec["header"] = json.loads(b64url_decode(parts[0]))
        rec["claims"] = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except (ValueError, IndexError):
        rec["why"] = "no proof" if not proof else "not a compact JWS"
        return rec
    h, c = rec["header"], rec["claims"]
    ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).decode().rstrip("=") if token else None
    if h.get("typ") != "dpop+jwt" or h.get("alg") != "ES256":
        rec["why"] = "typ/alg"
    elif h.get("jwk") != STATE["dpop_jwk"] or "d" in h.get("jwk", {}):
        rec["why"] = "jwk"
    elif not STATE["jwt_key"] or not es256_verify(STATE["jwt_key"], (parts[0] + "." + parts[1]).encode(), sig):
        rec["why"] = "bad signature"
    elif not isinstance(c.get("jti"), str) or len(c["jti"]) < 16:
        rec["why"] = "jti"
    elif c.get("htm") != htm or c.get("htu") != htu:
        rec["why"] = "htm/htu"
    elif not isinstance(c.get("iat"), int) or abs(c["iat"] - time.time()) > 60:
        rec["why"] = "iat"
    elif c.get("ath") != ath:
        rec["why"] = "ath"
    with LOCK:
        STATE["dpop"].append(rec)
    return rec


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def base(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def send(self, status, body, ctype="application/json", extra=()):
        data = body if isinstance(body, bytes) else (
            json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        with LOCK:
            LOG.append({"method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        return body

    def do_GET(self):
        self.read_body()
        mode = STATE["mode"]
        path = urlsplit(self.path).path
        b = self.base()
        if path == "/__log":
            with LOCK:
                return self.send(200, LOG)
        if path == "/__jwt":
            return self.send(200, STATE["jwt"])
        if path == "/__dpop":
            with LOCK:
                return self.send(200, STATE["dpop"])
        if mode == "prm_slash" and path == "/.well-known/oauth-protected-resource/mcp":
            return self.send(301, "", "text/plain", [("Location", "/.well-known/oauth-protected-resource/mcp/")])
        if mode == "prm_loop" and path == "/.well-known/oauth-protected-resource/mcp":
            return self.send(307, "", "text/plain", [("Location", path)])
        if mode in ("prm_slash", "prm_other_origin", "prm_loop") and path == "/.well-known/oauth-protected-resource":
            return self.send(404, {"error": "not_found"})
        if mode == "prm_other_origin" and path == "/.well-known/oauth-protected-resource/mcp":
            return self.send(301, "", "text/plain",
                             [("Location", b.replace("127.0.0.1", "localhost") + "/other-origin-prm")])
        if mode == "prm_other_origin" and path == "/other-origin-prm":
            return self.send(200, {"resource": b + "/mcp", "authorization_servers": ["https://evil.example/as"]})
        if mode == "as_slash" and path in ("/.well-known/oauth-authorization-server/as",
                                           "/.well-known/openid-configuration/as"):
            if path.endswith("openid-configuration/as"):
                return self.send(404, {"error": "not_found"})
            return self.send(308, "", "text/plain", [("Location", b + path + "/")])
        if mode == "as_slash" and path == "/.well-known/oauth-authorization-server/as/":
            path = "/.well-known/oauth-authorization-server/as"
        if path == "/.well-known/oauth-protected-resource/mcp" or (
                path == "/.well-known/oauth-protected-resource" and mode == "prm_moved") or (
                path == "/.well-known/oauth-protected-resource/mcp/" and mode == "prm_slash"):
            if mode == "garbage_prm":
                return self.send(200, "<<<not json", "application/json")
            if mode == "legacy":
                return self.send(404, {"error": "not_found"})
            if mode == "prm_503":
                return self.send(503, "try later", "text/plain")
            if mode == "prm_moved" and path.endswith("/mcp"):
                return self.send(301, "", "text/plain", [("Location", b + "/moved-away")])
            prm = {"resource": b + "/mcp", "authorization_servers": [b + ("/as2" if mode.startswith("as2") else "/as")],
                   "scopes_supported": ["read"]}
            if mode == "prm_mismatch":
                prm["resource"] = b + "/mcp-other"  # a prefix of the text, not of the path
            if mode in ("root_issuer", "root_issuer_slash"):  # the Python SDK's PRM; JumpCloud's
                prm["authorization_servers"] = [b + "/" if mode == "root_issuer" else b]
            return self.send(200, prm)
        if mode == "as_moved" and path == "/.well-known/oauth-authorization-server/as":
            return self.send(302, "", "text/plain", [("Location", b + "/moved-away")])
        root_as = mode in ("legacy", "root_issuer", "root_issuer_slash") and \
            path == "/.well-known/oauth-authorization-server"
        as2 = path == "/.well-known/oauth-authorization-server/as2"
        if root_as or as2 or path in ("/.well-known/oauth-authorization-server/as",
                                      "/.well-known/openid-configuration/as"):
            a = b + ("/as2" if as2 else "/as")
            meta = {"issuer": b if root_as else a, "authorization_endpoint": a + "/authorize",
                    "token_endpoint": a + "/token", "registration_endpoint": a + "/register",
                    "response_types_supported": ["code"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["none"],
                    "scopes_supported": ["read", "offline_access"] if mode == "offline" else ["read"]}
            if mode == "oversized_meta":
                meta["padding"] = "x" * (200 << 10)
            if mode == "issuer_mismatch":
                meta["issuer"] = b + "/other"
            if mode == "issuer_slash":
                meta["issuer"] = b + "/as/"
            if mode == "root_issuer_slash":
                meta["issuer"] = b + "/"
            if mode == "nul_issuer":
                meta["issuer"] = b + "/as\u0000.evil.example"
            if mode == "no_s256":
                meta["code_challenge_methods_supported"] = ["plain"]
            if mode == "s256_object":
                meta["code_challenge_methods_supported"] = {"S256": "S256"}
            if mode == "insecure_endpoint":
                meta["token_endpoint"] = "http://as.example.com/token"
            if mode in ("iss", "iss_missing"):
                meta["authorization_response_iss_parameter_supported"] = True
            if mode.startswith("dpop"):
                meta["dpop_signing_alg_values_supported"] = ["ES256"]
            if mode.startswith(("pkjwt", "dpop")):
                meta["grant_types_supported"] = ["client_credentials"]
                meta["token_endpoint_auth_methods_supported"] = [
                    "client_secret_basic" if mode == "pkjwt_unlisted" else "private_key_jwt"]
                meta["token_endpoint_auth_signing_alg_values_supported"] = [
                    "RS256" if mode == "pkjwt_rs256" else "ES256"]
            return self.send(200, meta)
        if path in ("/as/authorize", "/as2/authorize"):
            q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            q["as"] = path.split("/")[1]
            code = fresh("code") + ("/+=" if mode == "token_echo" else "")  # characters a form encodes
            with LOCK:
                CODES[code] = q
            state = "forged" if mode == "state_mismatch" else q.get("state", "")
            answer = {"code": code, "state": state}
            if mode in ("iss", "wrong_iss"):
                answer["iss"] = b + "/as" if mode == "iss" else "https://evil.example/as"
            elif path.startswith("/as2/"):
                answer["iss"] = b + "/as2"
            loc = q["redirect_uri"] + "?" + urlencode(answer)
            return self.send(302, "", "text/plain", [("Location", loc)])
        if path == "/mcp" and mode == "get_stream":
            return self.get_stream()
        self.send(405 if path in ("/mcp", "/mcp/") else 404, {"error": "not_found"})

    def challenge(self, token):
        """401 for a request whose `token` is missing or refused."""
        mode = STATE["mode"]
        hint = "" if mode in ("no_prm_hint", "legacy", "prm_moved") else ', resource_metadata="%s"' % (
            self.base() + "/.well-known/oauth-protected-resource/mcp")
        echo = ', error_description="token %s is revoked"' % token if mode == "challenge_echo" and token else ""
        if mode == "continue_challenge":
            # An interim response first, with a challenge of its own that
            # is not the answer's (a client must read the final one only).
            self.wfile.write(b'HTTP/1.1 100 Continue\r\nWWW-Authenticate: Bearer '
                             b'resource_metadata="http://127.0.0.1:9/decoy"\r\n\r\n')
        return self.send(401, {"error": "invalid_token"}, extra=[(
            "WWW-Authenticate", 'Bearer error="invalid_token"%s%s, scope="read"' % (hint, echo))])

    def bearer(self):
        """The request's Bearer token and whether it is valid."""
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if STATE["mode"].startswith("dpop") and STATE["mode"] != "dpop_bearer":
            token = auth[5:] if auth.startswith("DPoP ") else ""  # a DPoP-bound token only so
        with LOCK:
            return token, token in ACCESS

    def get_stream(self):
        token, valid = self.bearer()
        if not valid:
            return self.challenge(token)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"id: 1\ndata: \n\n")
            self.wfile.flush()
            for _ in range(300):  # until the token is revoked (30 s at most)
                time.sleep(0.1)
                with LOCK:
                    if token not in ACCESS:
                        return
        except OSError:
            pass

    def token(self, form, body, issuer):
        if STATE["mode"] == "token_500":
            return self.send(500, "internal error", "text/plain")
        if STATE["mode"] == "token_hang":
            time.sleep(30)
        grant = form.get("grant_type")
        dpop = STATE["mode"].startswith("dpop")
        if dpop:
            rec = check_dpop(self.headers.get("DPoP"), "POST", self.base() + "/" + issuer + "/token", None)
            if rec["why"]:
                return self.send(400, {"error": "invalid_dpop_proof", "error_description": rec["why"]})
            if STATE["mode"] == "dpop_nonce" and rec["claims"].get("nonce") != "as-nonce":
                return self.send(400, {"error": "use_dpop_nonce"}, extra=[("DPoP-Nonce", "as-nonce")])
        if "client_assertion" in form:
            rec = check_assertion(form, self.base() + "/" + issuer)
            STATE["jwt"] = rec
            if STATE["mode"] == "pkjwt_echo" or rec["why"]:
                return self.send(401, {"error": "invalid_client", "error_description": "assertion %s: %s" % (
                    form["client_assertion"], rec["why"] or "revoked key")})
        if STATE["mode"] == "token_echo":
            return self.send(400, {"error": "invalid_grant", "error_description": "code %s verifier %s body %s" % (
                form.get("code"), form.get("code_verifier"), body)})
        if grant == "refresh_token":
            with LOCK:
                fail, STATE["fail_refresh"] = STATE["fail_refresh"], False
            if fail == "hang":
                time.sleep(6)
            if fail:
                return self.send(429 if fail == "429" else 503, "try later", "text/plain")
        if grant == "authorization_code":
            with LOCK:
                q = CODES.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if not q or challenge != q.get("code_challenge") or form.get("resource") != q.get("resource") or \
                    q["as"] != issuer or form.get("client_id", q.get("client_id")) != q.get("client_id"):
                return self.send(400, {"error": "invalid_grant"})
        elif grant == JWT_BEARER:
            if STATE["mode"] == "jwt_refuse":
                return self.send(400, {"error": "invalid_grant",
                                       "error_description": "assertion %s expired" % form.get("assertion")})
            if not form.get("assertion"):
                return self.send(400, {"error": "invalid_request"})
        elif grant == "client_credentials":
            if "client_assertion" not in form:
                return self.send(401, {"error": "invalid_client"})
        elif grant == "refresh_token":
            with LOCK:
                rt = form.get("refresh_token")
                if rt not in REFRESH or rt.startswith("rt2-") != (issuer == "as2"):
                    return self.send(400, {"error": "invalid_grant", "error_description": "spent"})
                REFRESH.discard(rt)
        else:
            return self.send(400, {"error": "unsupported_grant_type"})
        at, rt = fresh("at" if issuer == "as" else "at2"), fresh("rt" if issuer == "as" else "rt2")
        with LOCK:
            ACCESS.add(at)
            REFRESH.add(rt)
        expires = {"short_expiry": 10, "expiry_string": "10"}.get(STATE["mode"], 3600)
        answer = {"access_token": at, "token_type": "DPoP" if dpop and STATE["mode"] != "dpop_bearer" else "Bearer",
                  "expires_in": expires, "refresh_token": rt, "scope": "read"}
        if STATE["mode"] == "as2_no_rt" and issuer == "as2":
            del answer["refresh_token"]
        self.send(200, answer)

    def idp_token(self, form):
        """The identity provider's token exchange: an ID-JAG for an ID token."""
        mode = STATE["mode"]
        if mode == "idp_refuse":
            return self.send(400, {"error": "invalid_grant",
                                   "error_description": "subject_token %s expired" % form.get("subject_token")})
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" or \
                not form.get("subject_token"):
            return self.send(400, {"error": "invalid_request"})
        if mode == "idp_no_token":
            return self.send(200, {"issued_token_type": ID_JAG, "token_type": "N_A"})
        kind = "urn:ietf:params:oauth:token-type:access_token" if mode == "idp_wrong_type" else ID_JAG
        self.send(200, {"access_token": "jag." + form["subject_token"], "issued_token_type": kind,
                        "token_type": "N_A"})

    def do_POST(self):
        body = self.read_body()
        path = urlsplit(self.path).path
        if path == "/__mode":
            STATE["mode"] = body.strip()
            STATE["jwt"] = None  # GET /__jwt: what this mode saw
            STATE["dpop"] = []
            return self.send(200, {})
        if path == "/__fail_refresh":
            STATE["fail_refresh"] = body.strip() or "503"
            return self.send(200, {})
        if path == "/__dpop_jwk":
            STATE["dpop_jwk"] = json.loads(body)
            return self.send(200, {})
        if path == "/__jwt_key":
            STATE["jwt_key"] = body
            return self.send(200, {})
        if path == "/__revoke":
            with LOCK:
                ACCESS.clear()
            return self.send(200, {})
        if path in ("/as/register", "/as2/register"):
            # private_key_jwt only with the key to check it by (RFC 7591 jwks)
            req = json.loads(body or "{}")
            pkjwt = req.get("token_endpoint_auth_method") == "private_key_jwt" and req.get("jwks", {}).get("keys")
            return self.send(201, {"client_id": fresh("client" if path == "/as/register" else "as2-client"),
                                   "token_endpoint_auth_method": "private_key_jwt" if pkjwt else "none"})
        if path == "/idp/token":
            return self.idp_token({k: v[0] for k, v in parse_qs(body).items()})
        if path in ("/as/token", "/as2/token"):
            return self.token({k: v[0] for k, v in parse_qs(body).items()}, body, path.split("/")[1])
        if path not in ("/mcp", "/mcp/"):
            return self.send(404, {"error": "not_found"})
        token, _ = self.bearer()
        mode = STATE["mode"]
        with LOCK:
            valid = token in ACCESS and mode != "challenge_echo" and token.startswith("at2-") == mode.startswith("as2")
        if not valid:
            return self.challenge(token)
        if mode.startswith("dpop") and mode != "dpop_bearer":
            rec = check_dpop(self.headers.get("DPoP"), "POST", self.base() + "/mcp", token)
            if rec["why"]:
                return self.send(401, {"error": "invalid_dpop_proof"},
                                 extra=[("WWW-Authenticate", 'DPoP error="invalid_dpop_proof"')])
            nonce = "rs-nonce" if mode == "dpop_nonce" else fresh("rs-nonce") if mode == "dpop_nonce_forever" else None
            if nonce and rec["claims"].get("nonce") != nonce:
                return self.send(401, {"error": "use_dpop_nonce"}, extra=[
                    ("WWW-Authenticate", 'DPoP error="use_dpop_nonce"'), ("DPoP-Nonce", nonce)])
        if mode == "forbid_echo":
            return self.send(403, "forbidden for " + token, "text/plain",
                             [("WWW-Authenticate", 'Bearer error="invalid_token"')])
        if mode == "html_echo":
            return self.send(200, "<html>hello " + token + "</html>", "text/html")
        if mode == "redirect_elsewhere":  # another host name, same server
            return self.send(307, "", "text/plain", [("Location", "http://localhost:%d/elsewhere"
                                                      % self.server.server_address[1])])
        msg = json.loads(body)
        if "id" not in msg:
            return self.send(202, "", "text/plain")
        method, result = msg.get("method"), {}
        if method == "initialize":
            result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                      "serverInfo": {"name": "oauth-test", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": [{"name": "whoami", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": "ok"}]}
        self.send(200, {"jsonrpc": "2.0", "id": msg["id"], "result": result})


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that closes a kept-alive connection is no error here.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


if __name__ == "__main__":
    srv = Server(("127.0.0.1", 0), H)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
