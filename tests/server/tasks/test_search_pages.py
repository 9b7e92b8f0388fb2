"""A text or tag filter lists the same pages, cursor after cursor, whichever way the listing
reads them (server/tasks/search.py `searched_rows`): within the window of the plain
filter's first tasks, through the search index's candidates, or in its order. Each is
checked against the filter worked out from the tasks themselves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.projects.models import ProjectUpdate
from server.services import Services
from server.tasks import search
from server.tasks.models import NO_DUE, NewTask, TaskChange, TaskPublic, TaskQuery
from server.tasks.rules import PRIORITY_RANK
from server.users.models import User
from tests.utils.factories import make_project

START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
WORDS = ("call", "email", "plan", "buy", "fix")
PRIORITIES = ("high", "medium", "low", None)
COUNT = 240


@dataclass
class Filled:
    services: Services
    user: User
    listable: list[TaskPublic]  # the user's tasks that listings show (not deleted or archived)
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine):
        """From hypothesis's thread: run a coroutine on the test's event loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)


def new_task(i: int) -> NewTask:
    """The i-th task: "report" in one title in 9, "work" in 5 tasks in 12, a "rare" tag and
    a "zebra" in a few; a fifth undated; titles and due times repeat (ties go by id)."""
    tags = ["Work"] if i % 12 < 5 else ["home"] if i % 12 < 8 else []
    if i % 50 == 7:
        tags.append("rare")
    return NewTask(
        title=f"{WORDS[i % 5]} {i % 17}" + (" REPORT" if i % 9 == 4 else ""),
        description="zebra crossing" if i % 60 == 11 else f"notes {i % 13}",
        tags=tags,
        priority=PRIORITIES[i % 4],
        due=None if i % 5 == 3 else START + timedelta(hours=(i * 37) % 90),
    )


@pytest.fixture(scope="module")
async def filled(shared_api) -> Filled:
    """COUNT tasks of one user, some completed, deleted or in an archived project; another
    user has the same tasks."""
    services = shared_api.services
    alice = (await shared_api.account("alice")).user
    bob = (await shared_api.account("bob")).user
    for user in (bob, alice):
        ids = []
        for start in range(0, COUNT, 48):
            items = [new_task(i) for i in range(start, start + 48)]
            ids += [task.id for task in await services.tasks.create_tasks(user=user, items=items)]
    await services.tasks.complete_tasks(user=alice, task_ids=ids[1::3][:50])
    await services.tasks.complete_tasks(user=alice, task_ids=ids[151::3][:30])
    deleted = ids[2::11]
    await services.tasks.delete_tasks(user=alice, task_ids=deleted)
    old = await make_project(services, alice, "Old")
    moved = [TaskChange(task_id=i, project=old.id) for i in ids[5::23] if i not in deleted]
    await services.tasks.update_tasks(user=alice, items=moved)
    await services.projects.update_project(
        user=alice, ref=old.id, data=ProjectUpdate(archived=True)
    )
    tasks = [await services.tasks.get_task(user=alice, task_id=task_id) for task_id in ids]
    listable = [t for t in tasks if t.deleted_at is None and t.project_id != old.id]
    return Filled(services, alice, listable, asyncio.get_running_loop())


def expected(filled: Filled, query: TaskQuery) -> list[int]:
    """The ids the listing must give, in order: its filters and sort applied to the tasks."""
    tag = query.tag.lower() if query.tag else None
    text = (query.query or "").strip().lower()

    def kept(task: TaskPublic) -> bool:
        if query.status != "all" and task.completed != (query.status == "completed"):
            return False
        if tag is not None and tag not in [t.lower() for t in task.tags]:
            return False
        return text in task.title.lower() or text in (task.description or "").lower()

    def key(task: TaskPublic) -> tuple:
        due = task.due or NO_DUE
        return {
            "due": (due, task.id),
            "priority": (PRIORITY_RANK[task.priority], due, task.id),
            "title": (task.title.lower(), task.id),
            "created": (task.created_at, task.id),
        }[query.sort]

    found = sorted(filter(kept, filled.listable), key=key, reverse=query.sort == "created")
    return [task.id for task in found]


async def pages(filled: Filled, query: TaskQuery) -> list[list[int]]:
    """Every page of the listing, each read with the cursor the one before it gave."""
    listed, cursor = [], None
    while True:
        page = await filled.services.tasks.list_tasks(
            user=filled.user, query=query.model_copy(update={"cursor": cursor})
        )
        listed.append([task.id for task in page.tasks])
        if (cursor := page.next_cursor) is None:
            return listed


searched_queries = st.builds(
    TaskQuery,
    status=st.sampled_from(["pending", "completed", "all"]),
    sort=st.sampled_from(["due", "priority", "title", "created"]),
    limit=st.sampled_from([1, 3, 7, 12]),
    tag=st.sampled_from([None, "work", "WORK", "home", "rare", "nothing"]),
    query=st.sampled_from([None, "report", "zebra", "Re", " plan ", "notes 1", "nothing"]),
).filter(lambda query: query.tag or query.query)


def test_the_search_filters_of_the_tasks_are_worked_out_right(filled):
    # The oracle itself: what the tasks hold, counted by hand from `new_task`.
    everything = TaskQuery(status="all", sort="title")
    assert len(expected(filled, everything)) == len(filled.listable) > COUNT // 2
    rare = expected(filled, everything.model_copy(update={"tag": "rare"}))
    assert 0 < len(rare) <= 5


async def test_text_and_tag_listings_give_the_filters_pages_however_they_are_read(
    filled, monkeypatch
):
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(
        query=searched_queries,
        window=st.sampled_from([1, 2, 5, search.WINDOW_PER_ROW]),
        cap=st.sampled_from([1, 5, search.MAX_CANDIDATES]),
    )
    def check(query: TaskQuery, window: int, cap: int) -> None:
        monkeypatch.setattr(search, "WINDOW_PER_ROW", window)
        monkeypatch.setattr(search, "MAX_CANDIDATES", cap)
        listed = filled.run(pages(filled, query))
        assert [i for page in listed for i in page] == expected(filled, query)
        assert all(len(page) == query.limit for page in listed[:-1])
        assert len(listed[-1]) <= query.limit

    await asyncio.to_thread(check)


@pytest.mark.parametrize(
    ("terms", "asks_index"),
    [({"tag": "work"}, False), ({"query": "report"}, False), ({"query": "zebra"}, True)],
    ids=["common tag", "common text", "rare text"],
)
async def test_a_common_term_fills_its_page_in_the_window_a_rare_one_asks_the_index(
    filled, monkeypatch, terms, asks_index
):
    asked, real = [], search.candidates

    def spied(conn, **terms):
        asked.append(terms)
        return real(conn, **terms)

    monkeypatch.setattr(search, "candidates", spied)
    query = TaskQuery(status="all", limit=2, **terms)  # a window of 60 of the 200 tasks

    page = await filled.services.tasks.list_tasks(user=filled.user, query=query)

    assert [task.id for task in page.tasks] == expected(filled, query)[:2]
    assert bool(asked) == asks_index
