"""Deadline stages of a task (reminder, due, overdue) and when the next one fires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.config import Settings
from server.tasks.models import AlertKind, Task

ORDER = (AlertKind.reminder, AlertKind.due, AlertKind.overdue)


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Defaults from settings: reminder lead time and when a task counts as overdue."""

    reminder_lead_minutes: int = 30
    overdue_after_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy:
        return cls(settings.reminder_lead_minutes, settings.overdue_after_minutes)

    def stages(self, task: Task) -> list[tuple[AlertKind, datetime]]:
        """The task's alert stages with their fire times, in order."""
        if task.due is None:
            return []
        lead = task.remind_before_minutes
        lead = self.reminder_lead_minutes if lead is None else lead
        stages = []
        if lead > 0:
            stages.append((AlertKind.reminder, task.due - timedelta(minutes=lead)))
        stages.append((AlertKind.due, task.due))
        stages.append((AlertKind.overdue, task.due + timedelta(minutes=self.overdue_after_minutes)))
        return stages

    def next_alert_at(self, task: Task) -> datetime | None:
        """When the first stage after the last fired one is due; None when nothing is left."""
        if task.completed or task.deleted_at is not None:
            return None
        fired = ORDER.index(AlertKind(task.last_alert)) if task.last_alert else -1
        for kind, at in self.stages(task):
            if ORDER.index(kind) > fired:
                return at
        return None

    def latest_due_stage(self, task: Task, now: datetime) -> AlertKind | None:
        """The latest stage whose time has passed and that has not fired yet."""
        fired = ORDER.index(AlertKind(task.last_alert)) if task.last_alert else -1
        latest = None
        for kind, at in self.stages(task):
            if at <= now and ORDER.index(kind) > fired:
                latest = kind
        return latest
