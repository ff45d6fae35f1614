#!/usr/bin/env python3
"""Fails when a leaf value of a Helm values.yaml has no `# --` comment, on itself or on an
ancestor (helm-docs style). Usage: check-values-docs.py values.yaml"""
import re
import sys

path = sys.argv[1]
key_re = re.compile(r"^(\s*)([A-Za-z_][\w.-]*):(.*)$")
entries = []  # (line number, indent, key, has own `# --`, has an inline value)
comments = []
for number, line in enumerate(open(path), 1):
    stripped = line.strip()
    if stripped.startswith("#"):
        comments.append(stripped)
        continue
    m = key_re.match(line)
    if m:
        inline = m.group(3).split("#")[0].strip() != ""
        entries.append((number, len(m.group(1)), m.group(2), any(c.startswith("# --") for c in comments), inline))
    comments = []

missing = []
stack = []  # (indent, documented) of the ancestors
for i, (number, indent, key, own, inline) in enumerate(entries):
    while stack and stack[-1][0] >= indent:
        stack.pop()
    documented = own or any(d for _, d in stack)
    leaf = inline or i + 1 == len(entries) or entries[i + 1][1] <= indent
    if leaf and not documented:
        missing.append(f"{path}:{number}: {key}")
    stack.append((indent, documented))
if missing:
    print("values without a `# --` description:\n  " + "\n  ".join(missing))
    sys.exit(1)
print(f"ok: every value in {path} is documented")
