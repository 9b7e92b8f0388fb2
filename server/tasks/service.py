"""The task service: every task change (tools, REST, workers) goes through here.

Each public method is one unit of work: the change and its outbox event commit together.
Reads are `get_task` and `list_tasks` (the listing itself is in server/tasks/listing.py).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database, check_id, utcnow
from server.errors import NotFound, ValidationFailed
from server.events.outbox import Topics, add_event
from server.observability import Metrics
from server.tasks import queries
from server.tasks.alerts import AlertPolicy
from server.tasks.dates import resolve_due
from server.tasks.idempotency import InFlight, check_key, fingerprint, replayed
from server.tasks.listing import list_page
from server.tasks.models import (
    NO_DUE,
    CompletionPublic,
    Task,
    TaskBase,
    TaskCreate,
    TaskPage,
    TaskPublic,
    TaskQuery,
    TaskUpdate,
)
from server.tasks.recurrence import (
    check_schedule,
    following_rule,
    next_occurrence,
    normalize_rule,
)
from server.tasks.rules import PRIORITY_RANK, clean_title, normalize_tags, tags_key
from server.users.models import User
from server.validation import no_nul

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Next:
    """A completed task's next occurrence, or why there is none (`note`)."""

    task: Task | None
    note: str | None = None


def to_public(task: Task) -> TaskPublic:
    return TaskPublic.model_validate(task, from_attributes=True)


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

    # -- writes ---------------------------------------------------------------

    async def create_task(
        self, *, user: User, data: TaskCreate, idempotency_key: str | None = None
    ) -> TaskPublic:
        """Create a task; a repeated `idempotency_key` returns the task it first created
        (server/tasks/idempotency.py)."""
        if idempotency_key is None:
            return to_public(await self._create(user, data))
        check_key(idempotency_key)
        digest = fingerprint(data)
        with self._in_flight.claim(user.id, idempotency_key):
            existing = await queries.by_idempotency_key(self.db, user.id, idempotency_key)
            if existing is not None:
                return to_public(replayed(existing, digest))
            try:
                task = await self._create(user, data, key=idempotency_key, digest=digest)
            except IntegrityError:  # created meanwhile by another process
                existing = await queries.by_idempotency_key(self.db, user.id, idempotency_key)
                if existing is None:
                    raise
                return to_public(replayed(existing, digest))
        return to_public(task)

    async def _create(
        self, user: User, data: TaskCreate, *, key: str | None = None, digest: str | None = None
    ) -> Task:
        task = Task(user_id=user.id, title="", idempotency_key=key, idempotency_fingerprint=digest)
        self._apply(task, data, user, fields=data.model_fields_set | {"title"})
        async with self.db.transaction() as session:
            session.add(task)
            await session.flush()
            self._emit(session, "task.created", task)
        if self.metrics:
            self.metrics.tasks_created.inc()
        return task

    async def update_task(self, *, user: User, task_id: int, data: TaskUpdate) -> TaskPublic:
        """Change the fields present in `data`; rescheduling re-arms alerts, keeps recurrence."""
        fields = data.model_fields_set
        if not fields:
            raise ValidationFailed("body", "give at least one field to change")
        if "title" in fields and data.title is None:
            raise ValidationFailed("title", "cannot be null")
        async with self.db.transaction() as session:
            task = await self._owned(session, user, task_id, include_deleted=False)
            self._apply(task, data, user, fields=fields)
            self._touch(session, task, "task.updated")
            return to_public(task)

    async def complete_task(self, *, user: User, task_id: int) -> CompletionPublic:
        """Complete a task; a recurring one gets exactly one next occurrence."""
        async with self.db.transaction() as session:
            task = await self._owned(session, user, task_id, include_deleted=False)
            if task.completed:
                return self._completion(task, Next(await queries.following(session, task)))
            task.completed = True
            task.completed_at = utcnow()
            self._touch(session, task, "task.completed")
            following = await self._next_occurrence(session, task, user)
        if self.metrics:
            self.metrics.tasks_completed.inc()
        return self._completion(task, following)

    @staticmethod
    def _completion(task: Task, following: Next) -> CompletionPublic:
        return CompletionPublic(
            task=to_public(task),
            next_occurrence=following.task and to_public(following.task),
            recurrence_note=following.note,
        )

    async def reopen_task(self, *, user: User, task_id: int) -> TaskPublic:
        async with self.db.transaction() as session:
            task = await self._owned(session, user, task_id, include_deleted=False)
            if task.completed:
                task.completed = False
                task.completed_at = None
                self._touch(session, task, "task.reopened")
            return to_public(task)

    async def delete_task(self, *, user: User, task_id: int) -> TaskPublic:
        """Soft-delete: the task leaves every list but can be restored."""
        async with self.db.transaction() as session:
            task = await self._owned(session, user, task_id, include_deleted=True)
            if task.deleted_at is None:
                task.deleted_at = utcnow()
                self._touch(session, task, "task.deleted")
            return to_public(task)

    async def restore_task(self, *, user: User, task_id: int) -> TaskPublic:
        async with self.db.transaction() as session:
            task = await self._owned(session, user, task_id, include_deleted=True)
            if task.deleted_at is not None:
                task.deleted_at = None
                self._touch(session, task, "task.restored")
            return to_public(task)

    async def ensure_next_occurrence(
        self, *, session: AsyncSession, user_id: int, task_id: int
    ) -> TaskPublic | None:
        """In `session`'s transaction: the occurrence after the user's completed recurring
        task `task_id`, created once however often this is asked (the recurrence consumer
        asks for every `task.completed`; `complete_task` made it the same way). None when
        there is none: not recurring, the series ended, or the task is gone."""
        user = await session.get(User, user_id)
        if user is None:
            return None
        try:
            # Locked: waits for a concurrent completion to commit.
            task = await queries.owned_task(
                session, self.db, user_id=user_id, task_id=task_id, include_deleted=True, lock=True
            )
        except NotFound:
            return None
        following = (await self._next_occurrence(session, task, user)).task
        return following and to_public(following)

    # -- reads ----------------------------------------------------------------

    async def get_task(
        self, *, user: User, task_id: int, include_deleted: bool = True
    ) -> TaskPublic:
        # Core and `Database.run`, like listing: reading one task is the other hot path.
        check_id(task_id, queries.task_not_found)
        params = {"id": task_id, "user_id": user.id}
        row = await self.db.run(lambda conn: conn.execute(queries.GET_TASK, params).first())
        return TaskPublic.model_validate(queries.visible(row, task_id, include_deleted)._mapping)

    async def list_tasks(self, *, user: User, query: TaskQuery) -> TaskPage:
        """One page of the user's tasks; `next_cursor` continues after its last task."""
        return await list_page(
            self.db, user=user, query=query, overdue_after_minutes=self.alerts.overdue_after_minutes
        )

    # -- helpers --------------------------------------------------------------

    async def _owned(
        self, session: AsyncSession, user: User, task_id: int, *, include_deleted: bool
    ) -> Task:
        return await queries.owned_task(
            session,
            self.db,
            user_id=user.id,
            task_id=task_id,
            include_deleted=include_deleted,
            lock=True,
        )

    async def _next_occurrence(self, session: AsyncSession, task: Task, user: User) -> Next:
        """The occurrence after a completed recurring `task`, created once (unique key); or
        none, and why, when the series ended or its stored rule cannot be expanded (the task
        is completed all the same)."""
        if not task.recurrence or not task.completed:
            return Next(None)
        existing = await queries.following(session, task)
        if existing is not None:
            return Next(existing)
        base = task.due or task.completed_at or utcnow()
        try:
            rule = following_rule(task.recurrence)
            due = rule and next_occurrence(task.recurrence, base, user.timezone)
        except ValidationFailed as exc:
            logger.warning("task %s completed without a next occurrence: %s", task.id, exc.rule)
            return Next(None, f"No next occurrence: {exc.rule}")
        if due is None:
            return Next(None, "No next occurrence: the rule has no date after this one")
        following = Task(
            user_id=task.user_id,
            title=task.title,
            description=task.description,
            priority=task.priority,
            priority_rank=task.priority_rank,
            tags=list(task.tags),
            tags_key=task.tags_key,
            due=due,
            due_sort=due,
            remind_before_minutes=task.remind_before_minutes,
            recurrence=rule,
            series_id=task.series_id,
            occurrence_of=task.id,
        )
        following.next_alert_at = self.alerts.next_alert_at(following)
        async with session.begin_nested():
            session.add(following)
            await session.flush()
        self._emit(session, "task.created", following)
        return Next(following)

    def _apply(self, task: Task, data: TaskBase, user: User, *, fields: set[str]) -> None:
        """Validate and copy the given fields of `data` onto `task`."""
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
        if "remind_before_minutes" in fields:
            task.remind_before_minutes = data.remind_before_minutes
        if "due" in fields:
            new_due = resolve_due(data.due, user.timezone) if data.due is not None else None
            if new_due != task.due:
                task.due = new_due
                task.due_sort = new_due or NO_DUE
                task.last_alert = None  # a new due time re-arms every stage
        if task.recurrence and fields & {"recurrence", "due"}:
            # Whether a rule matches, and expands, can depend on where it starts: check from
            # the due time.
            check_schedule(task.recurrence, task.due or utcnow(), user.timezone)
        task.next_alert_at = self.alerts.next_alert_at(task)

    def _touch(self, session: AsyncSession, task: Task, event_type: str) -> None:
        task.updated_at = utcnow()
        task.next_alert_at = self.alerts.next_alert_at(task)
        self._emit(session, event_type, task)

    def _emit(self, session: AsyncSession, event_type: str, task: Task) -> None:
        add_event(
            session,
            topic=self.topics.task_events,
            type=event_type,
            user_id=task.user_id,
            subject=f"task/{task.id}",
            data={"user_id": task.user_id, "task": to_public(task).model_dump(mode="json")},
        )
