"""Recurrence rules that cannot be expanded: refused where they are given (REST and MCP), and
a stored one never keeps its task from completing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from mcp_tools.session import in_process_client
from server.tasks.models import Task
from server.tasks.recurrence import next_occurrence
from tests.utils.factories import assert_error, make_task, stored_task_count
from tests.utils.mcp import call, call_error

# Each was accepted before and failed later: a 500 on create, or on every completion.
UNEXPANDABLE = [
    pytest.param("FREQ=YEARLY;BYEASTER=-1000", None, id="easter offset before the year"),
    pytest.param("FREQ=MONTHLY;BYEASTER=262", "2029-12-19T09:00", id="fails from 2030 on"),
    pytest.param("FREQ=YEARLY;BYEASTER=262", "2029-12-19T09:00", id="fails the next year"),
    pytest.param("FREQ=WEEKLY;BYWEEKNO=-53", "2026-01-01T09:00", id="weekno outside yearly"),
    pytest.param("FREQ=HOURLY;BYEASTER=100;BYMONTHDAY=29", None, id="easter narrowed"),
]
# A task due then whose rule fails for the next year (Easter 2030 is on April 21).
STORED_RULE = "FREQ=YEARLY;BYEASTER=262"
STORED_DUE = datetime(2029, 12, 19, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
async def planner(shared_api):
    return await shared_api.account("planner", "Europe/Paris")


@pytest.mark.parametrize(("rule", "due"), UNEXPANDABLE)
async def test_a_rule_that_cannot_be_expanded_is_refused_over_rest(shared_api, planner, rule, due):
    body = {"title": "Easter egg hunt", "recurrence": rule} | ({"due": due} if due else {})
    before = await stored_task_count(shared_api.services, planner.user)

    response = await shared_api.client.post("/api/tasks", json=body, headers=planner.headers)

    assert_error(response, 422, "recurrence")
    assert await stored_task_count(shared_api.services, planner.user) == before


@pytest.mark.parametrize(("rule", "due"), UNEXPANDABLE)
async def test_a_rule_that_cannot_be_expanded_is_a_tool_error_naming_it(
    shared_api, planner, rule, due
):
    arguments = {"title": "Easter egg hunt", "recurrence": rule} | ({"due": due} if due else {})
    before = await stored_task_count(shared_api.services, planner.user)
    async with in_process_client(shared_api.runtime.mcp, planner.user) as mcp:
        error = await call_error(mcp, "add_task", **arguments)

    assert "add_task: recurrence: " in error, error
    assert await stored_task_count(shared_api.services, planner.user) == before


async def test_changing_to_a_rule_that_fails_later_is_refused(shared_api, planner):
    client = shared_api.client
    created = await client.post(
        "/api/tasks",
        json={"title": "Advent", "recurrence": "FREQ=YEARLY;BYEASTER=240", "due": "2029-06-01"},
        headers=planner.headers,
    )
    assert created.status_code == 201, created.text
    path = f"/api/tasks/{created.json()['id']}"

    response = await client.patch(
        path, json={"recurrence": "FREQ=YEARLY;BYEASTER=255"}, headers=planner.headers
    )

    assert_error(response, 422, "recurrence")
    assert (await client.get(path, headers=planner.headers)).json() == created.json()


async def stored_with_bad_rule(services, user) -> int:
    """A task whose rule, stored before rules were checked this well, fails next year."""
    task = await make_task(services, user, title="Easter egg hunt", recurrence="yearly")
    async with services.db.transaction() as session:
        await session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(recurrence=STORED_RULE, due=STORED_DUE, due_sort=STORED_DUE)
        )
    return task.id


async def test_a_stored_rule_that_fails_still_completes_over_rest_saying_why(
    client, services, alice, caplog
):
    task_id = await stored_with_bad_rule(services, alice.user)

    with caplog.at_level(logging.WARNING):
        response = await client.post(f"/api/tasks/{task_id}/complete", headers=alice.headers)

    assert response.status_code == 200, response.text
    done = response.json()
    assert done["task"]["completed"] is True
    assert done["next_occurrence"] is None
    assert "cannot be expanded" in done["recurrence_note"]
    assert any(str(task_id) in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    # Completing again is not an error either, and the task stays completed.
    again = await client.post(f"/api/tasks/{task_id}/complete", headers=alice.headers)
    assert again.status_code == 200 and again.json()["task"]["completed"] is True


async def test_a_stored_rule_that_fails_still_completes_over_mcp_saying_why(
    runtime, services, alice
):
    task_id = await stored_with_bad_rule(services, alice.user)

    async with in_process_client(runtime.mcp, alice.user) as mcp:
        result = await mcp.call_tool("complete_task", {"task_id": task_id})
        listed = await call(mcp, "list_tasks", status="completed")

    assert not result.is_error, result.content[0].text
    assert result.structured_content["next_occurrence"] is None
    assert "No next occurrence" in result.content[0].text
    assert [t["id"] for t in listed["tasks"]] == [task_id]


async def test_the_recurrence_consumer_gives_up_on_a_stored_rule_that_fails(services, alice):
    task_id = await stored_with_bad_rule(services, alice.user)
    await services.tasks.complete_task(user=alice.user, task_id=task_id)

    async with services.db.transaction() as session:
        following = await services.tasks.ensure_next_occurrence(
            session=session, user_id=alice.user.id, task_id=task_id
        )

    assert following is None
    assert await stored_task_count(services, alice.user) == 1


def test_a_series_that_ends_has_no_next_date_and_no_error():
    last = datetime(2030, 1, 7, 9, tzinfo=UTC)

    assert next_occurrence("FREQ=WEEKLY;UNTIL=20300110T000000", last, "UTC") is None
    assert (
        next_occurrence("FREQ=YEARLY;INTERVAL=1000", datetime(8500, 1, 1, tzinfo=UTC), "UTC")
        is None
    )


def test_a_rare_rule_finds_its_next_date_decades_ahead():
    # Friday 29 February: 2036, then 2064 (the 400-year shift of the search keeps it exact).
    rule = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=FR"

    found = next_occurrence(rule, datetime(2036, 2, 29, 9, tzinfo=UTC), "UTC")

    assert found == datetime(2064, 2, 29, 9, tzinfo=UTC)
