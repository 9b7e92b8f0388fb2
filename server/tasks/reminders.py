"""Reminders of a task: what a client sends and sees, how they are kept, and their rules.

A task has up to five reminders, each relative to its due time (`{"before_minutes": 30}`)
or absolute (`{"at": "2026-11-23T09:00"}`, no due time needed). They are kept on the task
row itself, as a JSON list of `{"id", "before_minutes" | "at", "fired"?}` (ids count up per
task), so the scheduler and the listings read them with the task, with no second lookup.
Each fires once: `fired` is set when it fires (or is passed over by a later alert), and a
new due time clears it on the relative ones (they are re-armed), never on the absolute ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict
from pydantic import Field as Rule

from server.db import utcnow
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


# A kept reminder: {"id": 1, "before_minutes": 30} or {"id": 2, "at": "<ISO>", "fired": true}
Kept = dict[str, Any]


def at_of(reminder: Kept) -> datetime | None:
    at = reminder.get("at")
    return datetime.fromisoformat(at) if at is not None else None


def fires_at(reminder: Kept, due: datetime | None) -> datetime | None:
    """When a kept reminder fires for a task due at `due`."""
    at = reminder.get("at")
    if at is not None:
        return datetime.fromisoformat(at)
    if due is None:
        return None
    return due - timedelta(minutes=reminder["before_minutes"])


def to_public(reminder: Kept, due: datetime | None) -> ReminderPublic:
    return ReminderPublic(
        id=reminder["id"],
        before_minutes=reminder.get("before_minutes"),
        at=at_of(reminder),
        fires_at=fires_at(reminder, due),
        fired=bool(reminder.get("fired")),
    )


def remind_before(reminders: list[Kept]) -> int | None:
    """The `remind_before_minutes` shorthand of a task: its first relative reminder's lead."""
    for reminder in reminders:
        if reminder.get("before_minutes") is not None:
            return reminder["before_minutes"]
    return None


def spec(reminder: Kept) -> dict[str, Any]:
    """A kept reminder as a client gives it."""
    if reminder.get("at") is not None:
        return {"at": reminder["at"]}
    return {"before_minutes": reminder["before_minutes"]}


def keep(current: list[Kept], wanted_now: list[Wanted]) -> list[Kept]:
    """The reminders to keep for `wanted_now`: one already there stays as it is (its id and
    whether it fired), a new one gets the next id."""
    left = list(current)
    next_id = max((r["id"] for r in current), default=0) + 1
    result = []
    for want in wanted_now:
        same = next(
            (
                r
                for r in left
                if (r.get("before_minutes"), at_of(r)) == (want.before_minutes, want.at)
            ),
            None,
        )
        if same is not None:
            left.remove(same)
        else:
            same = {"id": next_id}
            if want.at is not None:
                same["at"] = want.at.isoformat()
            else:
                same["before_minutes"] = want.before_minutes
            next_id += 1
        result.append(same)
    return sorted(result, key=lambda r: r["id"])


def rearmed(reminders: list[Kept]) -> list[Kept]:
    """After a new due time: the relative reminders fire again, the absolute ones do not."""
    return [
        {k: v for k, v in r.items() if k != "fired"} if r.get("at") is None else r
        for r in reminders
    ]


def marked_fired(reminders: list[Kept], ids: set[int]) -> list[Kept]:
    return [{**r, "fired": True} if r["id"] in ids else r for r in reminders]


def wanted(
    given: list[ReminderIn], timezone: str, *, kept: list[Kept], now: datetime | None = None
) -> list[Wanted]:
    """The reminders `given`, validated: each relative or absolute, absolute ones in the future
    (unless the task already has that very reminder), no more than five, no duplicates."""
    if len(given) > REMINDERS_MAX:
        raise ValidationFailed("reminders", f"at most {REMINDERS_MAX} reminders per task")
    now = now or utcnow()
    existing = {(r.get("before_minutes"), at_of(r)) for r in kept}
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
    kept: list[Kept],
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
