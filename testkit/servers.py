"""Real servers for tests: PostgreSQL (pgserver) and uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Iterator

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
    """One PostgreSQL server for the session; each test gets a fresh database in it."""

    def __init__(self, root: str) -> None:
        import pgserver

        self.server = pgserver.get_server(root, cleanup_mode="stop")

    def new_database_url(self) -> str:
        name = f"test_{next(_db_counter)}"
        self.server.psql(f"CREATE DATABASE {name};")
        return self.server.get_uri(name).replace("postgresql://", "postgresql+asyncpg://", 1)

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
