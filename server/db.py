"""Storage: the async engine, sessions, the UTC datetime column type and migrations.

`Database` is the only place that knows the drivers' failures: every unit of work it runs
(`session`, `transaction`, `run`, `run_session`, `ping`, `migrate`) turns "the database is
down or saturated" into the domain's `Unavailable`, so the edges translate one error (503,
a tool error) and never mistake another `OSError` (a file name too long, say) for an outage.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

from sqlalchemy import DateTime, Select, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from server.errors import NotFound, Unavailable

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# What the drivers raise when the database is down or saturated (asyncpg's OSError comes raw
# when it cannot connect); `Database` turns these into Unavailable.
DATABASE_DOWN = (OperationalError, InterfaceError, SQLAlchemyTimeoutError, OSError)
UNAVAILABLE = "the database is unavailable; try again shortly"
# Row ids are INTEGER columns (32-bit on PostgreSQL): a larger id names no row.
MAX_ID = 2**31 - 1
# Threads that run SQLite units of work (`Database.run`): reads in parallel, writes one at a
# time (SQLite has one writer; more threads would only wait for its lock).
SQLITE_READ_THREADS = 4

T = TypeVar("T")


# How far the clock of the current context is set from the real one: zero except inside
# `clock_set_to` (the eval runs each scenario at the time it names). A context variable, so
# it reaches the tasks and database threads of that context and nothing else.
_clock_offset: contextvars.ContextVar[timedelta] = contextvars.ContextVar(
    "clock_offset", default=timedelta(0)
)


def utcnow() -> datetime:
    """The current time, in UTC: what every "now" of the domain reads."""
    return datetime.now(UTC) + _clock_offset.get()


@contextmanager
def clock_set_to(now: datetime) -> Iterator[None]:
    """Inside, `utcnow()` starts at `now` (aware) and runs on from there, in this context
    and the tasks started from it."""
    token = _clock_offset.set(now - datetime.now(UTC))
    try:
        yield
    finally:
        _clock_offset.reset(token)


def is_row_id(value: int) -> bool:
    """Whether `value` can name a row (the database would reject a larger number rather
    than find nothing)."""
    return 1 <= value <= MAX_ID


def check_id(row_id: int, not_found: Callable[[int], NotFound]) -> int:
    """`row_id` if it can name a row; else the caller's NotFound."""
    if not is_row_id(row_id):
        raise not_found(row_id)
    return row_id


def _unavailable(exc: BaseException) -> Unavailable:
    logger.warning("database unavailable: %r", exc)
    return Unavailable(UNAVAILABLE)


@asynccontextmanager
async def _reported_down() -> AsyncIterator[None]:
    """Driver failures inside the block leave it as Unavailable (its cause attached)."""
    try:
        yield
    except DATABASE_DOWN as exc:
        raise _unavailable(exc) from exc


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC on every engine (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _manual_begin(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None


def _begin_immediate(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _configure_sqlite(engine: Engine, *, writer: bool) -> None:
    """WAL and the other pragmas on every connection; a writer's transactions take the write
    lock when they begin (BEGIN IMMEDIATE)."""
    event.listen(engine, "connect", _sqlite_pragmas)
    if writer:
        event.listen(engine, "connect", _manual_begin)
        event.listen(engine, "begin", _begin_immediate)


def _sqlite_engine(url: str, *, writer: bool, pool_size: int) -> Engine:
    """A sync (sqlite3) engine on the same file, for `Database.run`."""
    engine = create_engine(
        url.replace("+aiosqlite", "+pysqlite", 1), pool_size=pool_size, max_overflow=0
    )
    _configure_sqlite(engine, writer=writer)
    return engine


class _SqliteRunner:
    """Units of work on sync SQLite engines, each on a database thread in one hop."""

    def __init__(self, url: str) -> None:
        self.reader = _sqlite_engine(url, writer=False, pool_size=SQLITE_READ_THREADS)
        self.writer = _sqlite_engine(url, writer=True, pool_size=1)
        self.read_threads = ThreadPoolExecutor(SQLITE_READ_THREADS, "sqlite-read")
        self.write_thread = ThreadPoolExecutor(1, "sqlite-write")

    async def run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        engine, threads = (
            (self.writer, self.write_thread) if write else (self.reader, self.read_threads)
        )

        def unit() -> T:
            with engine.begin() if write else engine.connect() as conn:
                return work(conn)

        # In the caller's context (as `asyncio.to_thread` runs), so `utcnow()` reads its clock.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(threads, context.run, unit)

    def read_here(self, work: Callable[[Connection], T]) -> T:
        with self.reader.connect() as conn:
            return work(conn)

    def close(self) -> None:
        self.read_threads.shutdown(wait=True)
        self.write_thread.shutdown(wait=True)
        self.reader.dispose()
        self.writer.dispose()


class Database:
    """The engine and session factory for one DATABASE_URL."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=20, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self.write_engine = self.engine
        if self.is_sqlite:
            # SQLite cannot upgrade a stale read snapshot to a write: writers take the write
            # lock when they begin (BEGIN IMMEDIATE) on their own engine; readers stay parallel.
            self.write_engine = create_async_engine(url, **kwargs)
            _configure_sqlite(self.engine.sync_engine, writer=False)
            _configure_sqlite(self.write_engine.sync_engine, writer=True)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._sqlite: _SqliteRunner | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; nothing is committed."""
        async with _reported_down(), self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits together on success or not at all."""
        async with _reported_down(), self.write_sessions() as session, session.begin():
            yield session

    def for_update(self, stmt: Select, *, skip_locked: bool = False) -> Select:
        """`stmt` locking the rows it reads until the transaction ends (PostgreSQL); SQLite
        needs no row locks, its writers take turns (BEGIN IMMEDIATE)."""
        if self.is_sqlite:
            return stmt
        return stmt.with_for_update(skip_locked=skip_locked)

    async def run(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        """Run `work(conn)` with a sync Core connection: in one transaction, committed when it
        returns (`write`), or as a read. For hot paths of a few statements.

        On SQLite the whole unit runs on a database thread in one hop; through aiosqlite each
        statement, fetch and commit is a round trip to its thread (about 0.1 ms each on this
        kind of machine, 2-4 ms for a short unit). On PostgreSQL `work` runs on the async
        driver through SQLAlchemy's greenlet bridge. A write that must survive the caller
        being cancelled is shielded by the caller (on SQLite a started unit always finishes).
        """
        try:
            if self.is_sqlite:
                return await self._sqlite_runner().run(work, write=write)
            engine = self.write_engine if write else self.engine
            async with engine.begin() if write else engine.connect() as conn:
                return await conn.run_sync(work)
        except DATABASE_DOWN as exc:  # inline rather than `_reported_down`: the hot path
            raise _unavailable(exc) from exc

    async def read_in_place(self, work: Callable[[Connection], T]) -> T:
        """`run(work)` for a short indexed read on a request's critical path (a chat turn's
        history, one task by id, a user's project names): on SQLite `work` runs right here,
        on the event loop, instead of on a database thread: the hop there and back cost
        more CPU than such a read (a few rows from the page cache), and on a busy machine
        1-3 ms of waiting for a core and for the GIL (measured: 2.9 ms p50 on a thread,
        0.3 ms here). A WAL reader never waits for a writer's lock. Elsewhere the same as
        `run(work)`."""
        if not self.is_sqlite:
            return await self.run(work)
        try:
            return self._sqlite_runner().read_here(work)
        except DATABASE_DOWN as exc:
            raise _unavailable(exc) from exc

    async def run_session(self, work: Callable[[Session], T], *, write: bool = False) -> T:
        """Run `work(session)` with a sync ORM session, as `run` runs Core work: in one
        transaction, flushed and committed when it returns (`write`), or as a read.

        For units of work that stay ORM (a task write loads, changes and adds rows, then
        its events): on SQLite the whole unit is one hop to the writer thread instead of a
        round trip per statement, flush and commit; on PostgreSQL it runs on the async
        driver through the greenlet bridge (`AsyncSession.run_sync`), so a cancelled caller
        rolls it back. Either way a started write commits whole or not at all.
        """
        if self.is_sqlite:
            return await self.run(partial(_in_session, work, write=write), write=write)
        try:
            sessions = self.write_sessions if write else self.sessions
            async with sessions() as session:
                if not write:
                    return await session.run_sync(work)
                async with session.begin():
                    return await session.run_sync(work)
        except DATABASE_DOWN as exc:
            raise _unavailable(exc) from exc

    def _sqlite_runner(self) -> _SqliteRunner:
        """The sync engines and threads of `run` on SQLite, made at the first unit."""
        if self._sqlite is None:
            self._sqlite = _SqliteRunner(self.url)
        return self._sqlite

    async def migrate(self, **attributes: object) -> None:
        """Bring the schema to the newest migration (creating it on an empty database);
        `attributes` reach the migrations (`context.config.attributes`).

        On SQLite foreign keys are off meanwhile, as SQLite asks for when tables are rebuilt
        (a migration that rebuilds one checks them itself before it commits).
        """
        async with _reported_down(), self.write_engine.connect() as conn:
            if self.is_sqlite:
                await conn.run_sync(_sqlite_foreign_keys, False)
            try:
                async with conn.begin():
                    await conn.run_sync(_upgrade, attributes)
            finally:
                if self.is_sqlite:
                    await conn.run_sync(_sqlite_foreign_keys, True)

    async def ping(self) -> None:
        async with _reported_down(), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._sqlite is not None:
            runner, self._sqlite = self._sqlite, None
            await asyncio.to_thread(runner.close)
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


def _in_session(work: Callable[[Session], T], conn: Connection, *, write: bool) -> T:
    """`work` on an ORM session joined to `conn`'s transaction (committed by the caller)."""
    with Session(bind=conn, expire_on_commit=False) as session:
        result = work(session)
        if write:
            session.flush()
        return result


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Outside a transaction (PRAGMA foreign_keys does nothing inside one)."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


# A migration file's own revision and the one it follows.
REVISION_LINE = re.compile(r'^(revision|down_revision) = "([^"]+)"$', re.MULTILINE)


def newest_revision() -> str | None:
    """The newest migration's revision, read from the files (None unless there is exactly
    one head): seeing that a schema is current needs no alembic, whose import (with mako's
    and pygments') weighs some 10 MB in every process."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(REVISION_LINE.findall(path.read_text()))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _current_revision(connection: Connection) -> str | None:
    try:
        with connection.begin_nested():
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):  # no such table: an empty database
        return None


def _upgrade(connection: Connection, attributes: dict[str, object]) -> None:
    newest = newest_revision()
    if newest is not None and _current_revision(connection) == newest:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes.update(attributes)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
