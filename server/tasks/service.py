"""The task service: every task change (tools, REST, workers) goes through here.

Each public method is one unit of work: the change and its outbox event commit together.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, bindparam, func, literal, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import MAX_ID, Database, utcnow
from server.errors import NotFound, ValidationFailed
from server.events.outbox import Topics, add_event
from server.observability import Metrics
from server.tasks.alerts import AlertPolicy
from server.tasks.dates import resolve_due
from server.tasks.models import (
    NO_DUE,
    TAG_MAX,
    CompletionPublic,
    Priority,
    Task,
    TaskCreate,
    TaskInput,
    TaskPage,
    TaskPublic,
    TaskUpdate,
)
from server.tasks.recurrence import following_rule, next_occurrence, normalize_rule
from server.users.models import User
from server.validation import no_nul

__all__ = ["AlertPolicy", "ListQuery", "Sort", "Status", "TaskService"]

logger = logging.getLogger(__name__)

PRIORITY_RANK = {Priority.high: 1, Priority.medium: 2, Priority.low: 3, None: 4}
MAX_LIMIT = 200


# What a listing reads: the public fields plus the sort keys its cursor is made of.
LIST_COLUMNS = [
    *(Task.__table__.c[name] for name in TaskPublic.model_fields),
    Task.__table__.c.due_sort,
    Task.__table__.c.priority_rank,
]


class Status(StrEnum):
    pending = "pending"
    completed = "completed"
    all = "all"
    deleted = "deleted"


class Sort(StrEnum):
    due = "due"
    priority = "priority"
    created = "created"
    title = "title"


@dataclass(frozen=True, slots=True)
class ListQuery:
    status: Status = Status.pending
    priority: Priority | None = None
    tag: str | None = None
    query: str | None = None
    due_before: datetime | str | None = None
    due_after: datetime | str | None = None
    overdue: bool | None = None
    sort: Sort = Sort.due
    limit: int = 50
    cursor: str | None = None


GET_TASK = select(*LIST_COLUMNS).where(
    Task.id == bindparam("id"), Task.user_id == bindparam("user_id")
)


def _not_found(task_id: int) -> NotFound:
    return NotFound(f"task {task_id} not found", details={"task_id": task_id})


R = TypeVar("R")


def _check_id(task_id: int) -> None:
    if not 1 <= task_id <= MAX_ID:  # no such row; the database would reject the number
        raise _not_found(task_id)


def _visible(row: R | None, task_id: int, include_deleted: bool) -> R:
    """The task (a `Task` or a row of one), unless it is missing, or deleted and not wanted."""
    if row is None or (row.deleted_at is not None and not include_deleted):
        raise _not_found(task_id)
    return row


def to_public(task: Task) -> TaskPublic:
    return TaskPublic.model_validate(task, from_attributes=True)


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


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cursor_value(kind: str, value: Any) -> Any:
    """One decoded cursor value, checked so that no forged cursor reaches the database."""
    if kind == "d":
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        return parsed.astimezone(UTC)
    if kind == "i":
        if type(value) is not int or not -MAX_ID <= value <= MAX_ID:
            raise ValueError("not a row number")
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a title")
    return value


class TaskService:
    """Create, read, change and list one user's tasks."""

    def __init__(
        self, *, db: Database, topics: Topics, alerts: AlertPolicy, metrics: Metrics | None = None
    ) -> None:
        self.db = db
        self.topics = topics
        self.alerts = alerts
        self.metrics = metrics

    # -- writes ---------------------------------------------------------------

    async def create_task(
        self, *, user: User, data: TaskCreate, idempotency_key: str | None = None
    ) -> TaskPublic:
        """Create a task; a repeated `idempotency_key` returns the task it first created."""
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= 200:
                raise ValidationFailed("idempotency_key", "1-200 characters")
            no_nul("idempotency_key", idempotency_key)
            existing = await self._by_idempotency_key(user, idempotency_key)
            if existing is not None:
                return to_public(existing)
        task = Task(user_id=user.id, title="", idempotency_key=idempotency_key)
        self._apply(task, data, user, fields=data.model_fields_set | {"title"})
        try:
            async with self.db.transaction() as session:
                session.add(task)
                await session.flush()
                self._emit(session, "task.created", task)
        except IntegrityError:
            existing = await self._by_idempotency_key(user, idempotency_key)
            if idempotency_key is None or existing is None:
                raise
            return to_public(existing)
        if self.metrics:
            self.metrics.tasks_created.inc()
        return to_public(task)

    async def get_task(
        self, *, user: User, task_id: int, include_deleted: bool = True
    ) -> TaskPublic:
        # Core and `Database.run`, like listing: reading one task is the other hot path.
        _check_id(task_id)
        params = {"id": task_id, "user_id": user.id}
        row = await self.db.run(lambda conn: conn.execute(GET_TASK, params).first())
        return TaskPublic.model_validate(_visible(row, task_id, include_deleted)._mapping)

    async def update_task(self, *, user: User, task_id: int, data: TaskUpdate) -> TaskPublic:
        """Change the fields present in `data`; rescheduling re-arms alerts, keeps recurrence."""
        fields = data.model_fields_set
        if not fields:
            raise ValidationFailed("body", "give at least one field to change")
        if "title" in fields and data.title is None:
            raise ValidationFailed("title", "cannot be null")
        async with self.db.transaction() as session:
            task = await self._load(session, user, task_id, include_deleted=False, lock=True)
            self._apply(task, data, user, fields=fields)
            self._touch(session, task, "task.updated")
            return to_public(task)

    async def complete_task(self, *, user: User, task_id: int) -> CompletionPublic:
        """Complete a task; a recurring one gets exactly one next occurrence."""
        async with self.db.transaction() as session:
            task = await self._load(session, user, task_id, include_deleted=False, lock=True)
            if task.completed:
                following = await self._following(session, task)
                return self._completion(task, following)
            task.completed = True
            task.completed_at = utcnow()
            self._touch(session, task, "task.completed")
            following = await self.ensure_next_occurrence(session=session, task=task, user=user)
        if self.metrics:
            self.metrics.tasks_completed.inc()
        return self._completion(task, following)

    @staticmethod
    def _completion(task: Task, following: Task | None) -> CompletionPublic:
        return CompletionPublic(
            task=to_public(task), next_occurrence=following and to_public(following)
        )

    async def reopen_task(self, *, user: User, task_id: int) -> TaskPublic:
        async with self.db.transaction() as session:
            task = await self._load(session, user, task_id, include_deleted=False, lock=True)
            if task.completed:
                task.completed = False
                task.completed_at = None
                self._touch(session, task, "task.reopened")
            return to_public(task)

    async def delete_task(self, *, user: User, task_id: int) -> TaskPublic:
        """Soft-delete: the task leaves every list but can be restored."""
        async with self.db.transaction() as session:
            task = await self._load(session, user, task_id, include_deleted=True, lock=True)
            if task.deleted_at is None:
                task.deleted_at = utcnow()
                self._touch(session, task, "task.deleted")
            return to_public(task)

    async def restore_task(self, *, user: User, task_id: int) -> TaskPublic:
        async with self.db.transaction() as session:
            task = await self._load(session, user, task_id, include_deleted=True, lock=True)
            if task.deleted_at is not None:
                task.deleted_at = None
                self._touch(session, task, "task.restored")
            return to_public(task)

    async def ensure_next_occurrence(
        self, *, session: AsyncSession, task: Task, user: User
    ) -> Task | None:
        """The occurrence after a completed recurring `task`, created once (unique key)."""
        if not task.recurrence or not task.completed:
            return None
        existing = await self._following(session, task)
        if existing is not None:
            return existing
        rule = following_rule(task.recurrence)
        base = task.due or task.completed_at or utcnow()
        due = rule and next_occurrence(task.recurrence, base, user.timezone)
        if due is None:
            return None
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
        return following

    # -- reads ----------------------------------------------------------------

    async def list_tasks(self, *, user: User, query: ListQuery) -> TaskPage:
        """One page of the user's tasks; `next_cursor` continues after its last task."""
        if not 1 <= query.limit <= MAX_LIMIT:
            raise ValidationFailed("limit", f"must be between 1 and {MAX_LIMIT}")
        keys, descending = self._sort_keys(query.sort)
        # A Core select of just the listed columns: listing is the hot path, and skipping the
        # ORM's identity map and instances halves its cost.
        columns = LIST_COLUMNS
        if query.sort == Sort.title:
            # The cursor carries the database's own lower(title): Python's lower() differs
            # from SQLite's (ASCII only) and PostgreSQL's on non-ASCII titles.
            columns = [*LIST_COLUMNS, keys[0].label("title_key")]
        stmt = select(*columns).where(*self._filters(user, query))
        if query.cursor:
            values = self._decode_cursor(query.cursor, query.sort, len(keys))
            row = tuple_(*keys)
            bound = tuple_(*(literal(v, k.type) for k, v in zip(keys, values, strict=True)))
            stmt = stmt.where(row < bound if descending else row > bound)
        order = [k.desc() if descending else k.asc() for k in keys]
        stmt = stmt.order_by(*order).limit(query.limit + 1)
        rows = await self.db.run(lambda conn: conn.execute(stmt).all())
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        cursor = self._encode_cursor(rows[-1], query.sort) if more and rows else None
        tasks = [TaskPublic.model_validate(row._mapping) for row in rows]
        return TaskPage(tasks=tasks, next_cursor=cursor)

    def _filters(self, user: User, query: ListQuery) -> list[ColumnElement[bool]]:
        now = utcnow()
        filters: list[ColumnElement[bool]] = [Task.user_id == user.id]
        if query.status == Status.deleted:
            filters.append(Task.deleted_at.is_not(None))
        else:
            filters.append(Task.deleted_at.is_(None))
        if query.status == Status.pending:
            filters.append(Task.completed.is_(False))
        elif query.status == Status.completed:
            filters.append(Task.completed.is_(True))
        if query.priority is not None:
            filters.append(Task.priority == query.priority.value)
        if query.tag is not None:
            try:
                tag = normalize_tags([query.tag])[0].lower()
            except ValidationFailed as exc:
                raise ValidationFailed("tag", exc.rule) from None
            filters.append(Task.tags_key.like(f"%|{_like_escape(tag)}|%", escape="\\"))
        if query.query is not None and query.query.strip():
            text = no_nul("query", query.query.strip().lower())
            pattern = f"%{_like_escape(text)}%"
            filters.append(
                or_(
                    func.lower(Task.title).like(pattern, escape="\\"),
                    func.lower(func.coalesce(Task.description, "")).like(pattern, escape="\\"),
                )
            )
        if query.due_before is not None:
            before = resolve_due(query.due_before, user.timezone, now=now, field="due_before")
            filters.append(Task.due < before)
        if query.due_after is not None:
            after = resolve_due(query.due_after, user.timezone, now=now, field="due_after")
            filters.append(Task.due > after)
        # Overdue means what the alerts mean: OVERDUE_AFTER_MINUTES past the due time.
        overdue_at = now - timedelta(minutes=self.alerts.overdue_after_minutes)
        if query.overdue is True:
            filters += [Task.completed.is_(False), Task.due < overdue_at]
        elif query.overdue is False:
            filters.append(or_(Task.due.is_(None), Task.due >= overdue_at))
        return filters

    @staticmethod
    def _sort_keys(sort: Sort) -> tuple[list[Any], bool]:
        if sort == Sort.due:
            return [Task.due_sort, Task.id], False
        if sort == Sort.priority:
            return [Task.priority_rank, Task.due_sort, Task.id], False
        if sort == Sort.title:
            return [func.lower(Task.title), Task.id], False
        return [Task.created_at, Task.id], True

    @staticmethod
    def _sort_values(task: Any, sort: Sort) -> list[Any]:
        if sort == Sort.due:
            return [task.due_sort, task.id]
        if sort == Sort.priority:
            return [task.priority_rank, task.due_sort, task.id]
        if sort == Sort.title:
            return [task.title_key, task.id]
        return [task.created_at, task.id]

    def _encode_cursor(self, task: Any, sort: Sort) -> str:
        values = [
            v.isoformat() if isinstance(v, datetime) else v for v in self._sort_values(task, sort)
        ]
        raw = json.dumps({"s": sort.value, "v": values}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @staticmethod
    def _decode_cursor(cursor: str, sort: Sort, size: int) -> list[Any]:
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            if raw["s"] != sort.value or len(raw["v"]) != size:
                raise ValueError("cursor belongs to another sort")
            kinds = {Sort.due: "di", Sort.priority: "idi", Sort.title: "si", Sort.created: "di"}
            return [
                _cursor_value(kind, value)
                for kind, value in zip(kinds[sort], raw["v"], strict=True)
            ]
        except (ValueError, KeyError, TypeError, OverflowError):
            raise ValidationFailed(
                "cursor", "is not a cursor from this listing; repeat the request without it"
            ) from None

    # -- helpers --------------------------------------------------------------

    def _apply(self, task: Task, data: TaskInput, user: User, *, fields: set[str]) -> None:
        """Validate and copy the given fields of `data` onto `task`."""
        if "title" in fields:
            title = (data.title or "").strip()
            if not title:
                raise ValidationFailed("title", "must not be empty")
            if any(ord(c) < 32 or ord(c) == 127 for c in title):
                raise ValidationFailed("title", "must be one line without control characters")
            task.title = title
        if "description" in fields:
            task.description = data.description and no_nul("description", data.description)
        if "priority" in fields:
            task.priority = data.priority.value if data.priority else None
            task.priority_rank = PRIORITY_RANK[data.priority]
        if "tags" in fields:
            task.tags = normalize_tags(data.tags or [])
            task.tags_key = "|" + "".join(f"{t.lower()}|" for t in task.tags)
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
            # Whether a rule ever matches can depend on where it starts: check from the due.
            start = task.due or utcnow()
            if next_occurrence(task.recurrence, start, user.timezone, inclusive=True) is None:
                raise ValidationFailed(
                    "recurrence", "matches no date from the task's due time on; check the rule"
                )
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

    async def _load(
        self,
        session: AsyncSession,
        user: User,
        task_id: int,
        include_deleted: bool,
        lock: bool = False,
    ) -> Task:
        _check_id(task_id)
        stmt = select(Task).where(Task.id == task_id, Task.user_id == user.id)
        if lock and not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        return _visible(await session.scalar(stmt), task_id, include_deleted)

    @staticmethod
    async def _following(session: AsyncSession, task: Task) -> Task | None:
        return await session.scalar(select(Task).where(Task.occurrence_of == task.id))

    async def _by_idempotency_key(self, user: User, key: str | None) -> Task | None:
        async with self.db.session() as session:
            return await session.scalar(
                select(Task).where(Task.user_id == user.id, Task.idempotency_key == key)
            )
