"""Every `list_tasks` filter and sort with many stored tasks against few, one user.

    .venv/bin/python bench/listings.py [--db sqlite|postgres] [--small 10000]
        [--large 200000] [--runs 15]

Each size gets a fresh database with one user whose tasks have the same make-up at both
sizes: 70% completed (a long history), priorities and tags spread, 10% of titles with the
word "report", 20% undated, a project with a thirteenth of the tasks, a parent with subtasks;
and needles whose count does not grow: 20 tasks tagged `rare`, 5 with "zebra" in their
description. The rows are bulk inserted (Core, in chunks; progress on stderr). Each case
is one page (50) read through the service, as `list_tasks` and `GET /api/tasks` read it;
the median of `--runs` reads per size and the ratio large / small are printed (goal: every
case <= 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from record import quick, record  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from server.config import Settings  # noqa: E402
from server.projects.models import Project, ProjectCreate  # noqa: E402
from server.runtime import open_runtime  # noqa: E402
from server.tasks.models import NO_DUE, Task, TaskQuery  # noqa: E402
from testkit.servers import two_databases  # noqa: E402

CHUNK = 5_000
PRIORITIES = (("high", 1), ("medium", 2), ("low", 3), (None, 4))
WORDS = ("call", "email", "plan", "buy", "fix", "write", "read", "book", "pay", "clean")
CASES = {
    "default (pending, by due)": {},
    "status=completed": {"status": "completed"},
    "status=all": {"status": "all"},
    "priority=high": {"priority": "high"},
    "tag=work (40%)": {"tag": "work"},
    "tag=rare (20 tasks)": {"tag": "rare"},
    "query=report (10%)": {"query": "report"},
    "query=zebra (5 tasks)": {"query": "zebra"},
    "due_before=+7d": {"due_before": timedelta(days=7)},
    "due_after=+300d": {"due_after": timedelta(days=300)},
    "overdue=true": {"overdue": True},
    "overdue=false": {"overdue": False},
    "project": {"project": "Errands"},
    "parent_id": {"parent_id": "parent"},
    "sort=priority": {"sort": "priority"},
    "sort=created": {"sort": "created"},
    "sort=title": {"sort": "title"},
    "status=all sort=title": {"status": "all", "sort": "title"},
    "status=all sort=created": {"status": "all", "sort": "created"},
    "status=all sort=priority": {"status": "all", "sort": "priority"},
    "second page (cursor)": {"cursor": "next"},
}


def task_row(i: int, count: int, user_id: int, inbox: int, errands: int, now: datetime) -> dict:
    priority, rank = PRIORITIES[i % 4]
    tags = ["work"] if i % 7 < 3 else ["home"] if i % 7 < 5 else []
    if i % (count // 20) == 8:
        tags.append("rare")
    due = None if i % 5 == 4 else now + timedelta(hours=(i * 7919) % (24 * 400) - 24 * 30)
    title = f"{WORDS[i % 10]} thing {i}" + (" report" if i % 11 == 3 else "")
    completed = i % 10 < 7
    return {
        "user_id": user_id,
        "project_id": errands if i % 13 == 5 else inbox,
        "title": title,
        "description": "zebra crossing" if i % (count // 5) == 17 else f"notes on {i}",
        "completed": completed,
        "completed_at": now if completed else None,
        "priority": priority,
        "priority_rank": rank,
        "tags": tags,
        "tags_key": "|" + "".join(f"{t}|" for t in tags),
        "due": due,
        "due_sort": due or NO_DUE,
        "reminders": [],
        "created_at": now - timedelta(seconds=count - i),
        "updated_at": now,
    }


async def seed(services, count: int) -> tuple[object, int]:
    """The user and `count` tasks; returns the user and the parent's id."""
    user = await services.users.create_user(name="bench")
    await services.projects.create_project(user=user, data=ProjectCreate(name="Errands"))
    async with services.db.session() as session:
        projects = dict((await session.execute(select(Project.name, Project.id))).all())
    inbox, errands = projects["Inbox"], projects["Errands"]
    now = datetime.now(UTC)
    started = time.perf_counter()
    for start in range(0, count, CHUNK):
        rows = [
            task_row(i, count, user.id, inbox, errands, now)
            for i in range(start, min(count, start + CHUNK))
        ]
        async with services.db.transaction() as session:
            await session.execute(insert(Task.__table__), rows)
        print(f"\r  seeded {start + len(rows):,} / {count:,}", end="", file=sys.stderr, flush=True)
    print(f" in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    parent = (await services.tasks.list_tasks(user=user, query=TaskQuery(limit=1))).tasks[0]
    async with services.db.transaction() as session:  # 30 subtasks, spread over the history
        await session.execute(
            Task.__table__.update()
            .where(Task.id % (count // 30) == 9, Task.id != parent.id)
            .values(parent_id=parent.id, project_id=parent.project_id)
        )
    async with services.db.engine.connect() as conn:  # statistics, as a live database has
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    return user, parent.id


async def prepared(database_url: str, count: int, stack: contextlib.AsyncExitStack):
    """An open runtime on a seeded database, and each case's query for it."""
    settings = Settings(_env_file=None, database_url=database_url)
    runtime = await stack.enter_async_context(open_runtime(settings, events=False))
    services = runtime.services
    user, parent_id = await seed(services, count)
    first = await services.tasks.list_tasks(user=user, query=TaskQuery())
    queries = {}
    for name, case in CASES.items():
        args = dict(case)
        if args.get("parent_id") == "parent":
            args["parent_id"] = parent_id
        for key in ("due_before", "due_after"):
            if key in args:
                args[key] = datetime.now(UTC) + args[key]
        if args.get("cursor") == "next":
            args["cursor"] = first.next_cursor
        queries[name] = TaskQuery(**args)
    return services, user, queries


async def timed(services, user, query: TaskQuery) -> float:
    began = time.perf_counter()
    page = await services.tasks.list_tasks(user=user, query=query)
    elapsed = time.perf_counter() - began
    assert page.tasks or query.parent_id, query
    return elapsed


async def measure(urls, sizes: tuple[int, int], runs: int) -> dict[int, dict[str, float]]:
    """Median time of each case at each size; the sizes' reads alternate, so the machine's
    drift hits both alike."""
    async with contextlib.AsyncExitStack() as stack:
        opened = {}
        for size in sizes:
            print(f"{size:,} tasks of one user", flush=True)
            opened[size] = await prepared(next(urls), size, stack)
        medians: dict[int, dict[str, float]] = {size: {} for size in sizes}
        for name in CASES:
            timings: dict[int, list[float]] = {size: [] for size in sizes}
            for run in range(runs + 1):
                for size, (services, user, queries) in opened.items():
                    elapsed = await timed(services, user, queries[name])
                    if run:  # the first read of each warms the caches
                        timings[size].append(elapsed)
            for size in sizes:
                medians[size][name] = statistics.median(timings[size])
        return medians


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=50_000 if quick() else 200_000)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as workdir:
        urls = two_databases(args.db, workdir)
        results = await measure(urls, (args.small, args.large), args.runs)
        urls.close()
    print(f"{'case':<28} {args.small:>9,} {args.large:>9,}  ratio (ms, median of {args.runs})")
    worst = ("", 0.0)
    failing = []
    for name in CASES:
        small, large = results[args.small][name] * 1000, results[args.large][name] * 1000
        ratio = large / small
        worst = max(worst, (name, ratio), key=lambda pair: pair[1])
        if ratio > 1.5:
            failing.append(f"{name} {ratio:.1f}x")
        flag = "" if ratio <= 1.5 else "  ABOVE GOAL"
        print(f"{name:<28} {small:9.2f} {large:9.2f}  {ratio:5.2f}{flag}")
    print(f"worst: {worst[0]} {worst[1]:.2f} (goal: every case <= 1.5)")
    figure = f"worst {worst[1]:.2f}x ({worst[0]})"
    if failing:
        figure += f"; above: {', '.join(failing)}"
    record(
        "P7",
        f"list_tasks, each of {len(CASES)} filters/sorts, {args.large:,} vs {args.small:,} "
        f"({args.db})",
        figure,
        "<= 1.5x each",
        not failing,
    )


if __name__ == "__main__":
    asyncio.run(main())
