"""Deadline alerts: the reminder, due and overdue alerts whose time has passed, fired once.

Each task keeps the time of its next alert (`next_alert_at`, indexed), so finding what is
due reads only the tasks that are due (their reminders are kept on the same row): the cost
follows the number due, not the number stored. For each it fires the latest stage that has passed
(after downtime the earlier ones are passed over), records it in `task_alerts` (unique per
task, stage and fire time, so it fires once however many schedulers run) and writes the
alert event to the outbox, all in one transaction with marking the passed stages and
advancing the task's `next_alert_at`. On PostgreSQL concurrent schedulers claim disjoint
tasks with FOR UPDATE SKIP LOCKED; on SQLite writers take turns anyway. Tasks of archived
projects have no `next_alert_at`, so they raise nothing. The scheduler
(server/workers/scheduler.py) runs this on a timer.

A batch is one Core unit on `Database.run` (one hop to the database thread on SQLite, no
ORM objects): a tick's time is spent on the alerts, not on the machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from server.db import Database
from server.events.models import OutboxEvent
from server.events.outbox import Topics, event_row
from server.tasks.alerts import AlertPolicy, Stage
from server.tasks.models import AlertKind, Task, TaskAlert
from server.tasks.reminders import marked_fired

EVENT_TYPES = {
    AlertKind.reminder: "reminder.due",
    AlertKind.due: "task.due",
    AlertKind.overdue: "task.overdue",
}
TASKS = Task.__table__
ALERTS = TaskAlert.__table__
TASK_COLUMNS = (
    TASKS.c.id,
    TASKS.c.user_id,
    TASKS.c.title,
    TASKS.c.due,
    TASKS.c.last_alert,
    TASKS.c.reminders,
)
ADVANCE = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("b_id"))
    .values(last_alert=bindparam("b_last"), next_alert_at=bindparam("b_next"))
)
# The same, for a task whose reminders fired or were passed over.
ADVANCE_REMINDERS = ADVANCE.values(reminders=bindparam("b_reminders"))


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

    def due_query(self, now: datetime, limit: int):
        """The next tasks whose alert time has passed, read from ix_tasks_next_alert."""
        stmt = (
            select(*TASK_COLUMNS)
            .where(TASKS.c.next_alert_at <= now)
            .order_by(TASKS.c.next_alert_at)
            .limit(limit)
        )
        return self.db.for_update(stmt, skip_locked=True)

    async def fire_batch(self, now: datetime, limit: int) -> Fired:
        """Fire the alerts of up to `limit` due tasks, in one transaction."""
        return await self.db.run(lambda conn: self._fire(conn, now, limit), write=True)

    def _fire(self, conn: Connection, now: datetime, limit: int) -> Fired:
        tasks = conn.execute(self.due_query(now, limit)).all()
        if not tasks:
            return Fired()
        plans = [(task, *self.policy.due_now(task, now)) for task in tasks]
        new = self._record_alerts(conn, plans, now)
        fired = Fired(found=len(tasks))
        events, advances, with_reminders = [], [], []
        for task, passed, next_alert_at in plans:
            latest = passed[-1] if passed else None
            if latest is not None and (task.id, latest.key) in new:
                events.append(self._event(task, latest))
            else:  # already fired by another scheduler, or the alert time was stale
                fired.skipped += 1
            last_alert, reminder_ids = task.last_alert, set()
            for stage in passed:
                if stage.reminder_id is not None:
                    reminder_ids.add(stage.reminder_id)
                else:
                    last_alert = stage.kind.value
            change = {"b_id": task.id, "b_last": last_alert, "b_next": next_alert_at}
            if reminder_ids:
                change["b_reminders"] = marked_fired(task.reminders, reminder_ids)
                with_reminders.append(change)
            else:
                advances.append(change)
        for stmt, changes in ((ADVANCE, advances), (ADVANCE_REMINDERS, with_reminders)):
            if changes:
                conn.execute(stmt, changes)
        if events:
            conn.execute(insert(OutboxEvent.__table__), events)
        fired.emitted = len(events)
        return fired

    def _record_alerts(
        self, conn: Connection, plans: list[tuple[Any, list[Stage], Any]], now: datetime
    ) -> set[tuple[int, str]]:
        """Insert the keys of the alerts to fire; returns those that were new."""
        rows = [
            {
                "task_id": task.id,
                "stage": passed[-1].key,
                "fire_at": passed[-1].fire_at,
                "fired_at": now,
            }
            for task, passed, _ in plans
            if passed
        ]
        if not rows:
            return set()
        dialect = sqlite if self.db.is_sqlite else postgresql
        stmt = (
            dialect.insert(ALERTS)
            .on_conflict_do_nothing()
            .returning(ALERTS.c.task_id, ALERTS.c.stage)
        )
        return {(task_id, stage) for task_id, stage in conn.execute(stmt, rows)}

    def _event(self, task: Any, stage: Stage) -> dict:
        data = {
            "user_id": task.user_id,
            "task_id": task.id,
            "title": task.title,
            "due": task.due and task.due.isoformat(),
            "fire_at": stage.fire_at.isoformat(),
        }
        if stage.reminder_id is not None:
            data["reminder_id"] = stage.reminder_id
        return event_row(
            topic=self.topics.reminders,
            type=EVENT_TYPES[stage.kind],
            user_id=task.user_id,
            subject=f"task/{task.id}",
            data=data,
        )
