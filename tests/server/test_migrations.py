"""Migrations: an empty database gets the whole schema; an existing one keeps its data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Boolean, Integer, String, column, insert, inspect, table, text

from server.db import MIGRATIONS_DIR, Database, UTCDateTime, newest_revision
from server.events.models import OutboxEvent
from server.models import ApiToken, Task, User, metadata
from server.tasks.models import Status, TaskCreate, TaskQuery
from server.tasks.search import SEARCH_SCHEMA, candidates
from server.users.service import hash_token
from server.workers.scheduler import DeadlineScheduler
from tests.utils.app import services_on
from tests.utils.events import rows
from tests.utils.factories import make_task
from tests.utils.oauth import mint_access_token


@pytest.fixture
def database_url(empty_database_url) -> str:
    """Empty databases: these tests build and upgrade the schema themselves."""
    return empty_database_url


def alembic_config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def first_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_base()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def schema(db: Database) -> tuple[set[str], str]:
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    return tables, version


async def test_migrate_builds_the_whole_schema_on_an_empty_database(database_url):
    db = Database(database_url)
    try:
        await db.migrate()

        tables, version = await schema(db)
    finally:
        await db.dispose()
    search = {name for name in SEARCH_SCHEMA if name.startswith("tasks_")}
    search = search if db.is_sqlite else set()
    assert tables == set(metadata.tables) | {"alembic_version"} | search
    assert version == head_revision()


def test_the_newest_revision_read_from_the_files_is_alembics_head():
    # A current schema is recognised without importing alembic (server/db.py).
    assert newest_revision() == head_revision()


def not_search(name, _kind, _parents) -> bool:
    """Whether a table or index is not migration 0010's search schema (kept in raw SQL)."""
    return name not in SEARCH_SCHEMA


async def test_migrated_schema_matches_the_models(database_url):
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"include_name": not_search}), metadata
                )
            )
    finally:
        await db.dispose()
    assert differences == [], "a model changed without a migration"


async def test_migrating_again_changes_nothing(services, alice):
    task = await make_task(services, alice.user, title="Pay rent")
    before = await schema(services.db)

    await services.db.migrate()
    await services.db.migrate()

    assert await schema(services.db) == before
    assert await services.tasks.get_task(user=alice.user, task_id=task.id) == task


async def test_database_from_the_first_migration_upgrades_in_place_keeping_its_data(
    database_url,
):
    # A database as the first release left it: built by the first migration and filled
    # with rows written against that migration's columns only.
    db = Database(database_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), first_revision()))
        await _insert_first_release_rows(conn)
    await db.dispose()
    async with services_on(database_url) as services:  # opening it migrates
        _, version = await schema(services.db)
        user = await services.users.authenticate("tda_first-release-token")
        page = await services.tasks.list_tasks(user=user, query=TaskQuery(status=Status.all))
        searched = (
            await services.tasks.list_tasks(user=user, query=TaskQuery(query="licen", tag="ADMIN"))
        ).tasks
    assert version == head_revision()
    assert (user.name, user.timezone) == ("olga", "Europe/Oslo")
    assert [(t.title, t.due, t.tags) for t in page.tasks] == [
        ("Renew licence", datetime(2030, 5, 1, 7, 0, tzinfo=UTC), ["admin"])
    ]
    assert [t.title for t in searched] == ["Renew licence"]  # tasks stored before are indexed


# The tasks table before projects (revision 0002), for rows written against it.
LEGACY_TASKS = table(
    "tasks",
    column("user_id", Integer),
    column("title", String),
    column("completed", Boolean),
    column("priority_rank", Integer),
    column("tags", JSON),
    column("tags_key", String),
    column("due", UTCDateTime()),
    column("due_sort", UTCDateTime()),
    column("created_at", UTCDateTime()),
    column("updated_at", UTCDateTime()),
    column("next_alert_at", UTCDateTime()),
    column("remind_before_minutes", Integer),
    column("last_alert", String),
)


async def _insert_first_release_rows(conn) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    due = datetime(2030, 5, 1, 7, 0, tzinfo=UTC)
    await conn.execute(
        insert(User.__table__).values(
            id=1, name="olga", email=None, timezone="Europe/Oslo", created_at=now
        )
    )
    token = "tda_first-release-token"
    await conn.execute(
        insert(ApiToken.__table__).values(
            user_id=1, prefix=token[:12], token_hash=hash_token(token), created_at=now
        )
    )
    await conn.execute(
        insert(Task.__table__).values(
            user_id=1,
            title="Renew licence",
            completed=False,
            priority_rank=4,
            tags=["admin"],
            tags_key="|admin|",
            due=due,
            due_sort=due,
            created_at=now,
            updated_at=now,
        )
    )


async def test_database_from_before_oauth_upgrades_in_place_and_apps_can_connect(database_url):
    db = Database(database_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0002"))
        await _insert_first_release_rows(conn)
    await db.dispose()
    async with services_on(database_url) as services:  # opening it migrates
        user = await services.users.authenticate("tda_first-release-token")
        token = await mint_access_token(services, user)
        access = await services.oauth.grants.verify_access(token)
    assert access is not None and access.user.name == "olga"


async def test_idempotency_keys_stored_before_fingerprints_still_replay(database_url):
    # A database from before 0003: keyed tasks there have no fingerprint of their request.
    db = Database(database_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0006"))
        await _insert_first_release_rows(conn)
        await conn.execute(text("UPDATE tasks SET idempotency_key = 'legacy-1'"))
    await db.dispose()
    async with services_on(database_url) as services:  # opening it migrates
        user = await services.users.authenticate("tda_first-release-token")
        replay = await services.tasks.create_task(
            user=user, data=TaskCreate(title="Renew licence"), idempotency_key="legacy-1"
        )
        fresh = await services.tasks.create_task(
            user=user, data=TaskCreate(title="Renew passport"), idempotency_key="new-1"
        )
        again = await services.tasks.create_task(
            user=user, data=TaskCreate(title="Renew passport"), idempotency_key="new-1"
        )
    assert replay.title == "Renew licence"
    assert again == fresh


async def test_a_database_from_before_projects_upgrades_with_an_inbox_and_working_reminders(
    database_url,
):
    # As the release before projects left it: one list per user, one reminder per task.
    db = Database(database_url)
    due = datetime(2030, 5, 1, 7, 0, tzinfo=UTC)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0002"))
        await _insert_first_release_rows(conn)
        await conn.execute(
            insert(User.__table__).values(id=2, name="pia", timezone="UTC", created_at=due)
        )
        legacy = {"completed": False, "priority_rank": 4, "tags": [], "tags_key": "|"}
        for title, user_id, minutes, last_alert in (
            ("Ten minutes ahead", 1, 10, None),  # its reminder is still to come
            ("Already reminded", 1, 15, "reminder"),  # fired before the upgrade
            ("Default lead", 2, None, None),  # REMINDER_LEAD_MINUTES, here 45
        ):
            await conn.execute(
                insert(LEGACY_TASKS).values(
                    user_id=user_id,
                    title=title,
                    due=due,
                    due_sort=due,
                    created_at=due,
                    updated_at=due,
                    next_alert_at=due - timedelta(minutes=minutes or 45),
                    remind_before_minutes=minutes,
                    last_alert=last_alert,
                    **legacy,
                )
            )
    await db.dispose()

    async with services_on(database_url, reminder_lead_minutes=45) as services:
        olga = await services.users.authenticate("tda_first-release-token")
        pia = await services.users.get_user(name="pia")
        for user in (olga, pia):
            [inbox] = (await services.projects.list_projects(user=user)).projects
            page = await services.tasks.list_tasks(user=user, query=TaskQuery(status=Status.all))
            assert inbox.name == "Inbox" and inbox.open_tasks == len(page.tasks) > 0
            assert {task.project_id for task in page.tasks} == {inbox.id}
        leads = {
            t.title: [r.before_minutes for r in t.reminders]
            for user in (olga, pia)
            for t in (await services.tasks.list_tasks(user=user, query=TaskQuery())).tasks
        }
        assert leads == {
            "Renew licence": [45],
            "Ten minutes ahead": [10],
            "Already reminded": [15],
            "Default lead": [45],
        }

        await DeadlineScheduler(deadlines=services.deadlines, interval_seconds=1).tick(
            now=due - timedelta(minutes=5)
        )

        alerts = await rows(services, OutboxEvent, OutboxEvent.topic == services.topics.reminders)
    fired = sorted((e.envelope["type"], e.envelope["data"]["title"]) for e in alerts)
    assert fired == [
        ("reminder.due", "Default lead"),
        ("reminder.due", "Ten minutes ahead"),
    ]


async def test_events_published_before_live_replay_can_still_be_resumed_from(database_url):
    """Revision 0007 numbers what the relay sends; events published earlier count as sent
    first, so a client holding one of their ids resumes after it."""
    db = Database(database_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0003"))
        await _insert_first_release_rows(conn)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        for event_id, published in (("e-published", now), ("e-pending", None)):
            await conn.execute(
                insert(OutboxEvent.__table__).values(
                    event_id=event_id,
                    topic="task-events",
                    key="1",
                    envelope={"id": event_id, "type": "task.updated"},
                    created_at=now,
                    published_at=published,
                )
            )
    await db.dispose()
    async with services_on(database_url, event_retention_hours=24 * 3650) as services:
        position = await services.live_log.position_of(1, "e-published")
        after, waiting = await services.live_log.after(1, position)
    assert position is not None and position.batch == 0
    assert (after, waiting) == ([], True)  # the pending one comes once the relay sends it


async def test_tasks_stored_before_the_postgres_text_index_are_narrowed_to_by_query(
    database_url,
):
    # A database at 0010, before PostgreSQL's trigram index (0011): its tasks are indexed
    # when it upgrades (on SQLite 0011 changes nothing; its FTS5 table is from 0010).
    db = Database(database_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0002"))
        await _insert_first_release_rows(conn)
        await conn.execute(text("UPDATE tasks SET description = 'at the Town Hall'"))
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0010"))
    await db.dispose()
    async with services_on(database_url) as services:  # opening it migrates
        user = await services.users.authenticate("tda_first-release-token")
        found = {
            words: [
                t.title
                for t in (
                    await services.tasks.list_tasks(user=user, query=TaskQuery(query=words))
                ).tasks
            ]
            for words in ("LICENCE", "town hall", "passport")
        }
        narrowed = await services.db.run(
            lambda conn: candidates(conn, user_id=user.id, tag=None, words="town hall")
        )
    assert found == {"LICENCE": ["Renew licence"], "town hall": ["Renew licence"], "passport": []}
    assert narrowed is not None and len(narrowed) == 1


async def test_a_database_from_before_the_trash_indexes_lists_its_trash_in_order(database_url):
    # A database at 0011 with deleted tasks: 0012 indexes them, and the trash lists them.
    db = Database(database_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0002"))
        await _insert_first_release_rows(conn)
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0011"))
        await conn.execute(text("UPDATE tasks SET deleted_at = created_at"))
    await db.dispose()
    async with services_on(database_url) as services:  # opening it migrates
        user = await services.users.authenticate("tda_first-release-token")
        await make_task(services, user, title="Another")
        trash = {
            sort: [
                t.title
                for t in (
                    await services.tasks.list_tasks(
                        user=user, query=TaskQuery(status="deleted", sort=sort)
                    )
                ).tasks
            ]
            for sort in ("due", "priority", "created", "title")
        }
        async with services.db.engine.connect() as conn:
            indexes = await conn.run_sync(
                lambda sync: {index["name"] for index in inspect(sync).get_indexes("tasks")}
            )
    assert trash == dict.fromkeys(("due", "priority", "created", "title"), ["Renew licence"])
    assert {"ix_tasks_trash_due", "ix_tasks_trash_created"} <= indexes
