"""Reminders of a task: the table, what a client sends and sees, and their rules.

A task has up to five reminders, each relative to its due time (`{"before_minutes": 30}`)
or absolute (`{"at": "2026-11-23T09:00"}`, no due time needed). Each fires once: a
reminder row keeps `fired_at`, which a new due time clears for the relative ones (they are
re-armed) and never for the absolute ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict
from pydantic import Field as Rule
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow
from server.errors import ValidationFailed
from server.tasks.dates import resolve_due

REMINDERS_MAX = 5
REMIND_MAX_MINUTES = 60 * 24 * 365

BeforeMinutes = Annotated[
    int | None,
    Rule(
        ge=1,
        le=REMIND_MAX_MINUTES,
        description="Remind this many minutes before the task's due time.",
    ),
]
At = Annotated[
    datetime | Annotated[str, Rule(max_length=200)] | None,
    Rule(
        description="Remind at this time (ISO 8601 or a phrase such as 'friday 8am'; the "
        "user's timezone); must be in the future.",
    ),
]


class ReminderIn(BaseModel):
    """One reminder as a client gives it: exactly one of `before_minutes` and `at`."""

    model_config = ConfigDict(extra="forbid")

    before_minutes: BeforeMinutes = None
    at: At = None


Reminders = Annotated[
    list[ReminderIn] | None,
    Rule(
        max_length=REMINDERS_MAX,
        description="Up to 5 reminders, each {'before_minutes': N} (before `due`) or "
        "{'at': time}; replaces the task's reminders ([] removes them all).",
    ),
]


class TaskReminder(SQLModel, table=True):
    __tablename__ = "task_reminders"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    before_minutes: int | None = None
    at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When it fired (or was passed over by a later alert); None while it is still to come.
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReminderPublic(BaseModel):
    """A reminder as it leaves the service: when it fires (null: a relative reminder of a task
    without a due time) and whether it has."""

    id: int
    before_minutes: int | None
    at: datetime | None
    fires_at: datetime | None
    fired: bool


@dataclass(frozen=True, slots=True)
class Wanted:
    """A validated reminder: relative (`before_minutes`) or absolute (`at`, UTC)."""

    before_minutes: int | None
    at: datetime | None


def fires_at(reminder: TaskReminder | Wanted, due: datetime | None) -> datetime | None:
    """When `reminder` fires for a task due at `due`."""
    if reminder.at is not None:
        return reminder.at
    if due is None or reminder.before_minutes is None:
        return None
    return due - timedelta(minutes=reminder.before_minutes)


def to_public(reminder: TaskReminder, due: datetime | None) -> ReminderPublic:
    return ReminderPublic(
        id=reminder.id,
        before_minutes=reminder.before_minutes,
        at=reminder.at,
        fires_at=fires_at(reminder, due),
        fired=reminder.fired_at is not None,
    )


def remind_before(reminders: list[TaskReminder]) -> int | None:
    """The `remind_before_minutes` shorthand of a task: its first relative reminder's lead."""
    for reminder in reminders:
        if reminder.before_minutes is not None:
            return reminder.before_minutes
    return None


def wanted(
    given: list[ReminderIn], timezone: str, *, kept: list[TaskReminder], now: datetime | None = None
) -> list[Wanted]:
    """The reminders `given`, validated: each relative or absolute, absolute ones in the future
    (unless the task already has that very reminder), no more than five, no duplicates."""
    if len(given) > REMINDERS_MAX:
        raise ValidationFailed("reminders", f"at most {REMINDERS_MAX} reminders per task")
    now = now or utcnow()
    existing = {(r.before_minutes, r.at) for r in kept}
    result: list[Wanted] = []
    for index, item in enumerate(given):
        field = f"reminders[{index}]"
        if (item.before_minutes is None) == (item.at is None):
            raise ValidationFailed(field, "give exactly one of before_minutes and at")
        at = None
        if item.at is not None:
            at = resolve_due(item.at, timezone, now=now, field=f"{field}.at")
            if at <= now and (None, at) not in existing:
                raise ValidationFailed(f"{field}.at", "must be in the future")
        reminder = Wanted(before_minutes=item.before_minutes, at=at)
        if reminder not in result:
            result.append(reminder)
    return result


def default_reminders(lead_minutes: int) -> list[Wanted]:
    """What a task gets when created with no reminders: one, REMINDER_LEAD_MINUTES before."""
    return [Wanted(before_minutes=lead_minutes, at=None)] if lead_minutes > 0 else []


def shorthand(minutes: int) -> list[Wanted]:
    """`remind_before_minutes`: one relative reminder, or none for 0."""
    return [Wanted(before_minutes=minutes, at=None)] if minutes > 0 else []


def requested(
    fields: set[str],
    reminders: list[ReminderIn] | None,
    minutes: int | None,
    *,
    kept: list[TaskReminder],
    timezone: str,
    lead_minutes: int,
    now: datetime,
) -> list[Wanted] | None:
    """The reminders a request asks for (`fields` it sent: `reminders`, or the shorthand
    `remind_before_minutes`, null meaning the default); None when it asks for no change."""
    if "reminders" in fields and "remind_before_minutes" in fields:
        raise ValidationFailed("reminders", "give reminders or remind_before_minutes, not both")
    if "reminders" in fields:
        return wanted(reminders or [], timezone, kept=kept, now=now)
    if "remind_before_minutes" in fields:
        return default_reminders(lead_minutes) if minutes is None else shorthand(minutes)
    return None
