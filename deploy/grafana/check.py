#!/usr/bin/env python3
"""Checks deploy/grafana/betcore.json: valid JSON, every panel queries
something, and every betcore series or recording rule a query names is one
docs/monitoring.md describes or deploy/prometheus/betcore.rules.yml records
(a renamed metric must not leave a silent panel). Run by ctest
(grafana.dashboard)."""
import json
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
dash = json.loads((root / "deploy/grafana/betcore.json").read_text())
docs = (root / "docs/monitoring.md").read_text()
rules = (root / "deploy/prometheus/betcore.rules.yml").read_text()
known = set(re.findall(r"betcore_[a-z0-9_]+", docs)) | set(re.findall(r"record: (betcore:[a-z0-9_:]+)", rules))
problems = []
for panel in dash["panels"]:
    targets = panel.get("targets", [])
    if not targets:
        problems.append(f"panel {panel['title']!r} has no query")
    for t in targets:
        for name in re.findall(r"betcore[:_][a-z0-9_:]+", t["expr"]):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name not in known and base not in known:
                problems.append(f"panel {panel['title']!r}: {name} is not a documented series or rule")
for p in problems:
    print(p)
print(f"grafana: {len(dash['panels'])} panels, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
