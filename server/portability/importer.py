"""Writing a `Plan` (server/portability/models.py) into a user's account, in one transaction.

Everything goes through the services' own rules and records: projects through
`insert_project`, tasks through a `TaskWork` (title, tags, due, recurrence, reminders,
subtask depth and placement, events and activity), comments through `append_comment`. The
file's ids only tie it together: everything gets new ids. Into an account that already has
data: the file's Inbox is the account's Inbox, and a project named like one of the
account's (ignoring case) is merged into it (its tasks join it; its colour and archived
state stay the account's); every task and comment is added (importing a file twice adds
its tasks twice). One bad item stops it all, naming the item, and nothing is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.comments.models import CommentCreate
from server.comments.service import append_comment
from server.errors import ValidationFailed
from server.events.outbox import Topics
from server.portability.models import (
    ImportSummary,
    Plan,
    PlannedProject,
    PlannedReminder,
    PlannedTask,
    Progress,
)
from server.projects.models import Project, ProjectCreate
from server.projects.service import insert_project
from server.tasks.models import AlertKind, Task, TaskCreate
from server.tasks.reminders import ReminderIn, at_of, fires_at, keep, wanted
from server.tasks.service import TaskService
from server.tasks.work import TaskWork
from server.users.models import User
from server.users.service import EMAIL_PATTERN, validate_timezone
from server.users.settings import SECRET_NAMES, put_setting
from server.validation import parse_model

SETTING_NAME_MAX = 64
SETTING_VALUE_MAX = 1000


@dataclass
class _Written:
    projects: dict[int, Project] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    series: dict[str, str] = field(default_factory=dict)
    created: int = 0
    merged: int = 0
    comments: int = 0


async def import_plan(
    session: AsyncSession,
    *,
    tasks: TaskService,
    topics: Topics,
    user: User,
    plan: Plan,
    progress: Progress | None = None,
) -> ImportSummary:
    """Write `plan` into `user`'s account in `session`'s transaction (the caller commits)."""
    user = await session.get(User, user.id)
    await _apply_settings(session, user, plan)
    work = tasks.work_on(session.sync_session, user)  # its calls go through run_sync
    written = _Written()
    for planned in plan.projects:
        with _about(work, plan, planned.origin):
            written.projects[planned.key] = await session.run_sync(
                lambda _, planned=planned: _project(work, topics, planned, written)
            )
    for done, planned in enumerate(plan.tasks, 1):
        with _about(work, plan, planned.origin):
            written.tasks[planned.key] = await _task(session, work, topics, planned, written)
        if progress is not None:
            progress(done, len(plan.tasks))
    for planned in plan.tasks:
        _settle(work, plan, planned, written)
    with _about(work, plan, ""):
        await session.run_sync(lambda _: work.finish())
    return ImportSummary(
        projects_created=written.created,
        projects_merged=written.merged,
        tasks=len(written.tasks),
        comments=written.comments,
    )


@contextmanager
def _about(work: TaskWork, plan: Plan, origin: str) -> Iterator[None]:
    """An error inside names the item (and the field, in the file's own terms)."""
    try:
        if origin:
            with work.item(origin):
                yield
        else:
            yield
    except ValidationFailed as exc:
        found, dot, inner = exc.field.partition(".")
        if not dot or not found:
            raise
        raise ValidationFailed(plan.field_name(found, inner), exc.rule) from None


async def _apply_settings(session: AsyncSession, user: User, plan: Plan) -> None:
    """The file's profile and settings replace the account's (a CSV has none)."""
    if plan.timezone is not None:
        try:
            user.timezone = validate_timezone(plan.timezone)
        except ValidationFailed as exc:
            raise ValidationFailed("user.timezone", exc.rule) from None
    if plan.email is not None:
        if not EMAIL_PATTERN.match(plan.email) or len(plan.email) > 320:
            raise ValidationFailed("user.email", "must look like name@example.com")
        user.email = plan.email
    for name, value in plan.settings.items():
        if name in SECRET_NAMES:
            raise ValidationFailed(f"settings.{name}", "is a secret of the account: not imported")
        if not 0 < len(name) <= SETTING_NAME_MAX or len(value) > SETTING_VALUE_MAX:
            raise ValidationFailed(
                f"settings.{name[:SETTING_NAME_MAX]}",
                f"names are 1-{SETTING_NAME_MAX} characters, values at most {SETTING_VALUE_MAX}",
            )
        await put_setting(session, user_id=user.id, name=name, value=value)


def _project(work: TaskWork, topics: Topics, planned: PlannedProject, written: _Written) -> Project:
    """The account's project for the file's: its Inbox, a live one of that name, or a new one."""
    if planned.inbox:
        written.merged += 1
        return work.projects.inbox()
    if planned.deleted_at is None:
        existing = work.projects.taken(planned.name)
        if existing is not None:
            written.merged += 1
            return existing
    data = parse_model(ProjectCreate, {"name": planned.name, "color": planned.color})
    written.created += 1
    return insert_project(
        work,
        topics,
        data,
        archived=planned.archived,
        created_at=planned.created_at,
        deleted_at=planned.deleted_at,
    )


async def _task(
    session: AsyncSession, work: TaskWork, topics: Topics, planned: PlannedTask, written: _Written
) -> Task:
    """A new task with the planned fields, reminders, state and comments."""
    fields = dict(planned.fields)
    if planned.parent_key is not None:
        fields["parent_id"] = written.tasks[planned.parent_key].id
    if planned.reminders is not None:
        fields["reminders"] = []  # set below, as they were (fired or not)
    data = parse_model(TaskCreate, fields)
    task = await session.run_sync(lambda _: work.create(data))
    task.project_id = written.projects[planned.project_key].id
    if planned.reminders is not None:
        task.reminders = _reminders(work, planned.reminders)
    if planned.series_id is not None:
        task.series_id = written.series.setdefault(planned.series_id, str(uuid.uuid4()))
    task.completed = planned.completed
    task.completed_at = (planned.completed_at or work.now) if planned.completed else None
    task.created_at = planned.created_at or task.created_at
    task.last_alert = planned.last_alert
    for index, comment in enumerate(planned.comments):
        try:
            text = parse_model(CommentCreate, {"text": comment.text}).text
        except ValidationFailed as exc:
            raise ValidationFailed(f"comments[{index}].{exc.field}", exc.rule) from None
        await append_comment(session, topics, task=task, text=text, created_at=comment.created_at)
        written.comments += 1
    return task


def _reminders(work: TaskWork, planned: list[PlannedReminder]) -> list[dict]:
    """The reminders by the task service's rules, with whether each fired. One in the past
    is kept as it was (the rule that an absolute one is in the future is for new ones)."""
    given = [parse_model(ReminderIn, reminder.spec) for reminder in planned]
    past = [{"id": 0, "at": r.spec["at"].isoformat()} for r in planned if r.spec.get("at")]
    kept = keep([], wanted(given, work.user.timezone, kept=past, now=work.now))
    fired = {(r.spec.get("before_minutes"), r.spec.get("at")) for r in planned if r.fired}
    return [
        {**r, "fired": True} if (r.get("before_minutes"), at_of(r)) in fired else r for r in kept
    ]


def _settle(work: TaskWork, plan: Plan, planned: PlannedTask, written: _Written) -> None:
    """What can be set once every task exists: its predecessor, its deletion, its alerts."""
    task = written.tasks[planned.key]
    if planned.occurrence_of is not None:
        task.occurrence_of = written.tasks[planned.occurrence_of].id
    if planned.deleted_at is not None:
        task.deleted_at = planned.deleted_at
        task.deleted_with = _marker(planned.deleted_with, task, written)
    if plan.past_alerts == "passed":
        _pass_over(work, task)
    work.changed(task, "task.created")  # its next alert, from the state it now has


def _marker(deleted_with: str | None, task: Task, written: _Written) -> str:
    """What deleted it, in new ids: the restore of that brings it back."""
    kind, _, key = (deleted_with or "").partition(":")
    if key.isdecimal():
        if kind == "project" and int(key) in written.projects:
            return f"project:{written.projects[int(key)].id}"
        if kind == "task" and int(key) in written.tasks:
            return f"task:{written.tasks[int(key)].id}"
    return f"task:{task.id}"


def _pass_over(work: TaskWork, task: Task) -> None:
    """Alerts whose time has passed are marked as passed over: none fires for the past."""
    now = work.now
    task.reminders = [
        {**r, "fired": True} if (at := fires_at(r, task.due)) is not None and at <= now else r
        for r in task.reminders
    ]
    if task.due is not None and task.due <= now:
        overdue_at = task.due + timedelta(minutes=work.policy.overdue_after_minutes)
        task.last_alert = (AlertKind.overdue if overdue_at <= now else AlertKind.due).value
