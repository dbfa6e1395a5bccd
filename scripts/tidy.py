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
       scripts/tidy.py --self-test: checks that each rule finds what it must.
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


def self_test():
    """A small repository breaking each rule once, and keeping each once."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "src/x").mkdir(parents=True)
        (root / "docs").mkdir()
        body = "\n".join(f"  int v{i} = {i};" for i in range(FUNCTION_LINES_MAX))
        (root / "src/x/long.cc").write_text(f"int f() {{\n{body}\n}}\n\n// Long: a reason.\nint g() {{\n{body}\n}}\n")
        (root / "src/x/big.h").write_text("// x\n" * (FILE_LINES_MAX + 1))
        (root / "src/x/big_test.cc").write_text("// x\n" * (FILE_LINES_MAX + 1))
        (root / "README.md").write_text("[a](docs/a.md) [b](../outside.md) [c](https://example.com)\n")
        (root / "docs/a.md").write_text("[gone](missing.md)\n")
        got = findings_in(root)
    want = ["src/x/big.h: 601 lines", "src/x/long.cc:1: a function of 82 lines",
            "README.md:1: link to ../outside.md", "docs/a.md:1: link to missing.md"]
    ok = len(got) == len(want) and all(any(g.startswith(w) for g in got) for w in want)
    for g in got:
        print(g)
    print("tidy self-test: " + ("ok" if ok else f"FAILED: wanted findings starting with {want}"))
    return 0 if ok else 1


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    findings = findings_in(root)
    for f in findings:
        print(f)
    print(f"tidy: {len(findings)} finding(s)")
    return 1 if findings else 0


def findings_in(root):
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
    return findings


if __name__ == "__main__":
    sys.exit(main())
