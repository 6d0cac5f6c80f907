#!/usr/bin/env python3
"""Run every fuzz target of a fuzz build for a time, two at a time (the
machine's two cores), and write one result line per target.

usage: run_fuzz.py [--record BENCHMARKS.md] [--runs N] [--jobs J] BUILD_DIR SECONDS [TARGET...]

Each target runs as `TARGET -max_total_time=SECONDS` on its working corpus
BUILD_DIR/fuzz-corpus/TARGET (kept between runs, so coverage accumulates)
plus the seeds make_corpus.py generated in BUILD_DIR/corpus/TARGET. A
finding (crash, sanitizer report, leak, broken invariant, timeout, out of
memory) fails the target; the input is saved as
BUILD_DIR/findings/TARGET-<kind>-<hash> and the report's first lines are
printed. Results go to BUILD_DIR/fuzz-results.json (one JSON object per
line: name, result "OK"/"FAIL", executions, seconds, cpu_seconds (the
target's user+sys time), finding), which
scripts/test-summary.py counts. Exit status 1 if any target failed.
--runs N (make fuzz FUZZ_RUNS=N) also ends a target after N executions,
so a long run stops each target at the goal instead of at the time limit.
--jobs J (make fuzz FUZZ_JOBS=J) runs J targets at a time instead of 2: at
nice 19 on a machine others load, each fuzzer gets a share of its own, so
running every target at once for the whole window gets more done than
rounds of two.
--record (make fuzz) rewrites the FUZZING section at the end of
BENCHMARKS.md: this run's rows replace the same targets' rows, rows of
targets not run this time are kept with the date and commit of their run.
"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time

argv = sys.argv[1:]
record = None
runs = 0
jobs = 2
while argv[:1] in (["--record"], ["--runs"], ["--jobs"]):
    if argv[0] == "--record":
        record = argv[1]
    elif argv[0] == "--jobs":
        jobs = max(1, int(argv[1]))
    else:
        runs = int(argv[1])
    argv = argv[2:]
build, seconds = argv[0], int(argv[1])
with open(os.path.join(build, "tests", "fuzz", "targets.txt")) as f:
    targets = [t for t in f.read().split() if t]
if argv[2:]:
    unknown = set(argv[2:]) - set(targets)
    if unknown:
        sys.exit("run_fuzz: no such target: " + ", ".join(sorted(unknown)))
    targets = argv[2:]

env = dict(os.environ)
env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:" + env.get("ASAN_OPTIONS", "")
env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1:" + env.get("UBSAN_OPTIONS", "")
findings = os.path.join(build, "findings")
os.makedirs(findings, exist_ok=True)


# libFuzzer's entropic schedule keeps every feature seen fewer than
# -entropic_feature_frequency_threshold times (default 255) in its list of
# rare features and searches that list for each feature of each execution.
# The stream targets hit thousands of features that stay under 255 for a
# long time: with the default, that search took 33 % of
# fuzz_anthropic_stream's and fuzz_openai_stream's CPU time and 10 % of
# fuzz_sse's (perf, 12,000-30,000 executions from the accumulated corpus);
# at 32 it takes 1-12 %, and the target's own share of the CPU grows from
# 32 to 52 % (anthropic), 33 to 45 % (openai), 71 to 80 % (sse). The
# schedule still favours inputs with rare features (those seen fewer than
# 32 times); what each execution checks is unchanged.
EXTRA_FLAGS = {t: ["-entropic_feature_frequency_threshold=32"]
               for t in ("fuzz_anthropic_stream", "fuzz_openai_stream", "fuzz_sse")}


def run(name):
    work = os.path.join(build, "fuzz-corpus", name)
    seeds = os.path.join(build, "corpus", name)
    os.makedirs(work, exist_ok=True)
    log = os.path.join(build, "fuzz-logs", name + ".log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    cmd = [os.path.join(build, "tests", "fuzz", name),
           "-max_total_time=%d" % seconds] + (["-runs=%d" % runs] if runs else []) + [
           # A slow input is a finding too, but the machine is shared and
           # loaded: 25 s for one input is far past any real work here.
           "-timeout=25", "-rss_limit_mb=2048", "-print_final_stats=1",
           "-artifact_prefix=" + os.path.join(findings, name + "-")] + EXTRA_FLAGS.get(name, []) + [
           work, seeds]
    start = time.monotonic()
    with open(log, "w") as out:
        # The time limit bounds the run; the extra minutes cover loading a
        # large corpus on a busy machine. wait4 gives the target's own CPU
        # time: on a shared machine at nice 19 the wall-clock rate says
        # more about the other users than about the target.
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        timer = threading.Timer(seconds + 300, p.kill)
        timer.start()
        _, status, usage = os.wait4(p.pid, 0)
        timer.cancel()
        rc = os.waitstatus_to_exitcode(status)
        p.returncode = rc
    took = time.monotonic() - start
    cpu = usage.ru_utime + usage.ru_stime
    text = open(log, errors="replace").read()
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    execs = int(m.group(1)) if m else 0
    corpus = len(os.listdir(work))
    finding = ""
    if rc != 0:
        lines = [l for l in text.splitlines()
                 if re.search(r"invariant failed|ERROR:|runtime error|SUMMARY|Test unit written|"
                              r"^\s+\S.*(differs|depends|changed|status|message|value)", l)]
        finding = "\n".join(lines[:8]) or "exit status %d (see %s)" % (rc, log)
    return {"name": name, "result": "OK" if rc == 0 else "FAIL", "executions": execs,
            "seconds": round(took, 1), "cpu_seconds": round(cpu, 1), "corpus": corpus, "finding": finding, "log": log}


results = []
with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
    for r in pool.map(run, targets):
        results.append(r)
        print("fuzz %-24s %-4s %12s executions in %5.1f s (%.1f s CPU)" % (
            r["name"], r["result"], format(r["executions"], ","), r["seconds"],
            r["cpu_seconds"]), flush=True)
        if r["finding"]:
            print("  " + r["finding"].replace("\n", "\n  "), flush=True)

with open(os.path.join(build, "fuzz-results.json"), "w") as f:
    for r in results:
        f.write(json.dumps(r) + "\n")


WHAT = {
    "fuzz_json": "JSON parser: parse, print, reparse equal, print stable, clone equal",
    "fuzz_schema": "schema check + validate; reparse, not/allOf/const/enum identities",
    "fuzz_sse": "SSE parser: same events whole, in the input's chunks, finely (bytes at the ends)",
    "fuzz_codecs": "message/messages/request/response/session JSON round trips stable",
    "fuzz_openai_body": "OpenAI body decoder; response round trip, re-encodes as history",
    "fuzz_anthropic_body": "Anthropic body decoder; same checks",
    "fuzz_openai_stream": "OpenAI stream decoder; same outcome whole and chunked",
    "fuzz_anthropic_stream": "Anthropic stream decoder; same outcome whole and chunked",
    "fuzz_sandbox_bridge": "JSON into JavaScript, to a callback and back out, unchanged",
    "fuzz_sandbox_source": "raw guest source, small limits: documented status, ends in time",
    "fuzz_store": "store rows: decode or clear error, store round trip, replay deterministic",
    "fuzz_mcp": "MCP answer framing (JSON/SSE, chunked), id matching, result mapping re-encodes, tools/list",
}


def record_section(path):
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                                  cwd=os.path.dirname(os.path.abspath(path))).stdout.strip()
        except OSError:
            return "?"
    here = "%s, %s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                       sh("git rev-parse --short HEAD"))
    rows = {}
    for r in results:
        rate = r["executions"] / r["seconds"] if r["seconds"] else 0
        cpu_rate = r["executions"] / r["cpu_seconds"] if r["cpu_seconds"] else 0
        rows[r["name"]] = "| %s | %s | %s | %.0f | %.0f | %s | %s | %d | %s | %s |" % (
            r["name"], WHAT.get(r["name"], ""), format(r["executions"], ","), r["seconds"],
            r["cpu_seconds"], format(int(rate), ","), format(int(cpu_rate), ","), r["corpus"],
            "no finding" if r["result"] == "OK" else "FINDING", here)
    # Rows of targets not run this time stay, with the run they came from
    # (a section written before the run column existed names it once).
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    section = old[old.index("\n## FUZZING"):] if "\n## FUZZING" in old else ""
    m = re.search(r"^- Date: (.*?); hookline commit (\w+)", section, re.M)
    earlier = "%s, %s" % (m.group(1), m.group(2)) if m else "earlier run"
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| fuzz_") or cells[0] in rows:
            continue
        if len(cells) == 7:
            cells.append(earlier)
        if len(cells) == 8:  # written before the CPU columns existed
            cells[4:4] = ["-"]
            cells[6:6] = ["-"]
        rows[cells[0]] = "| " + " | ".join(cells) + " |"
    table = ["| target | what it checks | executions | seconds | CPU s | exec/s | exec/CPU s | corpus "
             "| result | run |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"] + [rows[k] for k in sorted(rows)]
    short = [k for k in sorted(rows)
             if int(rows[k].split("|")[3].strip().replace(",", "") or 0) < 10_000_000]
    lines = [
        "## FUZZING",
        "",
        "Written by `make fuzz` (tests/fuzz/run_fuzz.py); `make bench` keeps this section. The "
        "latest run: %s ran for at most %d s%s each on its accumulated corpus, %d targets at a "
        "time on a shared %s-core machine (load average %.2f at the end), clang "
        "ASan+UBSan+libFuzzer build. CPU s is the target's own user+sys time (wait4): "
        "exec/CPU s is its speed, exec/s what the shared machine let it have." % (
            ", ".join(r["name"] for r in results), seconds,
            " or %s executions" % format(runs, ",") if runs else "", jobs,
            os.cpu_count(), os.getloadavg()[0]),
        "",
        "- Date: %s; hookline commit %s; %s" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), sh("git rev-parse --short HEAD"),
            sh("clang --version | head -1")),
        "",
    ] + table + [""]
    for r in results:
        if r["result"] != "OK":
            first = next((l.strip() for l in r["finding"].splitlines()
                          if "invariant failed" in l or "ERROR" in l), r["finding"][:200])
            saved = re.search(r"Test unit written to (\S+)", r["finding"])
            lines += ["Finding of %s after %s executions: `%s`%s." % (
                r["name"], format(r["executions"], ","), first,
                " (input in %s)" % saved.group(1) if saved else ""), ""]
    if short:
        lines += ["Below the issue's goal of 10 million executions per target: %s. "
                  "Run `make fuzz FUZZ_SECONDS=N FUZZ_RUNS=10000000 FUZZ_TARGETS=\"...\"` for them."
                  % ", ".join(short), ""]
    if "\n## FUZZING" in old:
        old = old[:old.index("\n## FUZZING")]
    with open(path, "w", encoding="utf-8") as f:
        f.write(old.rstrip("\n") + "\n\n" + "\n".join(lines))


if record:
    record_section(record)
sys.exit(1 if any(r["result"] != "OK" for r in results) else 0)
