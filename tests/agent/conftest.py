"""Toy MCP tools and an agent on the scripted provider."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp.server import MCPServer

from agent.llm import build_llm_client
from agent.loop import Agent
from testkit.fake_llm import FakeLLM
from tests.utils.toy_mcp import Toy, toy_server


@pytest.fixture
def toy() -> Toy:
    return Toy()


@pytest.fixture
def toy_mcp(toy) -> MCPServer:
    return toy_server(toy)


@pytest.fixture
async def agent(fake_llm: FakeLLM) -> AsyncIterator[Agent]:
    client = build_llm_client(api_key=None, base_url=fake_llm.base_url, timeout=10, max_retries=2)
    yield Agent(client=client, model="fake-model", max_tool_rounds=3)
    await client.close()
