#!/usr/bin/env python3
"""The house rules a reviewer should not have to count (a ctest: `tidy`).

- A source file under src/ (tests beside the code excluded) holds one job:
  at most 600 lines.
- A function longer than 80 lines says why, in a comment starting with
  "Long:" within the three lines above its first line.
- README.md and docs/ link only to files inside the repository.

Functions are found the way clang-format lays them out here: a definition
starts at column 0 (namespace bodies are not indented) or column 2 (a member
defined in its class), its line ends with "{", and it ends at the first
line that is "}" at the same column.

Usage: scripts/tidy.py [REPO_ROOT]; exit 1 with one line per finding.
"""
import pathlib
import re
import sys

FILE_LINES_MAX = 600
FUNCTION_LINES_MAX = 80
NOT_FUNCTIONS = re.compile(
    r"^\s*(namespace|class|struct|enum|union|extern|using|template|static_assert|"
    r"#|//|/\*|\}|case |default:|if |for |while |switch |do |else|return|try|catch)")


def source_files(root):
    for path in sorted((root / "src").rglob("*")):
        if path.suffix in (".cc", ".h") and not path.stem.endswith("_test"):
            yield path


def long_functions(lines):
    i = 0
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        starts = (indent in (0, 2) and stripped.endswith("{") and "(" in stripped and
                  not NOT_FUNCTIONS.match(line) and "=" not in stripped.split("(")[0])
        if not starts:
            i += 1
            continue
        end_mark = " " * indent + "}"
        j = i + 1
        while j < len(lines) and lines[j].rstrip() not in (end_mark, end_mark + ";"):
            j += 1
        if j >= len(lines):
            i += 1
            continue
        length = j - i + 1
        if length > FUNCTION_LINES_MAX:
            above = " ".join(lines[max(0, i - 3):i])
            if "Long:" not in above:
                yield i + 1, length, stripped
        i = j + 1


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    findings = []
    for path in source_files(root):
        rel = path.relative_to(root)
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > FILE_LINES_MAX:
            findings.append(f"{rel}: {len(lines)} lines (at most {FILE_LINES_MAX}: one job per file)")
        for first, length, head in long_functions(lines):
            findings.append(f"{rel}:{first}: a function of {length} lines (over {FUNCTION_LINES_MAX}) "
                            f"with no 'Long:' reason above it: {head[:70]}")
    docs = [root / "README.md"] + sorted((root / "docs").rglob("*.md"))
    link = re.compile(r"\]\(([^)#]+)")
    for doc in docs:
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for target in link.findall(line):
                if re.match(r"^[a-z]+://", target):
                    continue
                resolved = (doc.parent / target).resolve()
                if not str(resolved).startswith(str(root) + "/") or not resolved.exists():
                    findings.append(f"{doc.relative_to(root)}:{n}: link to {target}, "
                                    "which is not a file of this repository")
    for f in findings:
        print(f)
    print(f"tidy: {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
