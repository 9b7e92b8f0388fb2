"""Deadline stages of a task (its reminders, due, overdue) and when the next one fires.

A task's stages: each reminder at its own time, the due time, and OVERDUE_AFTER_MINUTES
after it. A reminder remembers that it fired (`fired` in the task's kept reminders); the due
and overdue stages are remembered by `last_alert` for the current due time. The scheduler
runs this for every due task of a tick, so it works on a task's columns (an ORM object or a
Core row alike) in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from server.config import Settings
from server.tasks.models import AlertKind
from server.tasks.reminders import fires_at

# Ties at the same time: a reminder, then the due time, then overdue.
ORDER = (AlertKind.reminder, AlertKind.due, AlertKind.overdue)


class Stage(NamedTuple):
    """One pending alert of a task; tuples compare in firing order."""

    fire_at: datetime
    order: int  # index in ORDER
    reminder_id: int | None = None

    @property
    def kind(self) -> AlertKind:
        return ORDER[self.order]

    @property
    def key(self) -> str:
        """Its key in `task_alerts`: "reminder:<id>", "due" or "overdue"."""
        if self.reminder_id is not None:
            return f"reminder:{self.reminder_id}"
        return self.kind.value


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Defaults from settings: reminder lead time and when a task counts as overdue."""

    reminder_lead_minutes: int = 30
    overdue_after_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy:
        return cls(settings.reminder_lead_minutes, settings.overdue_after_minutes)

    def pending(self, task: Any) -> list[Stage]:
        """The stages that have neither fired nor been passed over, in no particular order."""
        due = task.due
        found = []
        for reminder in task.reminders:
            if reminder.get("fired"):
                continue
            at = fires_at(reminder, due)
            if at is not None:
                found.append(Stage(at, 0, reminder["id"]))
        if due is not None:
            if task.last_alert is None:
                found.append(Stage(due, 1))
            if task.last_alert != AlertKind.overdue.value:
                found.append(Stage(due + timedelta(minutes=self.overdue_after_minutes), 2))
        return found

    def next_alert_at(self, task: Any, *, archived: bool = False) -> datetime | None:
        """When the next pending stage fires; None when nothing is left or nothing may fire
        (the task is completed or deleted, or its project archived)."""
        if task.completed or task.deleted_at is not None or archived:
            return None
        return min((stage.fire_at for stage in self.pending(task)), default=None)

    def due_now(self, task: Any, now: datetime) -> tuple[list[Stage], datetime | None]:
        """The pending stages whose time has come, in firing order (the last one fires, the
        earlier ones are passed over: after downtime only the latest stage applies), and
        when the next stage after them fires."""
        passed, later = [], None
        for stage in self.pending(task):
            if stage.fire_at <= now:
                passed.append(stage)
            elif later is None or stage.fire_at < later:
                later = stage.fire_at
        return sorted(passed), later
