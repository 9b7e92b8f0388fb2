"""Reading a Todoist CSV export (their documented template columns) into a `Plan`.

One file is one Todoist project; it becomes a project named after the file (or `project`).
Rows, by TYPE: `task` (CONTENT is the title, its `@label` words become tags; DESCRIPTION;
PRIORITY 1-4, where Todoist's p1 is the highest; INDENT 1-4 makes subtasks of the task
above; DATE in DATE_LANG and TIMEZONE, `every ...` making it recurring; DEADLINE, the due
time when there is no DATE, otherwise noted in the description), `section` (its tasks go to
a project "<project> / <section>"), `note` (a comment on the task above). AUTHOR,
RESPONSIBLE, DURATION and DURATION_UNIT have no counterpart and are ignored, as are `meta`
and empty rows. Errors name the row (the file's line) and the column.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.db import utcnow
from server.errors import ValidationFailed
from server.portability.models import (
    Plan,
    PlannedComment,
    PlannedProject,
    PlannedTask,
)
from server.projects.models import NAME_MAX
from server.tasks.dates import WEEKDAYS, resolve_due
from server.tasks.models import DEPTH_MAX

COLUMNS = ("TYPE", "CONTENT", "DESCRIPTION", "PRIORITY", "INDENT", "DATE", "DATE_LANG")
OPTIONAL = (
    "AUTHOR",
    "RESPONSIBLE",
    "TIMEZONE",
    "DURATION",
    "DURATION_UNIT",
    "DEADLINE",
    "DEADLINE_LANG",
)
# Todoist's p1 (shown red) is its highest priority, p4 its "no priority".
PRIORITIES = {"1": "high", "2": "medium", "3": "low", "4": None, "": None}
# What a field of a new task is called in the file.
FIELD_COLUMNS = {
    "title": "CONTENT",
    "tags": "CONTENT",
    "description": "DESCRIPTION",
    "priority": "PRIORITY",
    "parent_id": "INDENT",
    "due": "DATE",
    "recurrence": "DATE",
    "comments": "CONTENT",
    "name": "CONTENT",
}
LABEL = re.compile(r"(?:^|\s)@([^\s@]+)")
SIMPLE_REPEATS = {
    "day": "daily",
    "week": "weekly",
    "month": "monthly",
    "year": "yearly",
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
    "yearly": "yearly",
}
WEEKDAY_CODES = dict(zip(WEEKDAYS, ("MO", "TU", "WE", "TH", "FR", "SA", "SU"), strict=True))


def looks_like_todoist(text: str) -> bool:
    first = text.lstrip("\ufeff").lstrip().split("\n", 1)[0]
    return first.upper().startswith("TYPE,")


def parse_todoist(text: str, *, project: str, timezone: str) -> Plan:
    """A plan from a Todoist CSV's text; dates without a TIMEZONE are in `timezone`."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    header = _header(reader)
    reading = _Reading(project=_project_name(project), timezone=timezone)
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            hint = ": is the file cut short?" if "end of data" in str(exc) else ""
            raise ValidationFailed(
                f"row {reader.line_num}", f"not valid CSV ({exc}{hint})"
            ) from None
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            raise ValidationFailed(
                f"row {reader.line_num}",
                f"has {len(values)} columns, the header has {len(header)} (is the file cut short?)",
            )
        reading.row(reader.line_num, dict(zip(header, values, strict=True)))
    return reading.plan()


def _header(reader: Any) -> list[str]:
    try:
        header = [name.strip().upper() for name in next(reader)]
    except (StopIteration, csv.Error):
        raise ValidationFailed("row 1", "the file is empty") from None
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise ValidationFailed("row 1", f"missing the column(s) {', '.join(missing)}")
    return header


def _project_name(name: str) -> str:
    name = name.strip() or "Todoist"
    return name[:NAME_MAX]


class _Reading:
    """The plan as the rows come."""

    def __init__(self, *, project: str, timezone: str) -> None:
        self.timezone = timezone
        self.base = project
        self.projects = [PlannedProject(key=0, origin="row 1", name=project)]
        self.tasks: list[PlannedTask] = []
        # The last task read at each level (1 = top level), for INDENT.
        self.levels: list[PlannedTask] = []

    def plan(self) -> Plan:
        return Plan(
            projects=self.projects,
            tasks=self.tasks,
            past_alerts="passed",
            field_name=lambda origin, name: f"{origin}: {_column(name)}",
        )

    def row(self, line: int, row: dict[str, str]) -> None:
        kind = row["TYPE"].strip().lower()
        if kind == "task":
            self._task(line, row)
        elif kind == "section":
            self._section(line, row)
        elif kind == "note":
            self._note(line, row)
        elif kind != "meta":
            raise ValidationFailed(
                f"row {line}: TYPE", f"{row['TYPE']!r} is not task, section, note or meta"
            )

    def _section(self, line: int, row: dict[str, str]) -> None:
        name = row["CONTENT"].strip()
        if not name:
            raise ValidationFailed(f"row {line}: CONTENT", "a section needs a name")
        full = f"{self.base} / {name}"[:NAME_MAX]
        self.projects.append(PlannedProject(key=line, origin=f"row {line}", name=full))
        self.levels = []

    def _note(self, line: int, row: dict[str, str]) -> None:
        if not self.tasks:
            raise ValidationFailed(f"row {line}: TYPE", "a note comments the task above it: none")
        if not row["CONTENT"].strip():
            raise ValidationFailed(f"row {line}: CONTENT", "a note needs a text")
        self.tasks[-1].comments.append(PlannedComment(text=row["CONTENT"]))

    def _task(self, line: int, row: dict[str, str]) -> None:
        level = _indent(line, row.get("INDENT", ""), len(self.levels))
        parent = self.levels[level - 2] if level > 1 else None
        title, tags = _labels(row["CONTENT"])
        timezone = _timezone(line, row.get("TIMEZONE", ""), self.timezone)
        due, recurrence = _when(line, row.get("DATE", ""), timezone)
        description = row.get("DESCRIPTION", "").strip() or None
        deadline = row.get("DEADLINE", "").strip()
        if deadline:
            if due is None:
                due = _date(f"row {line}: DEADLINE", deadline, timezone)
            else:
                description = "\n\n".join(filter(None, [description, f"Deadline: {deadline}"]))
        priority = row.get("PRIORITY", "").strip()
        if priority not in PRIORITIES:
            raise ValidationFailed(f"row {line}: PRIORITY", f"{priority!r} is not 1, 2, 3 or 4")
        task = PlannedTask(
            key=line,
            origin=f"row {line}",
            project_key=parent.project_key if parent else self.projects[-1].key,
            parent_key=parent.key if parent else None,
            fields={
                "title": title,
                "description": description,
                "priority": PRIORITIES[priority],
                "tags": tags,
                "due": due,
                "recurrence": recurrence,
            },
        )
        self.tasks.append(task)
        self.levels = [*self.levels[: level - 1], task]


def _column(name: str) -> str:
    head, _, rest = name.partition(".")
    head = head.split("[", 1)[0]
    return FIELD_COLUMNS.get(head, head) + (f" ({rest})" if rest else "")


def _indent(line: int, value: str, depth: int) -> int:
    """The row's level: 1 to one below the task above, at most DEPTH_MAX."""
    value = value.strip() or "1"
    if not value.isdecimal() or not 1 <= int(value) <= DEPTH_MAX:
        raise ValidationFailed(
            f"row {line}: INDENT",
            f"{value!r} is not 1 to {DEPTH_MAX} (subtasks nest at most {DEPTH_MAX} levels)",
        )
    if int(value) > depth + 1:
        raise ValidationFailed(
            f"row {line}: INDENT", f"{value} is deeper than one below the task above it"
        )
    return int(value)


def _labels(content: str) -> tuple[str, list[str]]:
    """The title without its `@label` words, and the labels as tags."""
    tags = list(dict.fromkeys(LABEL.findall(content)))
    title = " ".join(LABEL.sub(" ", content).split())
    return title, tags


def _timezone(line: int, value: str, default: str) -> str:
    value = value.strip()
    if not value:
        return default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"row {line}: TIMEZONE", f"{value!r} is not a timezone") from None
    return value


def _when(line: int, value: str, timezone: str) -> tuple[Any, str | None]:
    """DATE as a due time and a repeat rule: "every monday 9am", "tomorrow", "2026-12-24"."""
    text = " ".join(value.split())
    if not text:
        return None, None
    field = f"row {line}: DATE"
    if not text.lower().startswith("every "):
        return _date(field, text, timezone), None
    words = text[6:].lower().replace(" at ", " ").replace(",", " ").split()
    days = [word for word in words if word in WEEKDAY_CODES]
    rest = " ".join(word for word in words if word not in WEEKDAY_CODES)
    if days:
        rule = "FREQ=WEEKLY;BYDAY=" + ",".join(dict.fromkeys(WEEKDAY_CODES[d] for d in days))
        return _date(field, f"{days[0]} {rest}".strip(), timezone), rule
    unit, _, time = rest.partition(" ")
    if unit not in SIMPLE_REPEATS:
        raise ValidationFailed(
            field,
            f"cannot repeat {text!r}: 'every day|week|month|year' or 'every <weekday>', with an "
            "optional time, are understood",
        )
    # No time: from today, all day (a due at midnight is a date).
    today = utcnow().astimezone(ZoneInfo(timezone)).date().isoformat()
    return _date(field, f"{today} {time}".strip() if time else today, timezone), SIMPLE_REPEATS[
        unit
    ]


def _date(field: str, text: str, timezone: str) -> Any:
    return resolve_due(text, timezone, field=field)
