"""What each benchmark hands to `bench/summary.py`: one JSON line per goal.

A bench calls `record(...)` for each figure it has a goal for; the line goes to
`bench/results/summary.jsonl` (or the file named by `BENCH_RESULTS`), which `make bench`
empties first and `bench/summary.py` turns into one table at the end. `quick()` says whether
`BENCH_QUICK=1` asked for smaller sizes (figures then are indicative, not the goal's).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "summary.jsonl"


def results_path() -> Path:
    return Path(os.environ.get("BENCH_RESULTS", RESULTS))


def quick() -> bool:
    """Whether the run asked for smaller sizes (`BENCH_QUICK=1`)."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def record(goal_id: str, measure: str, figure: str, goal: str, met: bool) -> None:
    """Append one result line: the goal's id (P1...), what was measured, the figure as
    printed, the goal in words, and whether the figure meets it."""
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "id": goal_id,
        "measure": measure,
        "figure": figure,
        "goal": goal,
        "met": bool(met),
        "bench": Path(sys.argv[0]).name,
        "args": sys.argv[1:],
        "quick": quick(),
    }
    with path.open("a") as out:
        out.write(json.dumps(line) + "\n")
