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
                 "minimum. CPU (callgrind, 400 - 200 sessions, the mock answering after 20 ms, at "
                 "cff94dc): hookline-async 373 k instructions per session on 7.88.1, 514-516 k on "
                 "8.14.1; hookline-async-h2 515 k on 7.88.1 (a connection per request), 505-520 k on "
                 "8.14.1 (multiplexed); raw-curl 211 k and 258 k. The difference is inside libcurl "
                 "(hookline-async: 158 k -> 304 k per session there), ~76 k of it in the search of a "
                 "multi handle's connections to the host for one to reuse, which visits every one "
                 "(~200 per transfer at 400 sessions, ~140 instructions each on 8.14.1; raw-curl, "
                 "with 16 multi handles, ~25): engine.c's partitions held 259 transfers each (the "
                 "default cap's share), and from 8e963e2 hold at most 64 that cannot multiplex "
                 "(HL_ENGINE_PART_H1): hookline-async 408 k on 8.14.1 (400 - 200 and 2,000 - 1,000 "
                 "sessions; 493 k before at 2,000 - 1,000), 361 k on 7.88.1.")
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
        res["when"] = when_now(load_start=load0)
    finally:
        server.close()
    return res


def turn_log(res):
    return "; ".join(f"{s}: " + (f"{r.get('diff_us_p50')} us beyond raw libcurl, {r.get('verdict')}"
                                 if "error" not in r else "FAILED: " + r["error"])
                     for s, r in res.items() if s != "when")


def turn_only(bench_bin, quick, write):
    res = run_turn(bench_bin, quick)
    print(json.dumps(res))
    errors = [r["error"] for s, r in res.items() if s != "when" and "error" in r]
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
    # Over HTTP p99 moves with the run's length (BENCHMARKS.md, otel): 12000
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


# Where the p99 change came from and what was done (prose of the otel
# section, issue 15; measured by hand, not by this run).
OTEL_P99 = (
    "Where the p99 change came from (issue 15: \"no change in p99\"). Measured at e4ed856 and after it "
    "on this machine (2 vCPUs under KVM) while other work loaded it (load 1.5 to 5), with the bench "
    "instrumented for the purpose (not committed): each run's start, end and thread CPU, and the "
    "exporter's drains of the ring, encodings, POSTs and wake-ups, on one clock; each run compared "
    "with the median of its block of 16 (its *excess*) and classed by what of the exporter overlapped "
    "it. At e4ed856 the run that published the record at every 2048th position of the ring (and the "
    "first after a quiet tick) woke the exporter thread: pthread_cond_signal under the queue's lock, a "
    "futex wake of the thread asleep on the other CPU, and in 5 of 31 wakes under strace a second one, "
    "the woken thread having found the lock still held. The call took 16.7 to 21.2 µs (medians of three "
    "alternations), and those runs' excess was +27 µs of the thread's CPU and +29 µs of wall time "
    "(median; p90 +56 and +103 µs): 56 wakes in 4,800 *on* runs, about 1 % of them, which is where p99 "
    "sits. Runs overlapped only by a drain of the ring, an encoding of a batch or a POST (370 KB to the "
    "receiver) were no slower than the others at the median (excess +0.4, 0.0 and 0.0 µs of CPU over "
    "HTTP; with the scripted provider, runs that overlapped a drain had a p90 excess of 2.4 µs, the "
    "same as all runs), and *off* runs overlapped the same way (no observer: nothing of theirs touches "
    "the ring) had the same figures; a busy loop or a memcpy loop pinned to the other CPU moved the "
    "median run of (b) by less than 3 µs. So what the exporter thread does on its own core, its memory "
    "traffic included, does not reach the run; its wake-up did. Now (50472fd, e7f58e4) a run does not "
    "wake the exporter: the exporter reads the ring on its own timer, paced by the rate records come "
    "so that it finds the ring at most an eighth full (from 1 ms to export_delay_ms / 4 while records "
    "come), and a run wakes it only when it finds the ring half full (the exporter did not keep up: "
    "the row *times a run's thread woke the exporter*; with the tick at a quarter, a loaded machine "
    "still saw 5 per 4,800 to 32 per 16,000 runs, each after the exporter had slept ~45 ms on half the rate). "
    "Wakes over HTTP: 56 per 4,800 *on* runs at e4ed856 (~190 per 16,000), 0 and 1 per 16,000 after "
    "(load 2.3), 0 in `make -C bench otel` at e7f58e4 (load 3.1, where the scripted alternation, its "
    "exporter starved, dropped most spans and woke it 31 times). With the "
    "scripted provider (runs of ~10 µs, which the load rarely interrupts) the p99 change of 1000-cycle "
    "alternations went from +6.9, +8.4 and +5.3 µs at e4ed856 to +2.0, +1.5 and +1.3 µs at 50472fd, about the "
    "median cost (1.1 to 1.3 µs), in runs made one after the other (load 2 to 3.3; spans were dropped "
    "in all of them, the exporter thread at nice 19 behind the other work, so the bench's verdict "
    "there is *cannot tell*). Over HTTP the p99 of a loaded machine is its noise (the *off* series' p99 "
    "170 µs to 3 ms, against 160 µs on a quiet machine): the figure above, from a quiet machine, "
    "is the one that says whether p99 changed. What the timer costs: the exporter thread wakes every "
    "few milliseconds while runs come (up to export_delay_ms when none do); its instructions per run "
    "did not change (callgrind at e7f58e4: 22,809 on the exporter thread, 6,674 on the run's side; "
    "22,851 and 6,628 at 2e43968), and its CPU per *on* run over HTTP, 8.5 to 11.6 µs before and 9.2 "
    "to 12.1 µs after in alternations one after the other at load 4 to 4.7, moved less than the load "
    "moves it. A span read after a quiet spell (the ring then read up to export_delay_ms apart) counts "
    "its export_delay_ms from the reading before it, not from its own (37dabdf), so it still leaves "
    "within export_delay_ms of its run's end.\n")


# What the rest of the p99 change over HTTP is (prose of the otel section,
# issue 15, session 15; measured by hand with the bench's --variants,
# --detail and --dump, not by this run).
OTEL_P99_HTTP = (
    "What the rest of the p99 change over HTTP is (session 15). Measured on this machine (2 vCPUs of "
    "an AMD EPYC under KVM, no hardware counters in the guest) while other work loaded it (load 5 to 12), "
    "so in figures the load moves little: the run thread's CPU per run (its CPU clock read around each "
    "run), quantile by quantile, and on / off ratios inside one alternation. The bench keeps what was "
    "used: per-run CPU and quantiles of every series (the rows *on − off quantile by quantile* above), "
    "--variants (the header alone, the recording alone: the *parts* rows), --detail and --dump (per run: "
    "the exporter thread's CPU during it, the run thread's context switches and page faults). "
    "Two threads work during a run over HTTP: the run's own, which drives libcurl itself "
    "(hl__engine_drive_turn under hl_agent_run in callgrind's tree) and runs the tools (one after "
    "another), and the exporter's (perf's cpu-clock samples of the process, --mode on: 95 % and 5 %); "
    "the model server, pinned with the run, takes turns with it. It is a stretch, not a tail of its own: on − off of the run thread's CPU grows with the quantile "
    "as the quantile does (2000 cycles, load 6.2 to 7.4: +6.0, +8.6, +9.7, +10.0 and +12.1 µs at p50, "
    "p75, p90, p95 and p99; on / off 1.074, 1.075, 1.067, 1.065, 1.060; wall time 1.054 to 1.060 from "
    "p50 to p99), and the quiet run at e21df6a had the same ratio at both ends (5.72 / 87.9 = 6.5 % at "
    "the median, 13.1 / 194.9 = 6.7 % at p99), while with the scripted provider the difference is the same at every quantile "
    "(+2.0, +1.7, +1.9, +1.9, +2.1 µs of wall time from p50 to p99, 4000 cycles, load 7.6 to 8.9): a "
    "constant there, a stretch over HTTP. The same instructions take 2.3 to 2.5 times as long at "
    "p99 of the run thread's CPU as at its median (what the model server, the kernel and other work "
    "leave in the caches), and the exporter's work on the run's thread is slowed like the rest of the "
    "run. Nothing distinct sits in the tail: of the 1 % slowest runs by wall time, 14 % of *on* and "
    "15 % of *off* ones had the exporter working during them (its CPU clock moved), 43 % and 39 % an "
    "involuntary context switch, none a page fault; the exporter worked during 3 to 4 % of the runs "
    "of every series, observed or not. The live-run table's lock is taken at a run's start and end only "
    "(read from the code): the header function finds the model call's frame on its own thread. Taken apart in one alternation "
    "(--variants, 2000 cycles, load 6.2 to 7.4): the header alone (a fixed line of the same length, "
    "nothing recorded) +2.0 µs at the median (libcurl 7.88 writes request headers a byte at a time: "
    "below), the recording alone +4.6 µs, both +6.9 µs. The recording's ~7k instructions cost 1.2 to "
    "1.7 µs back to back (scripted provider) but ~4.5 µs over HTTP, where the model server and the "
    "kernel run on the run's core between two events. Part of that was the ring, as prefetching it showed: a slot's lines were "
    "last read by the exporter on the other core, and a record's stores waited to take them back. A "
    "record now asks for the next slot's lines with the intent to write them as it publishes "
    "(PREFETCHW, e8029c0): the recording alone 4.45 -> 3.60 µs, on − off 6.46 -> 5.70 µs, on − off of "
    "the run thread's CPU at p99 13.7 -> 9.9 µs (medians of 6 alternations of each build, their "
    "processes interleaved, load 8.9 to 11.3; again with the control below in the same alternations, "
    "load 7.9 to 8.5: the recording 4.48 -> 3.74 µs, on − off 6.59 -> 6.03 µs, the control 5.49 and "
    "5.46 µs), for 36 instructions a run. A control in the same "
    "alternation (--variants 2: about the exporter's cost in multiplications on the run's thread, "
    "nothing touched in memory; 2500 cycles, load 8.1 to 9.6) grew less with the quantile: on − off of "
    "the run thread's CPU +5.5, +7.9, +9.6, +11.3, +14.1 µs at p50, p75, p90, p95, p99, the control "
    "+5.7, +6.0, +7.2, +6.8, +8.7. So what makes the exporter's cost grow in slow runs is mostly its "
    "memory: callgrind's cache model of one core (32 KB L1, 1 MB L2, --mode on over HTTP, 400 runs) "
    "puts 16 % of the run thread's last-level write misses in the observer (then ot_on_event; ~23 a run: the ring's slots, "
    "a lap of 4096 slots being 1.5 MB) and ~115 instruction-cache misses a run (its code, evicted "
    "between two events). "
    "So over HTTP the p99 change is the median cost times p99's ratio to the median (~2.2 there on a "
    "quiet machine): ~5 µs at the median (5.72 at e21df6a, ~0.8 less after e8029c0) makes ~11 µs at p99, next to the 10 µs bound, where the rule "
    "(the interval widened by the A/A's bias) cannot decide within the bench's budget: 12000 cycles "
    "(576k runs, about a minute on a quiet machine; the percentile's bootstrap by quickselect, 16.7 -> "
    "2.0 s an interval) narrow the interval and its A/A by about √3 against 4000, to ~±1.5 µs each on a "
    "quiet machine by that scaling, so a change of ~11 µs still reads *cannot tell*; only below ~7 or "
    "above ~13 µs would it not. The run thread's CPU at p99, which waits and preemptions do not move, "
    "is the second figure (rows above): 11.5 [9.7, 13.6] µs with an A/A of [-1.5, 2.3] µs at 12000 "
    "cycles and load 7.6 to 8.9, the wall-time p99's A/A there [3.1, 17.0] µs. To be under 10 µs with "
    "room for the method's bias the run's side would have to cost ~3 µs at the median over HTTP, i.e. "
    "lose the header's ~1.6 to 2 µs (libcurl's work on the line, which only a libcurl that copies a "
    "header line at once would remove) or half the recording's ~3.5 µs (a run of (b) writes 12 records, "
    "two per span; one per span, written when it ends, would be 6, a change of the tracer in otel.c "
    "that was not made this session). "
    "Session 16 cut the recording's code as the events meet it: cold, each event after a model call "
    "or a tool on the run's core. The observer was one 8 KB function (a switch, shared record code, a "
    "second switch for the strings, helpers out of line), so one event's path ran across 20 to 37 "
    "lines of it plus 2 to 4 per helper; it is now one straight function per event type "
    "(hl_observer_new_ops, which the library calls by type with no dispatch between), with every "
    "rare path out of line (a full ring, drops, unsampled ends, error text, captured content, "
    "forgotten frames, a run known only from the live table), and the library's own delivery keeps "
    "its rare paths (a pending error's 1 KB copy, a changed set of global observers) out of line "
    "too: distinct 64-byte lines of code run by the 12 events of a run, 695 -> 460 (callgrind "
    "--dump-instr, scripted provider, summed over the events). The thread's library state and the "
    "exporter's frames are found through initial-exec pointers (one load each) instead of a "
    "__tls_get_addr() call each, two per event. Run-side instructions, on − off: 7,302 at 8ce875a, "
    "5,721 now (callgrind row above). Timed in alternations of the two builds on a loaded machine "
    "(load 4 to 9, 8 of each, interleaved): the recording alone 3.91 -> 3.12 µs, on − off 6.50-7.51 -> "
    "5.26-6.22 µs. In the make bench run at f54e1e8 the parts were the header 2.06 µs and the recording 2.08 µs (2.63 at "
    "070824c), and on / off at the median 1.053 (1.068 at 8ce875a, 1.058 at 070824c); the absolute "
    "figures are not comparable with the earlier runs', because this machine ran everything slower "
    "that day: the *off* series' median 123.0 µs over HTTP and 15.4 µs with the scripted provider, "
    "against 80.3 and 10.0 µs at 070824c. The p99 change tracks the run's length, as the stretch "
    "above predicts, so it stays at the bound.\n")


# How the exporter keeps its cost down (prose of the otel section; the
# figures above it come from the run).
OTEL_HOW = (
    "How the exporter spends its instructions (hooks/otel*.c). On the run's side, per event it "
    "reads: the thread's frames (one thread-local look-up), ids from a generator kept there, a "
    "slot of a lock-free ring claimed with one compare-and-swap, a few short strings copied into "
    "it (one strlen and one memcpy each), the next slot asked for with the intent to write (PREFETCHW, "
    "above); no JSON, no malloc (unless content is captured), no "
    "lock but at a run's start and end (and at the first event of a run on a thread that has no "
    "frame of it: a parallel tool's worker). A run is named in its records by a number given at "
    "its start, not by its invocation id: that id is copied once (AGENT_START), and the exporter "
    "finds the run by comparing numbers; a TOOL_END names its span by id: ~4.3k a run of (b) "
    "(ot_on_event, inclusive, at 070824c; the observer is one function per event type since "
    "session 16, below). The library's delivery of the 12 events to any observer that "
    "wants them is ~2.0k a run, 168 instructions an event (2,013 at 8df35bf, 2,978 at cb31b03: "
    "hl__emit inclusive less the exporter's callback, callgrind, the run's thread): filling the "
    "event and reading the clock, one thread-local look-up (one load of an initial-exec pointer "
    "since session 16; the caller's last error, saved and "
    "restored around the callbacks, and the library's test counters share one block per "
    "thread; there were two look-ups, three for a tool's events), the run's snapshot of the "
    "global observers compared with the current one, then per observer a test of the types it "
    "wants and its callback by one indexed load (function and struct-style alike; the delivery "
    "is inlined, the built-in observers go out of line). LM_START's prompt estimate costs the "
    "same at any history length (the session keeps its history's text size; see hook_history). "
    "Over HTTP the run's side also writes the "
    "traceparent header of each model request: in place (hex ids between fixed fragments, no "
    "snprintf), ~500 instructions a request (hl_trace_header and the exporter's header function, "
    "inclusive), and libcurl then spends ~6,000 more on the extra line: libcurl 7.88 appends each "
    "header line to the request through its own printf (\"%s\\r\\n\"), one byte at a time "
    "(a dynbuf append, a memcpy call and the formatter per byte, ~90 instructions a byte; this line "
    "is 68 bytes, 55 of them the W3C value). Counted at a7050aa under callgrind with a libcurl 7.88.1 "
    "built with symbols from its source (LD_LIBRARY_PATH), otel bench --mode on/off over HTTP, "
    "300 - 100 runs: Curl_add_custom_headers 10.6k -> 16.6k instructions a request, "
    "Curl_checkheaders +250. That header is what the run pays over HTTP beyond the scripted "
    "provider: on - off on the run's side (every thread but the exporter's) 12k to 25k "
    "instructions a run in eight such counts (the loop's turns differ from count to count), "
    "against 6.6k with the scripted provider, and the functions that differ are the header's; "
    "~13.5k instructions, at the scripted rows' rate (6.6k for 1.40 µs of the run thread's CPU), "
    "is ~2.9 µs, about the 2.8 µs by which the HTTP CPU row exceeds the scripted one. libcurl "
    "has no other way to add a request header, so only leaving the header out would remove it, "
    "and issue 15 requires it; every header costs the same per byte (the OpenAI requests' "
    "Content-Type, Accept and Authorization lines: the 10.6k a request above; non-streamed calls send no Accept line since 53f5ea7, see concurrent_slow). The exporter's "
    "own OTLP requests do not touch the runs' loop: its easy handle is driven by "
    "curl_easy_perform() on its own thread. A request of a run "
    "the exporter does not observe takes no lock to find that out (a counter of runs in "
    "progress, read first). "
    "It asks only for the events it reads (not TURN_START or TURN_END: a turn's spans are "
    "handed over at the next model call's start), and the library saves and restores the "
    "caller's last error once per event for all observers, not per observer. On the exporter "
    "thread, each record's attributes and events are encoded as OTLP JSON once, when the record "
    "is read, into buffers of its span (no tree, no cJSON, keys as constant fragments, no NUL "
    "written per fragment); the export copies them behind the span's ids (hex four bytes per "
    "64-bit word, a run's trace id written once per batch) and times (digit pairs, the seconds' "
    "digits reused); spans are recycled with "
    "their buffers (one malloc per span until the pool is warm, none after), given back once "
    "their batch is encoded (before its POST, which evicted them), and fetched one ahead, as the "
    "tracer takes them from the pool and as the encoder writes a batch, whose end is found after "
    "its encoding: pooled and queued spans were last touched a batch (~1 MB) before, and perf "
    "(cpu-clock samples of the exporter thread, scripted alternation) had put ~15 % of its time "
    "on the load of a pooled span's link, ~8 % on the walk to a batch's end and ~5 % on the "
    "recycling walk after the POST (9 %, off the top twelve and 1 % after, at a7050aa); metrics are "
    "aggregated in place when spans are handed over, from strings the span kept, trying the "
    "point each kind of measurement last went to first. One libcurl easy handle lives as long as "
    "the exporter thread, so its connection is kept from request to request, and the body is "
    "passed by pointer and size (CURLOPT_POSTFIELDS, no read callback). What is left of the "
    "exporter thread's count is mostly copying bytes: libcurl copies the request body into its upload buffer "
    "(rep movsb, which callgrind counts one instruction per byte, ~4k a run), and the count "
    "includes the growth and final release of the span pool, which the 100-run and 300-run "
    "processes reach at different sizes. The exporter thread's figure moves by a few thousand "
    "from one count to the next (19.8k to 23.2k in four counts at 66eea45): how the spans are cut into requests "
    "depends on timing, and each request is ~80k instructions and a body copy; its own code "
    "(the tracer, the JSON, the metrics) is ~17k a run of (b). Besides that copy, a request costs libcurl ~80k "
    "instructions (measured on loopback with a kept connection): ~150 a span, ~1k a run of (b), "
    "at the default batch of 512 spans (the OpenTelemetry SDKs' default).\n")


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


# Hand-measured notes of the Python section (callgrind counts repeat exactly
# from run to run; they are updated by whoever measures them again).
PY_SANDBOX_NOTES = [
    'Instructions (callgrind). Cold create, `hl_sandbox_new` in a fresh process: 66,791 '
    "(317,384 before issue 18's last round, of which 201,387 read and summed the template's "
    'data with a one-chain hash and 60,045 filled the function table); 47,468 of them are '
    "glibc's malloc consolidating the small chunks that start-up freed, the first time its "
    "heap has to grow (the vm's calloc happens to be that allocation). The image's checksum "
    '(now an 8-lane sum over the mapped data, ~115,000 instructions) and the function table '
    "moved to the first execution: the process's first `1+2` is 400,120 (236,994 before), so "
    'create and first execution together are 467,000 instead of 554,000. Page faults of the '
    "create went from 37 to 9 (no buffer for reading the file, the function types' registry "
    'no longer written, no table copy). Booting MicroPython instead is the no-file column. '
    'Per execution (`hl-bench-sandbox-py --profile CODE WANT 200` under `valgrind '
    '--tool=callgrind --toggle-collect=profiled_loop`, the count divided by 200), before '
    "issue 18's Python round (measured again at 5b3d363): `1+2` 156,971; `await host(x=41)` "
    "442,791 = 394,752 inside the MicroPython module (compiling the source, the prelude's "
    "event loop, JSON and exceptions in MicroPython) + 48,038 of hookline's own code and libc "
    '(the invoke_* setjmp trampolines, malloc, number formatting). After it (f392341): `await '
    'host(x=41)` 74,470 = 58,484 + 15,986 (69,476 per execution in steady state, the count '
    "with N = 400 less the count with N = 200, divided by 200: the profiled loop's first "
    "executions check the template's image; 429,344 so before the round), `1+2` 25,689 = "
    "18,245 + 7,444 (at ee8888e), less than the JavaScript guest's callback counted the same "
    'way at f392341 (78,875). The steps, each measured alone: a code cache inside the guest '
    "(a source run again is not parsed and compiled again: the host sets MicroPython's "
    "top-level-await flag, whose address it learns from the module's own exec export, around "
    "the prelude's `compile()`, and the prelude keeps the code objects while the host keeps "
    'the exact source bytes of each slot) and a lean path for one awaited callback (a for '
    'loop drives the code and makes each lone call at once, no task, no StopIteration; the '
    "call's arguments go to the host as they are and an integer or null answer comes back as "
    'itself; the value comes back as itself when it is a bool or a small integer) 442,791 -> '
    '105,606; Python given a slot number instead of a str of the source (every new str costs '
    'MicroPython a scan of all interned strings, ~5,600 instructions) -> 102,116; '
    "`__builtin_setjmp` in the invoke_* trampolines (~100 per callback execution; glibc's "
    'setjmp under ASan and TSan) -> 98,782; the top-level event loop reused while empty and '
    'the hot calls inlined (each Python call is an nlr_push, each new instance a growing '
    'dict) -> 83,588; the request made without an `__init__` call and the driving loop '
    'inlined -> 75,849 (calling a function made once from the cached code instead of `exec()` '
    "was tried: 76,751, reverted); one callback run without a batch's allocation, mutex and "
    "condition variable (both guests; JavaScript's callback 80,264 -> 78,875) -> 74,470. What "
    "is left of the module's share (at ee8888e) is MicroPython running the prelude and the "
    'code (~12,800 in its bytecode loop, ~4,700 in dictionary lookups), creating the '
    "arguments' JSON (whose new str is one more scan of the interned strings, ~5,400) and "
    "exec()'s new function and generator; hookline's own is the call's path to the tool and "
    "back (`_hl.call` to the answer: schema validation, the request's record, ~4,300) and the "
    "trampolines (~6,000). The arguments' JSON is the largest single part left: with "
    '`dumps(kwargs)` replaced by a constant text the execution is 64,099 instead of 75,849 '
    "(measured at ee8888e); a host-side writer reading MicroPython's dict from guest memory, "
    "as qjs_args_json.c does for QuickJS's objects, would take most of it away. A source is "
    "compiled into the cache at its second run; its first takes the module's own exec, as "
    'before the cache: compiling into the cache costs ~25,600 instructions more than that '
    '(the text compile() reads is a new str, a scan of the interned strings; the code object '
    "and exec()'s function are made apart), which code run once (a model's, mostly) would "
    'otherwise pay. 40 different sources in a fresh sandbox (each a list, a dict and a last '
    'expression): 14,750,642 instructions at 87d229d, 14,694,893 at 5b3d363 before the cache '
    '(+1,400 an execution: the host keeps the key), 15,719,753 when every first run compiled '
    'into the cache; ~200,000 of each execution is the garbage collection that compiling '
    "triggers. With this, the profiled loop's first two executions take both paths: `await "
    'host(x=41)` is 75,271 by the count divided by 200 at 87d229d, 69,476 in steady state as '
    'before.',
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
    "relay before measuring and checked to arrive byte for byte the same from both clients. The two "
    "alternate in short blocks as in the otel section (cycles of three blocks of 16 runs: hookline, "
    "raw, raw again, in rotating order); the difference is the median of the per-cycle differences "
    "of the blocks' median runs, with a distribution-free 95 % interval, and raw again − raw by the "
    "same estimator is the A/A control. The verdict is the otel section's rule: *met* only when the "
    "whole interval, widened on both sides by the A/A's bias (the end of its interval farther from "
    "0), is below 10 % of the raw run's median, *not met* when all of it is above, else *cannot "
    "tell*. The JS row divides each JS SDK's overhead in the (b) table by hookline's, and takes "
    "the smallest.")


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
        w("Where hookline's cost beyond raw-curl goes (issue 12; counted with valgrind at small N, which the machine's load does not change; the mock server is another process and not counted). CPU: callgrind's user-space instructions per session, the difference between runs of 400 and 200 sessions of the asynchronous API: raw-curl 211 k; hookline-async 530 k at 4eee397, 501 k at 24f1c29 (a tool's parameter schema goes into each request by reference, no deep copy), 379 k at 5317cfb (505 k at 862887b, same method, mock server answering after 20 ms): the Chat Completions request written straight into one buffer instead of a cJSON tree then printed (the tree an API_REQUEST observer gets is parsed back from the text, only when one listens; 505 k -> 414 k), the answer parsed into an arena (one block instead of two or three allocations per value; plain strings copied whole, short integers read without strtod; 414 k -> 379 k): hookline's own share 294 k -> 168 k. Allocations per session (callgrind's calls of malloc, calloc and realloc): ~605 at 862887b, ~275 at 5317cfb, raw-curl ~109. What is left beyond raw-curl, per session (inclusive counts, which overlap a little): ~20 k more instructions inside libcurl than raw-curl spends there (~12.5 k of it in one function of the stripped libcurl that sets up a transfer's connection, parses the URL and reads the proxy variables, i.e. where its connection cache is scanned for a reusable connection: at 200 to 400 sessions each loop keeps every connection in one multi handle, engine.c's partitions being 512 transfers, where raw-curl spreads them over 16 multi handles, and the scan grows with N, so the 400 - 200 difference charges it more than the sessions of a smaller run pay; the connection and total timeouts are not it: without them 1.6 k less), parsing the two answers ~36 k, the three tool calls ~24 k (a call record, the around chain, schema validation, the results message), writing the two requests ~18 k, copying each answer into the history and freeing messages ~15 k, the HTTP layer's start of a request ~19 k (7 k of it libcurl's easy handle init or reset). Request headers (53f5ea7): libcurl 7.88 writes each custom header line through its own printf, one byte at a time (~90 instructions a byte), so a non-streamed model call no longer sends an Accept line (no wire, OpenAI, Anthropic or Gemini, requires one; the empty \"Accept:\" also keeps libcurl's own default out; streamed calls keep Accept: text/event-stream): hookline-async 357.1, 359.9, 359.8 k -> 355.3, 353.7, 354.6 k instructions per session (3 runs each, same method, libcurl 7.88.1; libcurl's request writer 5.3 k less per session); Content-Type and the key's header stay, every wire requires them. Where the rest of libcurl's start of a request goes, per request (same counts, the stripped libcurl's exported functions): curl_url_set parsing the URL 5.6 k, curl_url_get 10.9 k (7.1 k of it rebuilding the whole URL through the same byte-at-a-time printf), inet_ntop of the connection's addresses 5.2 k (three calls, libcurl's socket filter on every transfer), one more curl_maprintf per request 3.2 k (its caller unnamed in the stripped library; likely the Host line). The URL work went at 3d45cb2: each HTTP client parses a request URL once (lib/net/url_cache.c, up to 8 URLs per client) and hands the parsed handle to libcurl with CURLOPT_CURLU next to CURLOPT_URL, so that libcurl duplicates it instead of parsing the URL and rebuilding it for every transfer: 355.3, 353.7, 354.6 k -> 330.1, 330.5, 324.5 k instructions per session (3 runs each, same method; curl_url_get and curl_url_set 25.6 k less per session); raw-curl 211.0 k and 212.5 k in two counts of the same build: hookline-async's own share is then ~117 k per session, from ~148 k. Session 10 (same method; 3 runs each of a build without the sandbox, tests and examples, so that 864e266 and the new code were built alike): 331.0, 332.1, 331.0 k at 864e266 -> 316.6, 318.3, 316.7 k at 7003d9f per session, i.e. hookline's own share ~120 k -> ~106 k: the request URL, the key's header line, a child's branch and the invocation id copied instead of written by snprintf (call_prepare and hl__ctx_new, ~4.3 k per session less in those two functions' inclusive counts; 325.7-328.8 k after it alone); the JSON parser's arena allocation and its check for blanks between tokens inlined, the slow halves (a new block; a blank, which compact server JSON does not have) out of line (the arena parse of the two answers 14.7 k -> 12.0 k each; 316.9-319.3 k in the full build, 326.7-328.0 k before); hl_json_get walking an object's members itself, the first byte compared before strcmp, instead of cJSON_GetObjectItemCaseSensitive (the answer's decoding looks up ~16 keys: 2.7 k per session less in hl_json_get's inclusive count, within the totals' spread on its own). What is left of the answer and the tool calls, per session: the arena parse ~24 k, decoding the tree into a response ~13 k (the three arguments strings parsed into trees of their own that the message owns ~4 k, the call parts' ids and names copied ~2.3 k), the assistant message cloned into the history ~5.6 k (its arguments trees cloned again), each tool call ~4.2 k (the around chain, schema validation ~1.1 k, the bench's tool itself ~1.1 k), the results message ~2.8 k (three copies per result). Session 11 (same method, 3 runs each, a build without the sandbox, tests and examples): 319.5, 320.7, 318.8 k at 4893d9e -> 303.2, 306.2, 304.7 k per session at c0a50c4 (raw-curl 210.8 k and 210.5 k in the same build: hookline's own share ~109 k -> ~94 k): the JSON printer's strings scanned eight bytes at a time (the word test the parser already used, now shared: lib/core/json_word.h), each clean run copied with one memcpy and escapes written in place instead of byte by byte, the buffer's room checked inline (write_request 18.1 k -> 16.3 k per session; 315.5, 314.8, 315.2 k after it); the results message taking each result's text instead of copying it again (hl_batch_end 4.9 k -> 4.2 k); the history taking the model's assistant message instead of a deep copy of it and its arguments trees, the response borrowing it back for the turn's tool calls and TURN_END observers, which only read it (hl__turn_response 8.0 k -> 1.95 k per session; 313.8, 312.7, 313.9 k before it). What is left of hookline's own, per session (inclusive counts): the arena parse of the two answers ~24 k (its strings ~14 k), writing the two requests ~16 k (their strings ~8.5 k, the tool's schema printed again for each ~2 k), decoding the answers ~13 k (the three arguments trees ~3.9 k), the three tool calls ~12 k (the around chain, schema validation ~1 k each, the bench's tool), freeing the session's history ~6.4 k. Then (eb19cf9) the agent keeps its instruction as one system message that requests borrow with the history (an editing hook still gets a copy) instead of building and freeing one per model call: hl__build_request 4.1 k -> 2.45 k and hl__request_release 1.9 k -> 1.07 k per session; totals 304.1, 305.4, 302.3 k, within their spread of the 303.0-306.8 k before it. And (2cf194e) the printer stores a string's clean run word by word as it tests it instead of finding its end first and copying it with a memcpy call: put_string_n 8.5 k -> 7.4 k, write_request 16.15 k -> 15.07 k per session; totals 301.8, 304.9, 300.6 k (hookline's own share ~92 k). Round 2 (same method, 3 runs each, a build without the sandbox, tests and examples; 293.1, 293.1, 295.1 k per session at 8e38bf9 in that build): a plain string of an answer shorter than 16 bytes (most keys and values) copied into its arena slot, which is at least 16 bytes, as one fixed 16-byte move instead of a memcpy call, when the text has the 16 bytes to read (dcfed6a; memcpy calls from the parser 78 -> 13 per session, jp_string 13.59-13.96 k -> 13.32-13.38 k per session, totals 293.8-296.0 k, within their spread; storing each plain string into the arena word by word as it is scanned, as the printer does, was tried and not kept: jp_string stayed at 13.64-13.71 k, the stores and the test for them costing what the memcpy calls did, and what is left of jp_string is ~170 instructions for each of ~81 strings per session, spread over the word test, the arena slot and the call); each tool's schema printed once when it changes (9ebcdff, lib/core/tool.c) and copied into every Chat Completions request whose declaration is still that tool's own tree (the agent loop's borrowed declarations; a copy a hook edits is printed as before), instead of printed again per model call: write_request 15.07 k -> 11.63 k per session, totals 293.0, 293.1, 292.5 k; each thread keeping the first block of its last arena parse for its next one (81c0bf5; up to 8 KB per thread since the next commit, 64 KB at first: an application's threads keep theirs as long as they live; freed at the thread's exit) instead of a malloc and a free of a few KB per answer: hl__json_parse_arena 23.69-23.89 k -> 22.84-22.92 k and hl__json_arena_free 0.49-0.53 k -> 0.33-0.35 k per session, totals 291.8, 290.2, 289.2 k. inet_ntop and the Host line are libcurl's own, paid by raw-curl too. The kernel's share, which callgrind does not see, was mostly thread hand-offs: `strace -c` at 1,000 sessions counted ~23 futex calls and ~5 mprotect calls (glibc growing the loop's and workers' malloc arenas) per session, raw-curl none (counted before 5317cfb, which did not change the hand-offs; what c1323e8 left of them is below, with the futex calls). Memory: heaptrack's peak heap with 1,000 sessions in flight: raw-curl 17.4 MB (16.5 MB in the 5317cfb run); hookline-async 24.4 MB at 4eee397, 21.8 MB at 6d5f208 (a run's model error message, an LLM call's model name, path and traceparent allocated only when used, the request body shrunk to its length), 21.3 MB at 5317cfb, i.e. hookline's own 6.9 KB -> 4.3 KB per in-flight session at 6d5f208: the run 1.5 KB (1 KB of it its outcome message buffer), the HTTP call 0.9 KB, the LLM call 0.7 KB, the request body 0.9 KB, the context 0.4 KB.\n")
        w('Peak RSS per session in flight (issue 12, measured at bb2fd17 by running hl-bench-slow directly against a fresh mock, one system after the other; getrusage\'s peak RSS, which the machine\'s load barely moves; "before" is 3621879 built without the sandbox, tests and examples): hookline-async 36.1 -> 32.4 MB at 1,000 sessions, 84.2 -> 71.2 MB at 3,000, 247.5 -> 201.7 MB at 10,000, i.e. ~24 -> ~19.4 KB per session beyond ~13 MB that does not grow with N; the blocking mode (a thread per session) 62.3 -> 52.9, 153.6 -> 140.2 and 454.4 -> 429.8 MB. raw-curl in the same runs: 31.1, 69.4 and 204.1 MB (19.35 KB per session): hookline-async now costs what the raw libcurl loop costs. What went (heaptrack, with a libcurl 7.88.1 built with symbols from its source so that its allocations have names): libcurl\'s receive buffer, held by every request in flight, 4 KB -> 1 KB (CURLOPT_BUFFERSIZE at libcurl\'s minimum for requests that stay HTTP/1.1; 4 KB kept where HTTP/2 may be negotiated, since 7.88\'s HTTP/2 layer keeps a stream\'s DATA in it: 8be4eb3, -3.4 KB per session; undone in 6e4d3f7, 4 KB again: with 1 KB, libcurl 7.88 no longer saw a server\'s bytes beyond its Content-Length and left them on a pooled connection for the next request, which the fault suite caught; back to 1 KB for plain HTTP/1.1 at f7aa795, 4 KB kept over TLS and where HTTP/2 may be negotiated: it is safe now because the receive buffer no longer decides it. 4 KB had only hidden the defect for small answers (libcurl closed the connection when the excess came in the same read as the body\'s end; excess arriving later, or after a body larger than the buffer, still reached the next request, and tests/faults excess_50ms_after_answer_* showed it with 4 KB). Now every transfer goes through a reuse guard (lib/net/reuse_guard.c): before a request is sent on a pooled connection that served HTTP/1.x (by configuration, or over TLS by ALPN\'s choice; never an HTTP/2 one), libcurl\'s pre-request callback peeks at its socket, and a connection holding bytes nobody asked for is shut down, so that libcurl resends the request on a fresh one; the fault suite\'s content_length_too_short_* and excess_* rows pass with 1 KB in the normal and ASan builds. Since be387ab every transfer is armed and a connection is recorded when its response was HTTP/1.x (by local port and socket inode), so that https:// in the default mode against a server that offers only http/1.1 by ALPN is covered too (tests/faults excess_*_tls); its cost (callgrind, hl-bench-slow --api async, 400 sessions, inclusive counts of the guard\'s functions): ~340 instructions per HTTP/1.1 request, ~120 more than when only transfers set to HTTP/1.1 had it (one more getinfo and an fstat; a request costs ~186 k), and ~120 per request of the h2tls row (an early return and one getinfo, no system call). Measured then with hl-bench-slow --api async at 3,000 sessions, 3 runs each, getrusage\'s peak RSS at load 7-9: 78.2, 76.9, 78.4 MB with 4 KB, 70.1, 69.8, 70.6 MB with 1 KB, ~2.6 KB per session less); the run\'s failure message, a 1 KB buffer in every run, allocated to its length only when a run fails (b10f1b2, -0.7 KB); libcurl\'s TLS session cache, 840 bytes that 7.88 allocates in every easy handle at its first transfer even over http://, replaced by one share for all handles, which also lets one handle resume a session another learnt (2b2a905, -0.8 KB); a model call\'s SSE parser and first-bytes buffer only for streamed calls, the wire\'s fixed header only for Anthropic (768d3c8: the call 808 -> 392 bytes; 70.8-71.2 -> 68.6-70.6 MB at 3,000 sessions). What is left per session at the peak (which comes when the first answers arrive, so it also holds up to one loop turn\'s worth of answers being buffered): libcurl ~14 KB, the same as raw-curl\'s (its easy handle, struct Curl_easy, 5.6 KB per request in flight; the connection 1.2 KB; its HTTP request state 0.75 KB; the receive buffer; socket-hash, header and connection-filter entries), and hookline\'s own ~4 KB at bb2fd17 (the HTTP call 1 KB, the LLM call 0.8 KB (0.4 KB at 768d3c8), the request body and its headers 0.7 KB, message part arrays 0.8 KB, the run 0.5 KB, the context 0.4 KB). Session 11 (issue 12, measured by running hl-bench-slow directly against a fresh `hl-mock-server 0 --delay-ms 1000`, 4893d9e before, same build options): hookline-async at 10,000 sessions 192.5-194.8 -> 179.4-180.5 MB peak RSS at 574d9a7 and 177.3-179.2 MB at ee1cc78 (3 runs each, ~1.5 KB per session less); massif at 2,000 sessions, peak heap plus malloc\'s own overhead 44.7-45.2 -> 37.7-40.5 MB at 574d9a7 (2 runs each; the peak comes as the first answers arrive, so what it holds moves from run to run); the blocking mode at 10,000 sessions 373.5 -> 357.1 MB (one run each, inside that mode\'s spread of ±20 MB). What went (heaptrack at 2,000 sessions, per session at the peak): the request body, ~0.93 KB, freed once libcurl\'s upload counter says it is sent (CURLOPT_XFERINFOFUNCTION) and encoded again from the request, which the run keeps until the answer, before a retry or a resend of libcurl\'s own on a new connection (called from the engine\'s pre-request callback; 3a3806d); a buffered answer of a known length up to 64 KB given room for that length at its first bytes instead of 4 KB (answers wait there for a worker to decode them, and thousands come at once: 1.87 MB -> 20 KB at the peak; 574d9a7); a message\'s parts array sized for one part, then four at the second, instead of four at once (a one-part message 224 -> 56 bytes; 20f98d7); the context\'s hook and observer stacks, input and branch in the context\'s own block (5 allocations -> 1; 1b012b1); the LLM call\'s URL and key header line made once per provider, its wire pointed to rather than copied, up to 6 header pointers inside it (3 blocks less; cf4fcc2); the HTTP call\'s redacted URL and a non-HTTP reply\'s first bytes made only when a message needs them (952 -> 824 bytes and a block less; a8bc2df); the session\'s ids in the session\'s own block (5 allocations -> 2; 955ba80). The resend path has its own fault row (tests/faults connection_closed_unanswered_on_reuse: a keep-alive connection closed after reading the next request, which libcurl sends again by itself with the body made again). CPU did not rise: 316.3-318.1 k -> 312.0-314.5 k instructions per session (callgrind, 400 - 200 sessions against --delay-ms 20, 2 runs each). libcurl 8.14.1 (build-curl8) passes the providers, faults and engine suites with these cuts. Left of hookline\'s own per session in flight (heaptrack): the HTTP call 0.84 KB (256 bytes of it libcurl\'s error buffer, which libcurl writes during the transfer, so it cannot be shared or made late), the context 0.48 KB, the run 0.48 KB, the LLM call 0.41 KB, the session 0.31 KB and its state object, the request 0.12 KB, and the history\'s messages and cJSON nodes. A blocked run (the blocking mode) holds the same heap as an asynchronous one; of its thread\'s static TLS (below), libhookline\'s 3.5 KB are the last-error state (1,296 bytes), the abort message (1,024) and otel\'s (1,040), left as they are: the error buffer is there so that an out-of-memory failure can be reported without allocating. Later in session 11 (issue 12) the abort message and otel\'s frames went out of the static TLS: the message is allocated when a hook aborts (00cb5be; out of memory: a fixed "aborted (message lost: out of memory)"), otel\'s frames at a thread\'s first record (868b3e4), both freed at the thread\'s exit by a pthread key\'s destructor, so libhookline\'s static TLS went 3,552 -> 1,480 bytes (readelf PT_TLS MemSiz; the error state and a few pointers and counters left); a program that only starts 10,000 idle threads with 64 KB stacks peaks at 131.4 -> 91.6 MB with libhookline linked (83.8 MB without it; 3 runs each, within 0.3 MB), the blocking mode at 10,000 sessions 350.1-360.2 -> 325.6-335.7 MB (3 runs each, run directly against a fresh mock), and the asynchronous API\'s instructions per session did not move (callgrind, 400 - 200 sessions against --delay-ms 20, 2 runs each: 297.6-298.4 k before, 298.0-299.3 k after, within the spread of repeated runs). The blocking mode pays its threads on top: a thread\'s touched stack, glibc\'s thread block and static TLS (6 KB, 3.4 KB of it libhookline\'s error, abort and otel buffers, zeroed at every thread\'s creation), its malloc tcache (GLIBC_TUNABLES=glibc.malloc.tcache_count=0: 137.6 -> 129.3 MB at 3,000 sessions, ~2.8 KB per thread). Measured with a program that paints its threads\' stacks (1,000 threads, each one blocking run of (b)): median stack use 18.6 KB per thread at bb2fd17, 14.6 KB at a1dbbf7 (a turn\'s parallel helpers on the stack only up to the default\'s seven, not 63: 4.5 KB), 12.8 KB at 9318567 (the failure messages of after_model, TOOL_END and a call skipped after an abort on the heap instead of 1 KB buffers under every tool call); the blocking mode then 122.7-129.0 MB at 3,000 and 371-400 MB at 10,000 sessions (4 runs at 8df49e2; 454-513 MB in 3 runs of 3621879: this mode\'s peak moves by ±20 MB from run to run, with how many threads happened to drive the loop), hookline-async 196.4 MB at 10,000. A thread that drives the loop itself goes deeper (22 KB; 3 KB of it loop_turn\'s epoll batch), but with thousands in flight the loop thread drives. glibc\'s malloc arenas are not where it goes: GLIBC_TUNABLES=glibc.malloc.arena_max=1 moved peak RSS by less than the run-to-run spread (about 2 MB at 1,000 and 3,000 sessions). So ≤ 150 MB at 10,000 sessions is below what one libcurl 7.88 easy handle and one HTTP/1.1 connection per session in flight cost (raw-curl\'s 204 MB): it needs fewer of them than sessions in flight (HTTP/2 multiplexing where the server offers it, or requests queued behind a cap). CPU, same method as above (callgrind, 400 - 200 sessions): 366-376 k instructions per session at bb2fd17 (the spread of repeated runs of one build; the loop threads\' interleaving changes how many turns and epoll waits a run takes); hl__redact_into(), which every request runs on its URL, 3,968 -> 355 per session (bb2fd17). The cost per session does not grow with the number in flight: 379 k per session between 1,000 and 2,000 sessions (callgrind, the mock answering after 20 s so that every session is in flight at once; 2,001 connections), as between 200 and 400; so libcurl\'s connection-cache scan per transfer, bounded by engine.c\'s partitions of 512, is not where the rest goes. Futex calls (perf stat -e syscalls:sys_enter_futex, hl-bench-slow against a fresh mock, the asynchronous API, 3 runs per size): at 5433896, 4.0 to 12.4 per session at 1,000 sessions, 5.2 to 11.1 at 3,000 and 3.5 to 10.7 at 10,000 (4 runs; the count moves with the machine\'s load), perf\'s call sites putting nearly all of them on the worker pool\'s one mutex and condition variable (taskpool.c: about half lock contention, a worker signalled under the lock waking only to block on the lock its waker held; half the condition variable\'s waits and signals, about one per job: every finished transfer scheduled its run\'s next step with a lock and a signal of its own, and the woken workers contended for the lock with the loop thread that went on scheduling); at c1323e8, 0.5 to 1.9 at 1,000, 0.5 to 1.3 at 3,000 and 0.2 to 1.1 at 10,000, context switches at 1,000 and 3,000 sessions 3.4 to 8.8 -> 1.0 to 3.3 per session (hookline-async-h2, 1,000 sessions, one run each: futex calls 10.7 -> 1.2): an idle worker sleeps on a semaphore of its own, taken off a stack of idle workers under the lock and posted after it, and only for queued jobs that no worker woken before is on its way to (no signal per job any more, none at a worker\'s dequeue); the event loop holds the steps that one turn\'s finished transfers schedule and queues them with one lock and the wake-ups the batch needs (hl__jobs_hold in lib/core/taskpool.h). What is left (perf record, 1,000 sessions, 517 futex calls in all): those semaphores\' posts and waits (72%), glibc\'s arena locks when a worker frees what a loop thread allocated (15%), the pool\'s lock (7%). User space hardly moved (callgrind, 400 - 200 sessions, 2 runs each): 371 k and 372 k instructions per session at 5433896, 368 k and 371 k at 0a6f7e3: the hand-offs cost the kernel, not instructions. Blocking runs gain too (hl-bench-agent, 5,000 runs, futex calls per run): the sequential tools scenario 7.5 to 8.9 -> 4.0 at c1323e8, 3.9 of them the two helper jobs of each turn\'s three tool calls (none with --parallel-tools 1), each woken so that the calls may run at once and finding them all taken by the run\'s own thread; -> 2.9 at 595a37a, which wakes a thread for a group\'s queued jobs one at a time, for the next as soon as one is taken (calls that wait for each other still all run at once: tests/hooks/test_parallel_defer.c); tools_concurrent50 15.5 -> 11.8 to 12.4; concurrent_slow\'s blocking mode (a thread per session, 1,000 sessions, 2 runs each, per session) 15.1 to 17.1 -> 8.6 to 10.7. mprotect stays at ~5 per session: glibc grows a thread\'s arena (the loop threads\', where libcurl allocates each connection\'s state, are 85% of the calls) a page at a time, and never the same page twice (it keeps the pages it got when memory is freed), so it is paid once, up to a process\'s peak of sessions in flight, not per session of a long-running server; GLIBC_TUNABLES=glibc.malloc.arena_max=1 takes it to 0.02 (the main arena grows 128 KB at a time) but raises futex calls to 2.4 to 4.4 per session (arena lock contention), an application\'s choice and no gain. Tried and not kept, no effect beyond the noise of their time: signalling the pool\'s condition variable after unlocking (more futex calls), --parallel-tools 1 (no helper jobs for the three tool calls: 376 k instructions, futex calls within the spread), transfer partitions of 64 instead of 512 (380 k; that trial changed HL_ENGINE_PART_DEFAULT, which the default caps\' share overrides: 8e963e2 capped HTTP/1.1 partitions at 64 transfers, 373 k -> 361 k on libcurl 7.88.1, 516 k -> 408 k on 8.14.1).\n')
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
        w(OTEL_P99)
        w(OTEL_P99_HTTP)
        w(OTEL_HOW)
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
    w("\n" + 'Instructions (callgrind, which repeats exactly from run to run; issue 18). Cold create, '
      '`hl_sandbox_new` in a fresh process: 696,502 before the previous round (480,000 of them '
      "`pthread_getattr_np` reading /proc/self/maps for the main thread's stack, 118,000 "
      "registering the module's function types by linear search and malloc, 18,000 dladdr), "
      "61,534 since, 64,650 now: 47,330 of them are glibc's malloc consolidating the small "
      "chunks that start-up freed, the first time its heap has to grow (the vm's calloc happens "
      'to be that allocation), 11,000 the loader binding functions on first call. The '
      "template's image checksum (an 8-lane sum, ~0.6 instructions per byte) is part of the "
      'first execution: 329,529 instructions for the first `1+2` (199,690 before the file had a '
      'checksum). Per execution (`hl-bench-sandbox --profile CODE WANT N` under `valgrind '
      '--tool=callgrind --toggle-collect=profiled_loop`; each source run again takes its '
      "compiled form from the sandbox's code cache), total = QuickJS inside the pinned module + "
      "hookline's own code: `1` 8,701 = 5,546 + 3,155; `await 41` 61,190 = 57,666 + 3,523; a "
      'pure-JS `await Promise.resolve(41)` 63,061 = 59,422 + 3,639; `await host({x: 41})` '
      '94,851 = 85,328 + 9,523 (97,374 = 85,328 + 12,046 before a callback batch stopped '
      'zeroing its 2.5 KB of worker slots). Inside the module, the async evaluation alone '
      '(`await 41` less `1`) is ~52,000 and `JSON.stringify({x: 41})` ~20,800 (a for-in '
      "serialiser written in JavaScript: 17,800); a promise made by the host with the module's "
      "`QTS_NewPromiseCapability` costs 14,200, more than the prelude's `new Promise` (tried "
      "and reverted). Of `await 41`'s module share (counted again at ee8888e: 60,564 in all), "
      "the protocol's calls into the module are twelve per execution: the evaluation of the "
      'compiled script up to its first await (34,000: the async frame, the result promise and '
      "its resolving functions, the awaited value's promise and its reaction), the job that "
      'resumes it (8,500: `QTS_ExecutePendingJob`, once), and what reads and frees the outcome '
      "(3,800: the promise's state and result, the `value` property of the `{value}` object "
      "that QuickJS's async global evaluation resolves to, four frees, the job-queue and "
      "exception checks); the first two are QuickJS's own async machinery, so the protocol's "
      'share is ~7% of the async cost, and merging its last entries would save a few hundred '
      "instructions of entry and trap set-up. The count per execution stays mostly QuickJS's "
      'own (`await host({x: 41})` 78,875 at f392341, of it ~60,000 the async evaluation the '
      'pinned module does not make cheaper); what the time per execution lost since the round '
      'before (15.6 µs at 8227882) is the hand-off to a worker thread: a lone callback with no '
      'per-callback time limit now runs on the executing thread (f392341), with no batch, no '
      "futex wake-up and no sleep in the round trip, which callgrind's user-space count does "
      'not show.')
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
