"""The rules a task's fields follow beyond their types and lengths (server/tasks/models.py):
what a title may contain, how tags are normalised, how a priority sorts, and how a request's
plain fields are copied onto a task."""

from __future__ import annotations

import uuid

from server.db import utcnow
from server.errors import ValidationFailed
from server.tasks.dates import resolve_due
from server.tasks.models import NO_DUE, TAG_MAX, Priority, Task, TaskBase
from server.tasks.recurrence import check_schedule, normalize_rule
from server.validation import no_nul

# 1 = high, 2 = medium, 3 = low, 4 = none: sorts by priority with one index-friendly int.
PRIORITY_RANK = {Priority.high: 1, Priority.medium: 2, Priority.low: 3, None: 4}


def clean_title(value: str | None) -> str:
    """The title trimmed; ValidationFailed when empty or not one plain line."""
    title = (value or "").strip()
    if not title:
        raise ValidationFailed("title", "must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in title):
        raise ValidationFailed("title", "must be one line without control characters")
    return title


def normalize_tags(tags: list[str]) -> list[str]:
    """Trimmed, non-empty, de-duplicated (case-insensitively) tags in the given order."""
    seen: set[str] = set()
    result = []
    for index, raw in enumerate(tags):
        tag = raw.strip()
        if not tag:
            raise ValidationFailed(f"tags[{index}]", "must not be empty")
        if len(tag) > TAG_MAX:
            raise ValidationFailed(f"tags[{index}]", f"at most {TAG_MAX} characters")
        if "|" in tag or any(ord(c) < 32 for c in tag):
            raise ValidationFailed(f"tags[{index}]", "must not contain '|' or control characters")
        if tag.lower() not in seen:
            seen.add(tag.lower())
            result.append(tag)
    return result


def tags_key(tags: list[str]) -> str:
    """ "|tag1|tag2|" lower-cased: a tag filter is then one LIKE on the user's rows."""
    return "|" + "".join(f"{t.lower()}|" for t in tags)


def apply_fields(task: Task, data: TaskBase, fields: set[str], timezone: str) -> bool:
    """Validate and copy the plain fields of `data` named in `fields` onto `task` (project,
    parent and reminders are the unit of work's); whether the due time changed."""
    if "title" in fields:
        task.title = clean_title(data.title)
    if "description" in fields:
        task.description = data.description and no_nul("description", data.description)
    if "priority" in fields:
        task.priority = data.priority.value if data.priority else None
        task.priority_rank = PRIORITY_RANK[data.priority]
    if "tags" in fields:
        task.tags = normalize_tags(data.tags or [])
        task.tags_key = tags_key(task.tags)
    if "recurrence" in fields:
        task.recurrence = normalize_rule(data.recurrence) if data.recurrence else None
        if task.recurrence and task.series_id is None:
            task.series_id = str(uuid.uuid4())
    due_changed = False
    if "due" in fields:
        new_due = resolve_due(data.due, timezone) if data.due is not None else None
        if new_due != task.due:
            task.due = new_due
            task.due_sort = new_due or NO_DUE
            task.last_alert = None  # a new due time re-arms the due and overdue alerts
            due_changed = True
    if task.recurrence and fields & {"recurrence", "due"}:
        # Whether a rule matches, and expands, can depend on where it starts: check from
        # the due time.
        check_schedule(task.recurrence, task.due or utcnow(), timezone)
    return due_changed
