"""Export, import into another account, export again: the same data, on both engines.

One database per engine for the module, holding `alice`'s filled account; each test imports
into accounts of its own."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.activity.models import ActivityQuery
from server.errors import ValidationFailed
from server.portability.models import ExportDocument
from server.projects.models import ProjectCreate
from server.runtime import open_runtime
from server.services import Services
from server.tasks.models import TaskQuery
from server.users.models import User
from tests.conftest import Account, make_account
from tests.server.portability.scenario import comparable, fill_account
from tests.utils.app import make_settings

NAMES = (f"user{n}" for n in itertools.count())


@dataclass
class Filled:
    services: Services
    alice: User
    exported: dict[str, Any]

    async def fresh(self) -> Account:
        return await make_account(self.services, next(NAMES))

    async def imported(self, document: dict[str, Any]) -> User:
        """A new account with `document` imported into it."""
        account = await self.fresh()
        await self.services.portability.import_file(
            user=account.user, text=json.dumps(document), filename="alice.json"
        )
        return await self.services.users.get_user(name=account.user.name)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def filled(request, tmp_path_factory) -> AsyncIterator[Filled]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('portability')}/todo.db"
    else:
        url = request.getfixturevalue("postgres").new_database_url()
    async with open_runtime(make_settings(database_url=url), events=False) as runtime:
        services = runtime.services
        alice = (await make_account(services, "alice", "Europe/Paris")).user
        await fill_account(services, alice)
        yield Filled(services, alice, await export_json(services, alice))


async def export_json(services: Services, user: User) -> dict[str, Any]:
    return json.loads((await services.portability.export(user=user)).model_dump_json())


async def test_export_then_import_into_a_new_account_gives_the_same_data(filled):
    exported = filled.exported
    carol = await filled.fresh()

    summary = await filled.services.portability.import_file(
        user=carol.user, text=json.dumps(exported), filename="alice.json"
    )

    user = await filled.services.users.get_user(name=carol.user.name)
    again = await export_json(filled.services, user)
    assert comparable(again) == comparable(exported)
    assert again["user"]["timezone"] == "Europe/Paris"  # the settings came along
    assert (summary.tasks, summary.comments) == (len(exported["tasks"]), 2)
    assert (summary.projects_created, summary.projects_merged) == (3, 1)  # and the Inbox
    # The exported account itself is as it was.
    assert comparable(await export_json(filled.services, filled.alice)) == comparable(exported)


async def test_an_export_holds_every_kind_of_data_but_secrets(filled):
    exported = filled.exported

    by_title = {t["title"]: t for t in exported["tasks"]}
    assert (exported["format"], exported["version"]) == ("todo-agent", 1)
    states = {p["name"]: (p["archived"], bool(p["deleted_at"])) for p in exported["projects"]}
    assert states == {
        "Inbox": (False, False), "Work": (False, False), "Someday": (True, False),
        "Old": (False, True),
    }  # fmt: skip
    launch = by_title["Plan the launch"]
    assert launch["tags"] == ["work", "Q4"] and launch["priority"] == "high"
    assert [bool(r["at"]) for r in launch["reminders"]] == [False, True]
    assert [c["text"] for c in launch["comments"]] == ["Ask Sam about the venue"]
    assert by_title["Outline"]["parent_id"] == by_title["Draft"]["id"]
    plants = [t for t in exported["tasks"] if t["title"] == "Water the plants"]
    assert [t["completed"] for t in plants] == [True, False]
    assert plants[1]["occurrence_of"] == plants[0]["id"]
    assert plants[0]["recurrence"] == "FREQ=WEEKLY;BYDAY=MO"
    assert by_title["Its detail"]["deleted_with"] == f"task:{by_title['Old idea']['id']}"
    assert "calendar.feed_key" not in exported["settings"]  # the feed's key stays behind


async def test_an_imported_account_behaves_like_the_original(filled):
    services = filled.services
    user = await filled.imported(filled.exported)
    listed = await services.projects.list_projects(user=user, include_archived=True)
    by_name = {p.name: p for p in listed.projects}

    # The deleted project comes back with exactly the tasks deleted with it.
    restored = await services.projects.restore_project(user=user, ref="Old")
    # A deleted task comes back with its subtask.
    deleted = await services.tasks.list_tasks(user=user, query=TaskQuery(status="deleted"))
    old_idea = next(t for t in deleted.tasks if t.title == "Old idea")
    back = await services.tasks.restore_task(user=user, task_id=old_idea.id)
    page = await services.tasks.list_tasks(user=user, query=TaskQuery(parent_id=back.id))
    activity = await services.activity.list_activity(user=user, query=ActivityQuery(limit=200))

    assert sorted(by_name) == ["Inbox", "Someday", "Work"]
    assert by_name["Work"].color == "#e05d44" and by_name["Someday"].archived
    assert len(restored.task_ids) == 1
    assert [t.title for t in page.tasks] == ["Its detail"]
    created = [e for e in activity.events if e.type == "task.created"]
    assert len(created) == len(filled.exported["tasks"])  # each import wrote its activity
    assert sum(e.type == "comment.added" for e in activity.events) == 2


async def test_importing_into_an_account_with_data_merges_projects_by_name(filled):
    services = filled.services
    bob = await filled.fresh()
    await services.projects.create_project(user=bob.user, data=ProjectCreate(name="work"))

    summary = await services.portability.import_file(
        user=bob.user, text=json.dumps(filled.exported), filename="alice.json"
    )

    listed = await services.projects.list_projects(user=bob.user, include_archived=True)
    assert sorted(p.name for p in listed.projects) == ["Inbox", "Someday", "work"]
    work = next(p for p in listed.projects if p.name == "work")  # "Work" joined bob's "work"
    assert work.color is None and work.open_tasks == 5
    assert (summary.projects_created, summary.projects_merged) == (2, 2)  # Someday, Old


def broken(change) -> Any:
    def apply(document: dict[str, Any]) -> None:
        change(document, {t["title"]: t for t in document["tasks"]})

    return apply


BROKEN = {
    "six reminders": (
        broken(
            lambda d, t: t["Draft"].update(reminders=[{"before_minutes": m} for m in range(1, 7)])
        ),
        ".reminders: at most 5 reminders per task",
    ),
    "empty title": (
        broken(lambda d, t: t["Draft"].update(title="  ")),
        ".title: must not be empty",
    ),
    "bad recurrence": (
        broken(lambda d, t: t["Draft"].update(recurrence="FREQ=SOMETIMES")),
        ".recurrence:",
    ),
    "parent not in the file": (
        broken(lambda d, t: t["Draft"].update(parent_id=999999)),
        ".parent_id: task 999999 is not in the file",
    ),
    "naive due": (broken(lambda d, t: t["Draft"].update(due="2026-12-01T10:00")), ".due:"),
    "a newer version": (broken(lambda d, t: d.update(version=2)), "version: 2 is newer"),
    "a secret setting": (
        broken(lambda d, t: d["settings"].update({"calendar.feed_key": "guessed"})),
        "settings.calendar.feed_key: is a secret of the account: not imported",
    ),
    "a bad timezone": (
        broken(lambda d, t: d["user"].update(timezone="Mars/Base")),
        "user.timezone: 'Mars/Base' is not an IANA timezone",
    ),
    "unknown field": (broken(lambda d, t: t["Draft"].update(colour="red")), ".colour"),
    "a subtask in another project than its parent": (
        broken(lambda d, t: t["Outline"].update(project_id=d["projects"][0]["id"])),
        ".parent_id: a subtask stays in its parent's project",
    ),
    "two next occurrences of one task": (
        broken(
            lambda d, t: (
                t["Draft"].update(occurrence_of=t["Plan the launch"]["id"])
                or t["Outline"].update(occurrence_of=t["Plan the launch"]["id"])
            )
        ),
        ".occurrence_of: task ",
    ),
    "a comment too long": (
        broken(lambda d, t: t["Draft"]["comments"][0].update(text="x" * 10_001)),
        ".comments[0].text:",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
async def test_a_bad_document_names_the_field_and_writes_nothing(filled, case):
    document = json.loads(json.dumps(filled.exported))
    break_it, expected = BROKEN[case]
    break_it(document)
    dave = await filled.fresh()
    before = await export_json(filled.services, dave.user)

    with pytest.raises(ValidationFailed) as failed:
        await filled.services.portability.import_file(
            user=dave.user, text=json.dumps(document), filename="alice.json"
        )

    assert expected in failed.value.message
    assert failed.value.field.startswith(("tasks[", "version", "settings.", "user."))
    assert "\n" not in failed.value.message
    after = await export_json(filled.services, dave.user)
    assert comparable(after) == comparable(before)


async def test_subtasks_deeper_than_four_levels_are_refused(filled):
    erin = await filled.fresh()
    document = await export_json(filled.services, erin.user)
    inbox = document["projects"][0]["id"]
    document["tasks"] = [
        {"id": n, "project_id": inbox, "parent_id": n - 1 if n > 1 else None,
         "title": f"level {n}", "created_at": "2026-11-01T00:00:00Z"}
        for n in range(1, 6)
    ]  # fmt: skip

    with pytest.raises(ValidationFailed) as failed:
        await filled.services.portability.import_file(
            user=erin.user, text=json.dumps(document), filename="deep.json"
        )

    assert failed.value.field == "tasks[4].parent_id"
    assert "at most 4 levels" in failed.value.rule


async def test_a_loop_of_subtasks_in_the_file_is_refused(filled):
    document = json.loads(json.dumps(filled.exported))
    by_title = {t["title"]: t for t in document["tasks"]}
    by_title["Plan the launch"]["parent_id"] = by_title["Outline"]["id"]

    with pytest.raises(ValidationFailed) as failed:
        await filled.imported(document)

    assert "make a cycle" in failed.value.rule


# -- any valid document survives import and export -------------------------------------------

WHEN = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
TEXT = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
WORD = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12)
RULES = (None, "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,FR", "FREQ=MONTHLY;BYMONTHDAY=15")


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """An export document that follows every rule, in shuffled order (subtasks may come
    before their parents), with unique titles so tasks are told apart without ids."""
    projects = [{"id": 1, "name": "Inbox", "inbox": True, "created_at": draw(WHEN)}]
    for k in range(draw(st.integers(0, 2))):
        projects.append({
            "id": 10 + k, "name": f"P{k} {draw(WORD)}", "archived": draw(st.booleans()),
            "color": draw(st.none() | st.sampled_from(["#e05d44", "#00AA11"])),
            "created_at": draw(WHEN),
        })  # fmt: skip
    tasks: list[dict[str, Any]] = []
    depth: dict[int, int] = {}
    for i in range(draw(st.integers(0, 7))):
        task_id = 100 + 3 * i
        eligible = [t for t in tasks if depth[t["id"]] < 4]
        parent = draw(st.none() | st.sampled_from(eligible)) if eligible else None
        depth[task_id] = depth[parent["id"]] + 1 if parent else 1
        rule = draw(st.sampled_from(RULES))
        completed, deleted = draw(st.booleans()), draw(st.booleans())
        befores = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=3))
        ats = draw(st.lists(WHEN, unique=True, max_size=2))
        tasks.append({
            "id": task_id,
            "project_id": parent["project_id"] if parent else draw(
                st.sampled_from([p["id"] for p in projects])
            ),
            "parent_id": parent and parent["id"],
            "title": (f"T{i} " + draw(st.text(TEXT, max_size=30))).strip(),
            "description": draw(st.none() | st.text(TEXT, max_size=60)),
            "completed": completed,
            "completed_at": draw(WHEN) if completed else None,
            "priority": draw(st.sampled_from([None, "high", "medium", "low"])),
            "tags": draw(st.lists(WORD, max_size=3, unique_by=str.lower)),
            "due": draw(st.none() | WHEN),
            "recurrence": rule,
            "series_id": str(draw(st.uuids())) if rule else None,
            "reminders": [
                {"before_minutes": m, "fired": draw(st.booleans())} for m in befores
            ] + [{"at": at, "fired": draw(st.booleans())} for at in ats],
            "last_alert": draw(st.sampled_from([None, "due", "overdue"])),
            "created_at": draw(WHEN),
            "deleted_at": draw(WHEN) if deleted else None,
            "deleted_with": f"task:{task_id}" if deleted else None,
            "comments": draw(st.lists(
                st.fixed_dictionaries({"text": st.text(TEXT, min_size=1, max_size=40),
                                       "created_at": WHEN}),
                max_size=2,
            )),
        })  # fmt: skip
    document = ExportDocument.model_validate({
        "format": "todo-agent", "version": 1, "exported_at": draw(WHEN),
        "user": {"name": "someone", "timezone": draw(st.sampled_from(
            ["UTC", "Europe/Paris", "Asia/Kolkata", "America/St_Johns"]
        ))},
        "projects": projects,
        "tasks": draw(st.permutations(tasks)),
    })  # fmt: skip
    return json.loads(document.model_dump_json())


async def test_any_valid_document_survives_an_import_and_an_export(filled):
    loop = asyncio.get_running_loop()

    @settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.data_too_large
    ])  # fmt: skip
    @given(document=documents())
    def round_trip(document: dict[str, Any]) -> None:
        async def run() -> dict[str, Any]:
            return await export_json(filled.services, await filled.imported(document))

        again = asyncio.run_coroutine_threadsafe(run(), loop).result()
        assert comparable(again) == comparable(document)

    await asyncio.to_thread(round_trip)
