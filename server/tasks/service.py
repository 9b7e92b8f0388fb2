"""The task service: every task change (tools, REST, workers) goes through here.

Each public method is one unit of work (a `TaskWork`, server/tasks/work.py, on one
transaction, run whole on `Database.run_session`): the change, its events and its activity
commit together. The batch methods (server/tasks/batches.py) run all their items in one
unit, so one bad item changes nothing, and its error names the item and the field
(`tasks[3].due: ...`). Reads are `get_task`, `list_tasks` (the listing is in
server/tasks/listing.py) and `whats_next` (server/tasks/ranking.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.db import Database, check_id
from server.errors import NotFound, ValidationFailed
from server.events.outbox import Topics
from server.observability import Metrics
from server.projects.queries import ProjectLookup, project_names
from server.tasks import agenda, queries
from server.tasks.alerts import AlertPolicy
from server.tasks.batches import BatchWrites
from server.tasks.idempotency import InFlight, check_key, fingerprint, replayed
from server.tasks.listing import list_page
from server.tasks.models import (
    CompletionPublic,
    NextTasks,
    Task,
    TaskCreate,
    TaskPage,
    TaskPublic,
    TaskQuery,
    TaskUpdate,
)
from server.tasks.occurrences import Next
from server.tasks.ranking import rank_next
from server.tasks.work import TaskWork, check_change
from server.users.models import User

logger = logging.getLogger(__name__)

R = TypeVar("R")


class TaskService(BatchWrites):
    """Create, read, change and list one user's tasks."""

    def __init__(
        self, *, db: Database, topics: Topics, alerts: AlertPolicy, metrics: Metrics | None = None
    ) -> None:
        self.db = db
        self.topics = topics
        self.alerts = alerts
        self.metrics = metrics
        self._in_flight = InFlight()

    def work_on(self, session: Session, user: User) -> TaskWork:
        """A unit of work on `session`'s transaction (the caller calls `finish` before commit)."""
        return TaskWork(session, db=self.db, user=user, policy=self.alerts, topics=self.topics)

    async def run_unit(self, user: User, change: Callable[[TaskWork], R]) -> tuple[R, TaskWork]:
        """`change` on a new unit of work, finished and committed in one transaction on
        `Database.run_session` (one hop to the database thread on SQLite)."""

        def unit(session: Session) -> tuple[R, TaskWork]:
            work = self.work_on(session, user)
            result = change(work)
            work.finish()
            return result, work

        return await self.db.run_session(unit, write=True)

    # -- writes ---------------------------------------------------------------

    async def create_task(
        self, *, user: User, data: TaskCreate, idempotency_key: str | None = None
    ) -> TaskPublic:
        """Create a task; a repeated `idempotency_key` returns the task it first created
        (server/tasks/idempotency.py)."""
        task, _ = await self.create_task_with_names(
            user=user, data=data, idempotency_key=idempotency_key
        )
        return task

    async def create_task_with_names(
        self, *, user: User, data: TaskCreate, idempotency_key: str | None = None
    ) -> tuple[TaskPublic, dict[int, str]]:
        """`create_task` and the user's project names from the same unit (the tools show
        the task with its project's name, as in `get_task_with_names`)."""
        if idempotency_key is None:
            task, work = await self.run_unit(user, lambda work: work.create(data))
            self._count_created(1)
            return work.publics[task.id], work.project_names()
        check_key(idempotency_key)
        digest = fingerprint(data)
        with self._in_flight.claim(user.id, idempotency_key):
            try:
                task, work = await self.run_unit(
                    user,
                    lambda work: work.create(data, idempotency_key=idempotency_key, digest=digest),
                )
            except IntegrityError:  # created meanwhile by another process
                existing = await self.db.run_session(
                    lambda session: queries.by_idempotency_key(session, user.id, idempotency_key)
                )
                if existing is None:
                    raise
                replayed(existing, digest)
                return await self.get_task_with_names(user=user, task_id=existing.id)
        self._count_created(1)
        return work.publics[task.id], work.project_names()

    async def update_task(self, *, user: User, task_id: int, data: TaskUpdate) -> TaskPublic:
        """Change the fields present in `data`; rescheduling re-arms alerts, keeps recurrence."""
        check_change(data)
        return await self._change_one(
            user, task_id, lambda work, task: work.update(task, data), include_deleted=False
        )

    async def complete_task(self, *, user: User, task_id: int) -> CompletionPublic:
        """Complete a task and its open subtasks; a recurring one gets one next occurrence."""

        def change(work: TaskWork) -> tuple[Task, bool, Next]:
            task = work.load(task_id, include_deleted=False)
            was_open = not task.completed
            return task, was_open, work.complete(task)

        (task, was_open, following), work = await self.run_unit(user, change)
        if was_open and self.metrics:
            self.metrics.tasks_completed.inc()
        return CompletionPublic(
            task=work.publics[task.id],
            next_occurrence=following.task and work.publics[following.task.id],
            recurrence_note=following.note,
        )

    async def reopen_task(self, *, user: User, task_id: int) -> TaskPublic:
        return await self._change_one(user, task_id, TaskWork.reopen, include_deleted=False)

    async def delete_task(self, *, user: User, task_id: int) -> TaskPublic:
        """Soft-delete a task with its subtasks: they leave every list but can be restored."""
        return await self._change_one(user, task_id, TaskWork.delete, include_deleted=True)

    async def restore_task(self, *, user: User, task_id: int) -> TaskPublic:
        """Bring back a deleted task and the subtasks deleted with it."""
        return await self._change_one(user, task_id, TaskWork.restore, include_deleted=True)

    async def _change_one(
        self,
        user: User,
        task_id: int,
        act: Callable[[TaskWork, Task], object],
        *,
        include_deleted: bool,
    ) -> TaskPublic:
        """`act(work, task)` on the user's task `task_id` in one unit; the task after it."""

        def change(work: TaskWork) -> Task:
            task = work.load(task_id, include_deleted=include_deleted)
            act(work, task)
            return task

        task, work = await self.run_unit(user, change)
        return work.publics[task.id]

    async def ensure_next_occurrence(
        self, *, session: AsyncSession, user_id: int, task_id: int
    ) -> TaskPublic | None:
        """In `session`'s transaction: the occurrence after the user's completed recurring
        task `task_id`, created once however often this is asked (the recurrence consumer
        asks for every `task.completed`; `complete_task` made it the same way). None when
        there is none: not recurring, the series ended, or the task is gone."""
        return await session.run_sync(self._next_occurrence, user_id, task_id)

    def _next_occurrence(self, session: Session, user_id: int, task_id: int) -> TaskPublic | None:
        user = session.get(User, user_id)
        if user is None:
            return None
        work = self.work_on(session, user)
        try:
            # Locked: waits for a concurrent completion to commit.
            task = work.load(task_id, include_deleted=True)
        except NotFound:
            return None
        following = work.next_occurrence(task).task
        work.finish()
        return following and work.publics[following.id]

    # -- reads ----------------------------------------------------------------

    async def get_task(
        self, *, user: User, task_id: int, include_deleted: bool = True
    ) -> TaskPublic:
        # A Core read by primary key, read in place: reading one task is the other hot path.
        check_id(task_id, queries.task_not_found)
        params = {"id": task_id, "user_id": user.id}

        row = await self.db.read_in_place(
            lambda conn: conn.execute(queries.GET_TASK, params).first()
        )
        return queries.public_from(queries.visible(row, task_id, include_deleted)._mapping)

    async def get_task_with_names(
        self, *, user: User, task_id: int
    ) -> tuple[TaskPublic, dict[int, str]]:
        """`get_task` and the user's project names (`ProjectService.names`) in one read: the
        tools show a task with its project's name, and a second read is a second trip to
        the database thread, which costs as much CPU as the read itself."""
        check_id(task_id, queries.task_not_found)
        params = {"id": task_id, "user_id": user.id}

        def read(conn):
            return conn.execute(queries.GET_TASK, params).first(), project_names(conn, user.id)

        row, names = await self.db.read_in_place(read)
        return queries.public_from(queries.visible(row, task_id, True)._mapping), names

    async def list_tasks(self, *, user: User, query: TaskQuery) -> TaskPage:
        """One page of the user's tasks; `next_cursor` continues after its last task."""
        page, _ = await self.list_tasks_with_names(user=user, query=query, names=False)
        return page

    async def list_tasks_with_names(
        self, *, user: User, query: TaskQuery, names: bool = True
    ) -> tuple[TaskPage, dict[int, str]]:
        """`list_tasks` and, with `names`, the user's project names in the same read (as in
        `get_task_with_names`); without, an empty dict."""
        project_id = None
        if query.project is not None:
            project = await self.db.run_session(
                lambda session: ProjectLookup(session, user.id).resolve(
                    query.project, field="project"
                )
            )
            project_id = project.id
        if query.parent_id is not None:
            try:
                await self.get_task(user=user, task_id=query.parent_id)
            except NotFound as exc:
                raise ValidationFailed("parent_id", exc.message) from None
        return await list_page(
            self.db,
            user=user,
            query=query,
            project_id=project_id,
            overdue_after_minutes=self.alerts.overdue_after_minutes,
            with_names=names,
        )

    async def whats_next(self, *, user: User, limit: int = 5) -> NextTasks:
        """The user's most pressing open tasks, each with the reasons in words."""
        return await rank_next(self.db, user=user, limit=limit)

    async def today(self, *, user: User, now: datetime | None = None) -> agenda.Agenda:
        """Open tasks due on the user's calendar day (in their timezone), overdue included."""
        return await agenda.today(self.db, user=user, now=now)

    async def upcoming(self, *, user: User, now: datetime | None = None) -> agenda.Agenda:
        """Open tasks due on the user's next 7 calendar days."""
        return await agenda.upcoming(self.db, user=user, now=now)

    async def completed_since(self, *, user: User, since: datetime) -> list[TaskPublic]:
        return await agenda.completed_since(self.db, user=user, since=since)

    async def tag_names(self, *, user: User, prefix: str = "", limit: int = 100) -> list[str]:
        """The user's tags starting with `prefix` (ignoring case), at most `limit`."""
        return await agenda.tag_names(self.db, user=user, prefix=prefix, limit=limit)
