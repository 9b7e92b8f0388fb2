"""The checks of a scenario, on the state the agent left and the calls it made, never on
its wording (but `reply_mentions`, for answers that must name a task). Each check gives
None when it holds, else one line saying what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from server.tasks.models import TaskPublic

from .scenario import Check, Scenario, TaskCheck
from .state import State
from .transcript import ToolCallRecord, TurnRecord

SHOWN_REPLY = 80


@dataclass(frozen=True, slots=True)
class Context:
    """What a check looks at: the state after (and before) its scope, the turns in it."""

    scenario: Scenario
    keys: dict[str, int]
    before: State
    after: State
    turns: list[TurnRecord]

    @property
    def calls(self) -> list[ToolCallRecord]:
        return [call for turn in self.turns for call in turn.tool_calls]

    @property
    def reply(self) -> str:
        return self.turns[-1].reply if self.turns else ""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.scenario.timezone)


def evaluate(check: Check, context: Context) -> str | None:
    return _KINDS[check.kind](check, context)


# -- tasks ----------------------------------------------------------------------------------


def _local(value: datetime, zone: ZoneInfo) -> str:
    return f"{value.astimezone(zone):%a %Y-%m-%d %H:%M}"


def _find(spec: TaskCheck, context: Context) -> tuple[TaskPublic | None, str | None]:
    """The one task `spec` names, or why there is none."""
    state = context.after
    if spec.key is not None:
        if spec.key not in context.keys:
            return None, f"no seeded task has key {spec.key!r}"
        task = state.by_id(context.keys[spec.key])
        return task, None if task else f"task {spec.key!r} is gone"
    wanted = (spec.title or "").lower()
    matches = [task for task in state.tasks if wanted in task.title.lower()]
    if spec.exists is False:
        matches = [task for task in matches if task.deleted_at is None]
    if not matches:
        return None, f"no task's title contains {spec.title!r}"
    if len(matches) > 1:
        titles = ", ".join(f"#{t.id} {t.title!r}" for t in matches)
        return None, f"{len(matches)} tasks match {spec.title!r} ({titles}), expected one"
    return matches[0], None


def _due_problem(spec: TaskCheck, task: TaskPublic, zone: ZoneInfo) -> str | None:
    if spec.no_due and task.due is not None:
        return f"due {_local(task.due, zone)}, expected no due time"
    if spec.due is None and spec.due_date is None:
        return None
    if task.due is None:
        expected = spec.due or spec.due_date
        return f"has no due time, expected {expected}"
    local = task.due.astimezone(zone)
    if spec.due is not None:
        expected = spec.due.replace(second=0, microsecond=0)
        if local.replace(second=0, microsecond=0, tzinfo=None) != expected:
            return f"due {_local(task.due, zone)}, expected {expected:%a %Y-%m-%d %H:%M}"
    if spec.due_date is not None and local.date() != spec.due_date:
        return f"due {_local(task.due, zone)}, expected on {spec.due_date:%a %Y-%m-%d}"
    return None


def _parent_problem(spec: TaskCheck, task: TaskPublic, context: Context) -> str | None:
    if spec.parent is None:
        return None
    parent = context.after.by_id(task.parent_id) if task.parent_id else None
    if parent is None:
        return f"is not a subtask, expected one of {spec.parent!r}"
    if spec.parent in context.keys:
        ok = parent.id == context.keys[spec.parent]
    else:
        ok = spec.parent.lower() in parent.title.lower()
    return None if ok else f"is a subtask of {parent.title!r}, expected of {spec.parent!r}"


def _field_problems(spec: TaskCheck, task: TaskPublic, context: Context) -> list[str | None]:
    deleted = task.deleted_at is not None
    problems: list[str | None] = [
        _due_problem(spec, task, context.zone),
        _parent_problem(spec, task, context),
    ]
    if spec.completed is not None and task.completed != spec.completed:
        problems.append("is completed" if task.completed else "is not completed")
    if spec.deleted is not None and deleted != spec.deleted:
        problems.append("is deleted" if deleted else "is not deleted")
    if spec.priority is not None and task.priority != spec.priority:
        problems.append(f"has priority {task.priority}, expected {spec.priority}")
    if spec.tags is not None:
        have = {tag.lower() for tag in task.tags}
        if missing := [tag for tag in spec.tags if tag.lower() not in have]:
            problems.append(f"has tags {task.tags}, missing {missing}")
    if spec.project is not None:
        info = context.after.projects.get(task.project_id)
        project = info.name if info else "?"
        if project.lower() != spec.project.lower():
            problems.append(f"is in project {project!r}, expected {spec.project!r}")
    if spec.recurring is not None and (task.recurrence is not None) != spec.recurring:
        problems.append(f"recurrence is {task.recurrence!r}")
    if spec.has_reminder is not None and bool(task.reminders) != spec.has_reminder:
        problems.append("has reminders" if task.reminders else "has no reminder")
    if spec.reminder_minutes is not None:
        have = sorted(r.before_minutes for r in task.reminders if r.before_minutes is not None)
        if missing := [m for m in spec.reminder_minutes if m not in have]:
            problems.append(f"has reminders {have} minutes before, missing {missing}")
    if spec.comments is not None:
        count = context.after.comments.get(task.id, 0)
        if count < spec.comments:
            problems.append(f"has {count} comments, expected at least {spec.comments}")
    return problems


def _task(check: Check, context: Context) -> str | None:
    spec = check.task
    assert spec is not None
    task, missing = _find(spec, context)
    label = f"task {spec.key or spec.title!r}"
    if not spec.exists:
        if task is None or task.deleted_at is not None:
            return None
        return f"{label}: exists (#{task.id} {task.title!r}), expected none"
    if task is None:
        return f"{label}: {missing}"
    problems = [problem for problem in _field_problems(spec, task, context) if problem]
    return f"{label}: {'; '.join(problems)}" if problems else None


def _project(check: Check, context: Context) -> str | None:
    spec = check.project
    assert spec is not None
    found = [p for p in context.after.projects.values() if p.name.lower() == spec.name.lower()]
    live = [p for p in found if not p.deleted]
    label = f"project {spec.name!r}"
    if not spec.exists:
        return f"{label}: exists, expected none" if live else None
    if not found:
        return f"{label}: does not exist"
    project = live[0] if live else found[0]
    problems = []
    if spec.archived is not None and project.archived != spec.archived:
        problems.append("is archived" if project.archived else "is not archived")
    if spec.deleted is not None and project.deleted != spec.deleted:
        problems.append("is deleted" if project.deleted else "is not deleted")
    return f"{label}: {'; '.join(problems)}" if problems else None


def _count(check: Check, context: Context) -> str | None:
    spec = check.count
    assert spec is not None
    wanted = (spec.title or "").lower()

    def counted(task: TaskPublic) -> bool:
        deleted = task.deleted_at is not None
        by_status = {
            "pending": not task.completed and not deleted,
            "completed": task.completed and not deleted,
            "deleted": deleted,
            "all": not deleted,
        }
        return by_status[spec.status] and wanted in task.title.lower()

    found = sum(1 for task in context.after.tasks if counted(task))
    if found == spec.equals:
        return None
    which = f"{spec.status} tasks" + (f" matching {spec.title!r}" if spec.title else "")
    return f"{found} {which}, expected {spec.equals}"


# -- calls and answers ----------------------------------------------------------------------


def _calls_summary(context: Context) -> str:
    names = [call.name for call in context.calls]
    return ", ".join(names) if names else "no tool"


def _called(check: Check, context: Context) -> str | None:
    if any(call.name == check.called and call.ok for call in context.calls):
        return None
    return f"{check.called} was not called successfully (called: {_calls_summary(context)})"


def _not_called(check: Check, context: Context) -> str | None:
    if any(call.name == check.not_called for call in context.calls):
        return f"{check.not_called} was called (called: {_calls_summary(context)})"
    return None


def _max_tool_calls(check: Check, context: Context) -> str | None:
    made = len(context.calls)
    limit = check.max_tool_calls
    if limit is not None and made > limit:
        return f"{made} tool calls, expected at most {limit} ({_calls_summary(context)})"
    return None


def _shown(reply: str) -> str:
    reply = " ".join(reply.split())
    return repr(reply if len(reply) <= SHOWN_REPLY else reply[: SHOWN_REPLY - 1] + "…")


def _changed(context: Context) -> bool:
    return context.before.fingerprint() != context.after.fingerprint()


def _asks(check: Check, context: Context) -> str | None:
    if _changed(context):
        return f"changed tasks instead of asking (called: {_calls_summary(context)})"
    if "?" not in context.reply:
        return f"did not ask a question: {_shown(context.reply)}"
    return None


def _unchanged(check: Check, context: Context) -> str | None:
    if _changed(context):
        return f"tasks or projects changed (called: {_calls_summary(context)})"
    return None


def _reply_mentions(check: Check, context: Context) -> str | None:
    reply = context.reply.lower()
    missing = [word for word in check.reply_mentions or () if word.lower() not in reply]
    if missing:
        return f"the answer does not mention {missing}: {_shown(context.reply)}"
    return None


_KINDS: dict[str, Callable[[Check, Context], str | None]] = {
    "task": _task,
    "project": _project,
    "count": _count,
    "called": _called,
    "not_called": _not_called,
    "max_tool_calls": _max_tool_calls,
    "asks": _asks,
    "unchanged": _unchanged,
    "reply_mentions": _reply_mentions,
}
