#!/usr/bin/env python3
"""Write the first ```c block of a Markdown file to a C file."""
import sys

src, dst = sys.argv[1], sys.argv[2]
out, inside = [], False
for line in open(src, encoding="utf-8"):
    if not inside and line.rstrip() == "```c":
        inside = True
    elif inside and line.rstrip() == "```":
        break
    elif inside:
        out.append(line)
if not out:
    sys.exit(f"{src}: no ```c block")
open(dst, "w", encoding="utf-8").write("".join(out))
