#!/usr/bin/env python3
"""bench/mcp_run.py - the `mcp` benchmark: client CPU and wall time per
tools/call round trip against server-everything's `echo`, over stdio and
over Streamable HTTP, for hookline (hl-bench-mcp) and the official
TypeScript SDK client (bench/peers/mcp_sdk.mjs, @modelcontextprotocol/sdk
as pinned in scripts/setup.d/mcp-everything/package-lock.json), the same
server in the same run, alternating, three rounds each; medians reported.

Used by bench/run.py (`make bench`, `--only mcp`); run alone it prints the
JSON and replaces the MCP section of BENCHMARKS.md:
  python3 bench/mcp_run.py --build build [--calls 1000] [--no-write]
Nothing here asserts a timing.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VERSION = "2026.8.31"
MARK_BEGIN = "<!-- mcp benchmark: bench/mcp_run.py -->"
MARK_END = "<!-- end mcp benchmark -->"


def everything_dir():
    cache = os.environ.get("HOOKLINE_CACHE") or os.path.join(ROOT, ".cache")
    return os.path.join(cache, "mcp-everything", VERSION, "node_modules")


def run_json(cmd, env=None, timeout=600):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": str(e)}
    for line in reversed(p.stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {"error": (p.stderr or p.stdout).strip()[-300:] or f"exit {p.returncode}"}


def start_http(index_js):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(["node", index_js, "streamableHttp"], env=dict(os.environ, PORT=str(port)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}/mcp"


def mcp_bench(bench_bin, calls=1000, rounds=3):
    nm = everything_dir()
    index_js = os.path.join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
    if not os.path.exists(index_js):
        return {"error": f"server-everything missing at {index_js} (scripts/setup.sh installs it)"}
    hl = os.path.join(bench_bin, "hl-bench-mcp")
    sdk_env = dict(os.environ, MCP_SDK_DIR=nm)
    sdk_version = json.load(open(os.path.join(nm, "@modelcontextprotocol/sdk/package.json")))["version"]
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "hookline_commit": commit,
           "load_before": round(os.getloadavg()[0], 2), "calls_per_round": calls, "rounds": rounds, "server": f"@modelcontextprotocol/server-everything@{VERSION}",
           "sdk": f"@modelcontextprotocol/sdk@{sdk_version}", "transports": {}}
    server, url = start_http(index_js)
    try:
        for transport in ("stdio", "http"):
            target = f"node {index_js} stdio" if transport == "stdio" else url
            runs = {"hookline": [], "typescript-sdk": []}
            for _ in range(rounds):
                runs["hookline"].append(run_json([hl, transport, target, str(calls)]))
                runs["typescript-sdk"].append(run_json(
                    ["node", os.path.join(HERE, "peers", "mcp_sdk.mjs"), transport, target, str(calls)], env=sdk_env))
            row = {}
            for system, rs in runs.items():
                ok = [r for r in rs if "error" not in r]
                if not ok:
                    row[system] = {"error": rs[0].get("error")}
                    continue
                row[system] = {k: round(statistics.median(r[k] for r in ok), 1)
                               for k in ("cpu_us_per_call", "wall_us_median", "wall_us_mean")}
                row[system]["rounds"] = [{k: r[k] for k in ("cpu_us_per_call", "wall_us_median")} for r in ok]
            h, t = row.get("hookline", {}), row.get("typescript-sdk", {})
            if "cpu_us_per_call" in h and "cpu_us_per_call" in t and h["cpu_us_per_call"]:
                row["cpu_ratio_sdk_over_hookline"] = round(t["cpu_us_per_call"] / h["cpu_us_per_call"], 1)
            out["transports"][transport] = row
    finally:
        server.terminate()
        server.wait()
    out["load_after"] = round(os.getloadavg()[0], 2)
    return out


def fmt(v):
    return "-" if v is None else f"{v:,.1f}"


def mcp_markdown(res):
    out = [MARK_BEGIN, "## MCP client (`mcp`)\n"]
    w = out.append
    if "error" in res:
        w(f"Not measured: {res['error']}\n")
        w(MARK_END)
        return "\n".join(out)
    w(f"One `tools/call` of `echo` at a time against {res['server']}, {res['calls_per_round']} calls "
      f"per round after a warm-up, {res['rounds']} rounds alternating between the clients, medians "
      f"of the rounds. Client CPU is the client process's (every thread), not the server's. Peer: the "
      f"official TypeScript client, {res['sdk']} (pinned in scripts/setup.d/mcp-everything/package-lock.json). "
      f"Target: hookline ≥ 10× less client CPU per call. Run {res.get('date')}, hookline commit "
      f"{res.get('hookline_commit')}, load average (1 min) {res.get('load_before')} before and "
      f"{res.get('load_after')} after on 2 shared cores.\n")
    w("| transport | system | client CPU µs/call | wall µs/call (median) | wall µs/call (mean) | CPU ratio SDK / hookline |")
    w("| --- | --- | ---: | ---: | ---: | ---: |")
    for transport, row in res["transports"].items():
        for system in ("hookline", "typescript-sdk"):
            r = row.get(system, {})
            if "error" in r:
                w(f"| {transport} | {system} | not measured: {r['error'][:80]} | | | |")
                continue
            ratio = fmt(row.get("cpu_ratio_sdk_over_hookline")) + "×" if system == "hookline" and row.get(
                "cpu_ratio_sdk_over_hookline") else ""
            w(f"| {transport} | {system} | {fmt(r.get('cpu_us_per_call'))} | {fmt(r.get('wall_us_median'))} | "
              f"{fmt(r.get('wall_us_mean'))} | {ratio} |")
    w("\nThe wall time is mostly the Node.js server's; the machine is shared, so means wander "
      "more than medians.\n")
    w(MARK_END)
    return "\n".join(out)


def write_section(res):
    # Into results.json too, so that run.py regenerating BENCHMARKS.md from
    # it (--only history --write) keeps this section.
    rpath = os.path.join(HERE, "results.json")
    if os.path.exists(rpath):
        try:
            results = json.load(open(rpath))
            results["mcp"] = res
            open(rpath, "w").write(json.dumps(results, indent=2) + "\n")
        except ValueError:
            pass
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    section = mcp_markdown(res)
    if MARK_BEGIN in text and MARK_END in text:
        a = text.index(MARK_BEGIN)
        b = text.index(MARK_END) + len(MARK_END)
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(path, "w").write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    res = mcp_bench(os.path.join(os.path.abspath(args.build), "bench"), args.calls, args.rounds)
    print(json.dumps(res, indent=2))
    if not args.no_write:
        write_section(res)
    return 0 if "error" not in res else 1


if __name__ == "__main__":
    sys.exit(main())
