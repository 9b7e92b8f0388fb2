"""Deadline scheduler tick time with few and with many stored tasks, the same number due.

    .venv/bin/python bench/scheduler.py [--db sqlite|postgres] [--small 10000]
        [--large 1000000] [--due 1000] [--runs 5]

Each size gets a fresh database holding `due` tasks whose alert time has passed and the
rest with alerts in the future or none (no due date); every task has several reminders
(three for a dated task: two relative, one absolute; one for an undated task). A tick fires
the `due` alerts (one outbox event each, for the latest reminder that has passed); the due
tasks and their reminders are re-armed between runs. Prints the median tick of each size
and the ratio large / small (goal: <= 1.2, i.e. cost follows what is due, not what is
stored).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, insert, select, update  # noqa: E402

from server.config import Settings  # noqa: E402
from server.events.models import OutboxEvent  # noqa: E402
from server.projects.models import Project  # noqa: E402
from server.runtime import open_runtime  # noqa: E402
from server.tasks.models import NO_DUE, Task, TaskAlert  # noqa: E402
from server.workers.scheduler import DeadlineScheduler  # noqa: E402
from testkit.servers import two_databases  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from record import quick, record  # noqa: E402

USERS = 100
CHUNK = 20_000


def reminders(leads: tuple[int, ...], at: datetime | None) -> list[dict]:
    kept = [{"id": n, "before_minutes": lead} for n, lead in enumerate(leads, start=1)]
    if at is not None:
        kept.append({"id": len(kept) + 1, "at": at.isoformat()})
    return kept


def task_row(index: int, user_id: int, project_id: int, now: datetime, *, due_now: bool) -> dict:
    """A task with its reminders."""
    if due_now:  # due in 5 minutes: its 60- and 10-minute reminders have passed
        due = now + timedelta(minutes=5)
        leads, at, next_alert = (60, 10), now + timedelta(minutes=2), now - timedelta(minutes=5)
    elif index % 10 < 3:  # no due date: a relative reminder that never fires
        due, leads, at, next_alert = None, (30,), None, None
    else:
        due = now + timedelta(minutes=random.randint(60 * 24 + 60, 60 * 24 * 365))
        leads, at = (60, 30), due - timedelta(days=1)
        next_alert = at
    return {
        "user_id": user_id,
        "project_id": project_id,
        "title": f"task {index}",
        "completed": False,
        "priority_rank": 4,
        "tags": [],
        "tags_key": "|",
        "due": due,
        "due_sort": due or NO_DUE,
        "reminders": reminders(leads, at),
        "next_alert_at": next_alert,
        "created_at": now,
        "updated_at": now,
    }


async def measure(database_url: str, stored: int, due: int, runs: int) -> list[float]:
    settings = Settings(_env_file=None, database_url=database_url)
    async with open_runtime(settings, events=False) as runtime:
        return await _measure(runtime.services, stored, due, runs)


async def _measure(services, stored: int, due: int, runs: int) -> list[float]:
    now = datetime.now(UTC)
    users = [await services.users.create_user(name=f"u{i}") for i in range(USERS)]
    async with services.db.session() as session:
        inboxes = dict((await session.execute(select(Project.user_id, Project.id))).all())
    started = time.perf_counter()
    due_ids = set(random.sample(range(stored), due))
    reminders_stored = 0
    for start in range(0, stored, CHUNK):
        tasks = []
        for i in range(start, min(stored, start + CHUNK)):
            user_id = users[i % USERS].id
            tasks.append(task_row(i, user_id, inboxes[user_id], now, due_now=i in due_ids))
        async with services.db.transaction() as session:
            await session.execute(insert(Task.__table__), tasks)
        reminders_stored += sum(len(task["reminders"]) for task in tasks)
    print(
        f"  seeded {stored:,} tasks with {reminders_stored:,} reminders in "
        f"{time.perf_counter() - started:.1f}s",
        flush=True,
    )
    scheduler = DeadlineScheduler(deadlines=services.deadlines, interval_seconds=30)
    due_at = now + timedelta(minutes=5)
    if services.db.is_sqlite:
        # SQLite copies the write-ahead log back into the database once it holds 1000 pages,
        # in whichever commit crosses that: with 1M tasks a tick's 1000 scattered rows reach
        # it, with 10k they share pages and do not. That copy is the cost of all writes,
        # not the tick's; it is timed on its own after each tick (the scheduler's
        # connection, which the ticks use, has only one connection in its pool).
        await services.db.run(
            lambda c: c.exec_driver_sql("PRAGMA wal_autocheckpoint=0"), write=True
        )
    timings, checkpoints = [], []
    for run in range(runs + 1):
        async with services.db.transaction() as session:  # re-arm the due tasks
            await session.execute(delete(TaskAlert))
            await session.execute(delete(OutboxEvent))
            unfired = reminders((60, 10), now + timedelta(minutes=2))
            await session.execute(
                update(Task)
                .where(Task.due == due_at)
                .values(
                    reminders=unfired, last_alert=None, next_alert_at=now - timedelta(minutes=5)
                )
            )
        if services.db.is_sqlite:  # write the re-arming back now, not during the tick
            async with services.db.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        result = await scheduler.tick(now=now)
        assert result.emitted == due, result
        started = time.perf_counter()
        if services.db.is_sqlite:
            async with services.db.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        if run > 0:  # the first run warms the caches
            timings.append(result.seconds)
            checkpoints.append(time.perf_counter() - started)
    if services.db.is_sqlite:
        median = statistics.median(checkpoints) * 1000
        print(f"  then copying the tick's writes into the database: median {median:.1f} ms")
    return timings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000 if quick() else 1_000_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    random.seed(7)
    medians = {}
    with tempfile.TemporaryDirectory() as workdir:
        urls = two_databases(args.db, workdir)
        for label, stored in (("small", args.small), ("large", args.large)):
            print(f"{args.db}: {stored:,} stored tasks, {args.due:,} due", flush=True)
            timings = await measure(next(urls), stored, args.due, args.runs)
            medians[label] = statistics.median(timings)
            print(
                f"  tick: median {medians[label] * 1000:.1f} ms "
                f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f}) "
                f"= {medians[label] / args.due * 1e6:.0f} us per due task",
                flush=True,
            )
        urls.close()
    ratio = medians["large"] / medians["small"]
    verdict = "ok" if ratio <= 1.2 else "ABOVE GOAL"
    print(f"ratio {args.large:,} / {args.small:,} stored: {ratio:.2f} (goal <= 1.2: {verdict})")
    record(
        "P4",
        f"scheduler tick, {args.large:,} vs {args.small:,} stored, {args.due:,} due ({args.db})",
        f"{medians['large'] * 1000:.0f} / {medians['small'] * 1000:.0f} ms = {ratio:.2f}",
        "<= 1.2",
        ratio <= 1.2,
    )


if __name__ == "__main__":
    asyncio.run(main())
