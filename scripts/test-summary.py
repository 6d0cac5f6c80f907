#!/usr/bin/env python3
"""Print one closing line over the results of `make test`:
'hookline: N passed, N failed, N skipped'. Exit 1 if anything failed.

usage: test-summary.py BUILD... [--fuzz RESULTS.json]

Each BUILD's meson test log (BUILD/meson-logs/testlog.json) counts one
result per test; --fuzz adds one result per fuzz target from the file that
tests/fuzz/run_fuzz.py writes. A missing log or results file counts as a
failure: the run that should have written it did not finish."""
import json, sys

passed = failed = skipped = 0
args = sys.argv[1:]
fuzz = []
while "--fuzz" in args:
    i = args.index("--fuzz")
    fuzz.append(args[i + 1])
    del args[i:i + 2]


def count(path, key):
    global passed, failed, skipped
    try:
        with open(path) as f:
            for line in f:
                r = json.loads(line).get(key, "")
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif r == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except FileNotFoundError:
        print(f"test-summary: no results in {path}", file=sys.stderr)
        failed += 1


for build in args:
    count(f"{build}/meson-logs/testlog.json", "result")
for path in fuzz:
    count(path, "result")
print(f"hookline: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
