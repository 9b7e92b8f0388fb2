"""The task service's batch writes: 1-50 tasks changed in one unit of work, all or none.

Each batch runs all its items in one `TaskWork` (server/tasks/work.py) on one transaction,
so one bad item changes nothing, and its error names the item and the field
(`tasks[3].due: ...`). Progress is told as each item is done (server/tasks/progress.py).
`TaskService` (server/tasks/service.py) has these methods from `BatchWrites`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from server.errors import Conflict, ValidationFailed
from server.observability import Metrics
from server.tasks.idempotency import check_key, fingerprint
from server.tasks.models import (
    BATCH_MAX,
    BatchCompletion,
    NewTask,
    Task,
    TaskChange,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)
from server.tasks.progress import Progress, Tell, no_progress, relayed
from server.tasks.work import TaskWork, check_change
from server.users.models import User

R = TypeVar("R")


def check_batch(field: str, items: Sequence[object]) -> None:
    if not 1 <= len(items) <= BATCH_MAX:
        raise ValidationFailed(field, f"give 1 to {BATCH_MAX} items (got {len(items)})")


def digest_of(item: TaskCreate) -> str:
    """The fingerprint of a new task's request, its idempotency key left out."""
    fields = item.model_dump(exclude_unset=True, exclude={"idempotency_key"})
    return fingerprint(TaskCreate.model_validate(fields))


class BatchWrites:
    """Create, change, complete and delete several tasks at once (mixed into TaskService)."""

    metrics: Metrics | None
    # TaskService.run_unit: `change` on a new unit of work, finished and committed whole.
    run_unit: Callable[[User, Callable[[TaskWork], Any]], Awaitable[tuple[Any, TaskWork]]]

    def _count_created(self, count: int) -> None:
        if self.metrics:
            self.metrics.tasks_created.inc(count)

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

    async def _batch(
        self, user: User, change: Callable[[TaskWork, Tell], R], progress: Progress
    ) -> tuple[R, TaskWork]:
        """A batch's unit, its progress told as it goes (server/tasks/progress.py)."""
        async with relayed(progress) as tell:
            return await self.run_unit(user, lambda work: change(work, tell))
