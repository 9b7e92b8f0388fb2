"""Building the iCalendar feed of a user's tasks with the `icalendar` package.

Each open task with a due date is one VEVENT (UID `task-<id>@todo-agent`):

- A due at midnight in the user's timezone is an all-day event on that date (DTSTART and
  DTEND as DATE values): that is what a due given as a date ("2026-11-23", "friday") is
  stored as. Any other due is a timed event at that moment, with no duration (RFC 5545:
  a DATE-TIME DTSTART without DTEND ends when it starts).
- Times are written in the user's timezone (DTSTART;TZID=...), with its VTIMEZONE, so a
  recurring task keeps its local time across daylight-saving changes, as its next
  occurrences do when they are created (server/tasks/recurrence.py).
- A recurring task carries its RRULE, starting at its due: the occurrences a calendar shows
  are the ones completing the task will create.
- Priority becomes PRIORITY (1 high, 5 medium, 9 low), tags CATEGORIES; events are
  TRANSPARENT, so tasks do not make the user look busy.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur

from server.tasks.models import TaskPublic

logger = logging.getLogger(__name__)

PRODID = "-//todo-agent//tasks//EN"
PRIORITIES = {"high": 1, "medium": 5, "low": 9}
# How often calendar apps are asked to fetch the feed again (most poll at their own pace).
REFRESH = timedelta(hours=1)
# The VTIMEZONE covers the tasks' dates and this far beyond, for recurring ones.
TIMEZONE_YEARS_AHEAD = 10


def is_all_day(due: datetime, tz: ZoneInfo) -> bool:
    """A due at local midnight is a date, not a time."""
    return due.astimezone(tz).time() == time(0, 0)


def build_feed(
    *, user_name: str, timezone: str, tasks: Sequence[TaskPublic], now: datetime
) -> bytes:
    """The feed of `tasks` (each with a due) for a user in `timezone`, as bytes."""
    tz = ZoneInfo(timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"todo-agent: {user_name}")
    calendar.add("x-wr-timezone", timezone)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    for task in tasks:
        if task.due is not None:
            calendar.add_component(task_event(task, tz))
    dues = [task.due for task in tasks if task.due is not None]
    first = min([*dues, now]).astimezone(tz).date() - timedelta(days=1)
    last = max([*dues, now]).astimezone(tz).date()
    last = min(last.replace(year=min(last.year + TIMEZONE_YEARS_AHEAD, 8999)), date(8999, 12, 1))
    calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar.to_ical()


def task_event(task: TaskPublic, tz: ZoneInfo) -> Event:
    assert task.due is not None
    event = Event()
    event.add("uid", f"task-{task.id}@todo-agent")
    event.add("dtstamp", task.updated_at.astimezone(UTC))
    event.add("created", task.created_at.astimezone(UTC))
    event.add("last-modified", task.updated_at.astimezone(UTC))
    event.add("summary", task.title)
    local = task.due.astimezone(tz)
    if is_all_day(task.due, tz):
        event.add("dtstart", local.date())
        event.add("dtend", local.date() + timedelta(days=1))
    else:
        event.add("dtstart", local)
    if task.recurrence:
        try:
            event.add("rrule", vRecur.from_ical(task.recurrence))
        except ValueError:  # every stored rule passed normalize_rule; this is a safety net
            logger.warning("task %s: recurrence %r left out of the feed", task.id, task.recurrence)
    if description := _description(task):
        event.add("description", description)
    if task.priority is not None:
        event.add("priority", PRIORITIES[task.priority.value])
    if task.tags:
        event.add("categories", task.tags)
    event.add("transp", "TRANSPARENT")
    return event


def _description(task: TaskPublic) -> str:
    lines = [task.description] if task.description else []
    if task.priority is not None:
        lines.append(f"Priority: {task.priority.value}")
    if task.tags:
        lines.append(f"Tags: {', '.join(task.tags)}")
    if task.recurrence:
        lines.append(f"Repeats: {task.recurrence}")
    return "\n".join(lines)
