"""Notifications over REST: each user sees and marks only their own (both engines)."""

from __future__ import annotations

import itertools

import pytest

from tests.utils.factories import assert_error, make_notification

_pairs = itertools.count()


@pytest.fixture
async def pair(shared_api):
    """Two new users, each with stored notifications (three for the owner, one read)."""
    n = next(_pairs)
    owner, other = await shared_api.account(f"owner{n}"), await shared_api.account(f"other{n}")
    services = shared_api.services
    await make_notification(services, owner.user, title="Reminder: Pay rent", read=True)
    await make_notification(services, owner.user, title="Due now: Pay rent")
    await make_notification(services, owner.user, title="Overdue: Pay rent", kind="overdue")
    await make_notification(services, other.user, title="Reminder: Other's secret")
    return owner, other


async def listed(shared_api, account, **params) -> list[dict]:
    response = await shared_api.client.get(
        "/api/notifications", params=params, headers=account.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["notifications"]


async def test_list_shows_the_users_unread_notifications_newest_first(shared_api, pair):
    owner, other = pair

    notifications = await listed(shared_api, owner)

    assert [n["title"] for n in notifications] == ["Overdue: Pay rent", "Due now: Pay rent"]
    assert notifications[0]["kind"] == "overdue" and notifications[0]["read"] is False
    assert [n["title"] for n in await listed(shared_api, other)] == ["Reminder: Other's secret"]


async def test_read_ones_are_listed_on_request(shared_api, pair):
    owner, _ = pair

    notifications = await listed(shared_api, owner, unread_only="false")

    assert [(n["title"], n["read"]) for n in notifications] == [
        ("Overdue: Pay rent", False),
        ("Due now: Pay rent", False),
        ("Reminder: Pay rent", True),
    ]
    assert [n["title"] for n in await listed(shared_api, owner, limit=1)] == ["Overdue: Pay rent"]


async def test_marking_by_id_ignores_other_users_notifications(shared_api, pair):
    owner, other = pair
    others_id = (await listed(shared_api, other))[0]["id"]
    owners_id = (await listed(shared_api, owner))[0]["id"]

    attempt = await shared_api.client.post(
        "/api/notifications/read", json={"notification_ids": [others_id]}, headers=owner.headers
    )
    marked = await shared_api.client.post(
        "/api/notifications/read",
        json={"notification_ids": [owners_id, 2**63, 10**30]},
        headers=owner.headers,
    )

    assert attempt.json() == {"marked": 0}
    assert marked.json() == {"marked": 1}
    assert [n["title"] for n in await listed(shared_api, other)] == ["Reminder: Other's secret"]
    assert [n["title"] for n in await listed(shared_api, owner)] == ["Due now: Pay rent"]


async def test_marking_all_read_marks_only_the_users_own(shared_api, pair):
    owner, other = pair

    response = await shared_api.client.post("/api/notifications/read", headers=owner.headers)

    assert response.json() == {"marked": 2}
    assert await listed(shared_api, owner) == []
    assert len(await listed(shared_api, other)) == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/api/notifications?limit=0", None, "limit"),
        ("GET", "/api/notifications?limit=201", None, "limit"),
        ("GET", "/api/notifications?unread_only=perhaps", None, "unread_only"),
        ("POST", "/api/notifications/read", {"notification_ids": "all"}, "notification_ids"),
        ("POST", "/api/notifications/read", {"notification_ids": [0] * 1001}, "notification_ids"),
        ("POST", "/api/notifications/read", {"ids": [1]}, "ids"),
    ],
)
async def test_bad_notification_request_is_refused(shared_api, pair, method, path, body, field):
    owner, _ = pair

    response = await shared_api.client.request(method, path, json=body, headers=owner.headers)

    assert_error(response, 422, field)
    assert len(await listed(shared_api, owner)) == 2  # nothing was marked
