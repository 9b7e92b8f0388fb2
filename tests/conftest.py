"""Shared fixtures: settings on a real SQLite file or PostgreSQL, a runtime and its services,
the app, and users."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import httpx2
import pytest

from server.app import create_app
from server.config import Settings
from server.runtime import Runtime, open_runtime
from server.services import Services
from server.users.models import User
from testkit.fake_llm import FakeLLM
from testkit.kafka import Tansu
from testkit.servers import Postgres
from testkit.smtp import SmtpServer
from tests.utils.app import http_client, make_settings

# Settings come only from what a test passes: never from the machine's environment or .env.
for _name in list(os.environ):
    if _name.split("_")[0] in {
        "DATABASE",
        "OPENAI",
        "LLM",
        "KAFKA",
        "SMTP",
        "SCHEDULER",
        "REMINDER",
        "OVERDUE",
        "AUTH",
        "AGENT",
        "EVENT",
        "PUBLIC",
        "OAUTH",
        "ACTIVITY",
    }:
        del os.environ[_name]


# Files of tests that each run for many seconds (real processes, browsers, broker outages):
# collected first, so that `make test`'s workers (whole files each, in collection order)
# start on them and none is left running alone at the end.
LONG_FILES = (
    "tests/server/web/",
    "tests/mcp_tools/test_inspector.py",
    "tests/server/cli/",
    "tests/server/events/test_broker_restart.py",
    "tests/server/workers/test_worker_process.py",
    "tests/server/workers/test_dead_letters.py",
    "tests/mcp_tools/test_push.py",
    "tests/mcp_tools/test_confirm.py",
    "tests/fuzz/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_FILES))  # stable


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Postgres:
    pg = Postgres(str(tmp_path_factory.mktemp("pg")), durable=False)
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def kafka() -> Tansu:
    """A Kafka-compatible broker (Tansu) for the session; `kafka.settings()` per test."""
    broker = Tansu()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def smtp() -> SmtpServer:
    """An SMTP server (aiosmtpd) keeping what it receives in `smtp.inbox`."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    """Each test using it runs twice: on an SQLite file and on a real PostgreSQL.

    The PostgreSQL one is already migrated (a copy of a database migrated once; opening it
    finds its schema current): tests of migrations ask for `empty_database_url`."""
    return _new_database(request, tmp_path, migrated=True)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request, tmp_path) -> str:
    """An empty database, on an SQLite file and on a real PostgreSQL."""
    return _new_database(request, tmp_path, migrated=False)


def _new_database(request, tmp_path, *, migrated: bool) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/todo.db"
    return request.getfixturevalue("postgres").new_database_url(migrated=migrated)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/todo.db"


@pytest.fixture
def settings(database_url) -> Settings:
    return make_settings(database_url=database_url, scheduler_interval_seconds=0.2)


@pytest.fixture
async def runtime(settings) -> AsyncIterator[Runtime]:
    """The process's parts on `settings` (workers off), opened as `serve` opens them."""
    async with open_runtime(settings) as runtime:
        yield runtime


@pytest.fixture
def services(runtime) -> Services:
    return runtime.services


@dataclass
class Account:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_account(services: Services, name: str, timezone: str = "UTC") -> Account:
    user = await services.users.create_user(name=name, timezone=timezone)
    return Account(user=user, token=await services.users.create_token(name=name))


@pytest.fixture
async def alice(services) -> Account:
    return await make_account(services, "alice", "Europe/Paris")


@pytest.fixture
async def bob(services) -> Account:
    return await make_account(services, "bob", "America/New_York")


@pytest.fixture
async def client(runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app over `runtime` (in process, lifespan run, workers off)."""
    async with http_client(create_app(runtime)) as client:
        yield client


REAL_PROVIDER_HOSTS = ("openai.com", "openai.azure.com", "anthropic.com", "googleapis.com")


@pytest.fixture(autouse=True)
def no_real_llm_provider(monkeypatch):
    """Fail any test whose code calls a real LLM provider (the openai client uses httpx2)."""
    attempts: list[str] = []
    send = httpx2.AsyncClient.send

    async def guarded_send(self, request, **kwargs):
        if request.url.host.endswith(REAL_PROVIDER_HOSTS):
            attempts.append(str(request.url))
            raise httpx2.ConnectError("tests never call a real LLM provider", request=request)
        return await send(self, request, **kwargs)

    monkeypatch.setattr(httpx2.AsyncClient, "send", guarded_send)
    yield
    assert not attempts, f"a test called a real LLM provider: {attempts}"


@pytest.fixture(scope="session")
async def fake_llm_server() -> AsyncIterator[FakeLLM]:
    fake = FakeLLM()
    async with fake.serve():
        yield fake


@pytest.fixture
def fake_llm(fake_llm_server) -> FakeLLM:
    """The scripted OpenAI-compatible provider (testkit/fake_llm.py), emptied for each
    test; point OPENAI_BASE_URL at `fake_llm.base_url`."""
    fake_llm_server.reset()
    return fake_llm_server
