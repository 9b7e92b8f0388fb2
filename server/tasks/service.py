"""The task service: every task change (tools, REST, workers) goes through here.

Each public method is one unit of work (a `TaskWork`, server/tasks/work.py, on one
transaction, run whole on `Database.run_session`): the change, its events and its activity
commit together. The batch methods
run all their items in one unit, so one bad item changes nothing, and its error names the
item and the field (`tasks[3].due: ...`). Reads are `get_task`, `list_tasks` (the listing is
in server/tasks/listing.py) and `whats_next` (server/tasks/ranking.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.db import Database, check_id
from server.errors import Conflict, NotFound, ValidationFailed
from server.events.outbox import Topics
from server.observability import Metrics
from server.projects.queries import ProjectLookup, project_names
from server.tasks import agenda, queries
from server.tasks.alerts import AlertPolicy
from server.tasks.idempotency import InFlight, check_key, fingerprint, replayed
from server.tasks.listing import list_page
from server.tasks.models import (
    BATCH_MAX,
    BatchCompletion,
    CompletionPublic,
    NewTask,
    NextTasks,
    Task,
    TaskChange,
    TaskCreate,
    TaskPage,
    TaskPublic,
    TaskQuery,
    TaskUpdate,
)
from server.tasks.occurrences import Next
from server.tasks.progress import Progress, Tell, no_progress, relayed
from server.tasks.ranking import rank_next
from server.tasks.work import TaskWork, check_change
from server.users.models import User

logger = logging.getLogger(__name__)

R = TypeVar("R")


def check_batch(field: str, items: Sequence[object]) -> None:
    if not 1 <= len(items) <= BATCH_MAX:
        raise ValidationFailed(field, f"give 1 to {BATCH_MAX} items (got {len(items)})")


def digest_of(item: TaskCreate) -> str:
    """The fingerprint of a new task's request, its idempotency key left out."""
    fields = item.model_dump(exclude_unset=True, exclude={"idempotency_key"})
    return fingerprint(TaskCreate.model_validate(fields))


class TaskService:
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
        if idempotency_key is None:
            task, work = await self.run_unit(user, lambda work: work.create(data))
            self._count_created(1)
            return work.publics[task.id]
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
                return await self.get_task(user=user, task_id=existing.id)
        self._count_created(1)
        return work.publics[task.id]

    async def create_tasks(
        self, *, user: User, items: Sequence[NewTask], progress: Progress = no_progress
    ) -> list[TaskPublic]:
        """Create 1-50 tasks at once, all or none."""
        check_batch("tasks", items)

        def change(work: TaskWork, tell: Tell) -> list[Task]:
            created = []
            for index, item in enumerate(items):
                with work.item(f"tasks[{index}]"):
                    key = item.idempotency_key
                    if key is not None:
                        check_key(key)
                    digest = key and digest_of(item)
                    created.append(work.create(item, idempotency_key=key, digest=digest))
                tell(index + 1)
            return created

        try:
            created, work = await self._batch(user, change, progress)
        except IntegrityError:
            raise Conflict("an idempotency key of this batch was used meanwhile; retry") from None
        self._count_created(len(created))
        return [work.publics[task.id] for task in created]

    async def update_task(self, *, user: User, task_id: int, data: TaskUpdate) -> TaskPublic:
        """Change the fields present in `data`; rescheduling re-arms alerts, keeps recurrence."""
        check_change(data)

        def change(work: TaskWork) -> Task:
            task = work.load(task_id, include_deleted=False)
            work.update(task, data)
            return task

        task, work = await self.run_unit(user, change)
        return work.publics[task.id]

    async def update_tasks(
        self, *, user: User, items: Sequence[TaskChange], progress: Progress = no_progress
    ) -> list[TaskPublic]:
        """Change 1-50 tasks at once, all or none."""
        check_batch("updates", items)

        def change(work: TaskWork, tell: Tell) -> list[Task]:
            changed = []
            for index, item in enumerate(items):
                with work.item(f"updates[{index}]"):
                    data = TaskUpdate(**item.changes())
                    check_change(data)
                    task = work.load(item.task_id, include_deleted=False)
                    work.update(task, data)
                    changed.append(task)
                tell(index + 1)
            return changed

        changed, work = await self._batch(user, change, progress)
        return [work.publics[task.id] for task in changed]

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

    async def complete_tasks(
        self, *, user: User, task_ids: Sequence[int], progress: Progress = no_progress
    ) -> BatchCompletion:
        """Complete 1-50 tasks at once, all or none."""
        check_batch("task_ids", task_ids)

        def change(work: TaskWork, tell: Tell) -> tuple[list[Task], list[Task | None]]:
            done, following = [], []
            for index, task_id in enumerate(task_ids):
                with work.item(f"task_ids[{index}]"):
                    task = work.load(task_id, include_deleted=False)
                    following.append(work.complete(task).task)
                    done.append(task)
                tell(index + 1)
            return done, following

        (done, following), work = await self._batch(user, change, progress)
        if self.metrics:
            self.metrics.tasks_completed.inc(len(done))
        return BatchCompletion(
            tasks=[work.publics[task.id] for task in done],
            next_occurrences=[work.publics[i] for i in dict.fromkeys(t.id for t in following if t)],
        )

    async def reopen_task(self, *, user: User, task_id: int) -> TaskPublic:
        def change(work: TaskWork) -> Task:
            task = work.load(task_id, include_deleted=False)
            work.reopen(task)
            return task

        task, work = await self.run_unit(user, change)
        return work.publics[task.id]

    async def delete_task(self, *, user: User, task_id: int) -> TaskPublic:
        """Soft-delete a task with its subtasks: they leave every list but can be restored."""

        def change(work: TaskWork) -> Task:
            task = work.load(task_id, include_deleted=True)
            work.delete(task)
            return task

        task, work = await self.run_unit(user, change)
        return work.publics[task.id]

    async def delete_tasks(
        self, *, user: User, task_ids: Sequence[int], progress: Progress = no_progress
    ) -> list[TaskPublic]:
        """Delete 1-50 tasks at once, all or none."""
        check_batch("task_ids", task_ids)

        def change(work: TaskWork, tell: Tell) -> list[Task]:
            gone = []
            for index, task_id in enumerate(task_ids):
                with work.item(f"task_ids[{index}]"):
                    task = work.load(task_id, include_deleted=True)
                    work.delete(task)
                    gone.append(task)
                tell(index + 1)
            return gone

        gone, work = await self._batch(user, change, progress)
        return [work.publics[task.id] for task in gone]

    async def restore_task(self, *, user: User, task_id: int) -> TaskPublic:
        """Bring back a deleted task and the subtasks deleted with it."""

        def change(work: TaskWork) -> Task:
            task = work.load(task_id, include_deleted=True)
            work.restore(task)
            return task

        task, work = await self.run_unit(user, change)
        return work.publics[task.id]

    async def _batch(
        self, user: User, change: Callable[[TaskWork, Tell], R], progress: Progress
    ) -> tuple[R, TaskWork]:
        """A batch's unit, its progress told as it goes (server/tasks/progress.py)."""
        async with relayed(progress) as tell:
            return await self.run_unit(user, lambda work: change(work, tell))

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

    def _count_created(self, count: int) -> None:
        if self.metrics:
            self.metrics.tasks_created.inc(count)

    # -- reads ----------------------------------------------------------------

    async def get_task(
        self, *, user: User, task_id: int, include_deleted: bool = True
    ) -> TaskPublic:
        # Core and `Database.run`, like listing: reading one task is the other hot path.
        check_id(task_id, queries.task_not_found)
        params = {"id": task_id, "user_id": user.id}

        row = await self.db.run(lambda conn: conn.execute(queries.GET_TASK, params).first())
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

        row, names = await self.db.run(read)
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
