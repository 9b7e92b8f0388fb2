"""The fuzz tests' target: `serve`'s app under uvicorn on a free port (real sockets, so
streams work), on SQLite and on PostgreSQL, with a fuzzing user and a victim whose data must
never be read or changed.

How long they run is a hypothesis profile: `fuzz` (the default, part of `make test`, about
half a minute for the whole directory, the same examples each run) or `fuzz-long`
(FUZZ_PROFILE=fuzz-long: 600 examples per route and tool, new ones each run).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from server.app import create_app
from server.http.connections import ConnectionLimits
from server.runtime import Runtime, open_runtime
from server.services import Services
from server.tasks.models import TaskQuery
from testkit.servers import serve_app
from tests.conftest import Account, make_account, make_settings
from tests.utils.factories import make_notification, make_task, snapshot

T = TypeVar("T")
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
# `make test`'s profile draws the same examples on every run, so its result does not depend
# on luck; the long one draws new ones each time.
settings.register_profile(
    "fuzz",
    max_examples=12,
    deadline=None,
    suppress_health_check=SUPPRESSED,
    print_blob=True,
    derandomize=True,
)
settings.register_profile(
    "fuzz-long", max_examples=600, deadline=None, suppress_health_check=SUPPRESSED, print_blob=True
)
PROFILE = settings.get_profile(os.environ.get("FUZZ_PROFILE", "fuzz"))
# The victim's data carries this mark: no answer to the fuzzing user may ever contain it.
SECRET = "VICTIM-SECRET-7f3a"


@dataclass
class Target:
    runtime: Runtime
    app: FastAPI
    base_url: str
    client: httpx.AsyncClient  # to base_url, no credentials
    fuzzer: Account
    victim: Account
    victim_ids: dict[str, list[int]]  # ids of the victim's rows, to aim at
    fuzzer_ids: dict[str, list[int]]
    cursor: str  # a real cursor of the fuzzer's task listing
    loop: asyncio.AbstractEventLoop

    @property
    def services(self) -> Services:
        return self.runtime.services

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """From hypothesis's thread: run a coroutine on the test's event loop."""
        return asyncio.run_coroutine_threadsafe(_call(make), self.loop).result(timeout=60)


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


async def _people(services: Services) -> tuple[Account, Account, dict, dict]:
    victim = await make_account(services, "victim", "Pacific/Kiritimati")
    fuzzer = await make_account(services, "fuzzer", "America/St_Johns")
    ids: dict[str, dict[str, list[int]]] = {}
    for account in (victim, fuzzer):
        mark = SECRET if account is victim else "fuzzer's own"
        tasks = [
            await make_task(services, account.user, title=f"{mark} {n}", due=f"2030-0{n}-01")
            for n in range(1, 4)
        ]
        await make_task(services, account.user, title=f"{mark} daily", recurrence="daily")
        note = await make_notification(
            services, account.user, title=f"{mark} reminder", task_id=tasks[0].id
        )
        turn = await services.conversations.begin_turn(
            user=account.user, conversation_id=None, text=f"{mark} hello"
        )
        talk = await services.conversations.save_user_message(turn=turn)
        ids[account.user.name] = {
            "task": [t.id for t in tasks],
            "notification": [note.id],
            "conversation": [talk],
        }
    return fuzzer, victim, ids["fuzzer"], ids["victim"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def target(request, tmp_path_factory) -> AsyncIterator[Target]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz')}/todo.db"
    else:
        url = request.getfixturevalue("postgres").new_database_url()
    # No throttles: the fuzzer sends thousands of requests from one address.
    config = make_settings(database_url=url, auth_failures_per_minute=0, chat_turns_per_minute=0)
    async with open_runtime(config) as runtime:
        app = create_app(runtime)
        limits = ConnectionLimits.from_settings(config).uvicorn_options()
        served = serve_app(app, **limits)  # as `serve` runs it
        async with served as base_url, httpx.AsyncClient(base_url=base_url) as client:
            services = runtime.services
            fuzzer, victim, fuzzer_ids, victim_ids = await _people(services)
            page = await services.tasks.list_tasks(user=fuzzer.user, query=TaskQuery(limit=1))
            before = await snapshot(services, victim)
            yield Target(
                runtime=runtime,
                app=app,
                base_url=base_url,
                client=client,
                fuzzer=fuzzer,
                victim=victim,
                victim_ids=victim_ids,
                fuzzer_ids=fuzzer_ids,
                cursor=page.next_cursor or "",
                loop=asyncio.get_running_loop(),
            )
            assert await snapshot(services, victim) == before, "the victim's data changed"
