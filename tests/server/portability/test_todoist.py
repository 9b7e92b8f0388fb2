"""A Todoist CSV export (their documented template columns) read into an account."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from server.errors import ValidationFailed
from server.tasks.models import Task, TaskQuery
from tests.conftest import Account

NAMES = (f"todoist{n}" for n in itertools.count())

SAMPLE = Path(__file__).parents[2] / "data" / "todoist" / "Home.csv"
HEADER = (
    "TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE,"
    "DURATION,DURATION_UNIT,DEADLINE,DEADLINE_LANG\n"
)


async def fresh(shared_api, timezone: str = "Europe/Paris") -> Account:
    return await shared_api.account(next(NAMES), timezone)


async def import_sample(services, user):
    return await services.portability.import_file(
        user=user, text=SAMPLE.read_text(encoding="utf-8-sig"), filename=SAMPLE.name
    )


async def all_tasks(services, user):
    page = await services.tasks.list_tasks(user=user, query=TaskQuery(status="all", limit=200))
    return {task.title: task for task in page.tasks}


async def test_a_todoist_export_becomes_a_project_with_its_tasks(shared_api):
    services, alice = shared_api.services, await fresh(shared_api)
    summary = await import_sample(services, alice.user)

    projects = await services.projects.list_projects(user=alice.user)
    names = {p.id: p.name for p in projects.projects}
    tasks = await all_tasks(services, alice.user)
    rent, party = tasks["Pay rent"], tasks["Plan the party"]
    guests, sam = tasks["Guest list"], tasks["Ask Sam about the music"]
    plants = tasks["Water the plants, all of them"]
    assert sorted(names.values()) == ["Home", "Home / Garden", "Inbox"]
    assert str(summary) == "imported 2 project(s), 7 task(s), 2 comment(s)"
    # p1 is Todoist's highest priority, p4 its "none"; @labels are tags.
    assert (rent.priority, party.priority, sam.priority, guests.priority) == (
        "high", "medium", "low", None,
    )  # fmt: skip
    assert (rent.tags, party.tags) == (["bills"], ["home", "fun"])
    assert rent.recurrence == "FREQ=MONTHLY" and rent.description == "Transfer to the landlord"
    assert plants.recurrence == "FREQ=WEEKLY;BYDAY=MO"
    # DATE in its TIMEZONE (Berlin: UTC+1 in March); DEADLINE noted beside it.
    assert party.due == datetime(2027, 3, 20, 17, tzinfo=UTC)
    assert party.description == "Deadline: 2027-03-21"
    # INDENT: subtasks of the task above, in its project.
    assert (guests.parent_id, sam.parent_id) == (party.id, guests.id)
    assert names[sam.project_id] == "Home"
    assert names[plants.project_id] == names[tasks["Buy seeds"].project_id] == "Home / Garden"
    # A DEADLINE alone is the due date (the user's timezone: Paris, UTC+2 in April).
    assert tasks["Buy seeds"].due == datetime(2027, 3, 31, 22, tzinfo=UTC)
    notes = await services.comments.list_comments(user=alice.user, task_id=rent.id)
    assert [c.text for c in notes.comments] == ["The IBAN is in the lease"]


async def test_tasks_imported_from_the_past_raise_no_alerts(shared_api):
    services, alice = shared_api.services, await fresh(shared_api)
    await import_sample(services, alice.user)

    tasks = await all_tasks(services, alice.user)
    taxes = tasks["File the old taxes"]
    async with services.db.session() as session:
        row = await session.scalar(select(Task).where(Task.id == taxes.id))
    assert row.next_alert_at is None  # neither its reminder nor its due nor overdue fires
    assert [r.fired for r in taxes.reminders] == [True]
    party = tasks["Plan the party"]
    assert [(r.before_minutes, r.fired) for r in party.reminders] == [(30, False)]


async def test_importing_the_same_csv_again_merges_into_its_project(shared_api):
    services, alice = shared_api.services, await fresh(shared_api)
    await import_sample(services, alice.user)

    again = await import_sample(services, alice.user)

    projects = await services.projects.list_projects(user=alice.user)
    assert sorted(p.name for p in projects.projects) == ["Home", "Home / Garden", "Inbox"]
    assert (again.projects_created, again.projects_merged) == (0, 2)


BAD_ROWS = {
    "priority out of range": (
        "task,Call mum,,5,1,,,,,,,,,\n",
        "row 2: PRIORITY: '5' is not 1, 2, 3 or 4",
    ),
    "indent that skips a level": (
        "task,Top,,,1,,,,,,,,,\ntask,Too deep,,,3,,,,,,,,,\n",
        "row 3: INDENT: 3 is deeper than one below the task above it",
    ),
    "indent past four levels": ("task,Deep,,,5,,,,,,,,,\n", "row 2: INDENT: '5' is not 1 to 4"),
    "a note before any task": ("note,Hello,,,,,,,,,,,,\n", "row 2: TYPE: a note comments the task"),
    "unknown type": ("project,Work,,,,,,,,,,,,\n", "row 2: TYPE: 'project' is not task"),
    "a date it cannot read": (
        "task,Gym,,,1,,,every other fortnight,en,,,,,\n",
        "row 2: DATE: cannot repeat",
    ),
    "an empty title": (
        "task,  ,,,1,,,,,,,,,\n",
        "row 2: CONTENT: String should have at least 1 character",
    ),
    "a bad timezone": ("task,Gym,,,1,,,today,en,Mars/Base,,,,\n", "row 2: TIMEZONE"),
    "a row cut short": ("task,Call mum,,1\n", "row 2: has 4 columns, the header has 14"),
    "a quoted field cut short": (
        'task,"Call mum\n',
        "row 2: not valid CSV (unexpected end of data: is the file cut short?)",
    ),
    "no header": ("task,Call mum,,1,1,,,,,,,,,\n", "file: is neither"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
async def test_a_bad_csv_row_is_named_and_nothing_is_written(shared_api, case):
    rows, expected = BAD_ROWS[case]
    text = rows if case == "no header" else HEADER + rows
    services, account = shared_api.services, await fresh(shared_api)

    with pytest.raises(ValidationFailed) as failed:
        await services.portability.import_file(user=account.user, text=text, filename="Home.csv")

    assert expected in failed.value.message
    projects = await services.projects.list_projects(user=account.user)
    assert [p.name for p in projects.projects] == ["Inbox"]
    assert not (await all_tasks(services, account.user))
