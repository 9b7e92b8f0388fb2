"""Bad input is refused with 400/422 naming the field, and nothing is stored (both engines)."""

from __future__ import annotations

import pytest

from server.errors import ValidationFailed
from server.tasks.dates import resolve_due
from tests.utils.factories import assert_error, post_task, stored_task_count

OK = {"title": "Pay rent"}


@pytest.fixture(scope="module")
async def author(shared_api):
    """A user with one task, which the PATCH cases try (and fail) to change."""
    account = await shared_api.account("author", "Europe/Paris")
    task = await post_task(shared_api.client, account.headers, title="Original", tags=["a"])
    return account, task


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "title", id="missing title"),
        pytest.param({"title": ""}, "title", id="empty title"),
        pytest.param({"title": "   "}, "title", id="blank title"),
        pytest.param({"title": "x" * 501}, "title", id="oversized title"),
        pytest.param({"title": "nul\x00byte"}, "title", id="NUL in title"),
        pytest.param({**OK, "description": "x" * 10_001}, "description", id="long description"),
        pytest.param({**OK, "tags": [f"t{n}" for n in range(21)]}, "tags", id="too many tags"),
        pytest.param({**OK, "tags": ["x" * 51]}, "tags[0]", id="oversized tag"),
        pytest.param({**OK, "tags": ["ok", " "]}, "tags[1]", id="blank tag"),
        pytest.param({**OK, "tags": ["a|b"]}, "tags[0]", id="tag with separator"),
        pytest.param({**OK, "due": "when pigs fly"}, "due", id="unparseable date"),
        pytest.param({**OK, "due": "2026-13-45T25:00"}, "due", id="impossible date"),
        pytest.param({**OK, "due": "9999-12-31T23:00-05:00"}, "due", id="date past the calendar"),
        pytest.param({**OK, "due": "0001-01-01T00:00"}, "due", id="date before the calendar"),
        pytest.param({**OK, "recurrence": "often"}, "recurrence", id="bad RRULE"),
        pytest.param({**OK, "recurrence": "FREQ=FORTNIGHTLY"}, "recurrence", id="bad FREQ"),
        pytest.param({**OK, "recurrence": "FREQ=DAILY;INTERVAL=0"}, "recurrence", id="interval 0"),
        pytest.param(
            {**OK, "recurrence": "FREQ=HOURLY;BYHOUR=30"}, "recurrence", id="hour out of range"
        ),
        pytest.param(
            {**OK, "recurrence": "FREQ=MONTHLY;BYDAY=+40MO"}, "recurrence", id="40th monday"
        ),
        pytest.param(
            {**OK, "recurrence": "FREQ=DAILY;BYSETPOS=5"}, "recurrence", id="never occurs"
        ),
        pytest.param(
            {**OK, "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "recurrence", id="30 feb"
        ),
        pytest.param({**OK, "recurrence": "FREQ=MINUTELY"}, "recurrence", id="finer than hourly"),
        pytest.param({**OK, "priority": "urgent"}, "priority", id="unknown priority"),
        pytest.param({**OK, "remind_before_minutes": -1}, "remind_before_minutes", id="negative"),
        pytest.param({"title": 42}, "title", id="number as title"),
        pytest.param({**OK, "tags": "home"}, "tags", id="string as tags"),
        pytest.param({**OK, "due": [2030, 1, 1]}, "due", id="list as due"),
        pytest.param({**OK, "remind_before_minutes": "soon"}, "remind_before_minutes", id="text"),
        pytest.param({**OK, "completed": True}, "completed", id="unknown field completed"),
        pytest.param({**OK, "user_id": 1}, "user_id", id="unknown field user_id"),
    ],
)
async def test_bad_new_task_is_refused_and_nothing_is_stored(shared_api, author, body, field):
    account, _ = author
    before = await stored_task_count(shared_api.services, account.user)

    response = await shared_api.client.post("/api/tasks", json=body, headers=account.headers)

    assert_error(response, 422, field)
    assert await stored_task_count(shared_api.services, account.user) == before


@pytest.mark.parametrize(
    ("content", "status", "field"),
    [
        pytest.param(b'{"title": "Pay rent"', 400, "body", id="malformed JSON"),
        pytest.param(b"[1, 2]", 422, "body", id="array body"),
        pytest.param(b'"Pay rent"', 422, "body", id="string body"),
        pytest.param(b'{"title": "\\ud800"}', 422, "title", id="lone surrogate"),
    ],
)
async def test_body_that_is_not_a_task_object_is_refused(
    shared_api, author, content, status, field
):
    account, _ = author
    before = await stored_task_count(shared_api.services, account.user)
    headers = {**account.headers, "Content-Type": "application/json"}

    response = await shared_api.client.post("/api/tasks", content=content, headers=headers)

    assert_error(response, status, field)
    assert await stored_task_count(shared_api.services, account.user) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "body", id="nothing to change"),
        pytest.param({"title": None}, "title", id="null title"),
        pytest.param({"title": ""}, "title", id="empty title"),
        pytest.param({"due": "someday maybe"}, "due", id="unparseable date"),
        pytest.param({"title": "Renamed", "tags": ["x"] * 21}, "tags", id="too many tags"),
        pytest.param({"title": "Renamed", "recurrence": "hourly-ish"}, "recurrence", id="rrule"),
        pytest.param({"title": "Renamed", "colour": "red"}, "colour", id="unknown field"),
        pytest.param({"description": "nul\x00"}, "description", id="NUL in description"),
    ],
)
async def test_bad_change_is_refused_and_the_task_is_unchanged(shared_api, author, body, field):
    account, task = author
    path = f"/api/tasks/{task['id']}"

    response = await shared_api.client.patch(path, json=body, headers=account.headers)

    assert_error(response, 422, field)
    assert (await shared_api.client.get(path, headers=account.headers)).json() == task


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("status=gone", "status", id="status"),
        pytest.param("priority=urgent", "priority", id="priority"),
        pytest.param("sort=random", "sort", id="sort"),
        pytest.param("limit=0", "limit", id="limit 0"),
        pytest.param("limit=201", "limit", id="limit 201"),
        pytest.param("limit=ten", "limit", id="limit text"),
        pytest.param("overdue=maybe", "overdue", id="overdue"),
        pytest.param("due_before=whenever", "due_before", id="due_before"),
        pytest.param("due_after=9999-12-31T23:00-05:00", "due_after", id="due_after"),
        pytest.param("tag=a|b", "tag", id="tag"),
        pytest.param("query=a%00b", "query", id="NUL in query"),
        pytest.param("cursor=garbage", "cursor", id="cursor"),
    ],
)
async def test_bad_list_parameter_is_refused_naming_it(shared_api, author, query, field):
    account, _ = author

    response = await shared_api.client.get(f"/api/tasks?{query}", headers=account.headers)

    assert_error(response, 422, field)


async def test_bad_idempotency_key_is_refused(shared_api, author):
    account, _ = author
    before = await stored_task_count(shared_api.services, account.user)

    response = await shared_api.client.post(
        "/api/tasks", json=OK, headers={**account.headers, "Idempotency-Key": "k" * 201}
    )

    assert_error(response, 422, "idempotency-key")
    assert await stored_task_count(shared_api.services, account.user) == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"timezone": "Mars/Olympus_Mons"}, "timezone", id="unknown timezone"),
        pytest.param({"timezone": "../../etc/passwd"}, "timezone", id="path as timezone"),
        pytest.param({"timezone": "Factory"}, "timezone", id="zone that is no place"),
        pytest.param({"timezone": ""}, "timezone", id="empty timezone"),
        pytest.param({"name": "two words"}, "name", id="space in name"),
        pytest.param({"name": "x" * 65}, "name", id="long name"),
        pytest.param({"email": "not-an-address"}, "email", id="bad email"),
    ],
)
async def test_bad_user_is_refused_and_not_stored(shared_api, fields, field):
    users = shared_api.services.users
    before = await users.count_users()

    with pytest.raises(ValidationFailed) as failed:
        await users.create_user(**({"name": "newcomer"} | fields))

    assert failed.value.field == field
    assert await users.count_users() == before


def test_a_phrase_in_a_zone_the_date_parser_does_not_know_is_refused_not_a_crash():
    # A user stored with such a zone before they were refused.
    with pytest.raises(ValidationFailed) as failed:
        resolve_due("tomorrow 9am", "Factory")

    assert failed.value.field == "due"
