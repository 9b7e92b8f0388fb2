"""One transaction's task changes: every task write goes through a `TaskWork`.

A tool call, a REST request, a batch of fifty or a worker opens one on its session; it loads
and locks the tasks, applies the field rules (rules.py, reminders.py), the subtask rules
(tree.py) and the project rules, cascades to subtasks, and on `finish` checks that every
subtask is in its parent's project, then writes one event and one activity entry per task
it changed, in the same transaction as the change.

It is sync, on a sync `Session`: the services run a unit on `Database.run_session`, which
on SQLite makes a whole task write one hop to the database thread (rather than a round
trip for each of its some fifty statements, fetches and flushes); a caller holding an
`AsyncSession` runs it through `AsyncSession.run_sync`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from server.db import Database, utcnow
from server.errors import Conflict, NotFound, ValidationFailed
from server.events.outbox import Topics
from server.projects.queries import ProjectLookup
from server.tasks import occurrences, queries, tree
from server.tasks.alerts import AlertPolicy
from server.tasks.idempotency import replayed
from server.tasks.models import Task, TaskBase, TaskCreate, TaskPublic, TaskUpdate
from server.tasks.occurrences import Next
from server.tasks.records import tracked, write_records
from server.tasks.reminders import Kept, Wanted, default_reminders, keep, rearmed, requested
from server.tasks.rules import apply_fields
from server.users.models import User


@dataclass(frozen=True, slots=True)
class _Applied:
    reminders: list[Wanted] | None  # None: keep the task's reminders
    due_changed: bool
    placed: bool  # its project or parent was set
    project_given: bool


def check_change(data: TaskUpdate) -> None:
    """A change names at least one field, and never clears the title."""
    if not data.model_fields_set:
        raise ValidationFailed("body", "give at least one field to change")
    if "title" in data.model_fields_set and data.title is None:
        raise ValidationFailed("title", "cannot be null")


class TaskWork:
    """The task changes of one user in one session; see the module docstring."""

    def __init__(
        self,
        session: Session,
        *,
        db: Database,
        user: User,
        policy: AlertPolicy,
        topics: Topics,
    ) -> None:
        self.session = session
        self.db = db
        self.user = user
        self.policy = policy
        self.topics = topics
        self.projects = ProjectLookup(session, user.id)
        self.now = utcnow()
        self.tasks: dict[int, Task] = {}
        self.publics: dict[int, TaskPublic] = {}
        self._before: dict[int, dict[str, Any] | None] = {}
        self._events: dict[int, str] = {}
        self._placed: dict[int, tuple[str, bool]] = {}
        self._prefix = ""

    @contextmanager
    def item(self, name: str) -> Iterator[None]:
        """Errors inside name the batch item they are about: `tasks[3].due: ...`."""
        self._prefix = f"{name}."
        try:
            yield
        except ValidationFailed as exc:
            raise ValidationFailed(f"{name}.{exc.field}", exc.rule) from None
        except NotFound as exc:
            raise NotFound(
                f"{name}: {exc.message}", details={**exc.details, "item": name}
            ) from None
        finally:
            self._prefix = ""

    # -- loading --------------------------------------------------------------

    def load(self, task_id: int, *, include_deleted: bool) -> Task:
        """The user's task, locked until commit, tracked for events and activity."""
        task = queries.owned_task(
            self.session,
            self.db,
            user_id=self.user.id,
            task_id=task_id,
            include_deleted=include_deleted,
            lock=True,
        )
        self.track([task])
        return task

    def track(self, tasks: list[Task]) -> None:
        """Remember how these tasks were before this unit changes them."""
        self.projects.load()
        for task in tasks:
            if task.id not in self.tasks:
                self.tasks[task.id] = task
                self._before[task.id] = tracked(task)

    # -- changes --------------------------------------------------------------

    def create(
        self, data: TaskCreate, *, idempotency_key: str | None = None, digest: str | None = None
    ) -> Task:
        """A new task; a repeated `idempotency_key` with the same request (`digest`, see
        server/tasks/idempotency.py) gives the task it first created."""
        if idempotency_key is not None:
            existing = queries.by_idempotency_key(self.session, self.user.id, idempotency_key)
            if existing is not None:
                self.track([replayed(existing, digest)])
                return existing
        self.projects.load()
        task = Task(
            user_id=self.user.id,
            title="",
            idempotency_key=idempotency_key,
            idempotency_fingerprint=digest,
            # Given rather than left to their default factories: pydantic inspects a
            # factory's signature each time it calls one.
            tags=[],
            reminders=[],
            created_at=self.now,
            updated_at=self.now,
        )
        applied = self._apply(task, data, data.model_fields_set | {"title"}, kept=[])
        default = default_reminders(self.policy.reminder_lead_minutes)
        self.set_reminders(task, default if applied.reminders is None else applied.reminders)
        self.stamp(task)  # before the INSERT, which then writes the task whole
        self.session.add(task)
        self.session.flush()
        self.adopt(task)
        if applied.placed:
            self._placed[task.id] = (self._prefix, applied.project_given)
        self._events[task.id] = "task.created"  # stamped above: nothing left to flush
        return task

    def update(self, task: Task, data: TaskUpdate) -> None:
        """Change the fields present in `data`; rescheduling re-arms the relative reminders and
        the due alerts and keeps the recurrence; moving a task moves its subtasks."""
        check_change(data)
        fields = data.model_fields_set
        moved_from = task.project_id
        applied = self._apply(task, data, fields, kept=task.reminders)
        if applied.reminders is not None:
            self.set_reminders(task, applied.reminders)
        if applied.due_changed:
            task.reminders = rearmed(task.reminders)
        if applied.placed:
            self._placed[task.id] = (self._prefix, applied.project_given)
        if task.project_id != moved_from:
            below = tree.descendants(self.session, self.db, task)
            self.track(below)
            for subtask in below:
                subtask.project_id = task.project_id
                self.changed(subtask, "task.updated")
        self.changed(task, "task.updated")

    def complete(self, task: Task) -> Next:
        """Complete `task` and its open subtasks; returns the next occurrence, if recurring."""
        if not task.completed:
            below = tree.descendants(self.session, self.db, task)
            self.track(below)
            for done in [task, *below]:
                if not done.completed and done.deleted_at is None:
                    done.completed = True
                    done.completed_at = self.now
                    self.changed(done, "task.completed")
        return self.next_occurrence(task)

    def reopen(self, task: Task) -> None:
        if task.completed:
            task.completed = False
            task.completed_at = None
            self.changed(task, "task.reopened")

    def delete(self, task: Task, *, by: str | None = None) -> None:
        """Soft-delete `task` with its subtasks, marked with what deleted them (`by`)."""
        if task.deleted_at is not None:
            return
        below = tree.descendants(self.session, self.db, task)
        self.track(below)
        for gone in [task, *below]:
            if gone.deleted_at is None:
                gone.deleted_at = self.now
                gone.deleted_with = by or f"task:{task.id}"
                self.changed(gone, "task.deleted")

    def restore(self, task: Task, *, by: str | None = None) -> None:
        """Bring back `task` and exactly the subtasks deleted with it. Unless its project is
        being restored (`by`), its project and parent must not be deleted."""
        if task.deleted_at is None:
            return
        if by is None:
            self._check_restorable(task)
        marker = task.deleted_with
        below = []
        if marker is not None:
            below = tree.descendants(
                self.session, self.db, task, only=lambda t: t.deleted_with == marker
            )
            self.track(below)
        for back in [task, *below]:
            back.deleted_at = None
            back.deleted_with = None
            self.changed(back, "task.restored")

    def _check_restorable(self, task: Task) -> None:
        project = self.projects.loaded(task.project_id)
        if project.deleted_at is not None:
            raise Conflict(
                f"task {task.id} was deleted with project {project.name!r}: restore the project "
                "to bring it back"
            )
        if task.parent_id is not None:
            parent = self.session.get(Task, task.parent_id)
            if parent is not None and parent.deleted_at is not None:
                raise Conflict(
                    f"task {task.id} is a subtask of deleted task {parent.id}: restore task "
                    f"{parent.id} first"
                )

    def next_occurrence(self, task: Task) -> Next:
        """The occurrence after a completed recurring `task` (see occurrences.py)."""
        return occurrences.next_after(self, task)

    # -- finishing ------------------------------------------------------------

    def finish(self) -> None:
        """Check the subtasks' projects, then write each changed task's event and activity
        (server/tasks/records.py)."""
        self._check_placement()
        self.session.flush()
        counts = self._open_subtask_counts()
        for task_id, task in self.tasks.items():
            self.publics[task_id] = queries.public_task(task, counts.get(task_id, 0))
        write_records(
            self.session,
            self.topics,
            changed=self._events,
            tasks=self.tasks,
            publics=self.publics,
            before=self._before,
        )

    def _open_subtask_counts(self) -> dict[int, int]:
        """Each tracked task's open subtasks. A task created in this unit has only subtasks
        created in it too: those are counted here rather than read."""
        new = {task_id for task_id, before in self._before.items() if before is None}
        counts = queries.open_subtask_counts(self.session, [i for i in self.tasks if i not in new])
        for task in self.tasks.values():
            if task.parent_id in new and not task.completed and task.deleted_at is None:
                counts[task.parent_id] = counts.get(task.parent_id, 0) + 1
        return counts

    def _check_placement(self) -> None:
        """Every subtask placed in this unit is in its parent's project (checked at the end, so
        a batch may move a subtask before or after its parent)."""
        for task_id, (prefix, project_given) in self._placed.items():
            task = self.tasks[task_id]
            parent = task.parent_id and self.session.get(Task, task.parent_id)
            if parent and parent.project_id != task.project_id:
                name = self.projects.loaded(parent.project_id).name
                field = "project" if project_given else "parent_id"
                raise ValidationFailed(
                    f"{prefix}{field}",
                    f"a subtask stays in its parent's project: task {parent.id} is in {name!r} "
                    "(move the parent, or make this a top-level task)",
                )

    # -- helpers --------------------------------------------------------------

    def project_names(self) -> dict[int, str]:
        """The user's project names by id, deleted ones too (as `project_names` reads)."""
        return {project.id: project.name for project in self.projects.load().values()}

    def adopt(self, task: Task) -> None:
        """Track a task created in this unit."""
        self.tasks[task.id] = task
        self._before[task.id] = None

    def changed(self, task: Task, event_type: str) -> None:
        self.stamp(task)
        self._events.setdefault(task.id, event_type)

    def stamp(self, task: Task) -> None:
        """A changed task's time of change and next alert."""
        task.updated_at = self.now
        archived = self.projects.loaded(task.project_id).archived
        task.next_alert_at = self.policy.next_alert_at(task, archived=archived)

    @staticmethod
    def set_reminders(task: Task, wanted_now: list[Wanted]) -> None:
        """Replace the task's reminders with `wanted_now` (see reminders.keep)."""
        task.reminders = keep(task.reminders or [], wanted_now)

    def _apply(self, task: Task, data: TaskBase, fields: set[str], *, kept: list[Kept]) -> _Applied:
        """Validate and copy the given fields of `data` onto `task`."""
        due_changed = apply_fields(task, data, fields, self.user.timezone)
        project_given = self._place(task, data, fields)
        return _Applied(
            reminders=requested(
                fields,
                data.reminders,
                data.remind_before_minutes,
                kept=kept,
                timezone=self.user.timezone,
                lead_minutes=self.policy.reminder_lead_minutes,
                now=self.now,
            ),
            due_changed=due_changed,
            placed=project_given or "parent_id" in fields,
            project_given=project_given,
        )

    def _place(self, task: Task, data: TaskBase, fields: set[str]) -> bool:
        """Set the task's parent and project; whether a project was given."""
        parent = None
        if "parent_id" in fields:
            parent = tree.place_under(self.session, self.db, task, data.parent_id)
        if "project" in fields:
            if data.project is None:
                raise ValidationFailed("project", "cannot be null; name a project such as 'Inbox'")
            task.project_id = self.projects.resolve(data.project, field="project").id
            return True
        if parent is not None:
            task.project_id = parent.project_id  # a subtask joins its parent's project
        elif task.project_id is None:
            task.project_id = self.projects.inbox().id
        return False
