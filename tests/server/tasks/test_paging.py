"""Cursor paging: every task exactly once, in every sort, while tasks keep arriving."""

from __future__ import annotations

import base64
import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from server.tasks.models import Sort, Status, TaskQuery
from tests.utils.factories import assert_error, make_task, post_task

# Ties and traps for the sort keys: equal due times, missing ones, titles equal but for case,
# and non-ASCII titles whose lower case differs between Python, SQLite and PostgreSQL.
TITLES = ["apple", "Apple", "Zebra", "Éclair", "éclair", "Émile", "ábc", "İstanbul", "ß", "b"]
START = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)
_users = itertools.count()


def random_fields(rng: random.Random) -> dict:
    return {
        "title": f"{rng.choice(TITLES)} {rng.randint(1, 3)}",
        "priority": rng.choice(["high", "medium", "low", None]),
        "due": rng.choice([None, START, START + timedelta(hours=rng.randint(-48, 48))]),
    }


@pytest.mark.parametrize("sort", list(Sort))
async def test_paging_visits_every_task_once_while_tasks_are_added(shared_api, sort):
    services, rng = shared_api.services, random.Random(sort.value)
    user = (await shared_api.account(f"pager{next(_users)}")).user
    existing = {(await make_task(services, user, **random_fields(rng))).id for _ in range(30)}

    seen: list[int] = []
    cursor = None
    for _ in range(100):
        query = TaskQuery(status=Status.all, sort=sort, limit=4, cursor=cursor)
        page = await services.tasks.list_tasks(user=user, query=query)
        seen += [task.id for task in page.tasks]
        cursor = page.next_cursor
        if cursor is None:
            break
        for _ in range(2):  # others keep adding tasks that sort anywhere
            await make_task(services, user, **random_fields(rng))

    assert cursor is None
    assert len(seen) == len(set(seen)), "a task was listed twice"
    assert existing <= set(seen), "a task that existed from the start was skipped"


async def test_rest_paging_follows_next_cursor_to_the_end(shared_api):
    client = shared_api.client
    account = await shared_api.account("rest-pager")
    created = [
        (await post_task(client, account.headers, title=f"Task {n}"))["id"] for n in range(5)
    ]

    seen, params = [], {"limit": 2, "sort": "created"}
    while True:
        body = (await client.get("/api/tasks", params=params, headers=account.headers)).json()
        seen += [task["id"] for task in body["tasks"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]

    assert seen == created[::-1]  # newest first


def forged(sort: str, *values) -> str:
    raw = json.dumps({"s": sort, "v": list(values)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        pytest.param("due", "not base64 at all!", id="garbage"),
        pytest.param("due", base64.urlsafe_b64encode(b"\xff\xfe").decode(), id="not JSON"),
        pytest.param("due", forged("title", "a", 1), id="another sort's cursor"),
        pytest.param("due", forged("due", "2030-01-01T00:00:00", 1), id="naive time"),
        pytest.param("due", forged("due", "2030-01-01T00:00:00+00:00", 10**30), id="huge id"),
        pytest.param("due", forged("due", "9999-12-31T23:00:00-05:00", 1), id="time overflow"),
        pytest.param("priority", forged("priority", "x", "2030-01-01T00:00Z", 1), id="rank"),
        pytest.param("title", forged("title", 5, 1), id="number as title"),
        pytest.param("title", forged("title", "a\x00", 1), id="NUL in title"),
        pytest.param("created", forged("created", "2030-01-01T00:00Z", True), id="bool id"),
        pytest.param("created", forged("created", "2030-01-01T00:00Z"), id="too short"),
    ],
)
async def test_forged_cursor_is_refused(shared_api, sort, cursor):
    account = await shared_api.account(f"forger{next(_users)}")

    response = await shared_api.client.get(
        "/api/tasks", params={"sort": sort, "cursor": cursor}, headers=account.headers
    )

    assert_error(response, 422, "cursor")
