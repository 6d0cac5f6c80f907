#!/usr/bin/env python3
"""Print one closing line over the meson test logs of several builds:
'hookline: N passed, N failed, N skipped'. Exit 1 if anything failed."""
import json, sys

passed = failed = skipped = 0
for build in sys.argv[1:]:
    try:
        with open(f"{build}/meson-logs/testlog.json") as f:
            for line in f:
                r = json.loads(line).get("result", "")
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif r == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except FileNotFoundError:
        print(f"test-summary: no test log in {build}", file=sys.stderr)
        failed += 1
print(f"hookline: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
