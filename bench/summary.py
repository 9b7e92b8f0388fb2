"""The one table `make bench` ends with: every recorded goal, its figure, met or not.

    .venv/bin/python bench/summary.py [--results bench/results/summary.jsonl] [--markdown]

Reads the lines the benchmarks wrote through `bench/record.py` (the last one per goal and
measure wins) and prints them in goal order; exits 0 even when a goal is not met (the table
says so), 1 when a goal has no figure (its benchmark failed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from record import results_path  # noqa: E402

ORDER = ["P1", "P1b", "P2", "P3", "P4", "P5", "P6", "P7"]


def load(path: Path) -> list[dict]:
    rows: dict[tuple[str, str], dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[(row["id"], row["measure"])] = row
    rank = {goal: n for n, goal in enumerate(ORDER)}
    return sorted(rows.values(), key=lambda row: rank.get(row["id"], len(ORDER)))


def table(rows: list[dict], *, markdown: bool) -> str:
    header = ["#", "measure", "figure", "goal", "met"]
    body = [
        [
            row["id"],
            row["measure"],
            row["figure"] + (" (quick)" if row.get("quick") else ""),
            row["goal"],
            "yes" if row["met"] else "NO",
        ]
        for row in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=results_path())
    parser.add_argument("--markdown", action="store_true", help="a table for the README")
    args = parser.parse_args()
    if not args.results.exists() or not (rows := load(args.results)):
        print(f"no results in {args.results}", file=sys.stderr)
        return 1
    missing = [goal for goal in ORDER if goal not in {row["id"] for row in rows}]
    print("\nsummary (" + str(args.results) + ")")
    print(table(rows, markdown=args.markdown))
    met = sum(row["met"] for row in rows)
    print(f"{met} of {len(rows)} figures meet their goal")
    if missing:
        print("no figure for: " + ", ".join(missing))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
