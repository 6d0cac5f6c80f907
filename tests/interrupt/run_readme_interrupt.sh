#!/bin/sh
# tests/interrupt/run_readme_interrupt.sh - runs README's interrupt example
# and checks that it really stopped for approval and resumed: the prompt
# line it prints only for a pending call, then the resumed run's answer.
out=$("$1") || { echo "example failed: $out"; exit 1; }
echo "$out"
echo "$out" | grep -qx 'approve delete_file(/tmp/old.log)? yes' || { echo "no approval asked"; exit 1; }
echo "$out" | tail -n 1 | grep -qx 'Deleted /tmp/old.log.' || { echo "no resumed answer"; exit 1; }
