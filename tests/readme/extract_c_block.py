#!/usr/bin/env python3
"""Write the first ```c block of a Markdown file to a C file; with a third
argument, the first ```c block after a line containing that text."""
import sys

src, dst = sys.argv[1], sys.argv[2]
marker = sys.argv[3] if len(sys.argv) > 3 else None
out, inside, armed = [], False, marker is None
for line in open(src, encoding="utf-8"):
    if not armed and marker in line:
        armed = True
    elif armed and not inside and line.rstrip() == "```c":
        inside = True
    elif inside and line.rstrip() == "```":
        break
    elif inside:
        out.append(line)
if not out:
    sys.exit(f"{src}: no ```c block")
open(dst, "w", encoding="utf-8").write("".join(out))
