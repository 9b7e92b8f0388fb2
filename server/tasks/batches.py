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
T = TypeVar("T")


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

        def create(work: TaskWork, item: NewTask) -> Task:
            key = item.idempotency_key
            if key is not None:
                check_key(key)
            return work.create(item, idempotency_key=key, digest=key and digest_of(item))

        try:
            created, work = await self._batch(user, "tasks", items, create, progress)
        except IntegrityError:
            raise Conflict("an idempotency key of this batch was used meanwhile; retry") from None
        self._count_created(len(created))
        return [work.publics[task.id] for task in created]

    async def update_tasks(
        self, *, user: User, items: Sequence[TaskChange], progress: Progress = no_progress
    ) -> list[TaskPublic]:
        """Change 1-50 tasks at once, all or none."""

        def update(work: TaskWork, item: TaskChange) -> Task:
            data = TaskUpdate(**item.changes())
            check_change(data)
            task = work.load(item.task_id, include_deleted=False)
            work.update(task, data)
            return task

        changed, work = await self._batch(user, "updates", items, update, progress)
        return [work.publics[task.id] for task in changed]

    async def complete_tasks(
        self, *, user: User, task_ids: Sequence[int], progress: Progress = no_progress
    ) -> BatchCompletion:
        """Complete 1-50 tasks at once, all or none."""

        def complete(work: TaskWork, task_id: int) -> tuple[Task, Task | None]:
            task = work.load(task_id, include_deleted=False)
            return task, work.complete(task).task

        pairs, work = await self._batch(user, "task_ids", task_ids, complete, progress)
        if self.metrics:
            self.metrics.tasks_completed.inc(len(pairs))
        following = dict.fromkeys(next_one.id for _, next_one in pairs if next_one)
        return BatchCompletion(
            tasks=[work.publics[task.id] for task, _ in pairs],
            next_occurrences=[work.publics[task_id] for task_id in following],
        )

    async def delete_tasks(
        self, *, user: User, task_ids: Sequence[int], progress: Progress = no_progress
    ) -> list[TaskPublic]:
        """Delete 1-50 tasks at once, all or none."""

        def delete(work: TaskWork, task_id: int) -> Task:
            task = work.load(task_id, include_deleted=True)
            work.delete(task)
            return task

        gone, work = await self._batch(user, "task_ids", task_ids, delete, progress)
        return [work.publics[task.id] for task in gone]

    async def _batch(
        self,
        user: User,
        field: str,
        items: Sequence[T],
        each: Callable[[TaskWork, T], R],
        progress: Progress,
    ) -> tuple[list[R], TaskWork]:
        """One unit for the whole batch: `each(work, item)` in order, an item's errors named
        after it (`tasks[3].due: ...`), progress told as each is done
        (server/tasks/progress.py)."""
        check_batch(field, items)

        def change(work: TaskWork, tell: Tell) -> list[R]:
            results = []
            for index, item in enumerate(items):
                with work.item(f"{field}[{index}]"):
                    results.append(each(work, item))
                tell(index + 1)
            return results

        async with relayed(progress) as tell:
            return await self.run_unit(user, lambda work: change(work, tell))
