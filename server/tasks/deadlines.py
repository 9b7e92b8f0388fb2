"""Deadline alerts: the reminder, due and overdue alerts whose time has passed, fired once.

Each task keeps the time of its next alert (`next_alert_at`, indexed), so finding what is
due reads only the tasks that are due, and then only their reminders: the cost follows the
number due, not the number stored. For each it fires the latest stage that has passed
(after downtime the earlier ones are passed over), records it in `task_alerts` (unique per
task, stage and fire time, so it fires once however many schedulers run) and writes the
alert event to the outbox, all in one transaction with marking the passed stages and
advancing the task's `next_alert_at`. On PostgreSQL concurrent schedulers claim disjoint
tasks with FOR UPDATE SKIP LOCKED; on SQLite writers take turns anyway. Tasks of archived
projects have no `next_alert_at`, so they raise nothing. The scheduler
(server/workers/scheduler.py) runs this on a timer.
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
from server.tasks.alerts import AlertPolicy, Stage
from server.tasks.models import AlertKind, Task, TaskAlert
from server.tasks.queries import by_task
from server.tasks.reminders import TaskReminder

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
            ids = [task.id for task in tasks]
            reminders = by_task(
                await session.scalars(select(TaskReminder).where(TaskReminder.task_id.in_(ids)))
                if ids
                else []
            )
            # Detached, so computing their next stage flushes nothing: bulk UPDATEs below.
            session.expunge_all()
            passed = {t.id: self.policy.passed(t, reminders.get(t.id, []), now) for t in tasks}
            new = await self._record_alerts(session, passed, now)
            events, task_changes, reminder_changes = [], [], []
            for task in tasks:
                stages = passed[task.id]
                latest = stages[-1] if stages else None
                if latest is not None and (task.id, latest.key) in new:
                    events.append(self._event(task, latest))
                else:  # already fired by another scheduler, or the alert time was stale
                    fired.skipped += 1
                for stage in stages:
                    if stage.reminder is not None:
                        stage.reminder.fired_at = now
                        reminder_changes.append({"id": stage.reminder.id, "fired_at": now})
                    else:
                        task.last_alert = stage.kind.value
                next_alert_at = self.policy.next_alert_at(task, reminders.get(task.id, []))
                task_changes.append(
                    {"id": task.id, "last_alert": task.last_alert, "next_alert_at": next_alert_at}
                )
            if task_changes:
                await session.execute(update(Task), task_changes)
            if reminder_changes:
                await session.execute(update(TaskReminder), reminder_changes)
            if events:
                await session.execute(insert(OutboxEvent), events)
        fired.found = len(tasks)
        fired.emitted = len(events)
        return fired

    async def _record_alerts(
        self, session: AsyncSession, passed: dict[int, list[Stage]], now: datetime
    ) -> set[tuple[int, str]]:
        """Insert the keys of the alerts to fire; returns those that were new."""
        rows = [
            {"task_id": task_id, "stage": s[-1].key, "fire_at": s[-1].fire_at, "fired_at": now}
            for task_id, s in passed.items()
            if s
        ]
        if not rows:
            return set()
        table = TaskAlert.__table__
        dialect = sqlite if self.db.is_sqlite else postgresql
        stmt = (
            dialect.insert(table).on_conflict_do_nothing().returning(table.c.task_id, table.c.stage)
        )
        return set(map(tuple, await session.execute(stmt, rows)))

    def _event(self, task: Task, stage: Stage) -> dict:
        data = {
            "user_id": task.user_id,
            "task_id": task.id,
            "title": task.title,
            "due": task.due and task.due.isoformat(),
            "fire_at": stage.fire_at.isoformat(),
        }
        if stage.reminder is not None:
            data["reminder_id"] = stage.reminder.id
        return event_row(
            topic=self.topics.reminders,
            type=EVENT_TYPES[stage.kind],
            user_id=task.user_id,
            subject=f"task/{task.id}",
            data=data,
        )
