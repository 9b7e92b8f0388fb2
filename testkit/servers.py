"""Real servers for tests: PostgreSQL (pgserver) and uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import uvicorn

_db_counter = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def two_databases(kind: str, workdir: str) -> Iterator[str]:
    """The URLs of two fresh databases under `workdir` ("sqlite" files, or "postgres" ones in
    one server that stops once the iterator is closed): a benchmark's two sizes."""
    if kind == "sqlite":
        for name in ("small", "large"):
            yield f"sqlite+aiosqlite:///{workdir}/{name}.db"
        return
    server = Postgres(f"{workdir}/pg")
    try:
        yield server.new_database_url()
        yield server.new_database_url()
    finally:
        server.stop()


class Postgres:
    """One PostgreSQL server for the session; each test gets a fresh database in it.

    `durable=False` (the test suite's) turns off flushing to disk: a test's data never has to
    survive a power cut, and hundreds of CREATE DATABASEs and commits then cost no fsync."""

    def __init__(self, root: str, *, durable: bool = True) -> None:
        import pgserver

        self.server = pgserver.get_server(root, cleanup_mode="stop")
        self._template_ready = False
        if not durable:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                self.server.psql(f"ALTER SYSTEM SET {setting} = off;")
            self.server.psql("SELECT pg_reload_conf();")

    def new_database_url(self, *, migrated: bool = False) -> str:
        """A fresh database: empty, or (`migrated`) a copy of one migrated once, for a test
        of something else than migrations (migrating PostgreSQL takes seconds; a copy, not)."""
        name = f"test_{next(_db_counter)}"
        template = f" TEMPLATE {self._migrated_template()}" if migrated else ""
        self.server.psql(f"CREATE DATABASE {name}{template};")
        return self._url(name)

    def _url(self, name: str) -> str:
        return self.server.get_uri(name).replace("postgresql://", "postgresql+asyncpg://", 1)

    def _migrated_template(self) -> str:
        """A database migrated as `open_runtime` migrates, then closed to connections (a
        template must have none while it is copied)."""
        name = "migrated_template"
        if self._template_ready:
            return name
        from server.db import Database

        async def migrate() -> None:
            db = Database(self._url(name))
            try:
                await db.migrate()
            finally:
                await db.dispose()

        self.server.psql(f"CREATE DATABASE {name};")
        # In a thread of its own: a test's event loop may be running in this one.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, migrate()).result()
        self.server.psql(f"ALTER DATABASE {name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false;")
        self._template_ready = True
        return name

    def stop(self) -> None:
        self.server.cleanup()


@contextlib.asynccontextmanager
async def serve_app(app, *, port: int | None = None, **options) -> AsyncIterator[str]:
    """Run `app` under uvicorn on a free loopback port in this event loop; yields the base URL.

    `options` go to uvicorn.Config (e.g. ssl_certfile and ssl_keyfile: the URL is https;
    or `serve`'s connection limits)."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn exited before it started")
            await asyncio.sleep(0.01)
        scheme = "https" if options.get("ssl_certfile") else "http"
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
