"""Deadline alerts: the reminder, due and overdue alerts whose time has passed, fired once.

Each task keeps the time of its next alert (`next_alert_at`, indexed), so finding what is
due reads only the tasks that are due: the cost follows the number due, not the number
stored. For each it fires the latest stage that has passed (after downtime the earlier ones
are skipped), records it in `task_alerts` (unique per task, stage and due time, so it fires
once however many schedulers run) and writes the alert event to the outbox, all in one
transaction with advancing the task's `last_alert` and `next_alert_at`. On PostgreSQL
concurrent schedulers claim disjoint tasks with FOR UPDATE SKIP LOCKED; on SQLite writers
take turns anyway. The scheduler (server/workers/scheduler.py) runs this on a timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database
from server.events.models import OutboxEvent
from server.events.outbox import Topics, event_row
from server.tasks.alerts import AlertPolicy
from server.tasks.models import AlertKind, Task, TaskAlert

EVENT_TYPES = {
    AlertKind.reminder: "reminder.due",
    AlertKind.due: "task.due",
    AlertKind.overdue: "task.overdue",
}


@dataclass(slots=True)
class Fired:
    """What one batch found: tasks due, alerts emitted, and those skipped (fired before)."""

    found: int = 0
    emitted: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class DeadlineService:
    """Fires due alerts in batches; see the module docstring."""

    db: Database
    topics: Topics
    policy: AlertPolicy

    def due_query(self, now: datetime, limit: int) -> Select[tuple[Task]]:
        """The next tasks whose alert time has passed, read from ix_tasks_next_alert."""
        stmt = select(Task).where(Task.next_alert_at <= now).order_by(Task.next_alert_at)
        return self.db.for_update(stmt.limit(limit), skip_locked=True)

    async def fire_batch(self, now: datetime, limit: int) -> Fired:
        """Fire the alerts of up to `limit` due tasks, in one transaction."""
        fired = Fired()
        async with self.db.transaction() as session:
            tasks = list(await session.scalars(self.due_query(now, limit)))
            # Detached, so computing their next stage flushes nothing: one bulk UPDATE below.
            session.expunge_all()
            stages = {task.id: self.policy.latest_due_stage(task, now) for task in tasks}
            new = await self._record_alerts(session, tasks, stages, now)
            events, changes = [], []
            for task in tasks:
                kind = stages[task.id]
                if kind is not None and (task.id, kind) in new:
                    events.append(self._event(task, kind))
                else:  # already fired by another scheduler, or the alert time was stale
                    fired.skipped += 1
                if kind is not None:
                    task.last_alert = kind.value
                next_alert_at = self.policy.next_alert_at(task)
                changes.append(
                    {"id": task.id, "last_alert": task.last_alert, "next_alert_at": next_alert_at}
                )
            if changes:
                await session.execute(update(Task), changes)
            if events:
                await session.execute(insert(OutboxEvent), events)
        fired.found = len(tasks)
        fired.emitted = len(events)
        return fired

    async def _record_alerts(
        self,
        session: AsyncSession,
        tasks: list[Task],
        stages: dict[int, AlertKind | None],
        now: datetime,
    ) -> set[tuple[int, AlertKind]]:
        """Insert the alert keys; returns those that were new (not fired before)."""
        rows = [
            {"task_id": task.id, "kind": stages[task.id].value, "due": task.due, "fired_at": now}
            for task in tasks
            if stages[task.id] is not None
        ]
        if not rows:
            return set()
        table = TaskAlert.__table__
        dialect = sqlite if self.db.is_sqlite else postgresql
        stmt = (
            dialect.insert(table).on_conflict_do_nothing().returning(table.c.task_id, table.c.kind)
        )
        return {(task_id, AlertKind(kind)) for task_id, kind in await session.execute(stmt, rows)}

    def _event(self, task: Task, kind: AlertKind) -> dict:
        fire_at = dict(self.policy.stages(task))[kind]
        return event_row(
            topic=self.topics.reminders,
            type=EVENT_TYPES[kind],
            user_id=task.user_id,
            subject=f"task/{task.id}",
            data={
                "user_id": task.user_id,
                "task_id": task.id,
                "title": task.title,
                "due": task.due.isoformat(),
                "fire_at": fire_at.isoformat(),
            },
        )
