"""The task REST routes end to end, as a script or UI uses them (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import make_account
from tests.utils.factories import assert_error, post_task


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def list_titles(client, headers, **params) -> list[str]:
    response = await client.get("/api/tasks", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()["tasks"]]


async def test_created_task_is_returned_and_can_be_read_back(client, alice):
    created = await post_task(
        client,
        alice.headers,
        title="  Pay rent  ",
        description="Transfer to the landlord",
        priority="high",
        tags=["Home", "money", "home"],
        due="2030-06-01T09:00",
        remind_before_minutes=15,
    )

    assert created["title"] == "Pay rent"
    assert created["priority"] == "high"
    assert created["tags"] == ["Home", "money"]
    # Naive input is in alice's timezone (Europe/Paris, UTC+2 in June).
    assert created["due"] == "2030-06-01T07:00:00Z"
    assert created["completed"] is False and created["completed_at"] is None
    assert created["deleted_at"] is None
    response = await client.get(f"/api/tasks/{created['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == created


async def test_patch_changes_only_the_fields_it_sends(client, alice):
    task = await post_task(
        client,
        alice.headers,
        title="Write report",
        description="Q3 numbers",
        priority="medium",
        tags=["work"],
        due="2030-06-01T09:00",
    )

    response = await client.patch(
        f"/api/tasks/{task['id']}", json={"title": "Write the Q3 report"}, headers=alice.headers
    )

    assert response.status_code == 200
    patched = response.json()
    assert patched["title"] == "Write the Q3 report"
    unchanged = ("description", "priority", "tags", "due", "recurrence", "created_at")
    assert {k: patched[k] for k in unchanged} == {k: task[k] for k in unchanged}
    assert patched["updated_at"] >= task["updated_at"]


async def test_patched_due_is_read_in_the_users_timezone(client, bob):
    task = await post_task(client, bob.headers, title="Call the bank")

    response = await client.patch(
        f"/api/tasks/{task['id']}", json={"due": "2030-01-15T09:30"}, headers=bob.headers
    )

    # Bob lives in America/New_York: 09:30 there in January is 14:30 UTC.
    assert response.json()["due"] == "2030-01-15T14:30:00Z"


async def test_patch_with_null_clears_a_field(client, alice):
    task = await post_task(
        client,
        alice.headers,
        title="Renew passport",
        description="Photos first",
        priority="low",
        tags=["admin"],
        due="2030-06-01T09:00",
        recurrence="yearly",
    )

    response = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"due": None, "priority": None, "description": None, "tags": None, "recurrence": None},
        headers=alice.headers,
    )

    cleared = response.json()
    assert (cleared["due"], cleared["priority"], cleared["description"]) == (None, None, None)
    assert cleared["tags"] == [] and cleared["recurrence"] is None
    assert cleared["title"] == "Renew passport"


async def test_completed_task_leaves_the_pending_list_and_reopening_brings_it_back(client, alice):
    task = await post_task(client, alice.headers, title="Buy milk")

    response = await client.post(f"/api/tasks/{task['id']}/complete", headers=alice.headers)

    assert response.status_code == 200
    body = response.json()
    assert body["task"]["completed"] is True and body["task"]["completed_at"] is not None
    assert body["next_occurrence"] is None
    assert await list_titles(client, alice.headers) == []
    assert await list_titles(client, alice.headers, status="completed") == ["Buy milk"]

    response = await client.post(f"/api/tasks/{task['id']}/reopen", headers=alice.headers)

    assert response.status_code == 200
    assert response.json()["completed"] is False
    assert response.json()["completed_at"] is None
    assert await list_titles(client, alice.headers) == ["Buy milk"]


async def test_completing_a_recurring_task_creates_its_next_occurrence(client, alice):
    # 2030-06-03 is a Monday; 09:00 in Paris is 07:00 UTC in summer.
    task = await post_task(
        client,
        alice.headers,
        title="Team meeting",
        tags=["work"],
        priority="high",
        due="2030-06-03T09:00",
        recurrence="FREQ=WEEKLY;BYDAY=MO",
    )

    body = (await client.post(f"/api/tasks/{task['id']}/complete", headers=alice.headers)).json()

    following = body["next_occurrence"]
    assert following["due"] == "2030-06-10T07:00:00Z"
    assert following["id"] != task["id"]
    assert following["series_id"] == task["series_id"] is not None
    assert (following["title"], following["tags"], following["priority"]) == (
        "Team meeting",
        ["work"],
        "high",
    )
    assert following["recurrence"] == "FREQ=WEEKLY;BYDAY=MO"
    assert following["completed"] is False
    assert await list_titles(client, alice.headers) == ["Team meeting"]


async def test_completing_twice_creates_only_one_next_occurrence(client, alice):
    task = await post_task(client, alice.headers, title="Water plants", due="2030-06-03T08:00")
    await client.patch(
        f"/api/tasks/{task['id']}", json={"recurrence": "daily"}, headers=alice.headers
    )

    first = await client.post(f"/api/tasks/{task['id']}/complete", headers=alice.headers)
    await client.post(f"/api/tasks/{task['id']}/reopen", headers=alice.headers)
    second = await client.post(f"/api/tasks/{task['id']}/complete", headers=alice.headers)

    assert first.json()["next_occurrence"]["id"] == second.json()["next_occurrence"]["id"]
    assert first.json()["next_occurrence"]["due"] == "2030-06-04T06:00:00Z"
    assert await list_titles(client, alice.headers, status="all") == ["Water plants"] * 2


async def test_deleted_task_leaves_every_list_and_can_be_restored(client, alice):
    task = await post_task(client, alice.headers, title="Old idea")
    await post_task(client, alice.headers, title="Keep me")

    response = await client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)

    assert response.status_code == 200
    assert response.json()["deleted_at"] is not None
    assert await list_titles(client, alice.headers) == ["Keep me"]
    assert await list_titles(client, alice.headers, status="all") == ["Keep me"]
    assert await list_titles(client, alice.headers, status="deleted") == ["Old idea"]
    # A deleted task cannot be changed until it is restored.
    response = await client.patch(
        f"/api/tasks/{task['id']}", json={"title": "New idea"}, headers=alice.headers
    )
    assert_error(response, 404)
    assert_error(await client.post(f"/api/tasks/{task['id']}/complete", headers=alice.headers), 404)

    response = await client.post(f"/api/tasks/{task['id']}/restore", headers=alice.headers)

    assert response.status_code == 200
    assert response.json()["deleted_at"] is None
    assert sorted(await list_titles(client, alice.headers)) == ["Keep me", "Old idea"]
    assert await list_titles(client, alice.headers, status="deleted") == []


async def test_natural_language_due_is_resolved_in_the_users_timezone(services, client):
    tokyo = ZoneInfo("Asia/Tokyo")
    kenji = await make_account(services, "kenji", "Asia/Tokyo")

    def tomorrow_5pm(now: datetime) -> str:
        day = now.astimezone(tokyo).date() + timedelta(days=1)
        return iso(datetime(day.year, day.month, day.day, 17, tzinfo=tokyo))

    before = datetime.now(UTC)
    task = await post_task(client, kenji.headers, title="Pick up parcel", due="tomorrow 5pm")
    after = datetime.now(UTC)

    # 17:00 in Tokyo is 08:00 UTC on the same calendar day.
    assert task["due"] in {tomorrow_5pm(before), tomorrow_5pm(after)}
    assert task["due"].endswith("T08:00:00Z")


async def test_idempotency_key_replay_returns_the_first_task(client, alice, bob):
    headers = {**alice.headers, "Idempotency-Key": "order-42"}
    body = {"title": "Order paper", "tags": ["office"]}
    first = await client.post("/api/tasks", json=body, headers=headers)
    # The same request again, its fields in another order: the same request.
    replay = await client.post("/api/tasks", json=dict(reversed(body.items())), headers=headers)

    assert first.status_code == 201
    assert replay.status_code in (200, 201)
    assert replay.json() == first.json()
    assert await list_titles(client, alice.headers, status="all") == ["Order paper"]
    # The key belongs to alice: bob's request with the same key is his own task.
    bobs = await client.post(
        "/api/tasks",
        json={"title": "Bob's paper"},
        headers={**bob.headers, "Idempotency-Key": "order-42"},
    )
    assert bobs.status_code == 201 and bobs.json()["id"] != first.json()["id"]
    assert await list_titles(client, bob.headers, status="all") == ["Bob's paper"]


async def test_idempotency_key_with_another_body_is_refused(client, alice):
    headers = {**alice.headers, "Idempotency-Key": "order-43"}
    first = await client.post("/api/tasks", json={"title": "Order paper"}, headers=headers)

    other = await client.post("/api/tasks", json={"title": "Order ink"}, headers=headers)

    assert first.status_code == 201
    assert_error(other, 422, "idempotency_key")
    assert await list_titles(client, alice.headers, status="all") == ["Order paper"]
    # The first request still replays.
    again = await client.post("/api/tasks", json={"title": "Order paper"}, headers=headers)
    assert again.json() == first.json()


@pytest.fixture(scope="module")
async def owner_and_intruder(shared_api):
    return await shared_api.account("owner"), await shared_api.account("intruder")


@pytest.mark.parametrize(
    ("request_line", "body"),
    [
        ("GET /api/tasks/{id}", None),
        ("PATCH /api/tasks/{id}", {"title": "Mine now"}),
        ("DELETE /api/tasks/{id}", None),
        ("POST /api/tasks/{id}/complete", None),
        ("POST /api/tasks/{id}/reopen", None),
        ("POST /api/tasks/{id}/restore", None),
    ],
)
async def test_other_users_task_is_not_found(shared_api, owner_and_intruder, request_line, body):
    client, (owner, intruder) = shared_api.client, owner_and_intruder
    task = await post_task(client, owner.headers, title="Owner's secret")
    method, path = request_line.split()

    response = await client.request(
        method, path.format(id=task["id"]), json=body, headers=intruder.headers
    )

    # Exactly what a missing task says, so the intruder learns nothing about others' ids.
    error = assert_error(response, 404)
    assert error["message"] == f"task {task['id']} not found"
    missing = await client.get("/api/tasks/999999", headers=intruder.headers)
    assert missing.json()["error"]["message"] == "task 999999 not found"
    unchanged = await client.get(f"/api/tasks/{task['id']}", headers=owner.headers)
    assert unchanged.json() == task


async def test_lists_never_show_another_users_tasks(client, alice, bob):
    secret = await post_task(client, alice.headers, title="Alice's secret", tags=["shared"])
    await client.delete(f"/api/tasks/{secret['id']}", headers=alice.headers)
    await post_task(client, alice.headers, title="Alice's plan", tags=["shared"], priority="high")
    await post_task(client, bob.headers, title="Bob's plan")

    for params in (
        {},
        {"status": "all"},
        {"status": "deleted"},
        {"status": "completed"},
        {"tag": "shared"},
        {"query": "alice"},
        {"priority": "high"},
        {"sort": "title"},
    ):
        titles = await list_titles(client, bob.headers, **params)
        assert all(not t.startswith("Alice") for t in titles), params
    assert await list_titles(client, bob.headers, status="all") == ["Bob's plan"]


@pytest.fixture(scope="module")
async def lister(shared_api):
    """A user with five tasks, listed by the filter tests (which change nothing)."""
    account = await shared_api.account("lister")
    client, now = shared_api.client, datetime.now(UTC)
    await post_task(
        client,
        account.headers,
        title="Pay rent",
        priority="high",
        tags=["Home", "Money"],
        due=iso(now - timedelta(days=2)),
    )
    await post_task(
        client,
        account.headers,
        title="Write report",
        priority="medium",
        tags=["Work"],
        due=iso(now + timedelta(days=3)),
    )
    await post_task(
        client, account.headers, title="Buy milk", priority="low", description="Semi-skimmed"
    )
    await post_task(client, account.headers, title="Give 100% at the gym_class")
    done = await post_task(
        client, account.headers, title="File taxes", due=iso(now - timedelta(days=5))
    )
    await client.post(f"/api/tasks/{done['id']}/complete", headers=account.headers)
    return account


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"Pay rent", "Write report", "Buy milk", "Give 100% at the gym_class"}),
        ({"priority": "high"}, {"Pay rent"}),
        ({"tag": "work"}, {"Write report"}),
        ({"tag": "HOME"}, {"Pay rent"}),
        ({"query": "RENT"}, {"Pay rent"}),
        ({"query": "skimmed"}, {"Buy milk"}),  # the description matches too
        ({"query": "%"}, {"Give 100% at the gym_class"}),  # literal, not a wildcard
        ({"query": "_"}, {"Give 100% at the gym_class"}),
        ({"overdue": "true"}, {"Pay rent"}),
        ({"overdue": "false"}, {"Write report", "Buy milk", "Give 100% at the gym_class"}),
        ({"status": "completed"}, {"File taxes"}),
        ({"status": "all", "due_before": "now"}, {"Pay rent", "File taxes"}),
        ({"status": "all", "due_after": "now"}, {"Write report"}),
        (
            {"status": "all", "due_before": "in 4 days", "due_after": "3 days ago"},
            {"Pay rent", "Write report"},
        ),
    ],
)
async def test_list_filters(shared_api, lister, params, expected):
    assert set(await list_titles(shared_api.client, lister.headers, **params)) == expected


async def test_due_sort_puts_tasks_without_a_due_date_last(shared_api, lister):
    assert await list_titles(shared_api.client, lister.headers, status="all") == [
        "File taxes",
        "Pay rent",
        "Write report",
        "Buy milk",
        "Give 100% at the gym_class",
    ]


async def test_priority_sort_puts_high_first(shared_api, lister):
    assert await list_titles(shared_api.client, lister.headers, sort="priority") == [
        "Pay rent",
        "Write report",
        "Buy milk",
        "Give 100% at the gym_class",
    ]


@pytest.mark.parametrize(
    ("request_line", "status", "field"),
    [
        ("GET /api/tasks/99999999999999999999999", 404, None),
        ("GET /api/tasks/9223372036854775808", 404, None),
        ("PATCH /api/tasks/2147483648", 404, None),
        ("DELETE /api/tasks/-1", 404, None),
        ("POST /api/tasks/18446744073709551616/complete", 404, None),
        ("GET /api/tasks/abc", 422, "task_id"),
        ("GET /api/tasks?limit=100000000000000000000", 422, "limit"),
        ("GET /api/tasks?cursor=garbage", 422, "cursor"),
        ("GET /api/tasks?overdue=maybe", 422, "overdue"),
        ("GET /api/nothing-here", 404, None),
    ],
)
async def test_client_input_never_causes_a_server_error(
    shared_api, lister, request_line, status, field
):
    method, path = request_line.split()
    body = {"title": "x"} if method == "PATCH" else None

    response = await shared_api.client.request(method, path, json=body, headers=lister.headers)

    assert_error(response, status, field)
