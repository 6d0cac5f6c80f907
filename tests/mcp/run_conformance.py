#!/usr/bin/env python3
"""tests/mcp/run_conformance.py - the official MCP conformance suite
(@modelcontextprotocol/conformance, pinned and installed with its Node 22 by
scripts/setup.d/mcp-conformance.sh) against hookline's MCP client.

usage: run_conformance.py CONFORMANCE_DIR CLIENT

CONFORMANCE_DIR is the install (.cache/mcp-conformance/<version>), CLIENT the
program the suite runs with the scenario's URL (tests/mcp/conformance_client).

The protocol scenarios (initialize, tools_call, elicitation defaults, SSE
resumption with retry/Last-Event-ID, tool schemas kept as the server wrote
them, x-mcp-header custom headers) run one at a time, so the retry-timing
check is not measured on a machine busy with the other scenarios, and must
pass: every check SUCCESS (or INFO/WARNING, which the suite itself does not
fail), and the client must have said it got the right answer. The
2026-07-28 ones (PROTOCOL_2026: tools_call, per-request _meta and the
version retry, the standard HTTP headers, MRTR's requestState, x-mcp-header
custom headers) run with --spec-version 2026-07-28 the same way, and the
client must also have found the server modern.

The authorization scenarios run the library's OAuth (hl_mcp_set_oauth()),
one batch per suite, each batch in parallel: "auth" (the 2025-11-25 and
2025-06-18 ones: metadata discovery, CIMD, scope selection and step-up,
token endpoint authentication, pre-registration), "backcompat" (2025-03-26)
and "draft" (resource mismatch, offline_access). Each must PASS as the
suite counts it: no FAILURE and no WARNING check, and the client must have
called the scenario's tool, except in the scenarios where refusing is the
point (ALLOWED_REFUSALS), where it must have refused with a message. Of
the "extensions" suite, client_credentials with a secret and with
private_key_jwt (signed by the client with libcrypto), workload identity
federation and enterprise-managed authorization (the jwt-bearer grant with
the JWT the suite gives, exchanged at its identity provider for the latter)
and DPoP (with and without the servers' nonces; proofs signed with
libcrypto) must pass too; the
ones the library does not implement (EXPECTED_FAILURES, with the reason)
must fail cleanly: the client stops with a message (or goes through a
lenient server and the suite's checks fail it), no crash, no hang; one
that passes must leave the list.

Exit 0 when all that holds, 77 (skip) when the suite is not installed,
1 otherwise, printing every scenario's outcome.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

PROTOCOL = ["initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry",
            "json-schema-2020-12-preservation", "json-schema-ref-no-deref"]
# The scenarios of the 2026-07-28 revision, run with --spec-version
# 2026-07-28: tools_call, per-request _meta with the version retry, the
# standard HTTP headers, MRTR's requestState, the x-mcp-header tool
# definitions. Each must pass, and the client must have found the server
# modern (its ok line says "(protocol 2026-07-28)"). WAITING_FOR_CORE
# would name one that must stop at connect instead (none now).
PROTOCOL_2026 = ["tools_call", "request-metadata", "http-standard-headers", "sep-2322-client-request-state",
                 "http-custom-headers", "http-invalid-tool-headers"]
WAITING_FOR_CORE = {}
AUTH_SUITES = ["auth", "backcompat", "draft", "extensions"]
EXPECTED_FAILURES = {}
# private_key_jwt: the application signs (hl_mcp_oauth.sign); the test
# client does with libcrypto, a test-only dependency (meson sets
# HL_CONFORMANCE_SIGNER=1 when it linked it).
if os.environ.get("HL_CONFORMANCE_SIGNER") != "1":
    EXPECTED_FAILURES["client-credentials-jwt"] = ("the conformance client was built without OpenSSL's "
                                                   "libcrypto, so it has no signer for private_key_jwt")
    for name in ("dpop", "dpop-nonce"):
        EXPECTED_FAILURES[name] = "the conformance client was built without libcrypto: no signer for DPoP proofs"
# Scenarios whose server never lets a correct client through: the client
# must stop (retry limit on 403 insufficient_scope; a PRM naming another
# resource; AS metadata naming another issuer; a redirect whose iss is
# missing though promised, names another server, or names it with a slash
# added: RFC 9207 compares as strings) and say why.
ALLOWED_REFUSALS = {"scope-retry-limit", "resource-mismatch", "metadata-issuer-mismatch", "iss-supported-missing",
                    "iss-wrong-issuer", "iss-unexpected", "iss-normalized"}


def checks_of(results, scenario):
    # The suite names a result directory "<scenario>-<ISO time>": the date
    # in the pattern keeps auth/iss-supported from reading the result of
    # auth/iss-supported-missing.
    dirs = sorted(glob.glob(os.path.join(results, scenario + "-[0-9][0-9][0-9][0-9]-*")))
    if not dirs:
        return None, "", ""
    d = dirs[-1]
    def read(name):
        try:
            with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""
    try:
        checks = json.loads(read("checks.json"))
    except ValueError:
        checks = None
    return checks, read("stdout.txt"), read("stderr.txt")


def sanitizer(stderr):
    """An ASan/UBSan build's report in the client's stderr (leaks too)."""
    return "Sanitizer" in stderr or "runtime error:" in stderr


def protocol_2026_outcome(sc, checks, stdout, stderr):
    """Print how a PROTOCOL_2026 scenario went; True when as expected."""
    bad = [c for c in (checks or []) if c.get("status") in ("FAILURE", "WARNING")]
    passed = [c for c in (checks or []) if c.get("status") == "SUCCESS"]
    ok = f"conformance_client: {sc} ok (protocol 2026-07-28)" in stdout and checks and passed and not bad and \
        not sanitizer(stderr)
    if sc in WAITING_FOR_CORE:
        stopped = "conformance_client: connect:" in stderr and "2026-07-28" in stderr
        if stopped and not ok and not sanitizer(stderr):
            print(f"expected failure {sc} ({WAITING_FOR_CORE[sc]}): {stderr.strip().splitlines()[-1][:200]}")
            return True
        print(f"FAIL {sc}: expected to stop at connect ({WAITING_FOR_CORE[sc]}); " +
              ("it passes: take it off WAITING_FOR_CORE" if ok else "client stderr: " + stderr.strip()))
        return False
    if ok:
        print(f"PASS {sc}: {len(passed)} checks")
        return True
    print(f"FAIL {sc}:")
    for c in bad:
        print(f"  {c['status']} {c['id']}: {c.get('errorMessage') or c.get('description')}")
    print("  client stderr: " + stderr.strip().replace("\n", "\n  "))
    return False


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    inst, client = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    node = os.path.join(inst, "node_modules", ".bin", "node")
    cli = os.path.join(inst, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
    if not (os.path.isfile(cli) and os.access(node, os.X_OK)):
        print(f"SKIP: the MCP conformance suite is not installed in {inst}; "
              "run scripts/setup.d/mcp-conformance.sh (needs npm and the network)")
        return 77
    failures = []
    with tempfile.TemporaryDirectory(prefix="hl-mcp-conformance-") as results:
        def run(args, timeout):
            # cwd: the suite writes nothing outside -o, but keep it out of the tree.
            p = subprocess.run([node, cli, "client", "--command", client, "-o", results] + args,
                               cwd=results, capture_output=True, text=True, timeout=timeout)
            return p.returncode, p.stdout + p.stderr

        for sc in PROTOCOL:
            rc, out = run(["--scenario", sc, "--timeout", "60000"], 180)
            checks, stdout, stderr = checks_of(results, sc)
            bad = [c for c in (checks or []) if c.get("status") == "FAILURE"]
            warn = [c for c in (checks or []) if c.get("status") == "WARNING"]
            ok_line = f"conformance_client: {sc} ok" in stdout
            passed = [c for c in (checks or []) if c.get("status") == "SUCCESS"]
            if rc == 0 and checks and not bad and passed and ok_line and not sanitizer(stderr):
                print(f"PASS {sc}: {len(passed)} checks" +
                      "".join(f"\n  warning {c['id']}: {c.get('errorMessage', '')}" for c in warn))
            else:
                failures.append(sc)
                print(f"FAIL {sc}: suite exit {rc}, client ok line: {ok_line}")
                for c in bad:
                    print(f"  {c['id']}: {c.get('errorMessage') or c.get('details')}")
                print("  client stderr: " + stderr.strip().replace("\n", "\n  "))
                if not checks:
                    print("  suite output:\n" + out[-3000:])

        for sc in PROTOCOL_2026:
            run(["--scenario", sc, "--spec-version", "2026-07-28", "--timeout", "60000"], 180)
            if not protocol_2026_outcome(sc, *checks_of(results, sc)):
                failures.append(sc)

        # Authorization scenarios: each must pass.
        auth = []
        for suite in AUTH_SUITES:
            rc, out = run(["--suite", suite, "--timeout", "60000"], 300)
            got = sorted(os.path.basename(d).rsplit("-", 6)[0]
                         for d in glob.glob(os.path.join(results, "auth", "*")))
            new = [n for n in got if n not in auth]
            if not new:
                failures.append(suite)
                print(f"FAIL {suite}: the suite ran no scenario:\n" + out[-3000:])
            auth += new
        for name in auth:
            sc = "auth/" + name
            checks, stdout, stderr = checks_of(results, sc)
            bad = [c for c in (checks or []) if c.get("status") in ("FAILURE", "WARNING")]
            passed = [c for c in (checks or []) if c.get("status") == "SUCCESS"]
            if name in EXPECTED_FAILURES:
                # Failing cleanly: the client stops with a message, or it
                # goes through (a lenient server) and the suite's checks
                # fail it. A scenario that passes must leave the list.
                stopped = "conformance_client:" in stderr and \
                    f"conformance_client: {sc} ok" not in stdout
                if (stopped or bad) and not sanitizer(stderr):
                    why = stderr.strip().splitlines()[-1][:200] if stopped else \
                        f"{bad[0]['id']}: {(bad[0].get('errorMessage') or '')[:160]}"
                    print(f"expected failure {sc} ({EXPECTED_FAILURES[name]}): {why}")
                else:
                    failures.append(sc)
                    print(f"FAIL {sc}: expected to fail cleanly ({EXPECTED_FAILURES[name]}):\n  " +
                          (stderr.strip() or stdout.strip() or "(no output)").replace("\n", "\n  "))
                continue
            if name in ALLOWED_REFUSALS:
                ended = "conformance_client: connect:" in stderr or f"conformance_client: {sc} ok" in stdout
            else:
                ended = f"conformance_client: {sc} ok" in stdout
            if checks and passed and not bad and ended and not sanitizer(stderr):
                print(f"PASS {sc}: {len(passed)} checks")
            else:
                failures.append(sc)
                print(f"FAIL {sc}: client finished as expected: {ended}")
                for c in bad:
                    print(f"  {c['status']} {c['id']}: {c.get('errorMessage') or c.get('description')}")
                print("  client stderr: " + stderr.strip().replace("\n", "\n  "))
    if failures:
        print("conformance failures: " + ", ".join(failures))
        return 1
    print(f"all {len(PROTOCOL) + len(PROTOCOL_2026) - len(WAITING_FOR_CORE)} protocol scenarios and {len(auth) - len(EXPECTED_FAILURES)} authorization "
          f"scenarios pass; {len(EXPECTED_FAILURES)} expected failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
