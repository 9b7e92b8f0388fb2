"""A task write is one unit of work run whole (SQLite and PostgreSQL): cancelling the caller
never leaves half of it, and a batch's progress is told in order before it returns."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from server.events.models import OutboxEvent
from server.tasks.models import NewTask, TaskCreate
from server.tasks.models import Task as TaskRow


async def created_tasks_and_events(services, user_id: int) -> tuple[set[int], set[int]]:
    """The user's task ids and the ids named by `task.created` events, read on the writer
    (on SQLite it runs after any unit still under way there)."""

    def read(conn):
        tasks = conn.execute(select(TaskRow.id).where(TaskRow.user_id == user_id)).scalars()
        subjects = conn.execute(
            select(OutboxEvent.envelope["subject"].as_string()).where(
                OutboxEvent.envelope["type"].as_string() == "task.created"
            )
        ).scalars()
        return set(tasks), {int(s.removeprefix("task/")) for s in subjects}

    return await services.db.run(read, write=True)


async def test_a_cancelled_create_leaves_the_task_with_its_event_or_nothing(services, alice):
    outcomes = set()
    for steps in range(12):  # cancel the caller at a different point each time
        creating = asyncio.create_task(
            services.tasks.create_task(user=alice.user, data=TaskCreate(title=f"Try {steps}"))
        )
        for _ in range(steps):
            await asyncio.sleep(0)
        creating.cancel()
        try:
            await creating
            outcomes.add("finished")
        except asyncio.CancelledError:
            outcomes.add("cancelled")

    tasks, announced = await created_tasks_and_events(services, alice.user.id)
    assert tasks == announced
    assert "cancelled" in outcomes
    again = await services.tasks.create_task(user=alice.user, data=TaskCreate(title="After"))
    assert again.title == "After"  # the writer is free again


async def test_a_batch_tells_its_progress_in_order_before_it_returns(services, alice):
    seen: list[int] = []

    async def progress(done: int) -> None:
        await asyncio.sleep(0)  # a reporter that awaits, as MCP's does
        seen.append(done)

    created = await services.tasks.create_tasks(
        user=alice.user, items=[NewTask(title=f"Step {n}") for n in range(5)], progress=progress
    )

    assert len(created) == 5
    assert seen == [1, 2, 3, 4, 5]
