#!/usr/bin/env python3
"""Regenerates Documentation/ErrorCodes.md from the error-code declarations
in Sources/ (`public static let name = Self(rawValue: N)` with the doc
comment above it). Run from the package root: python3 Scripts/error-codes.py"""
import pathlib, re

rows = []
for path in sorted(pathlib.Path("Sources").rglob("*.swift")):
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = re.search(r"public static let (\w+) = Self\(rawValue: (\d+)\)", line)
        if not m:
            continue
        doc, j = [], i - 1
        while j >= 0 and lines[j].strip().startswith("///"):
            doc.insert(0, lines[j].strip()[3:].strip())
            j -= 1
        module = path.parts[1]
        rows.append((int(m.group(2)), m.group(1), module, " ".join(doc).replace("|", "\\|")))

rows.sort()
out = ["# Error codes", "",
       "Every public failure carries a stable numeric code (`numericCode`), a message naming",
       "the field and value at fault, and `details`. Codes are never reused. Bands: LedgerCore",
       "1xxx, Contracts 2xxx, Net 3xxx, ChainRuntime 4xxx, AppAPI 5xxx.", "",
       "This table is generated from the sources by `python3 Scripts/error-codes.py`;",
       "a test checks that it is current.", "",
       "| code | name | module | meaning |", "|---|---|---|---|"]
out += [f"| {c} | `{n}` | {mod} | {d} |" for c, n, mod, d in rows]
pathlib.Path("Documentation/ErrorCodes.md").write_text("\n".join(out) + "\n", encoding="utf-8")
print(f"{len(rows)} codes")
