"""Text and tag filters find the same tasks whether the search index narrows the listing
(few matches) or the listing reads in its order (many), and the index follows every edit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.tasks import search
from server.tasks.models import TaskQuery, TaskUpdate
from tests.utils.factories import make_task

DUE = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


async def titles(services, account, **query) -> list[str]:
    page = await services.tasks.list_tasks(user=account.user, query=TaskQuery(**query))
    return [task.title for task in page.tasks]


async def test_text_search_follows_edits_of_title_and_description(services, alice):
    task = await make_task(services, alice.user, title="Buy milk", description="two litres")
    await make_task(services, alice.user, title="Call the plumber")

    await services.tasks.update_task(
        user=alice.user,
        task_id=task.id,
        data=TaskUpdate(title="Buy oat drink", description="the barista kind"),
    )

    assert await titles(services, alice, query="OAT") == ["Buy oat drink"]
    assert await titles(services, alice, query="barista") == ["Buy oat drink"]
    assert await titles(services, alice, query="milk") == []
    assert await titles(services, alice, query="litres") == []


async def can_match(services, account, text: str) -> set[int] | None:
    """The ids the search index gives for `text` (None: it does not narrow)."""
    ids = await services.db.run(
        lambda conn: search.candidates(conn, user_id=account.user.id, tag=None, words=text)
    )
    return None if ids is None else set(ids)


async def test_the_index_narrows_a_text_to_the_tasks_holding_it_and_follows_edits(services, alice):
    zebra = await make_task(services, alice.user, title="Feed the ZEBRA")
    crossing = await make_task(services, alice.user, title="Walk", description="zebra crossing")
    await make_task(services, alice.user, title="Zeb rather not")
    renamed = await make_task(services, alice.user, title="Buy bread")

    await services.tasks.update_task(
        user=alice.user, task_id=renamed.id, data=TaskUpdate(description="for the zebra")
    )
    await services.tasks.update_task(
        user=alice.user, task_id=crossing.id, data=TaskUpdate(description="crossing")
    )

    assert await can_match(services, alice, "zebra") == {zebra.id, renamed.id}
    assert await titles(services, alice, query="Zebra") == ["Feed the ZEBRA", "Buy bread"]
    assert await can_match(services, alice, "ze") is None  # too short to narrow


async def test_text_is_found_in_long_descriptions_and_across_non_ascii_characters(services, alice):
    notes = "x" * 9_990 + " café"
    await make_task(services, alice.user, title="Notes", description=notes)
    await make_task(services, alice.user, title="Løft ålen")
    await make_task(services, alice.user, title="Title", description="Description")

    assert await titles(services, alice, query="café") == ["Notes"]
    assert await titles(services, alice, query="t ål") == ["Løft ålen"]
    assert await titles(services, alice, query="leDes") == []  # title and description apart
    assert len(await can_match(services, alice, "afé")) == 1


async def test_tag_search_matches_whole_tags_ignoring_case(services, alice):
    await make_task(services, alice.user, title="Report", tags=["Work"])
    await make_task(services, alice.user, title="Maths", tags=["homework"])
    retagged = await make_task(services, alice.user, title="Slides", tags=["work"])
    await services.tasks.update_task(
        user=alice.user, task_id=retagged.id, data=TaskUpdate(tags=["talk"])
    )

    assert await titles(services, alice, tag="work") == ["Report"]
    assert await titles(services, alice, tag="TALK") == ["Slides"]


async def test_short_texts_and_search_syntax_are_matched_as_plain_text(services, alice):
    await make_task(services, alice.user, title="Fix CI")
    await make_task(services, alice.user, title='Read "Dune" OR watch it*')

    assert await titles(services, alice, query="ci") == ["Fix CI"]
    assert await titles(services, alice, query='"dune" or') == ['Read "Dune" OR watch it*']
    assert await titles(services, alice, query="it*") == ['Read "Dune" OR watch it*']
    assert await titles(services, alice, query="NEAR(") == []


async def test_other_users_matching_tasks_are_never_listed(services, alice, bob):
    await make_task(services, bob.user, title="Quarterly report", tags=["work"])
    await make_task(services, alice.user, title="Quarterly report", tags=["work"])

    assert await titles(services, alice, query="quarterly", tag="work") == ["Quarterly report"]
    assert len(await titles(services, bob, query="quarterly", tag="work")) == 1


@pytest.mark.parametrize("cap", [search.MAX_CANDIDATES, 2], ids=["narrowed", "in order"])
async def test_many_or_few_matches_list_the_same_tasks_in_order_page_by_page(
    services, alice, monkeypatch, cap
):
    monkeypatch.setattr(search, "MAX_CANDIDATES", cap)
    for n in (4, 1, 3, 0, 2):
        await make_task(
            services, alice.user, title=f"report {n}", due=DUE + timedelta(days=n), tags=["q1"]
        )
        await make_task(services, alice.user, title=f"other {n}", due=DUE + timedelta(days=n))

    listed, cursor = [], None
    while True:
        query = TaskQuery(query="REPORT", tag="Q1", limit=2, cursor=cursor)
        page = await services.tasks.list_tasks(user=alice.user, query=query)
        listed += [task.title for task in page.tasks]
        if (cursor := page.next_cursor) is None:
            break

    assert listed == [f"report {n}" for n in range(5)]
    assert await titles(services, alice, query="report", sort="title", status="all") == [
        f"report {n}" for n in range(5)
    ]
