"""The project service: a user's projects and what happens to their tasks.

Each method is one unit of work with the task service's `TaskWork` on the same
transaction (run whole on `Database.run_session`), so a project change and what it does to
its tasks (deleted, restored, alerts silenced or re-armed) commit together, each with its
events and activity. The rules:
names are unique per user ignoring case among the projects not deleted (the database's
unique index backs the check); the Inbox can be neither renamed, archived nor deleted;
deleting a project soft-deletes its tasks, restoring it brings back exactly those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.activity.service import diff, record
from server.db import utcnow
from server.errors import Conflict, ValidationFailed
from server.events.outbox import Topics, add_event
from server.projects.models import (
    INBOX,
    Project,
    ProjectChange,
    ProjectCreate,
    ProjectList,
    ProjectPublic,
    ProjectUpdate,
)
from server.projects.queries import ProjectLookup, project_names
from server.tasks.models import Task
from server.tasks.service import TaskService
from server.tasks.work import TaskWork
from server.users.models import User

R = TypeVar("R")


def clean_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise ValidationFailed("name", "must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValidationFailed("name", "must be one line without control characters")
    return name


def tracked(project: Project) -> dict[str, Any]:
    return {
        "name": project.name,
        "color": project.color,
        "archived": project.archived,
        "deleted_at": project.deleted_at and project.deleted_at.isoformat(),
    }


def to_public(project: Project, open_tasks: int) -> ProjectPublic:
    return ProjectPublic(
        id=project.id,
        name=project.name,
        color=project.color,
        inbox=project.inbox,
        archived=project.archived,
        open_tasks=open_tasks,
        created_at=project.created_at,
        updated_at=project.updated_at,
        deleted_at=project.deleted_at,
    )


def open_task_counts(session: Session, project_ids: list[int]) -> dict[int, int]:
    """Open tasks per project, counted on ix_tasks_project_list."""
    rows = session.execute(
        select(Task.project_id, func.count())
        .where(
            Task.project_id.in_(project_ids),
            Task.deleted_at.is_(None),
            Task.completed == false(),
        )
        .group_by(Task.project_id)
    )
    return dict(rows.all())


def emit(
    session: Session | AsyncSession,
    topics: Topics,
    event_type: str,
    *,
    project: Project,
    public: ProjectPublic,
    before: dict[str, Any] | None,
) -> None:
    """A project change's event and activity entry (`before`: its `tracked` fields before
    the change, None for a new one), in `session`'s transaction."""
    user_id = project.user_id
    changes = diff(before, tracked(project))
    add_event(
        session,
        topic=topics.task_events,
        type=event_type,
        user_id=user_id,
        subject=f"project/{public.id}",
        data={"user_id": user_id, "project": public.model_dump(mode="json")},
    )
    record(session, user_id=user_id, type=event_type, changes=changes, project_id=public.id)


async def add_inbox(session: AsyncSession, *, user_id: int, topics: Topics) -> Project:
    """A new user's Inbox, with its event, in `session`'s transaction."""
    now = utcnow()
    inbox = Project(user_id=user_id, name=INBOX, inbox=True, created_at=now, updated_at=now)
    session.add(inbox)
    await session.flush()
    emit(session, topics, "project.created", public=to_public(inbox, 0), before=None, project=inbox)
    return inbox


def check_free(lookup: ProjectLookup, name: str, *, besides: int | None = None) -> None:
    existing = lookup.taken(name, besides=besides)
    if existing is not None:
        raise ValidationFailed("name", f"a project named {existing.name!r} already exists")


def insert_project(
    work: TaskWork,
    topics: Topics,
    data: ProjectCreate,
    *,
    archived: bool = False,
    created_at: datetime | None = None,
    deleted_at: datetime | None = None,
) -> Project:
    """A new project of `work`'s user, with its event and activity, in `work`'s transaction.

    `create_project` makes one; an import (server/portability) also gives the state it had
    (archived, when made, when deleted: a deleted one does not take its name)."""
    name = clean_name(data.name)
    work.projects.load()
    if deleted_at is None:
        check_free(work.projects, name)
    now = utcnow()
    project = Project(
        user_id=work.user.id,
        name=name,
        color=data.color,
        archived=archived,
        created_at=created_at or now,
        updated_at=now,
        deleted_at=deleted_at,
    )
    work.session.add(project)
    work.session.flush()
    work.projects.add(project)
    emit(
        work.session,
        topics,
        "project.created",
        public=to_public(project, 0),
        before=None,
        project=project,
    )
    return project


class ProjectService:
    """Create, change, archive, delete, restore and list a user's projects."""

    def __init__(self, *, topics: Topics, tasks: TaskService) -> None:
        self.db = tasks.db
        self.topics = topics
        self.tasks = tasks

    async def _unit(self, user: User, change: Callable[[TaskWork], R]) -> R:
        result, _ = await self.tasks.run_unit(user, change)
        return result

    async def create_project(self, *, user: User, data: ProjectCreate) -> ProjectPublic:
        with self._translated(data.name.strip()):
            project = await self._unit(user, lambda work: insert_project(work, self.topics, data))
        return to_public(project, 0)

    async def update_project(
        self, *, user: User, ref: int | str, data: ProjectUpdate
    ) -> ProjectPublic:
        """Rename, recolour, archive or unarchive a project (null colour clears it)."""
        fields = data.model_fields_set
        if not fields:
            raise ValidationFailed("body", "give at least one field to change")
        name = None
        if "name" in fields:
            if data.name is None:
                raise ValidationFailed("name", "cannot be null")
            name = clean_name(data.name)

        def change(work: TaskWork) -> ProjectPublic:
            project = work.projects.resolve(ref)
            before = tracked(project)
            if name is not None and name != project.name:
                if project.inbox:
                    raise ValidationFailed("name", "the Inbox cannot be renamed")
                check_free(work.projects, name, besides=project.id)
                project.name = name
            if "color" in fields:
                project.color = data.color
            if data.archived is not None and data.archived != project.archived:
                if project.inbox:
                    raise ValidationFailed("archived", "the Inbox cannot be archived")
                project.archived = data.archived
                self._rearm(work, project)
            project.updated_at = utcnow()
            return self._changed(work, project, before, "project.updated")

        with self._translated(name or ""):
            return await self._unit(user, change)

    async def delete_project(self, *, user: User, ref: int | str) -> ProjectChange:
        """Soft-delete a project and its tasks; `restore_project` brings them back."""

        def change(work: TaskWork) -> ProjectChange:
            project = work.projects.resolve(ref)
            if project.inbox:
                raise Conflict("the Inbox cannot be deleted")
            before = tracked(project)
            tasks = self._tasks_of(work, project, deleted=False)
            for task in tasks:
                work.delete(task, by=f"project:{project.id}")
            project.deleted_at = project.updated_at = utcnow()
            public = self._changed(work, project, before, "project.deleted")
            return ProjectChange(project=public, task_ids=sorted(t.id for t in tasks))

        return await self._unit(user, change)

    async def restore_project(self, *, user: User, ref: int | str) -> ProjectChange:
        """Bring back a deleted project with exactly the tasks deleted with it."""

        def change(work: TaskWork) -> ProjectChange:
            project = self._deleted(work.projects, ref)
            if project.deleted_at is None:
                return ProjectChange(project=self._public(work.session, project), task_ids=[])
            if work.projects.taken(project.name) is not None:
                raise Conflict(
                    f"another project is now called {project.name!r}: rename it, then restore"
                )
            before = tracked(project)
            project.deleted_at = None
            project.updated_at = utcnow()
            marker = f"project:{project.id}"
            deleted = self._tasks_of(work, project, deleted=True)
            tasks = [task for task in deleted if task.deleted_with == marker]
            for task in tasks:
                work.restore(task, by=marker)
            public = self._changed(work, project, before, "project.restored")
            return ProjectChange(project=public, task_ids=sorted(t.id for t in tasks))

        return await self._unit(user, change)

    # -- reads ----------------------------------------------------------------

    async def get_project(self, *, user: User, ref: int | str) -> ProjectPublic:
        """A project by id (deleted ones too) or by name."""

        def read(session: Session) -> ProjectPublic:
            project = ProjectLookup(session, user.id).resolve(ref, include_deleted=True)
            return self._public(session, project)

        return await self.db.run_session(read)

    async def list_projects(self, *, user: User, include_archived: bool = False) -> ProjectList:
        """The user's projects, the Inbox first, each with its open-task count."""

        def read(session: Session) -> ProjectList:
            projects = ProjectLookup(session, user.id).live()
            projects = [p for p in projects if include_archived or not p.archived]
            counts = open_task_counts(session, [p.id for p in projects])
            return ProjectList(projects=[to_public(p, counts.get(p.id, 0)) for p in projects])

        return await self.db.run_session(read)

    async def names(self, *, user: User) -> dict[int, str]:
        """Every project's name by id (deleted ones too), for showing a task's project: a
        short indexed Core read, read in place (`Database.read_in_place`), as the tools ask
        for it with every listing."""
        return await self.db.read_in_place(lambda conn: project_names(conn, user.id))

    # -- helpers --------------------------------------------------------------

    def _changed(
        self, work: TaskWork, project: Project, before: dict[str, Any], event_type: str
    ) -> ProjectPublic:
        """Flush a changed project and write its event and activity; its public form."""
        work.session.flush()
        public = self._public(work.session, project)
        emit(work.session, self.topics, event_type, project=project, public=public, before=before)
        return public

    @staticmethod
    @contextmanager
    def _translated(name: str) -> Iterator[None]:
        """The unique index's refusal (a project named the same meanwhile) as the rule."""
        try:
            yield
        except IntegrityError:
            raise ValidationFailed("name", f"a project named {name!r} already exists") from None

    @staticmethod
    def _deleted(lookup: ProjectLookup, ref: int | str) -> Project:
        """The project to restore: by id, or the most recently deleted one of that name."""
        if isinstance(ref, int) or ref.strip().isdecimal():
            return lookup.owned(int(ref))
        wanted = ref.strip().lower()
        deleted = [p for p in lookup.load().values() if p.deleted_at and p.name.lower() == wanted]
        if deleted:
            return max(deleted, key=lambda p: (p.deleted_at, p.id))
        return lookup.resolve(ref)

    def _tasks_of(self, work: TaskWork, project: Project, *, deleted: bool) -> list[Task]:
        """The project's tasks, deleted or not, locked and tracked by `work`."""
        gone = Task.deleted_at.is_not(None) if deleted else Task.deleted_at.is_(None)
        stmt = select(Task).where(Task.project_id == project.id, gone).order_by(Task.id)
        tasks = list(work.session.scalars(self.db.for_update(stmt)))
        work.track(tasks)
        return tasks

    def _rearm(self, work: TaskWork, project: Project) -> None:
        """An archived project's tasks raise no alerts; unarchived, their alerts come back."""
        if project.archived:
            work.session.execute(
                update(Task).where(Task.project_id == project.id).values(next_alert_at=None)
            )
            return
        for task in self._tasks_of(work, project, deleted=False):
            if not task.completed:
                task.next_alert_at = self.tasks.alerts.next_alert_at(task)

    @staticmethod
    def _public(session: Session, project: Project) -> ProjectPublic:
        counts = open_task_counts(session, [project.id])
        return to_public(project, counts.get(project.id, 0))
