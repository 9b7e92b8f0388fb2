"""Browser-test fixtures: the real server (first start, scripted provider) and chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import expect

from tests.server.web.helpers import (
    CHROMIUM_INSTALLED,
    CHROMIUM_MISSING,
    RunningServer,
    launch_chromium,
    open_page,
    run_serve,
)

# What a page shows after a round trip through the server (a chat turn: the provider, a tool,
# the provider again) can take longer than playwright's 5 s on a busy machine; `expect` waits
# for it up to this long, and returns as soon as it shows.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
async def browser():
    """Debian chromium, one per module (a launch takes seconds); each test opens a context of
    its own (`open_page`), with its own cookies and storage. Skips where it is not installed."""
    if not CHROMIUM_INSTALLED:
        pytest.skip(CHROMIUM_MISSING)
    async with launch_chromium() as browser:
        yield browser


@pytest.fixture
async def server(tmp_path, fake_llm) -> AsyncIterator[RunningServer]:
    """The real server, first start on an empty database, talking to the scripted provider."""
    env = {"OPENAI_BASE_URL": fake_llm.base_url, "OPENAI_API_KEY": "test-key"}
    async with run_serve(tmp_path, env) as running:
        yield running
        print("".join(running.output[-200:]))  # shown by pytest when the test fails


@pytest.fixture
async def server_without_model(tmp_path) -> AsyncIterator[RunningServer]:
    """The real server with no language model configured."""
    async with run_serve(tmp_path, {}) as running:
        yield running
        print("".join(running.output[-200:]))  # shown by pytest when the test fails


@pytest.fixture
async def page(browser, server):
    """A page in chromium, not yet opened on `server`."""
    async with open_page(browser, server.base_url) as page:
        yield page
