"""OAuth fixtures: todo-agent served by uvicorn on a free port, PUBLIC_URL set to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from server.app import create_app
from server.oauth.documents import MetadataDocuments
from server.runtime import open_runtime
from server.services import Services
from testkit.servers import free_port, serve_app
from tests.conftest import Account, make_account, make_settings
from tests.utils.oauth import ConsentGiver, DocumentHost, document_host


@dataclass
class OAuthServer:
    base_url: str
    services: Services
    alice: Account
    bob: Account

    def consent(self, account: Account | None = None, approve: bool = True) -> ConsentGiver:
        return ConsentGiver(self.base_url, (account or self.alice).token, approve=approve)


@contextlib.asynccontextmanager
async def running_oauth_server(
    database_url: str, *, trust=True, **settings: object
) -> AsyncIterator[OAuthServer]:
    """The app under uvicorn, PUBLIC_URL its address; metadata documents fetched with `trust`."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = make_settings(database_url=database_url, public_url=base_url, **settings)
    documents = MetadataDocuments(verify=trust)
    async with (
        open_runtime(config, oauth_documents=documents) as runtime,
        serve_app(create_app(runtime), port=port),
    ):
        services = runtime.services
        alice = await make_account(services, "alice", "Europe/Paris")
        bob = await make_account(services, "bob")
        yield OAuthServer(base_url=base_url, services=services, alice=alice, bob=bob)


@pytest.fixture(scope="module")
async def documents() -> AsyncIterator[DocumentHost]:
    """An https host for Client ID Metadata Documents, its CA trusted by the servers below."""
    async with document_host() as host:
        yield host


@pytest.fixture
async def oauth_server(database_url, documents) -> AsyncIterator[OAuthServer]:
    """A fresh server per test, on SQLite and on PostgreSQL."""
    async with running_oauth_server(database_url, trust=documents.trust) as server:
        yield server


@pytest.fixture(scope="module")
async def shared_oauth_server(tmp_path_factory, documents) -> AsyncIterator[OAuthServer]:
    """One server (SQLite) for a module's table of refused requests, each leaving no trace."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('oauth')}/todo.db"
    async with running_oauth_server(url, trust=documents.trust) as server:
        yield server
