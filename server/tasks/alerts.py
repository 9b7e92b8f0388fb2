"""Deadline stages of a task (its reminders, due, overdue) and when the next one fires.

A task's stages, in time order: each reminder at its own time, the due time, and
OVERDUE_AFTER_MINUTES after it. A reminder remembers that it fired (`fired_at`); the due
and overdue stages are remembered by `last_alert` for the current due time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.config import Settings
from server.tasks.models import AlertKind, Task
from server.tasks.reminders import fires_at

ORDER = (AlertKind.reminder, AlertKind.due, AlertKind.overdue)


@dataclass(frozen=True, slots=True)
class Stage:
    """One alert of a task: its key in `task_alerts`, kind, time and reminder (if one)."""

    key: str
    kind: AlertKind
    fire_at: datetime
    reminder: Any = None

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.fire_at, ORDER.index(self.kind))


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Defaults from settings: reminder lead time and when a task counts as overdue."""

    reminder_lead_minutes: int = 30
    overdue_after_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy:
        return cls(settings.reminder_lead_minutes, settings.overdue_after_minutes)

    def stages(self, task: Task, reminders: Sequence[Any]) -> list[Stage]:
        """The task's alert stages with their fire times, in time order."""
        stages = []
        for reminder in reminders:
            at = fires_at(reminder, task.due)
            if at is not None:
                stages.append(Stage(f"reminder:{reminder.id}", AlertKind.reminder, at, reminder))
        if task.due is not None:
            overdue = task.due + timedelta(minutes=self.overdue_after_minutes)
            stages.append(Stage(AlertKind.due.value, AlertKind.due, task.due))
            stages.append(Stage(AlertKind.overdue.value, AlertKind.overdue, overdue))
        return sorted(stages, key=lambda stage: stage.order)

    def pending(self, task: Task, reminders: Sequence[Any]) -> list[Stage]:
        """The stages that have not fired (nor been passed over) yet."""
        fired = ORDER.index(AlertKind(task.last_alert)) if task.last_alert else 0
        return [
            stage
            for stage in self.stages(task, reminders)
            if (
                stage.reminder.fired_at is None
                if stage.reminder
                else ORDER.index(stage.kind) > fired
            )
        ]

    def next_alert_at(
        self, task: Task, reminders: Sequence[Any], *, archived: bool = False
    ) -> datetime | None:
        """When the next pending stage fires; None when nothing is left or nothing may fire
        (the task is completed or deleted, or its project archived)."""
        if task.completed or task.deleted_at is not None or archived:
            return None
        pending = self.pending(task, reminders)
        return min(stage.fire_at for stage in pending) if pending else None

    def passed(self, task: Task, reminders: Sequence[Any], now: datetime) -> list[Stage]:
        """The pending stages whose time has come, in time order: the last one fires, the
        earlier ones are passed over (after downtime only the latest stage applies)."""
        return [stage for stage in self.pending(task, reminders) if stage.fire_at <= now]
