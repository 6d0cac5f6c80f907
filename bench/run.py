#!/usr/bin/env python3
"""bench/run.py - run every benchmark, side by side, and write the report.

Called by `make bench` (through bench/Makefile). Steps:
  1. install the JS peers with `npm ci` into bench/peers (pinned lockfile),
     unless node_modules already matches the lockfile;
  2. start the loopback mock model server (bench/mock_server.c);
  3. run each agent scenario for hookline and each JS SDK, every one in its
     own process, one after another (interleaved per scenario);
  4. run hookline's micro-benchmarks (hook dispatch, peak RSS with 10 tools,
     provider vs raw libcurl) and the sandbox peers;
  4b. concurrent_slow: N = 1,000, 3,000, 10,000 sessions of (b) at once
     against a second mock server answering after 1 s (--delay-ms 1000),
     hookline (one thread per session, blocking hl_agent_run) and
     @openai/agents (concurrent promises), one after the other per N;
  5. print the JSON, write bench/results.json and BENCHMARKS.md.

Benchmarks print figures; nothing here asserts a timing. A system that
fails is reported as failed (with its error) and the rest goes on.

Options: --build DIR (meson build dir, default ../build), --budget-s S
(seconds of measurement per system and scenario, default 3), --quick
(budget 0.5 s, for trying the harness), --no-write (print only),
--slow-sessions 1000,3000,10000 (the concurrent_slow sizes),
--curl8-build DIR (a hookline build against libcurl 8.14.1, made by
scripts/fetch_curl8.sh: concurrent_slow adds its "@curl8.14" rows),
--only providers|core|sandbox|concurrent_slow|history|mcp|otel (one benchmark, its JSON
only; history with --write, concurrent_slow with --write, and otel, put their figures into
results.json and BENCHMARKS.md).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import mcp_run  # bench/mcp_run.py: the `mcp` benchmark
import store_run  # bench/store_run.py: the `store` benchmark

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers")

SCENARIOS = [
    ("chat", "(a) chat: one model call"),
    ("chat_stream", "(a) chat, streamed (SSE)"),
    ("tools", "(b) tools: 3 tool calls, then the answer (2 model calls)"),
    ("tools_stream", "(b) tools, streamed (SSE)"),
    ("tools_concurrent50", "(c) 50 concurrent sessions of (b)"),
]
AGENT_SYSTEMS = [
    # name, how to run it (filled in main), what it is
    ("hookline", None, "hookline (C), OpenAI provider over libcurl"),
    ("openai-agents", "openai_agents.mjs", "@openai/agents, Chat Completions model"),
    ("langchain", "langchain.mjs", "langchain createAgent + @langchain/openai"),
    ("adk", "adk.mjs", "@google/adk LlmAgent + InMemoryRunner (Gemini wire format)"),
]
PROC_TIMEOUT_S = 180
SLOW_TIMEOUT_S = 600
# concurrent_slow: who runs it (the JS peer that bench/peers/harness.mjs
# drives in that mode) and the model's delay.
SLOW_PEERS = [("openai-agents", "openai_agents.mjs"), ("langchain", "langchain.mjs"),
              ("adk", "adk.mjs")]
SLOW_DELAY_MS = 1000
# concurrent_slow: the time budget of a JS peer's run per size (s). A peer
# past it is stopped and shown as failed with that reason, so that the
# whole benchmark ends in well under 20 minutes (at 10,000 sessions the
# peers took over 600 s). Sizes not listed get SLOW_PEER_BUDGET_DEFAULT_S.
SLOW_PEER_BUDGET_S = {1000: 90, 3000: 150, 10000: 120}
SLOW_PEER_BUDGET_DEFAULT_S = 120
# concurrent_slow: the rows run again on Debian 13's libcurl (8.14.1, from
# bookworm-backports, in the build scripts/fetch_curl8.sh makes), named
# with this suffix; every other row runs on the system's libcurl.
CURL8_SUFFIX = "@curl8.14"
CURL8_SYSTEMS = ["raw-curl", "raw-curl-h2", "hookline-async", "hookline-async-h2",
                 "hookline-async-h2tls", "hookline"]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                pass
    return None


def run_json(cmd, cwd=None, timeout=PROC_TIMEOUT_S, env=None):
    """Run one benchmark process; its last JSON line, or {"error": ...}."""
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    except OSError as e:
        return {"error": str(e)}
    out = last_json_line(p.stdout)
    if p.returncode != 0 or out is None:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {p.returncode}: " + " | ".join(tail)}
    out["process_s"] = round(time.time() - t0, 2)
    return out


def machine_info():
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "hookline_commit": commit or "unknown",
    }


def ensure_peers():
    """npm ci into bench/peers unless node_modules matches the lockfile."""
    lock = os.path.join(PEERS, "package-lock.json")
    stamp = os.path.join(PEERS, "node_modules", ".package-lock.json")
    node = os.path.join(PEERS, "node_modules", ".bin", "node")
    if os.path.exists(stamp) and os.path.exists(node) and os.path.getmtime(stamp) >= os.path.getmtime(lock):
        return node
    if not shutil.which("npm"):
        log("npm not found: JS peers skipped")
        return None
    log("installing the JS peers (npm ci, pinned lockfile)")
    p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEERS,
                       capture_output=True, text=True)
    if p.returncode != 0:
        log("npm ci failed: " + p.stderr.strip()[-500:])
        return None
    return node if os.path.exists(node) else None


class MockServer:
    """The mock server on an ephemeral port; tls=True: its HTTPS side, with a
    throwaway CA it makes at start-up (self.ca, in a temporary directory
    removed by close())."""
    def __init__(self, binary, extra=(), tls=False):
        self.dir = tempfile.mkdtemp(prefix="hl-mock-tls-") if tls else None
        self.ca = os.path.join(self.dir, "ca.pem") if tls else None
        tls_args = ["--tls", self.dir] if tls else []
        self.proc = subprocess.Popen([binary, "0", *extra, *tls_args], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            self.proc.kill()
            self.proc.wait(timeout=5)
            self._cleanup()
            raise RuntimeError("mock server did not start" +
                               (" (built without OpenSSL: no --tls; scripts/setup.d/tls.sh)"
                                if tls and self.proc.returncode == 3 else ""))
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{line[1]}"

    def _cleanup(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)
        self._cleanup()


def ratio(peer, base):
    if not isinstance(peer, (int, float)) or not isinstance(base, (int, float)) or base <= 0:
        return None
    return round(peer / base, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--budget-s", type=float, default=3.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--only", choices=["providers", "core", "sandbox", "concurrent_slow", "history", "mcp",
                                       "otel", "sandbox_py", "turn"],
                    help="run one benchmark alone and print its JSON object (nothing written, "
                         "except for history with --write)")
    ap.add_argument("--write", action="store_true",
                    help="with --only history, sandbox, turn...: put the figures into bench/results.json and "
                         "regenerate BENCHMARKS.md from it (the other figures stay as measured)")
    ap.add_argument("--slow-sessions", default="1000,3000,10000")
    ap.add_argument("--curl8-build", default=None,
                    help="concurrent_slow: also run the @curl8.14 rows from this build "
                         "(scripts/fetch_curl8.sh makes it)")
    args = ap.parse_args()
    curl8_bin = os.path.join(os.path.abspath(args.curl8_build), "bench") if args.curl8_build else None
    slow_sizes = [int(x) for x in args.slow_sessions.split(",") if x.strip()]
    if args.only == "concurrent_slow":
        res = concurrent_slow(os.path.join(os.path.abspath(args.build), "bench"), slow_sizes,
                              curl8_bin=curl8_bin)
        print(json.dumps(res, indent=2))
        if args.write:
            path = os.path.join(HERE, "results.json")
            with open(path) as f:
                results = json.load(f)
            results["concurrent_slow"] = res
            with open(path, "w") as f:
                f.write(json.dumps(results, indent=2) + "\n")
            write_section(results, "## concurrent_slow:")
            log("wrote the concurrent_slow figures into bench/results.json and BENCHMARKS.md")
        return 0
    if args.only == "history":
        return history_only(os.path.join(os.path.abspath(args.build), "bench"), args.quick, args.write)
    if args.only == "providers":
        return providers_only(os.path.join(os.path.abspath(args.build), "bench"), args.quick)
    if args.only == "core":
        return core_only(os.path.join(os.path.abspath(args.build), "bench"), args.quick)
    if args.only == "sandbox":
        return sandbox_only(os.path.join(os.path.abspath(args.build), "bench"), args.write)
    if args.only == "sandbox_py":
        return sandbox_py_only(os.path.join(os.path.abspath(args.build), "bench"), args.write)
    if args.only == "turn":
        return turn_only(os.path.join(os.path.abspath(args.build), "bench"), args.quick, args.write)
    if args.only == "otel":
        return otel_only(os.path.join(os.path.abspath(args.build), "bench"), args.quick, args.write)
    if args.only == "mcp":
        res = mcp_run.mcp_bench(os.path.join(os.path.abspath(args.build), "bench"))
        print(json.dumps(res, indent=2))
        return 0
    budget = 0.5 if args.quick else args.budget_s
    bench_bin = os.path.join(os.path.abspath(args.build), "bench")
    exe = lambda name: os.path.join(bench_bin, name)
    started = time.time()

    node = ensure_peers()
    node_version = None
    if node:
        node_version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    results = {"machine": machine_info(), "node": node_version, "budget_s": budget,
               "scenarios": {}, "hookline": {}, "sandbox": {},
               "load_before": round(os.getloadavg()[0], 2)}
    results["machine"]["compiler"] = subprocess.run(["cc", "--version"], capture_output=True,
                                                    text=True).stdout.splitlines()[0]

    if not os.path.exists(exe("hl-mock-server")):
        log(f"{exe('hl-mock-server')} not built (meson -Dbench=true)")
        return 1
    server = MockServer(exe("hl-mock-server"))
    log(f"mock server at {server.url}")
    try:
        common = ["--url", server.url, "--budget-s", str(budget)]
        for scenario, _ in SCENARIOS:
            row = {}
            for system, script, _ in AGENT_SYSTEMS:
                if system == "hookline":
                    if not os.path.exists(exe("hl-bench-agent")):
                        row[system] = {"error": "hl-bench-agent not built"}
                        continue
                    cmd = [exe("hl-bench-agent"), "--scenario", scenario] + common
                    res = run_json(cmd)
                elif node:
                    res = run_json([node, script, "--scenario", scenario] + common, cwd=PEERS)
                else:
                    res = {"error": "JS peers not installed"}
                row[system] = res
                log(f"{scenario:20s} {system:14s} " +
                    (f"overhead {res.get('overhead_us')} us/run, {res.get('runs_per_s')} runs/s"
                     if "error" not in res else "FAILED: " + res["error"]))
            results["scenarios"][scenario] = row

        if os.path.exists(exe("hl-bench-agent")):
            res = run_json([exe("hl-bench-agent"), "--scenario", "agent_10_tools"] + common)
            results["hookline"]["agent_10_tools"] = res
            log(f"agent with 10 tools: peak RSS {res.get('peak_rss_mb')} MB")
            res = run_json([exe("hl-bench-agent"), "--scenario", "tools", "--parallel-tools", "1"] + common)
            results["hookline"]["tools_one_after_another"] = res
            log(f"(b) with tools one after another: overhead {res.get('overhead_us')} us/run")
        if os.path.exists(exe("hl-bench-hooks")):
            res = run_json([exe("hl-bench-hooks")] + (["--runs", "300"] if args.quick else []))
            results["hookline"]["hook_dispatch"] = res
            log(f"hook dispatch: {res.get('ns_per_hook_call')} ns per hook call")
        if os.path.exists(exe("hl-bench-history")):
            res = run_history(bench_bin, args.quick)
            results["hookline"]["hook_history"] = res
            log(f"hook_history: observe-only vs none {res.get('observe_vs_none_instructions_pct')} % "
                f"instructions; dispatch {res.get('hook_dispatch_ns')} ns per hook on a chain")
        if os.path.exists(exe("hl-bench-providers")):
            res = run_json([exe("hl-bench-providers"), "--url", server.url] +
                           (["--requests", "300"] if args.quick else []))
            results["hookline"]["providers"] = res
            log(f"providers: client {res.get('client_overhead_us')} us vs raw curl {res.get('raw_curl_us')} us")
        if os.path.exists(exe("hl-bench-otel")):
            res = run_otel(bench_bin, args.quick)
            results["hookline"]["otel"] = res
            log(f"otel: exporter on vs off, {res.get('http', {}).get('cost_us_per_run_p50')} us per run (median)")
        if os.path.exists(exe("hl-bench-turn")):
            res = run_turn(bench_bin, args.quick)
            results["hookline"]["turn"] = res
            log("turn: " + turn_log(res))
    finally:
        server.close()

    results["concurrent_slow"] = concurrent_slow(bench_bin, slow_sizes, node, curl8_bin)

    sandbox_runs = [("hookline", [exe("hl-bench-sandbox")] if os.path.exists(exe("hl-bench-sandbox")) else None)]
    if node:
        sandbox_runs += [("quickjs-emscripten", [node, "quickjs.mjs"]), ("pyodide", [node, "pyodide.mjs"])]
    for system, cmd in sandbox_runs:
        res = run_json(cmd, cwd=PEERS) if cmd else {"error": "hookline sandbox not built (-Dsandbox)"}
        results["sandbox"][system] = res
        log(f"sandbox {system}: " + (f"create {res.get('create_us')} us, eval+callback "
                                     f"{res.get('eval_callback_us')} us" if "error" not in res
                                     else "FAILED: " + res["error"]))

    if os.path.exists(exe("hl-bench-sandbox-py")):
        pyo = results["sandbox"].get("pyodide", {"error": "JS peers not installed"})
        results["sandbox_py"] = {"hookline-python": run_json([exe("hl-bench-sandbox-py")]), "pyodide": pyo}

    results["mcp"] = mcp_run.mcp_bench(bench_bin)
    results["store"] = store_run.store_bench(bench_bin)
    log("store: " + json.dumps({b: r.get("added_per_turn_cpu_us")
                                for b, r in results["store"].get("backends", {}).items()}))
    log("mcp: " + json.dumps({t: {s: r.get("cpu_us_per_call") for s, r in row.items() if isinstance(r, dict)}
                              for t, row in results["mcp"].get("transports", {}).items()}))

    # Ratios against hookline from this very run.
    ratios = {}
    for scenario, row in results["scenarios"].items():
        base = row.get("hookline", {})
        key = "cpu_us_per_run" if scenario == "tools_concurrent50" else "overhead_us"
        ratios[scenario] = {"figure": key, **{s: ratio(r.get(key), base.get(key))
                                              for s, r in row.items() if s != "hookline"}}
    results["ratios_vs_hookline"] = ratios
    b = results["scenarios"].get("tools", {})
    results["scenario_b"] = {
        "scenario": "tools",
        "overhead_us": {s: r.get("overhead_us") for s, r in b.items()},
        "ratio_vs_hookline": {s: v for s, v in ratios.get("tools", {}).items() if s != "figure"},
    }
    results["elapsed_s"] = round(time.time() - started, 1)
    results["load_after"] = round(os.getloadavg()[0], 2)

    text = json.dumps(results, indent=2)
    print(text)
    if not args.no_write:
        with open(os.path.join(HERE, "results.json"), "w") as f:
            f.write(text + "\n")
        write_markdown(results)
        log("wrote bench/results.json and BENCHMARKS.md")
    return 0


def concurrent_slow(bench_bin, sizes, node="auto", curl8_bin=None):
    """N sessions of (b) at once against a mock model answering after 1 s:
    hookline (hl-bench-slow) and the JS peers, one after the other per N,
    on a fresh mock server each so that no connection outlives its run.
    curl8_bin: the bench directory of a build against libcurl 8.14.1, whose
    hl-bench-slow runs CURL8_SYSTEMS again as "<name>@curl8.14" (against
    the same mock server binary)."""
    if node == "auto":
        node = ensure_peers()
    out = {"delay_ms": SLOW_DELAY_MS, "sizes": sizes,
           "when": {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "hookline_commit": machine_info().get("hookline_commit"),
                    "load_before": round(os.getloadavg()[0], 2)},
           "targets": {"sessions": 10000, "wall_s": 2.5, "cpu_us_per_session": 100,
                       "peak_rss_mb": 150, "failures": 0},
           "peer_budget_s": {str(k): v for k, v in SLOW_PEER_BUDGET_S.items()},
           "runs": {}}
    for n in sizes:
        row = {}
        slow = os.path.join(bench_bin, "hl-bench-slow")
        # raw-curl: the floor, the same HTTP requests with no hookline.
        systems = [("raw-curl", [slow, "--sessions", str(n), "--api", "raw-curl"], None, SLOW_TIMEOUT_S),
                   ("hookline-async", [slow, "--sessions", str(n), "--api", "async"], None, SLOW_TIMEOUT_S),
                   ("hookline", [slow, "--sessions", str(n)], None, SLOW_TIMEOUT_S)]
        # The same over HTTP/2 with prior knowledge (h2c) to the mock's h2c
        # side; hl-bench-slow exits 3 with a note when the mock has no h2c.
        # (The JS peers speak HTTP/1.1 only, to a cleartext server.)
        systems += [("raw-curl-h2", [slow, "--sessions", str(n), "--api", "raw-curl", "--http", "2"],
                     None, SLOW_TIMEOUT_S),
                    ("hookline-async-h2", [slow, "--sessions", str(n), "--api", "async", "--http", "2"],
                     None, SLOW_TIMEOUT_S),
                    ("hookline-h2", [slow, "--sessions", str(n), "--http", "2"], None, SLOW_TIMEOUT_S)]
        # Over TLS to the mock's HTTPS side (--tls, trusting its throwaway
        # CA): HTTP/2 negotiated by ALPN and multiplexed (libcurl 7.88's h2c
        # reuse bug does not apply), raw-curl-tls HTTP/1.1 for what TLS costs
        # without multiplexing, and a cap of 4 connections per host.
        tls_systems = [("raw-curl-tls", [slow, "--sessions", str(n), "--api", "raw-curl", "--http", "1.1"]),
                       # one multi handle, up to 1,000 streams per connection (slow_raw.c)
                       ("raw-curl-h2tls", [slow, "--sessions", str(n), "--api", "raw-curl", "--http", "2"]),
                       ("hookline-async-h2tls", [slow, "--sessions", str(n), "--api", "async", "--http", "2"]),
                       ("hookline-h2tls", [slow, "--sessions", str(n), "--http", "2"]),
                       ("hookline-async-h2tls-cap4", [slow, "--sessions", str(n), "--api", "async",
                                                      "--http", "2", "--host-conns", "4"])]
        systems += [(name, cmd, None, SLOW_TIMEOUT_S) for name, cmd in tls_systems]
        tls_names = {name for name, _ in tls_systems}
        if curl8_bin:
            slow8 = os.path.join(curl8_bin, "hl-bench-slow")
            curl8 = [(name + CURL8_SUFFIX, [slow8] + cmd[1:], cwd, limit)
                     for name, cmd, cwd, limit in systems if name in CURL8_SYSTEMS]
            tls_names |= {name + CURL8_SUFFIX for name in tls_names}
            if not os.path.exists(slow8):
                curl8 = [(name, None, None, 0) for name, _, _, _ in curl8]
            systems += curl8
        budget = SLOW_PEER_BUDGET_S.get(n, SLOW_PEER_BUDGET_DEFAULT_S)
        for name, script in SLOW_PEERS:
            systems.append((name, [node, script, "--scenario", "concurrent_slow", "--sessions", str(n)]
                            if node else None, PEERS, budget))
        for name, cmd, cwd, limit in systems:
            if cmd is None:
                row[name] = {"error": "no libcurl 8.14 build (scripts/fetch_curl8.sh)"
                             if name.endswith(CURL8_SUFFIX) else "JS peers not installed"}
                continue
            tls = name in tls_names
            try:
                server = MockServer(os.path.join(bench_bin, "hl-mock-server"),
                                    ["--delay-ms", str(SLOW_DELAY_MS)], tls=tls)
            except RuntimeError as e:
                row[name] = {"error": str(e)}
                log(f"concurrent_slow {n:6d} {name:14s} FAILED: {e}")
                continue
            try:
                res = run_json(cmd + ["--url", server.url] + (["--ca", server.ca] if tls else []),
                               cwd=cwd, timeout=limit)
            finally:
                server.close()
            if "error" in res and res["error"].startswith("timed out"):
                res["error"] = (f"not done within its time budget of {limit} s for {n:,} sessions "
                                "(stopped)")
            row[name] = res
            log(f"concurrent_slow {n:6d} {name:14s} " +
                (f"wall {res.get('wall_s')} s, CPU {res.get('cpu_us_per_session')} us/session, "
                 f"RSS {res.get('peak_rss_mb')} MB, p50 {res.get('latency_p50_ms')} ms, "
                 f"failures {res.get('failures')}" if "error" not in res else "FAILED: " + res["error"]))
        out["runs"][str(n)] = row
    out["when"]["load_after"] = round(os.getloadavg()[0], 2)
    return out


def slow_libcurl_note(cs):
    """concurrent_slow's paragraph on which libcurl each row ran (from the
    rows' own "libcurl", what hl-bench-slow loaded), and what libcurl 8.14
    changes when @curl8.14 rows are there."""
    seen = {False: set(), True: set()}
    for row in cs["runs"].values():
        for system, res in row.items():
            if res.get("libcurl"):
                seen[system.endswith(CURL8_SUFFIX)].add(res["libcurl"])
    if not seen[False] and not seen[True]:
        return ""
    text = ("Which libcurl: the hookline and raw-curl rows without a suffix ran the system's libcurl ("
            + (", ".join(sorted(seen[False])) or "?") + "; Debian 12 ships 7.88.1), as each row's "
            "`libcurl` in bench/results.json records.")
    if seen[True]:
        text += (" The rows ending in " + CURL8_SUFFIX + " are the same programs built against libcurl "
                 + ", ".join(sorted(seen[True])) + ", Debian 13's, from bookworm-backports "
                 "(scripts/fetch_curl8.sh, which `make -C bench concurrent_slow` runs: the pinned "
                 "packages fetched with a private apt configuration into .cache/curl8, their sha256 "
                 "checked, unpacked there and linked with an rpath into build-curl8; nothing of the "
                 "system's is changed), against the same mock server. What it changes: an h2c "
                 "connection is reused and multiplexed (7.88 opens one per request, curl issue #10634), "
                 "but libcurl 8.13.0 to 8.16.x lets a request that waits to multiplex (PIPEWAIT) onto a "
                 "cleartext HTTP/2 connection do so only once that connection has carried an answer "
                 "(its url.c checks the HTTP version seen on the connection, which only a response "
                 "set before curl commit b3fc692568, in 8.17.0): on a cold pool every h2c request but "
                 "the first of each connection waits for that first answer, one model delay (1 s here) "
                 "more wall time and latency for the first burst; over TLS (ALPN) this does not "
                 "happen. From 8.7.0 libcurl also keeps a send buffer per easy handle for the request "
                 "(CURLOPT_UPLOAD_BUFFERSIZE, 64 KB by default: a 75 MB heap peak at 1,000 sessions "
                 "in flight against 14 MB on 7.88, heaptrack); hookline and raw-curl set its 16 KB "
                 "minimum. Their CPU per session on each libcurl (callgrind): "
                 "docs/performance-notes.md.")
    return text + "\n"


def providers_only(bench_bin, quick):
    """bench/providers: hookline's OpenAI provider next to a raw libcurl loop."""
    server = MockServer(os.path.join(bench_bin, "hl-mock-server"))
    try:
        res = run_json([os.path.join(bench_bin, "hl-bench-providers"), "--url", server.url] +
                       (["--requests", "300"] if quick else []))
        # Scenario (b) over each wire format (provider_wire_bench.c).
        wires = os.path.join(bench_bin, "hl-bench-provider-wires")
        if os.path.exists(wires) and "error" not in res:
            runs = ["--runs", "100" if quick else "1000"]
            res["wires"] = run_json([wires, "--url", server.url] + runs, timeout=900)
            res["wires_stream"] = run_json([wires, "--url", server.url, "--stream"] + runs,
                                           timeout=900)
    finally:
        server.close()
    print(json.dumps(res))
    return 0 if "error" not in res and "error" not in res.get("wires", {}) else 1


# Hand-measured note of the hook_history section (callgrind counts repeat
# from run to run, so they keep their commit ids).
HISTORY_LM_START_NOTE = (
    "LM_START observer, counted by hand (`hl-bench-history --one lm_start N 10` and "
    "`--one none N 10` under callgrind, as the table's counts are taken): extra "
    "instructions per model call over no hook at 10 / 100 / 400 / 1,000 messages, 793 / "
    "4,649 / 17,570 / 43,345 at 87fcab3 (the prompt estimate walked every part of every "
    "message of the request with strlen at each model call), 422 / 426 / 432 / 426 at "
    "0c65810: the session keeps its history's text size as messages come and go, and a "
    "request that borrows the history (no hook edits it) counts only what comes before "
    "it, the instruction; a copy made for an editing hook or by an around_model wrap is "
    "counted whole, as it was copied whole; 361 / 370 / 376 / 374 at 8df35bf (the cheaper "
    "delivery of an event: see the otel section).\n")


def run_history(bench_bin, quick):
    """hook_history (bench/history_bench.c): per-run cost with no hook, an
    observe-only pair, an editing hook and an LM_START observer at
    10/100/1,000 messages, wall time
    and callgrind instructions; hook dispatch measured on a chain."""
    res = run_json([os.path.join(bench_bin, "hl-bench-history")] +
                   (["--runs", "30", "--rounds", "3"] if quick else []), timeout=900)
    if "error" not in res:
        res["when"] = when_now()
    return res


def history_only(bench_bin, quick, write):
    res = run_history(bench_bin, quick)
    print(json.dumps(res))
    if write and "error" not in res:
        path = os.path.join(HERE, "results.json")
        with open(path) as f:
            results = json.load(f)
        results.setdefault("hookline", {})["hook_history"] = res
        with open(path, "w") as f:
            f.write(json.dumps(results, indent=2) + "\n")
        write_section(results, "## Hook cost by history size")
        log("wrote the hook_history figures into bench/results.json and BENCHMARKS.md")
    return 0 if "error" not in res else 1


def run_turn(bench_bin, quick):
    """turn (bench/turn_bench.c): a run of (b), and of (a), against the same
    model requests sent by raw libcurl on one keep-alive handle, in one
    process, alternating in short blocks, with an A/A control (raw against
    raw); a mock server of its own, nothing pinned (the library places its
    threads as it does in an application)."""
    exe = os.path.join(bench_bin, "hl-bench-turn")
    cycles = "60" if quick else "1000"
    server = MockServer(os.path.join(bench_bin, "hl-mock-server"))
    try:
        load0 = round(os.getloadavg()[0], 2)
        res = {s: run_json([exe, "--url", server.url, "--scenario", s, "--cycles", cycles])
               for s in ("tools", "chat")}
        # (b) with its tools on the run's thread: how much of the difference
        # is handing the tool calls to the worker pool and back
        res["tools_serial"] = run_json([exe, "--url", server.url, "--scenario", "tools", "--cycles", cycles,
                                        "--parallel-tools", "1"])
        res["when"] = when_now(load_start=load0)
        res["callgrind"] = turn_instructions(exe, server.url, quick)
    finally:
        server.close()
    return res


def callgrind_total(cmd, tag):
    """Instructions of every thread of the process running cmd under
    valgrind --tool=callgrind (its "totals:" line), or None."""
    cg = f"/tmp/hl-{tag}-callgrind.{os.getpid()}"
    try:
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}", *cmd],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=PROC_TIMEOUT_S, check=True)
        with open(cg) as f:
            for line in f:
                if line.startswith("totals:"):
                    return int(line.split()[1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        pass
    finally:
        if os.path.exists(cg):
            os.remove(cg)
    return None


def turn_instructions(exe, url, quick):
    """Instructions per run of each side of bench/turn_bench.c (--mode),
    counted by callgrind over every thread of the bench's process (the
    mock server is another process, not counted): the difference between
    two run counts, so that the recording, set-up and warm-up cancel out.
    They repeat from run to run, unlike wall times on a loaded machine.
    {} without valgrind."""
    if not shutil.which("valgrind"):
        return {}
    few, many = (20, 60) if quick else (100, 300)
    out = {"commit": machine_info().get("hookline_commit")}
    for s in ("tools", "chat"):
        out[s] = {}
        for mode in ("hookline", "raw"):
            counts = [callgrind_total([exe, "--url", url, "--scenario", s, "--mode", mode, "--runs", str(n)], "turn")
                      for n in (few, many)]
            if None in counts:
                return {"error": f"callgrind failed for {s} {mode}"}
            out[s][mode] = round((counts[1] - counts[0]) / (many - few))
    return out


def turn_log(res):
    return "; ".join(f"{s}: " + (f"{r.get('diff_us_p50')} us beyond raw libcurl, {r.get('verdict')}"
                                 if "error" not in r else "FAILED: " + r["error"])
                     for s, r in res.items() if s in ("tools", "chat", "tools_serial"))


def turn_only(bench_bin, quick, write):
    res = run_turn(bench_bin, quick)
    print(json.dumps(res))
    errors = [r["error"] for s, r in res.items()
              if s in ("tools", "chat", "tools_serial", "callgrind") and "error" in r]
    if write and not errors:
        path = os.path.join(HERE, "results.json")
        with open(path) as f:
            results = json.load(f)
        results.setdefault("hookline", {})["turn"] = res
        with open(path, "w") as f:
            f.write(json.dumps(results, indent=2) + "\n")
        write_section(results, "## hookline alone")
        log("wrote the turn figures into bench/results.json and BENCHMARKS.md (turn: " + turn_log(res) + ")")
    return 0 if not errors else 1


def pick_two_cpus():
    """The first two CPUs this process may use, or None with fewer."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    return cpus[:2] if len(cpus) >= 2 else None


def run_otel(bench_bin, quick):
    """otel (bench/otel_bench.c): per-run cost of the OpenTelemetry exporter,
    scenario (b), exporter on against off in short blocks alternating in
    one process, over HTTP and with the scripted provider (the agent loop
    alone). A model server and an OTLP receiver of their own (two mock
    servers), each pinned to the CPU of the thread that waits for it: the
    model server with the run, the receiver with the exporter."""
    exe = os.path.join(bench_bin, "hl-bench-otel")
    # Over HTTP p99 moves with the run's length (docs/performance-notes.md, otel): 12000
    # cycles (576k runs, ~1 min on a quiet machine) narrow its interval and
    # its A/A to about half of 4000's. The parts (--variants: the header
    # alone, the recording alone) need medians only; the scripted provider's
    # p99 verdict is clear at 4000.
    cycles, parts_cycles, scripted_cycles = ("120", "60", "120") if quick else ("12000", "2000", "4000")
    cpus = pick_two_cpus()
    model = MockServer(os.path.join(bench_bin, "hl-mock-server"))
    receiver = MockServer(os.path.join(bench_bin, "hl-mock-server"))
    try:
        pin = []
        if cpus:
            os.sched_setaffinity(model.proc.pid, {cpus[0]})
            os.sched_setaffinity(receiver.proc.pid, {cpus[1]})
            pin = ["--cpus", f"{cpus[0]},{cpus[1]}"]
        else:
            pin = ["--pin", "0"]
        load0 = round(os.getloadavg()[0], 2)
        common = [exe, "--url", model.url, "--otlp-url", receiver.url, *pin]
        res = {"http": run_json(common + ["--cycles", cycles], timeout=3 * PROC_TIMEOUT_S),
               "http_parts": run_json(common + ["--cycles", parts_cycles, "--variants", "2", "--spin", "2400"]),
               "scripted": run_json(common + ["--cycles", scripted_cycles, "--provider", "scripted"]),
               "when": when_now(load_start=load0)}
        url = receiver.url
        res["callgrind"] = otel_instructions(exe, url, quick)
        # What a run uses besides instructions, per thread (getrusage): CPU,
        # page faults, context switches, scripted provider, batches of
        # (install, 300 runs, flush, uninstall), off then on.
        batches = "5" if quick else "20"
        res["resources"] = {m: run_json([exe, "--url", url, "--provider", "scripted", "--mode", m,
                                         "--runs", "300", "--batches", batches]) for m in ("off", "on")}
    finally:
        model.close()
        receiver.close()
    return res


# Why the otel figures are what they are, in short; the measurements
# behind it are in docs/performance-notes.md.
OTEL_WHY = (
    "Why, in short (issue 15): a run no longer wakes the exporter thread (that wake-up, in about 1 % "
    "of the runs at e4ed856, was where the p99 change sat; 50472fd, e7f58e4). What is left over HTTP "
    "is a stretch of the median cost, not a tail of its own: the exporter's work on the run's thread "
    "slows with the rest of a slow run, mostly through its memory, so the p99 change is about the "
    "median cost times p99's ratio to the median, next to the 10 µs bound. On the run's side the "
    "exporter costs the traceparent header (libcurl 7.88 writes header lines a byte at a time) and "
    "the recording (a slot of a lock-free ring, no JSON, no malloc); encoding and export run on the "
    "exporter's own thread. The measurements, with every figure and commit: "
    "docs/performance-notes.md (the otel sections).\n")


def otel_instructions(exe, url, quick):
    """Instructions per run of (b), scripted provider, per mode, counted by
    valgrind --tool=callgrind: on the run's side (every thread but the
    exporter's: the run's own and a tool worker that may take a call) and
    on every thread of the process (the exporter's included); the
    exporter thread is the one that ran export_main. Each is the
    difference between two run counts, so set-up and warm-up cancel out.
    These repeat from run to run, unlike wall times on a loaded machine.
    {} without valgrind."""
    if not shutil.which("valgrind"):
        return {}
    few, many = (20, 60) if quick else (100, 300)
    out = {}
    for m in ("off", "noop", "on"):
        counts = []   # (run thread, all threads) per run count
        for n in (few, many):
            cg = f"/tmp/hl-otel-callgrind.{os.getpid()}.{m}.{n}"
            parts = []
            try:
                subprocess.run(["valgrind", "--tool=callgrind", "--separate-threads=yes",
                                f"--callgrind-out-file={cg}", exe,
                                "--url", url, "--provider", "scripted", "--mode", m, "--runs", str(n)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=PROC_TIMEOUT_S,
                               check=True)
                d = os.path.dirname(cg)
                parts = sorted(os.path.join(d, f) for f in os.listdir(d)
                               if f.startswith(os.path.basename(cg) + "-"))
                totals, exporter = {}, 0
                for path in parts:
                    with open(path) as f:
                        text = f.read()
                    for line in text.splitlines():
                        if line.startswith("totals:"):
                            totals[path] = int(line.split()[1])
                    if "export_main" in text:   # the exporter thread's profile
                        exporter += totals[path]
                counts.append((sum(totals.values()) - exporter, sum(totals.values())))
            except (subprocess.SubprocessError, OSError, ValueError, IndexError, KeyError):
                counts.append(None)
            finally:
                for path in parts + [cg]:
                    if os.path.exists(path):
                        os.remove(path)
        if None in counts:
            return {"error": f"callgrind failed for mode {m}"}
        out[m] = round((counts[1][1] - counts[0][1]) / (many - few))
        out[m + "_run_thread"] = round((counts[1][0] - counts[0][0]) / (many - few))
    out["on_minus_off"] = out["on"] - out["off"]
    out["noop_minus_off"] = out["noop"] - out["off"]
    # (the counts do not depend on the machine's load: they may be taken
    # at another commit than the wall-clock rows)
    out["commit"] = machine_info().get("hookline_commit")
    out["on_minus_off_run_thread"] = out["on_run_thread"] - out["off_run_thread"]
    # the exporter thread (spans, JSON, curl, metrics)
    out["on_minus_off_other_threads"] = out["on_minus_off"] - out["on_minus_off_run_thread"]
    return out


def write_markdown(results):
    """BENCHMARKS.md from results, keeping the FUZZING section `make fuzz` writes."""
    path, fuzzing = os.path.join(ROOT, "BENCHMARKS.md"), ""
    if os.path.exists(path):
        old = open(path, encoding="utf-8").read()
        if "\n## FUZZING" in old:
            fuzzing = old[old.index("\n## FUZZING"):]
    with open(path, "w") as f:
        f.write(markdown(results).rstrip("\n") + "\n" + fuzzing)


def write_section(results, heading):
    """Replace only the BENCHMARKS.md section that starts with `heading`
    (up to the next "## ") by its regeneration from results: sections that
    other benchmarks write by hand (store, mcp) stay as they are."""
    path = os.path.join(ROOT, "BENCHMARKS.md")
    if not os.path.exists(path):
        write_markdown(results)
        return
    old = open(path, encoding="utf-8").read()
    new = markdown(results)
    if heading not in old or heading not in new:
        write_markdown(results)
        return

    def cut(text):
        # A section ends at the next heading or at the next marker line of a
        # section written by another script (mcp_run.py, store_bench.c),
        # which belongs to what follows.
        a = text.index(heading)
        ends = [e for e in (text.find("\n## ", a + len(heading)),
                            text.find("\n<!-- ", a + len(heading))) if e >= 0]
        return a, (min(ends) + 1 if ends else len(text))

    na, nb = cut(new)
    oa, ob = cut(old)
    with open(path, "w", encoding="utf-8") as f:
        f.write(old[:oa] + new[na:nb] + old[ob:])


def otel_only(bench_bin, quick, write):
    res = run_otel(bench_bin, quick)
    print(json.dumps(res))
    errors = [r["error"] for r in (res["http"], res["http_parts"], res["scripted"]) if "error" in r]
    if write and not errors:
        path = os.path.join(HERE, "results.json")
        with open(path) as f:
            results = json.load(f)
        results.setdefault("hookline", {})["otel"] = res
        with open(path, "w") as f:
            f.write(json.dumps(results, indent=2) + "\n")
        write_section(results, "## OpenTelemetry export (otel)")
        log("wrote the otel figures into bench/results.json and BENCHMARKS.md")
    return 0 if not errors else 1


def core_only(bench_bin, quick):
    """bench/core: hook dispatch (a chain of 8 hooks at each of four points)
    and the agent loop alone (scripted provider: 2 model calls + 3 tool
    calls per run, no HTTP), as one JSON object."""
    hooks = run_json([os.path.join(bench_bin, "hl-bench-hooks"), "--hooks", "8",
                      "--runs", "2000" if quick else "20000", "--rounds", "9"])
    agent = run_json([os.path.join(bench_bin, "hl-bench-agent"), "--scenario", "tools",
                      "--provider", "scripted", "--budget-s", "0.5" if quick else "2"])
    res = {"hook_dispatch_ns": hooks.get("ns_per_hook_call"),
           "hook_chain_length": hooks.get("hooks_per_point"),
           "agent_run_overhead_us": agent.get("overhead_us"),
           "agent_run_p99_us": agent.get("latency_p99_us"),
           "targets": {"hook_dispatch_ns": 20, "agent_run_overhead_us": 50},
           "errors": [r["error"] for r in (hooks, agent) if "error" in r]}
    print(json.dumps(res))
    return 0 if not res["errors"] else 1


def when_now(**extra):
    """When and at which commit a section was measured, with the load now."""
    w = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "hookline_commit": machine_info().get("hookline_commit"),
         "load": round(os.getloadavg()[0], 2)}
    w.update(extra)
    return w


def when_line(when):
    return (f"Measured {when.get('date', '?')} at commit {when.get('hookline_commit', '?')}, "
            f"load {when.get('load', '?')} (this section may come from a later run than the rest).")


def sandbox_only(bench_bin, write=False):
    """bench/sandbox: hookline's sandbox next to quickjs-emscripten (and Pyodide) in
    Node, same snippets, as one JSON object with the figures the sandbox issue names.
    With write: the runs go into bench/results.json's "sandbox" and BENCHMARKS.md is
    regenerated from it (its FUZZING section kept)."""
    hl = run_json([os.path.join(bench_bin, "hl-bench-sandbox")])
    node = ensure_peers()
    peer = run_json([node, "quickjs.mjs"], cwd=PEERS) if node else {"error": "JS peers not installed"}
    pyo = run_json([node, "pyodide.mjs"], cwd=PEERS) if node else {"error": "JS peers not installed"}
    res = {"sandbox_create_us": hl.get("create_us"),
           "sandbox_cold_create_us": hl.get("cold_create_us"),
           "sandbox_cold_create_runtime_init_us": hl.get("cold_create_runtime_init_us"),
           "sandbox_cold_create_cpu_us": hl.get("cold_create_cpu_us"),
           "sandbox_cold_create_minflt": hl.get("cold_create_minflt"),
           "sandbox_cold_first_eval_us": hl.get("cold_first_eval_us"),
           "chat_p_hello_ms": hl.get("chat_p_hello_ms"),
           "chat_p_javascript_ms": hl.get("chat_p_javascript_ms"),
           "eval_us": hl.get("eval_us"),
           "eval_callback_us": hl.get("eval_callback_us"),
           "eval_cpu_us": hl.get("eval_cpu_us"),
           "eval_callback_cpu_us": hl.get("eval_callback_cpu_us"),
           "parallel_3x100ms_ms": hl.get("parallel_3x100ms_callbacks_ms"),
           "load_average": hl.get("load_average"),
           "peer_node_create_us": peer.get("create_us"),
           "peer_node_eval_callback_us": peer.get("eval_callback_us"),
           "targets": {"sandbox_cold_create_us": 200, "eval_callback_us": 10,
                       "parallel_3x100ms_ms": 100},
           "errors": [r["error"] for r in (hl, peer) if "error" in r]}
    print(json.dumps(res))
    if write and "error" not in hl:
        path = os.path.join(HERE, "results.json")
        with open(path) as f:
            results = json.load(f)
        results["sandbox"] = {"hookline": hl, "quickjs-emscripten": peer, "pyodide": pyo}
        results["sandbox_when"] = when_now()
        with open(path, "w") as f:
            f.write(json.dumps(results, indent=2) + "\n")
        write_section(results, "## Sandbox")
        log("wrote the sandbox figures into bench/results.json and BENCHMARKS.md")
    return 0 if not res["errors"] else 1


def sandbox_py_only(bench_bin, write=False):
    """bench/sandbox_py: the sandbox's Python guest (MicroPython via wasm2c) next to
    Pyodide (CPython in Wasm) on Node, same snippets: cold create, create, eval, eval
    with one callback, 3 parallel 100 ms callbacks. With write: into bench/results.json's
    "sandbox_py" and its section of BENCHMARKS.md."""
    hl = run_json([os.path.join(bench_bin, "hl-bench-sandbox-py")])
    node = ensure_peers()
    # Pyodide loads two interpreters (~10 s of CPU each) before its timed
    # loops (themselves bounded by a time budget): on a loaded machine that
    # outlasts PROC_TIMEOUT_S, so it gets longer.
    pyo = (run_json([node, "pyodide.mjs"], cwd=PEERS, timeout=900) if node
           else {"error": "JS peers not installed"})
    res = {"hookline_python": hl, "pyodide": pyo,
           "targets": {"sandbox_cold_create_us": 200, "eval_callback_us": 10,
                       "parallel_3x100ms_ms": 100},
           "errors": [r["error"] for r in (hl, pyo) if "error" in r]}
    print(json.dumps(res))
    if write and "error" not in hl:
        path = os.path.join(HERE, "results.json")
        with open(path) as f:
            results = json.load(f)
        results["sandbox_py"] = {"hookline-python": hl, "pyodide": pyo}
        results["sandbox_py_when"] = when_now()
        with open(path, "w") as f:
            f.write(json.dumps(results, indent=2) + "\n")
        write_section(results, "## Sandbox: Python")
        log("wrote the Python sandbox figures into bench/results.json and its BENCHMARKS.md section")
    return 0 if "error" not in hl else 1


def markdown_sandbox_py(r, w):
    """The Python guest's section of BENCHMARKS.md (bench/run.py --only sandbox_py)."""
    py = r.get("sandbox_py")
    if not py:
        return
    hl = py.get("hookline-python") or {}
    pyo = py.get("pyodide") or {}
    w("## Sandbox: Python\n")
    w("`hl-bench-sandbox-py` (bench/py_sandbox_bench.c): MicroPython 1.27 translated by wasm2c "
      "and run by hookline's runtime, next to Pyodide 314.0.7 (CPython in Wasm) on Node running "
      "the same snippets (`1+2`; a host function called with 41 answering 42), in the same run. "
      "Wall times are medians (Pyodide's per-call figures are means); CPU is user + system time "
      "per operation (the machine is shared: load average " +
      fmt(hl.get("load_average_before"), 1) + " before hookline's run, " +
      fmt(hl.get("load_average_after"), 1) + " after, on 2 cores). Cold create is the first "
      "Python sandbox of a fresh process (hookline: the median of " +
      fmt(hl.get("cold_samples")) + " fresh processes, each mapping the template file the build "
      "wrote; the next column boots MicroPython at run time instead, as when the file is "
      "missing; Pyodide: its first `loadPyodide()`)." +
      (" " + when_line(r["sandbox_py_when"]) if r.get("sandbox_py_when") else "") + "\n")
    w("| system | cold create (CPU) | cold create, no template file (CPU) | create | eval | "
      "eval + 1 callback | CPU eval / + callback | 3 parallel 100 ms callbacks |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, x in (("hookline Python", hl), ("Pyodide (Node)", pyo)):
        if "error" in x:
            w(f"| {name} | {x['error']} | | | | | | |")
            continue
        cpu = (f"{fmt(x.get('eval_cpu_us'), 1)} / {fmt(x.get('eval_callback_cpu_us'), 1)} µs"
               if x.get("eval_cpu_us") is not None else "–")
        par = x.get("parallel_3x100ms_callbacks_ms")
        nofile = (f"{fmt(x.get('cold_create_no_file_us'))} µs "
                  f"({fmt(x.get('cold_create_no_file_cpu_us'))} µs)"
                  if x.get("cold_create_no_file_us") is not None else "–")
        cold = f"{fmt(x.get('cold_create_us'))} µs"
        if x.get("cold_create_cpu_us") is not None:
            cold += f" ({fmt(x.get('cold_create_cpu_us'))} µs)"
        w(f"| {name} | {cold} | {nofile} | {fmt(x.get('create_us'), 1)} µs | "
          f"{fmt(x.get('eval_us'), 1)} µs | {fmt(x.get('eval_callback_us'), 1)} µs | {cpu} | "
          f"{fmt(par, 1) + ' ms' if par is not None else '–'} |")
    w(hot_spread(hl))
    if "error" in pyo:
        w("\nPyodide did not finish in this run (" + pyo["error"] + ").")
    elif pyo.get("eval_calls") is not None:
        w(f"\nPyodide loads offline from the pinned npm package (pyodide.asm.wasm, "
          f"python_stdlib.zip and pyodide-lock.json are in node_modules/pyodide; no network "
          f"connection is made). It is slow, not stuck: each interpreter takes seconds of CPU to "
          f"load and each `runPython` milliseconds, so its per-call loops stop at a 5 s budget: "
          f"{fmt(pyo.get('eval_calls'))} evals and {fmt(pyo.get('eval_callback_calls'))} "
          f"callbacks in this run. Its create is a second `loadPyodide()` in the same process.")
    w("\nhookline's cold create maps `hookline-python.snap` (MicroPython started and the "
      "prelude loaded by the build; 17 MB sparse, 188 KiB of it data) after checking its "
      "header (magic, format version, build id, the header's own checksum) and its size; a "
      "missing, truncated or foreign file makes the process boot MicroPython itself, with one "
      "line on stderr. The checksum of the image and the vm's function table wait for the "
      "first execution (a corrupt image found then: the same note, and the sandbox, which has "
      "not run, starts from a template booted at run time). Median page faults of the cold "
      "create: " + fmt(hl.get("cold_create_minflt")) + "; that process's first `1+2` then "
      "takes " + fmt(hl.get("cold_first_eval_us"), 1) + " µs (that check included). Its "
      "callback snippet is `await host(x=41)`: the awaiting code driven by the prelude, which "
      "makes a lone call at once (no task), its arguments to the host as JSON text and an "
      "integer answer back as itself.")
    for line in PY_SANDBOX_NOTES:
        w("\n" + line)
    par = hl.get("parallel_3x100ms_callbacks_ms")
    w("\nTargets (issue 18), read off this run: " +
      target_verdicts(hl.get("cold_create_us"), 200, "cold create") + ", " +
      target_verdicts(hl.get("eval_callback_us"), 10, "eval + 1 callback") +
      ", 3 parallel 100 ms callbacks " + (fmt(par, 1) + " ms (target ~100 ms: " +
      ("met" if par < 110 else "not met") + ")" if par is not None else "not measured") + ".")
    w("")


def hot_spread(x):
    """How spread the per-process figures of eval + 1 callback were."""
    if x.get("hot_samples") is None:
        return ""
    return (f"\nhookline's eval and eval + 1 callback are medians over {x['hot_samples']} fresh "
            f"processes (this virtual machine runs a whole process up to 1.6x slower than the "
            f"next, the same within one): eval + 1 callback ranged from "
            f"{fmt(x.get('eval_callback_us_min'), 2)} to {fmt(x.get('eval_callback_us_max'), 2)} µs "
            f"over them.")


def target_verdicts(value, below, what):
    """'what X µs (target < below µs: met)', the verdict from the figure."""
    if value is None:
        return what + " not measured"
    return (f"{what} {fmt(value, 1)} µs (target < {below} µs: " +
            ("met" if value < below else "not met") + ")")


# The Python section's instructions, in short (callgrind counts repeat
# exactly from run to run; the steps behind them are in
# docs/performance-notes.md, updated by whoever measures them again).
PY_SANDBOX_NOTES = [
    "Instructions (callgrind, issue 18): a cold create is 66,791 (317,384 before issue 18's last "
    "round); an execution of `await host(x=41)` 74,470 at f392341 (442,791 before the Python "
    "round), `1+2` 25,689. The steps, with their commits: docs/performance-notes.md (\"Sandbox: "
    "Python guest\").",
]


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, (int, float)):
        return f"{v:,.{digits}f}"
    return str(v)


TURN_HOW = (
    "The turn rows (bench/turn_bench.c, `make -C bench turn`) measure DESIGN.md's target \"framework "
    "overhead per run of (b) within 10 % of two raw libcurl round trips\" in one process: hookline "
    "running the scenario against the mock server (the agent of the (b) table, the library's "
    "defaults) and a raw libcurl client sending the same model requests, one after the other, on one "
    "keep-alive easy handle, to the same server; the requests are hookline's own, recorded through a "
    "relay before measuring and checked to arrive byte for byte the same from both clients (hookline's "
    "later ones differ only in the digits of the tool-call ids, which the mock server numbers with its "
    "request count). The two "
    "alternate in short blocks as in the otel section (cycles of three blocks of 16 runs: hookline, "
    "raw, raw again, in rotating order); the difference is the median of the per-cycle differences "
    "of the blocks' median runs, with a distribution-free 95 % interval, and raw again − raw by the "
    "same estimator is the A/A control. The verdict is the otel section's rule: *met* only when the "
    "whole interval, widened on both sides by the A/A's bias (the end of its interval farther from "
    "0), is below 10 % of the raw run's median, *not met* when all of it is above, else *cannot "
    "tell*. Instructions per run: callgrind over every thread of the bench's process (the mock "
    "server is another process), the difference between 300 and 100 runs of one side, which "
    "repeats from run to run. The JS row divides each JS SDK's overhead in the (b) table by "
    "hookline's, and takes the smallest.")


def ci_text(res, key, digits=1):
    """A difference with its 95 % interval, as "+11.7 [10.2, 13.1]"."""
    v, iv = res.get(key), res.get(key + "_ci95")
    if not isinstance(v, (int, float)) or not iv:
        return "–"
    v, lo, hi = (round(x, digits) + 0.0 for x in (v, iv[0], iv[1]))  # (+ 0.0: no "-0.0")
    return f"{v:+.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def turn_rows(turn):
    """The hookline alone table's rows of bench/turn_bench.c: per scenario,
    the two clients' median runs, their difference against the target, the
    A/A control and the ratio of the medians."""
    rows = []
    for s, what, floor in (("tools", "(b), 2 model calls + 3 tool calls", "two raw libcurl round trips"),
                           ("chat", "(a), 1 model call", "one raw libcurl round trip")):
        res = (turn or {}).get(s)
        head = f"{what}: one run, hookline / {floor} of the same requests, in one process"
        if res is None or "error" in res:
            why = "not measured" if res is None else "failed: " + res["error"][:100]
            rows.append(f"| {head} | {why} | within 10 % of {floor} | – |")
            continue
        hl, raw = res.get("hookline", {}), res.get("raw", {})
        rows.append(f"| {head}, median run, µs | {fmt(hl.get('latency_p50_us'), 1)} / "
                    f"{fmt(raw.get('latency_p50_us'), 1)} | – | – |")
        rows.append(f"| … hookline − raw, median of the per-cycle differences [95 % interval], µs | "
                    f"{ci_text(res, 'diff_us_p50')} | within 10 % of {floor}: below "
                    f"{fmt(res.get('bound_us'), 1)} µs | {res.get('verdict', '–')} |")
        aa = res.get("aa_us_p50_ci95") or [None, None]
        holds = "yes" if aa[0] is not None and aa[0] <= 0 <= aa[1] else "no"
        rows.append(f"| … A/A: raw again − raw, the same way, µs | {ci_text(res, 'aa_us_p50')} | holds 0 | {holds} |")
        # (of the pooled runs' medians: the verdict above is the paired
        # difference's, which the machine's drift does not move)
        rows.append(f"| … hookline / raw, ratio of the median runs | {fmt(res.get('ratio_p50'), 3)} | – | – |")
        rows.append(f"| … CPU per run (the process's, every thread), hookline / raw, µs | "
                    f"{fmt(hl.get('cpu_us_per_run'), 1)} / {fmt(raw.get('cpu_us_per_run'), 1)} | – | – |")
        cg = (turn or {}).get("callgrind") or {}
        if isinstance(cg.get(s), dict) and cg[s].get("raw"):
            at = f" at {cg['commit']}" if cg.get("commit") else ""
            rows.append(f"| … instructions per run (callgrind{at}, every thread of the process), hookline / raw "
                        f"| {cg[s]['hookline']:,} / {cg[s]['raw']:,} ({cg[s]['hookline'] / cg[s]['raw']:.2f}×) "
                        f"| – | – |")
        ser = (turn or {}).get("tools_serial") or {}
        if s == "tools" and "diff_us_p50" in ser:
            rows.append(f"| … the same with the 3 tools run one after another on the run's thread "
                        f"(`--parallel-tools 1`, not the default), hookline − raw, µs | {ci_text(ser, 'diff_us_p50')} "
                        f"(A/A {ci_text(ser, 'aa_us_p50')}) | – | – |")
    return rows


def js_ratio_row(r):
    """The "≥ 20× below every JS agent SDK" row, from the (b) table's ratios
    of this run: the smallest JS SDK's; cannot tell when one was not
    measured."""
    rat = {k: v for k, v in r.get("ratios_vs_hookline", {}).get("tools", {}).items() if k != "figure"}
    names = {name: desc.split(" ")[0] for name, _, desc in AGENT_SYSTEMS}
    peers = [name for name, _, _ in AGENT_SYSTEMS if name != "hookline"]
    head = "(b) overhead per run, the smallest JS SDK's ÷ hookline's (the (b) table's ratios)"
    if not peers or any(not isinstance(rat.get(p), (int, float)) for p in peers):
        missing = ", ".join(names[p] for p in peers if not isinstance(rat.get(p), (int, float)))
        return f"| {head} | – ({missing} not measured) | ≥ 20× below every JS agent SDK | cannot tell |"
    low = min(peers, key=lambda p: rat[p])
    return (f"| {head} | {rat[low]}× ({names[low]}) | ≥ 20× below every JS agent SDK | "
            f"{'met' if rat[low] >= 20 else 'not met'} |")


def markdown(r):
    m = r["machine"]
    out = []
    w = out.append
    w("# Benchmarks\n")
    w("Generated by `make bench` (bench/run.py); the figures below come from one run "
      "on one machine. Do not edit by hand: rerun `make bench`.\n")
    w(f"- Machine: {m['cores']} cores, {m['cpu_model']}, Linux {m['kernel']}")
    w(f"- Date: {m['date']}; hookline commit {m['hookline_commit']}; {m.get('compiler', '')}")
    w(f"- JS peers: {r.get('node') or 'not run'} (pinned in bench/peers/package-lock.json); "
      f"{r['budget_s']} s of measurement per system and scenario after a warm-up")
    w(f"- Whole run: {r['elapsed_s']} s; load average (1 min) {r.get('load_before')} before, "
      f"{r.get('load_after')} after (anything above ~0.5 means other work shared the CPUs "
      f"and the figures are noisier)\n")
    w("## How it is measured\n")
    w("Every system runs the same scenarios against the same loopback mock model server "
      "(bench/mock_server.c: TCP_NODELAY, each response in one send, keep-alive), each system "
      "in its own process, with the same tool (`lookup`, one string argument), instruction and "
      "input, from a fresh conversation per run. The server reports its own service time; "
      "**overhead per run = client wall time − server time**, so it still contains the loopback "
      "HTTP round trips (see the raw libcurl figure below for their floor). The headline overhead "
      "is the median run's (robust to other work on a shared machine), the mean is next to it; "
      "ratios use the median. Peak RSS is the "
      "process's maximum resident set; CPU is user + system time of the client process per run. "
      "The JS SDKs speak OpenAI Chat Completions to the server, except ADK for JS, which ships "
      "Gemini models only and talks Gemini's generateContent format to the same server through "
      "its `ApigeeLlm` proxy model. ADK's per-request INFO logging is turned down to warnings and "
      "@openai/agents' trace export is disabled, as hookline logs and exports nothing by default. "
      "Each run's answer and its 3 tool executions are checked.\n")
    for scenario, title in SCENARIOS:
        row = r["scenarios"].get(scenario, {})
        conc = scenario == "tools_concurrent50"
        w(f"## {title}\n")
        ratio_head = "CPU ratio vs hookline" if conc else "overhead ratio vs hookline"
        w(f"| system | runs/s | overhead µs/run (median run) | overhead µs/run (mean) | p50 µs | p99 µs "
          f"| CPU µs/run | peak RSS MB | {ratio_head} |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        rat = r["ratios_vs_hookline"].get(scenario, {})
        for system, _, desc in AGENT_SYSTEMS:
            res = row.get(system)
            if res is None:
                continue
            if "error" in res:
                w(f"| {desc} | failed: {res['error'][:120]} | | | | | | | |")
                continue
            rv = "1 (baseline)" if system == "hookline" else (f"{rat.get(system)}×" if rat.get(system) else "–")
            w(f"| {desc} | {fmt(res.get('runs_per_s'))} | {fmt(res.get('overhead_us'), 1)} | "
              f"{fmt(res.get('overhead_mean_us'), 1)} | "
              f"{fmt(res.get('latency_p50_us'))} | {fmt(res.get('latency_p99_us'))} | "
              f"{fmt(res.get('cpu_us_per_run'), 1)} | {fmt(res.get('peak_rss_mb'), 1)} | {rv} |")
        if conc:
            w("\nRuns overlap here, so wall − server time is not a per-run overhead; the ratio "
              "compares client CPU time per run. hookline runs the 50 sessions on 50 threads "
              "sharing one agent; the JS SDKs run them as 50 concurrent promises.")
        w("")

    h = r["hookline"]
    w("## hookline alone\n")
    w("| figure | measured | target | verdict |")
    w("| --- | ---: | --- | --- |")
    hd = h.get("hook_dispatch", {})
    w(f"| hook dispatch (ns per hook call, {fmt(hd.get('hook_calls_per_run'))} continuing hooks per run) "
      f"| {fmt(hd.get('ns_per_hook_call'), 1) if 'error' not in hd else 'failed'} | < 20 ns | – |")
    tb = r["scenarios"].get("tools", {}).get("hookline", {})
    w(f"| framework overhead per run of (b), 2 model calls + 3 tool calls, beyond the server's time, µs "
      f"(the (b) table) | {fmt(tb.get('overhead_us'), 1)} | – (next rows) | – |")
    for row in turn_rows(h.get("turn")):
        w(row)
    w(js_ratio_row(r))
    pv = h.get("providers", {})
    # (No row "per turn, minus the raw libcurl round trip" any more: it was
    # derived from two figures of different processes, taken minutes
    # apart on a machine whose speed drifts, and came out negative at
    # 5714f43 (-20.5 us): a broken measurement. The turn rows compare
    # the two in one process.)
    a10 = h.get("agent_10_tools", {})
    w(f"| peak RSS, one agent with 10 tools running (b), MB | {fmt(a10.get('peak_rss_mb'), 1)} | < 8 MB | – |")
    w(f"| … of which held before the agent existed (libcurl and the TLS/Kerberos/LDAP libraries "
      f"it maps at start-up), MB | {fmt(a10.get('rss_before_agent_mb'), 1)} | – | – |")
    w(f"| … anonymous memory (heap, stacks) at the end of the run, MB | {fmt(a10.get('rss_anon_mb'), 1)} | – | – |")
    sp = h.get("tools_one_after_another", {})
    w(f"| (b) with the 3 tools run one after another instead of on worker threads, µs per run | "
      f"{fmt(sp.get('overhead_us'), 1)} | – | – |")
    w(f"| OpenAI provider, µs per request beyond server time | {fmt(pv.get('client_overhead_us'), 1)} | "
      f"within 20 µs of raw libcurl | – |")
    w(f"| raw libcurl easy-handle loop, same server, µs per request | {fmt(pv.get('raw_curl_us'), 1)} | – | – |")
    w("")
    w(TURN_HOW + (" " + when_line(h["turn"]["when"]) if (h.get("turn") or {}).get("when") else "") + "\n")
    cs = r.get("concurrent_slow")
    if cs:
        w("## concurrent_slow: N sessions of (b) at once, the model answering after 1 s\n")
        w(f"Each session is scenario (b) (2 model calls, 3 tool calls) against a mock server that "
          f"answers every model request {cs['delay_ms']} ms after it arrived (bench/mock_server.c "
          "on one epoll thread; its own service time per request, how late it sent its latest "
          "answer and its whole CPU time over the run are in the last three columns: a server "
          "that kept up has CPU well under the wall time and answers within milliseconds of "
          "their due time). raw-curl: the floor, no hookline: the same two requests per session "
          "(the very bodies hookline sends) with raw libcurl multi + epoll on one thread, one "
          "easy handle per session reused for its second request (bench/slow_raw.c); what it "
          "costs is the HTTP/1.1 traffic itself (one TCP connection per session in flight; on "
          "loopback the kernel's work for both ends is charged to the sender), which no agent "
          "library can go below. hookline-async: every session started with `hl_run_start()` "
          "from one thread, no thread per session (its steps on the library's bounded worker "
          "pool, model calls in flight holding no thread). hookline: one application thread per "
          "session (64 KB stacks) "
          "calling the blocking `hl_agent_run()` on one shared agent; both with every request through the "
          "process's event loops (one per CPU, each with its own connection pool; a run's requests "
          "stay on one loop); the benchmark raises its soft open-file "
          "limit to the hard one. The JS peers (@openai/agents, langchain, @google/adk on Node): N "
          "concurrent promises each, each run with a time budget per size ("
          + ", ".join(f"{int(k):,} sessions: {v} s" for k, v in cs.get("peer_budget_s", {}).items())
          + "): a peer past it is stopped and shown as failed with that reason. Wall time runs from the "
          "first session started to the last one done (thread creation included); CPU is the "
          "client process's user + system time; each system runs against a fresh server, one "
          "after the other. The rows ending in -h2 are the same over HTTP/2 with prior knowledge "
          "(h2c) to the mock server's h2c side (libnghttp2, same answers, same 1 s timer): "
          "raw-curl-h2 with CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, CURLPIPE_MULTIPLEX and PIPEWAIT, "
          "hookline with `hl_openai_set_http_version(p, HL_HTTP_VERSION_2)`. libcurl before "
          "7.89.0 (Debian 12: 7.88.1) cannot reuse an h2c connection (curl issue #10634): there "
          "hookline opens one h2c connection per request, so those rows measure HTTP/2 framing "
          "without multiplexing (\"HTTP/2 connections\" says how many). The rows ending in "
          "-h2tls and -tls go over TLS to the mock server's HTTPS side (`--tls`: OpenSSL, a "
          "throwaway CA made at start-up, ALPN h2 and http/1.1, the same answers and 1 s timer, "
          "non-blocking on the same epoll thread), the client trusting that CA "
          "(`hl_openai_set_ca_file()`, CURLOPT_CAINFO): -h2tls is HTTP/2 negotiated by ALPN and "
          "multiplexed (raw-curl-h2tls with CURL_HTTP_VERSION_2TLS, CURLPIPE_MULTIPLEX, PIPEWAIT "
          "and up to 1,000 streams per connection, on one multi handle: beyond 1,000 sessions "
          "libcurl 7.88 opens a connection per request while the next connection's handshake "
          "runs, see bench/slow_raw.c; hookline with the default HL_HTTP_VERSION_AUTO and "
          "its pool's defaults, HL_POOL_MAX_STREAMS 1,000, and at most 100 requests per "
          "partition of its pool until one got its response headers, which the server's "
          "SETTINGS precede: a new HTTP/2 connection takes 100 streams until they arrive and "
          "libcurl 7.88 opened a connection for each request beyond them, 102 connections for "
          "300 runs at once against a server whose SETTINGS came 200 ms late, 4 since; the "
          "start-up burst in lib/net/engine.c), which libcurl 7.88 does reuse: "
          "\"connections opened\" shows the sessions' requests sharing a few connections (one "
          "more is the benchmark's own /stats request); -cap4 adds "
          "`hl_pool_setopt(HL_POOL_MAX_HOST_CONNECTIONS, 4)`, requests beyond the cap becoming "
          "streams of those 4; raw-curl-tls is HTTP/1.1 over TLS, one connection and one TLS "
          "handshake per session in flight, what TLS costs without multiplexing. \"TLS "
          "handshakes\" counts the server's completed handshakes. The JS peers speak "
          "HTTP/1.1 only, to a cleartext server: they have no h2 or TLS rows.\n")
        w(slow_libcurl_note(cs))
        when = cs.get("when")
        if when:
            w(f"Measured {when.get('date', '?')} at commit {when.get('hookline_commit', '?')}, "
              f"load average {when.get('load_before', '?')} before and {when.get('load_after', '?')} "
              "after (2 cores shared with other builds: wall times are stretched by the load; CPU "
              "per session and RSS much less). This section may come from a later run than the "
              "rest.\n")
        t = cs["targets"]
        w(f"Targets for hookline at {t['sessions']:,} sessions: ≤ {t['wall_s']} s wall, "
          f"≤ {t['cpu_us_per_session']} µs client CPU per session, ≤ {t['peak_rss_mb']} MB peak RSS, "
          f"{t['failures']} failures.\n")
        w("Why, in short (issue 12): hookline-async's CPU per session beyond raw-curl is its own "
          "request writing, answer parsing and tool calls, and libcurl's search of a multi handle's "
          "connections for one to reuse; its peak RSS per session in flight is about raw-curl's "
          "(libcurl's easy handle and connection ~14 KB, hookline's own ~4 KB), so ≤ 150 MB at 10,000 "
          "sessions needs fewer connections than sessions in flight (HTTP/2 multiplexing or a cap); "
          "the worker pool's hand-offs went from 3.5 to 12.4 futex calls per session at 5433896 to "
          "0.2 to 1.9 at c1323e8. The investigation, with every count and commit: "
          "docs/performance-notes.md (the concurrent_slow sections).\n")
        w("| sessions | system | wall s | client CPU s | CPU µs/session | peak RSS MB | p50 ms | p99 ms "
          "| failures | connections opened | server µs/request | server's latest answer, ms late "
          "| server CPU s | HTTP/2 connections | TLS handshakes |")
        w("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n, row in cs["runs"].items():
            for system, res in row.items():
                if "error" in res:
                    w(f"| {int(n):,} | {system} | failed: {res['error'][:100]} | | | | | | | | | | | | |")
                    continue
                w(f"| {int(n):,} | {system} | {fmt(res.get('wall_s'), 2)} | {fmt(res.get('cpu_s'), 2)} | "
                  f"{fmt(res.get('cpu_us_per_session'))} | {fmt(res.get('peak_rss_mb'), 1)} | "
                  f"{fmt(res.get('latency_p50_ms'))} | {fmt(res.get('latency_p99_ms'))} | "
                  f"{fmt(res.get('failures'))} | {fmt(res.get('connections_opened'))} | "
                  f"{fmt(res.get('server_service_us_per_request'), 1)} | {fmt(res.get('server_late_ms_max'), 1)} | "
                  f"{fmt(res.get('server_cpu_s'), 2)} | {fmt(res.get('h2_connections'))} | "
                  f"{fmt(res.get('tls_handshakes'))} |")
        w("")

    hh = h.get("hook_history")
    if hh and "error" not in hh:
        when = hh.get("when", {})
        w("## Hook cost by history size (hook_history)\n")
        w("One run = 2 model calls (a tool call, then the answer) + 1 tool call, on a provider "
          "that answers at once (bench/history_bench.c), from a copy of a history of N messages. "
          "Instructions per run are counted by `valgrind --tool=callgrind` inside `hl_agent_run` "
          "only (repeatable from run to run); wall time is the median of rounds. *observe*: one "
          "`HL_HOOK_OBSERVE` before_model hook and one before_tool hook; *edit*: one "
          "`HL_HOOK_EDIT_REQUEST` before_model hook, which makes each model call copy the history; "
          "*LM_START observer*: one observer of the agent's that wants LM_START only and reads its "
          "`prompt_tokens` estimate. "
          f"Measured {when.get('date', '?')} at commit {when.get('hookline_commit', '?')}, "
          f"load {when.get('load', '?')} (this section may come from a later run than the rest).\n")
        w("| hooks | " + " | ".join(f"{n} msgs: instructions/run" for n in hh["history"]) + " | " +
          " | ".join(f"{n} msgs: µs/run" for n in hh["history"]) + " |")
        w("| --- |" + " ---: |" * (2 * len(hh["history"])))
        for mode, label in (("none", "no hook"), ("observe", "observe-only before_model + before_tool"),
                            ("edit", "one editing before_model hook"),
                            ("lm_start", "LM_START observer")):
            if mode not in hh:  # (results from before the mode existed)
                continue
            row = hh[mode]
            w(f"| {label} | " + " | ".join(fmt(v) for v in row.get("instructions_per_run", [])) + " | " +
              " | ".join(fmt(v, 2) for v in row.get("wall_us_per_run", [])) + " |")
        pct = hh.get("observe_vs_none_instructions_pct", [])
        w("")
        w("| figure | measured | target |")
        w("| --- | ---: | --- |")
        w(f"| observe-only vs no hook, extra instructions per run at "
          f"{'/'.join(str(n) for n in hh['history'])} messages | "
          f"{' / '.join(fmt(v, 2) + ' %' for v in pct)} | within 1 % at every size |")
        lm = hh.get("lm_start_extra_instructions_per_model_call")
        if lm:
            w(f"| LM_START observer vs no hook, extra instructions per model call at "
              f"{'/'.join(str(n) for n in hh['history'])} messages | "
              f"{' / '.join(fmt(v, 0) for v in lm)} | the same at every size |")
        w(f"| editing hook: extra instructions per message of history per model call | "
          f"{fmt(hh.get('edit_extra_instructions_per_message_per_turn'), 0)} | stated |")
        w(f"| hook dispatch, ns from one hook to the next on a chain of "
          f"{fmt(hh.get('hook_dispatch_chain'))} observe-only hooks | {fmt(hh.get('hook_dispatch_ns'), 2)} "
          f"| < 20 ns |")
        w("")
        w(HISTORY_LM_START_NOTE)
    ot = h.get("otel")
    if ot and "error" not in ot.get("http", {"error": 1}):
        when = ot.get("when", {})
        hres = ot["http"]
        w("## OpenTelemetry export (otel)\n")
        w(f"Scenario (b) (2 model calls, 3 tool calls, the tools one after another on the run's thread) in "
          f"{hres.get('cycles', '?')} cycles of three blocks of {hres.get('block', '?')} runs in one process "
          "(bench/otel_bench.c): no exporter (*off*), the OpenTelemetry exporter's observer installed (*on*, "
          "sending OTLP/HTTP JSON to a second mock server), no exporter again (*off B*), the order of the "
          "three rotating through the six permutations from cycle to cycle; one exporter for the whole "
          "alternation, as an application keeps one. Each cycle gives one paired difference, the median run "
          "of its *on* block less that of its *off* block; a cycle lasts milliseconds, so the machine's "
          "drift cancels in it. *Cost* is the median of those differences with its 95 % interval (order "
          "statistics, no assumption about the latencies' distribution). *off B* − *off*, by the same "
          "estimator, is the A/A control: the interval must hold 0, and its width is the noise the method "
          "leaves. The interval is this run's: the cost itself moves with what else the machine runs "
          "(caches, memory traffic), so two runs at different loads can differ by more than their "
          "intervals. "
          "p99 is taken over each series' pooled runs; its change has a bootstrap interval "
          "(resampling whole cycles, so the pairing stays). "
          + ("The run's thread is pinned to one CPU with the model server (they take turns), the exporter's "
             "thread to another with the OTLP receiver, so the exporter's work competes with the run only "
             "for what the cores share. " if hres.get("pinned") else
             "Threads not pinned (fewer than two CPUs allowed). ")
          + "The rules, applied by the bench: the A/A interval bounds the method's bias (the end of it "
          "farthest from 0: what the method makes of two identical series); the median target is *met* "
          "when the cost's whole interval, widened by that bias on both sides, is below 10 µs, *not met* "
          "when it is all at or above, else *cannot tell*; p99 \"no change\" is read as no rise of 10 µs "
          "or more, by the same rule on its interval and its A/A; either verdict is *cannot tell* when the "
          "exporter dropped spans (a dropped record costs the run less than a kept one, so the cost would "
          "read low). "
          f"Measured {when.get('date', '?')} at commit {when.get('hookline_commit', '?')}, "
          f"load {when.get('load_start', '?')} at the start, {when.get('load', '?')} at the end (one-minute "
          f"averages; this section may come from a later run than the rest).\n")
        w("| provider | series (pooled) | p50 µs | p99 µs | mean µs | run thread CPU µs/run |")
        w("| --- | --- | ---: | ---: | ---: | ---: |")
        for prov in ("http", "scripted"):
            res = ot.get(prov, {})
            if "error" in res:
                w(f"| {prov} | failed: {res['error'][:100]} | | | | |")
                continue
            for mode, label in (("off", "off"), ("off_b", "off B (A/A)"), ("on", "on")):
                m = res.get(mode, {})
                w(f"| {prov} | {label} | {fmt(m.get('latency_p50_us'), 1)} | {fmt(m.get('latency_p99_us'), 1)} | "
                  f"{fmt(m.get('latency_mean_us'), 1)} | {fmt(m.get('run_thread_cpu_us_per_run'), 1)} |")
        w("")

        def ci(res, key, digits=2):
            rg = res.get(key + "_ci95") or [None, None]
            return f"{fmt(res.get(key), digits)} [{fmt(rg[0], digits)}, {fmt(rg[1], digits)}]"

        w("| figure (median [95 % interval]) | measured | target | verdict |")
        w("| --- | ---: | --- | --- |")
        for prov, label in (("http", "over HTTP"), ("scripted", "scripted provider")):
            res = ot.get(prov, {})
            if not res or "error" in res:
                continue
            w(f"| exporter on − off, median run, {label}, µs ({res.get('cycles')} paired cycles) | "
              f"{ci(res, 'cost_us_per_run_p50')} | < 10 µs | {res.get('p50_verdict', '?')} |")
            aa = res.get('aa_us_per_run_p50_ci95')
            w(f"| … A/A: off B − off, {label}, µs | {ci(res, 'aa_us_per_run_p50')} | the method's bias | "
              f"{'±' + fmt(max(abs(aa[0]), abs(aa[1])), 2) + ' µs' if aa else '–'} |")
            w(f"| … CPU of the run's thread, on − off, {label}, µs per run | "
              f"{ci(res, 'run_thread_cpu_cost_us_per_run')} | – | – |")
            w(f"| … A/A CPU of the run's thread, {label}, µs per run | {ci(res, 'aa_run_thread_cpu_us_per_run')} | "
              f"holds 0 | – |")
            w(f"| … p99 change, on − off, {label}, µs | {ci(res, 'p99_change_us', 1)} | < 10 µs | "
              f"{res.get('p99_verdict', '?')} |")
            aa99 = res.get('aa_p99_change_us_ci95')
            w(f"| … A/A p99 change, {label}, µs | {ci(res, 'aa_p99_change_us', 1)} | the method's bias | "
              f"{'±' + fmt(max(abs(aa99[0]), abs(aa99[1])), 1) + ' µs' if aa99 else '–'} |")
            if "p99_run_thread_cpu_change_us" in res:
                w(f"| … p99 change of the run thread's CPU (per run), on − off, {label}, µs | "
                  f"{ci(res, 'p99_run_thread_cpu_change_us', 1)} | – | – |")
                w(f"| … A/A p99 change of the run thread's CPU, {label}, µs | "
                  f"{ci(res, 'aa_p99_run_thread_cpu_change_us', 1)} | holds 0 | – |")
            for key, what in (("wall_q", "wall time"), ("cpu_q", "the run thread's CPU")):
                qs, on_q, off_q = res.get("quantiles"), res.get("on", {}).get(key), res.get("off", {}).get(key)
                if qs and on_q and off_q:
                    names = " / ".join(f"p{q:g}" for q in qs)
                    w(f"| … on − off quantile by quantile ({names}), {what}, {label}, µs | "
                      + " / ".join(f"{a - b:.1f}" for a, b in zip(on_q, off_q)) + " | – | – |")
                    w(f"| … on / off quantile by quantile, {what}, {label} | "
                      + " / ".join(f"{a / b:.3f}" if b else "–" for a, b in zip(on_q, off_q)) + " | – | – |")
            off, on = res.get("off", {}), res.get("on", {})
            if all(isinstance(m.get(k), (int, float)) and m.get(k) for m in (off, on)
                   for k in ("latency_p50_us", "latency_p99_us")):
                stretch = off["latency_p99_us"] * (on["latency_p50_us"] / off["latency_p50_us"] - 1)
                w(f"| … p99 change if every *off* run took on / off's median ratio longer, {label}, µs | "
                  f"{stretch:.1f} (measured {fmt(res.get('p99_change_us'), 1)}) | – | – |")
            if "exporter_thread_cpu_us_per_run" in res:
                w(f"| … CPU of the exporter's thread (its own clock), {label}, µs per *on* run | "
                  f"{fmt(res['exporter_thread_cpu_us_per_run'], 2)} | off the run's path | – |")
            w(f"| … spans per run / exported / dropped / export requests, {label} | "
              f"{fmt(res.get('spans_per_run'), 1)} / {res.get('spans_exported', '?'):,} / "
              f"{res.get('spans_dropped', '?'):,} / {res.get('export_requests', '?'):,} | none dropped | "
              f"{'yes' if res.get('spans_dropped') == 0 else 'no'} |")
            if "run_wakeups" in res:
                w(f"| … times a run's thread woke the exporter (a system call on it: the ring was half full), "
                  f"{label} | {res['run_wakeups']:,} | 0 while the exporter keeps up | – |")
        parts = ot.get("http_parts") or {}
        if "header_only_cost_us_per_run_p50" in parts:
            w(f"| the exporter's parts over HTTP ({parts.get('cycles')} cycles of six blocks: off, on, off B, "
              f"the header alone, the recording alone, a control): on − off, median run, µs | "
              f"{ci(parts, 'cost_us_per_run_p50')} | – | – |")
            for part, what in (("header_only", "the traceparent header alone (a fixed line of the same length, "
                                               "nothing recorded)"),
                               ("record_only", "the recording alone (the observer, no header)"),
                               ("spin_only", "the control: about the exporter's cost in multiplications on the "
                                             "run's thread, no memory touched")):
                if part + "_cost_us_per_run_p50" not in parts:
                    continue
                w(f"| … {what} − off, median run / run thread's CPU / p99, µs | "
                  f"{ci(parts, part + '_cost_us_per_run_p50')} / {ci(parts, part + '_run_thread_cpu_cost_us_per_run')} / "
                  f"{ci(parts, part + '_p99_change_us', 1)} | – | – |")
            w(f"| … A/A in that alternation: off B − off, median run, µs | {ci(parts, 'aa_us_per_run_p50')} | "
              f"holds 0 | – |")
        cg = ot.get("callgrind") or {}
        if "on_run_thread" in cg:
            at = f", at {cg['commit']}" if cg.get("commit") else ""
            w(f"| instructions per run on the run's side (every thread but the exporter's), scripted provider, "
              f"its tools one after another (callgrind{at}): "
              f"off / noop observer / on | {cg['off_run_thread']:,} / {cg['noop_run_thread']:,} / "
              f"{cg['on_run_thread']:,} | – | – |")
            w(f"| … exporter on − off, on the run's side | {cg['on_minus_off_run_thread']:,} | – | – |")
            w(f"| instructions per run, all threads (the exporter's included): off / noop observer / on | "
              f"{cg['off']:,} / {cg['noop']:,} / {cg['on']:,} | – | – |")
            w(f"| … exporter on − off, all threads | {cg['on_minus_off']:,} | – | – |")
            if "on_minus_off_other_threads" in cg:
                w(f"| … exporter on − off, the exporter thread (spans, JSON, curl, metrics) | "
                  f"{cg['on_minus_off_other_threads']:,} | – | – |")
        rs = ot.get("resources") or {}
        if all("error" not in rs.get(m, {"error": 1}) for m in ("off", "on")):
            def per_run(m, key):
                return fmt(rs[m].get(key), 3)
            w(f"| per run, scripted provider ({rs['on'].get('batches')} × {rs['on'].get('runs')} runs, "
              f"getrusage): CPU of the run's thread, µs, off / on | {fmt(rs['off'].get('run_thread_cpu_us_per_run'), 1)} / "
              f"{fmt(rs['on'].get('run_thread_cpu_us_per_run'), 1)} | – | – |")
            w(f"| … CPU of the other threads (exporter), µs, off / on | "
              f"{fmt(rs['off']['cpu_us_per_run'] - rs['off']['run_thread_cpu_us_per_run'], 1)} / "
              f"{fmt(rs['on']['cpu_us_per_run'] - rs['on']['run_thread_cpu_us_per_run'], 1)} | – | – |")
            w(f"| … page faults, whole process, off / on | {per_run('off', 'faults_per_run')} / "
              f"{per_run('on', 'faults_per_run')} | – | – |")
            w(f"| … context switches of the run's thread, voluntary / involuntary, off; on | "
              f"{per_run('off', 'run_thread_vcsw_per_run')} / {per_run('off', 'run_thread_ivcsw_per_run')}; "
              f"{per_run('on', 'run_thread_vcsw_per_run')} / {per_run('on', 'run_thread_ivcsw_per_run')} | – | – |")
            w(f"| … context switches of the process, voluntary / involuntary, on | "
              f"{per_run('on', 'vcsw_per_run')} / {per_run('on', 'ivcsw_per_run')} | – | – |")
        w("")
        off_cpu = ot.get("scripted", {}).get("off", {}).get("run_thread_cpu_us_per_run")
        if "on_run_thread" in cg and isinstance(off_cpu, (int, float)) and off_cpu > 0:
            # instructions to µs at the rate of the same run: callgrind's off
            # count over the alternation's off CPU of the run's thread
            rate = cg["off_run_thread"] / off_cpu
            w(f"At the rate of this run's *off* series ({rate:,.0f} instructions per CPU µs of the run's "
              f"thread, scripted provider: callgrind's count over the alternation's CPU clock), the "
              f"exporter's work on the run's side is {cg['on_minus_off_run_thread'] / rate:.1f} µs per run "
              f"(the alternation measured {fmt(ot['scripted'].get('run_thread_cpu_cost_us_per_run'), 1)} µs) "
              f"and the exporter thread's {cg.get('on_minus_off_other_threads', 0) / rate:.1f} µs, on "
              f"another core. Over HTTP the run's side also builds the traceparent header of each model "
              f"request, which the scripted provider does not send.\n")
        w(OTEL_WHY)
        if ot.get("notes"):
            w(ot["notes"] + "\n")
    w("## Sandbox\n")
    w("Same snippets everywhere: `1+2` (eval) and `host(41)` where `host` is a host function "
      "returning its argument + 1 (eval with one callback). Cold create: the first sandbox in a "
      "fresh process (hookline: the median of fresh processes, each mapping the template snapshot "
      "that the build wrote; the next column initialises QuickJS at run time instead, as when the "
      "file is missing); for the Node peers module loading included. Create: each further "
      "sandbox." + (" " + when_line(r["sandbox_when"]) if r.get("sandbox_when") else "") + "\n")
    w("| system | cold create µs | cold create, no snapshot file µs | create µs | eval µs | "
      "eval + 1 callback µs | peak RSS MB |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for system, res in r["sandbox"].items():
        if "error" in res:
            w(f"| {system} | not measured: {res['error'][:100]} | | | | | |")
            continue
        w(f"| {system} ({res.get('runtime', '')}) | {fmt(res.get('cold_create_us'), 1)} | "
          f"{fmt(res.get('cold_create_runtime_init_us'), 1)} | "
          f"{fmt(res.get('create_us'), 1)} | {fmt(res.get('eval_us'), 2)} | "
          f"{fmt(res.get('eval_callback_us'), 2)} | {fmt(res.get('peak_rss_mb'), 1)} |")
    hs = r["sandbox"].get("hookline", {})
    if "eval_callback_cpu_us" in hs:
        w(f"\nhookline's CPU time per execution (the executing thread's, which a busy machine "
          f"blurs least): eval {fmt(hs.get('eval_cpu_us'), 2)} µs, eval + 1 callback "
          f"{fmt(hs.get('eval_callback_cpu_us'), 2)} µs; load average during the run "
          f"{fmt(hs.get('load_average'), 1)} on {os.cpu_count()} cores.")
    w(hot_spread(hs))
    if "cold_create_cpu_us" in hs:
        w(f"\nhookline's cold create in more detail (medians of fresh processes): "
          f"{fmt(hs.get('cold_create_cpu_us'), 1)} µs of CPU (user + sys, getrusage) and "
          f"{fmt(hs.get('cold_create_minflt'), 0)} page faults. It maps the template file "
          f"after checking its header (magic, format version, build id, the header's own "
          f"checksum) and its size; the checksum of its image (204 KiB of data, read through "
          f"a mapping: a corrupt file is refused and QuickJS initialised at run time, with one "
          f"line on stderr) waits, with the vm's function table and heap limit, for the first "
          f"execution, so that process's first `1+2` takes "
          f"{fmt(hs.get('cold_first_eval_us'), 1)} µs (that check, and QuickJS's code and the "
          f"pages it writes touched for the first time).")
    if "parallel_3x100ms_callbacks_ms" in hs:
        w(f"\nhookline, 3 callbacks of 100 ms each under `Promise.all`: "
          f"{fmt(hs['parallel_3x100ms_callbacks_ms'], 1)} ms in total (target ~100 ms).")
    if hs.get("chat_p_javascript_ms", -1) >= 0:
        w(f"\n`hookline-chat -p` with the offline model, medians of fresh processes, wall "
          f"(CPU): a prompt without tools {fmt(hs.get('chat_p_hello_ms'), 1)} ms "
          f"({fmt(hs.get('chat_p_hello_cpu_ms'), 1)} ms), with the calculator tool "
          f"{fmt(hs.get('chat_p_calculator_ms'), 1)} ms "
          f"({fmt(hs.get('chat_p_calculator_cpu_ms'), 1)} ms), with the code tool (the "
          f"process's first sandbox, a program that calls the calculator) "
          f"{fmt(hs.get('chat_p_javascript_ms'), 1)} ms "
          f"({fmt(hs.get('chat_p_javascript_cpu_ms'), 1)} ms).")
    w("\nhookline's callbacks are async functions taking one object, so its callback snippet is "
      "`await host({x: 41})`: a promise and a job-queue turn more than the peers' synchronous "
      "`host(41)`.")
    w("\nInstructions (callgrind, which repeats exactly from run to run; issue 18): a cold create is "
      "64,650 (696,502 before the previous round), most of it glibc's malloc growing its heap for "
      "the first time; an execution's count is mostly QuickJS's own async machinery. The counts, "
      "step by step with their commits: docs/performance-notes.md (\"Sandbox (JavaScript guest)\").")
    w("\nTargets for hookline's sandbox (issue 18), read off this run: " +
      target_verdicts(hs.get("sandbox_cold_create_us", hs.get("cold_create_us")), 200, "cold create") +
      ", " + target_verdicts(hs.get("eval_callback_us"), 10, "eval + one callback") + ".\n")
    markdown_sandbox_py(r, w)
    if "mcp" in r:
        w(mcp_run.mcp_markdown(r["mcp"]) + "\n")
    if "store" in r:
        w(store_run.store_markdown(r["store"]) + "\n")
    w("Raw figures: bench/results.json.\n")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
