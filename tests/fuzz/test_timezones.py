"""Every timezone: due times at and around clock changes, natural phrases and recurrence,
from users anywhere, through the REST API; never a 5xx, and what is stored stays whole."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from server.errors import ValidationFailed
from server.tasks.dates import resolve_due
from server.tasks.recurrence import check_schedule, next_occurrence
from server.users.service import NOT_PLACES
from tests.conftest import Account, make_account
from tests.fuzz.conftest import PROFILE, Target
from tests.fuzz.strategies import DATES, TIMEZONES, rrules

# Local times that some zone skips or repeats, and the ends of the allowed range.
EDGES = ["2030-03-31T02:30", "2030-10-27T02:30", "2030-03-10T02:30", "2030-11-03T01:30"]
EDGES += ["1900-01-01T00:00", "8999-12-31T23:00", "2030-01-01T00:00"]
RULES = ["daily", "weekly", "monthly", "yearly", "FREQ=HOURLY", "FREQ=MONTHLY;BYMONTHDAY=-1"]


def test_every_timezone_resolves_and_repeats_due_times_at_its_clock_changes():
    for timezone in sorted(set(TIMEZONES) - NOT_PLACES):
        for text in [*EDGES, "tomorrow 9am", "next monday"]:
            try:
                due = resolve_due(text, timezone)
            except ValidationFailed as exc:  # the ends of the range, in zones far from UTC
                assert exc.field == "due" and text in (EDGES[4], EDGES[5]), (timezone, text)
                continue
            assert due.utcoffset() == timedelta(0), (timezone, text)
            for rule in RULES:
                try:
                    check_schedule(rule, due, timezone)
                except ValidationFailed as exc:  # near the end of the calendar
                    assert exc.field == "recurrence"
                    continue
                following = next_occurrence(rule, due, timezone)
                assert following is None or following > due, (timezone, text, rule)


@st.composite
def tasks(draw) -> tuple[str, dict]:
    timezone = draw(st.sampled_from(sorted(set(TIMEZONES) - NOT_PLACES)))
    local = draw(
        st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2100, 1, 1))
    ).isoformat(timespec="minutes")
    body = {"title": "Around the world", "due": draw(st.sampled_from([local, *EDGES, *DATES]))}
    if draw(st.booleans()):
        body["recurrence"] = draw(st.one_of(st.sampled_from(RULES), rrules()))
    return timezone, body


async def account_in(target: Target, accounts: dict[str, Account], timezone: str) -> Account:
    if timezone not in accounts:
        name = "tz-" + "".join(c if c.isalnum() else "-" for c in timezone)[:60]
        accounts[timezone] = await make_account(target.services, name, timezone)
    return accounts[timezone]


async def create_and_complete(target: Target, account: Account, body: dict) -> None:
    client, headers = target.client, account.headers
    created = await client.post(f"{target.base_url}/api/tasks", json=body, headers=headers)
    assert created.status_code in (201, 422), (body, created.text)
    if created.status_code == 422:
        assert created.json()["error"]["details"]["field"] in ("due", "recurrence"), created.text
        return
    task = created.json()
    done = await client.post(f"{target.base_url}/api/tasks/{task['id']}/complete", headers=headers)
    assert done.status_code == 200, (body, done.text)
    following = done.json()["next_occurrence"]
    assert following is None or following["due"] > task["due"], (body, done.json())
    listed = await client.get(
        f"{target.base_url}/api/tasks",
        params={"status": "all", "due_before": task["due"], "due_after": "1900-01-02"},
        headers=headers,
    )
    assert listed.status_code in (200, 422), listed.text


async def test_users_in_any_timezone_create_and_complete_tasks(target: Target):
    accounts: dict[str, Account] = {}

    @PROFILE
    @given(case=tasks())
    def fuzz(case: tuple[str, dict]) -> None:
        timezone, body = case

        async def run() -> None:
            account = await account_in(target, accounts, timezone)
            await create_and_complete(target, account, body)

        target.run(run)

    await asyncio.to_thread(fuzz)
