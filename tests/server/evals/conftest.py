"""The eval on the scripted provider: one agent and one set of scratch databases for the
module, with the provider's script emptied for each test."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.conversations.provider import open_agent
from server.evals.runner import Evaluation, ScenarioResult
from server.evals.scenario import Scenario, load_scenarios
from testkit.fake_llm import FakeLLM
from tests.utils.app import make_settings


@pytest.fixture(scope="module")
async def evaluation(fake_llm_server: FakeLLM, tmp_path_factory) -> AsyncIterator[Evaluation]:
    settings = make_settings(
        # Never opened: every scenario runs on a scratch database.
        database_url=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('eval')}/users-data.db",
        openai_base_url=fake_llm_server.base_url,
        llm_model="fake-model",
        llm_max_retries=0,
        llm_timeout_seconds=10,
    )
    async with open_agent(settings) as agent:
        assert agent is not None
        with Evaluation(settings=settings, agent=agent) as evaluation:
            yield evaluation


@pytest.fixture(scope="module")
def shipped() -> dict[str, Scenario]:
    return {scenario.name: scenario for scenario in load_scenarios()}


@pytest.fixture
def run(evaluation, shipped, fake_llm):
    """Run a shipped scenario by name against what the test scripted on `fake_llm`."""

    async def run_named(name: str) -> ScenarioResult:
        return await evaluation.run(shipped[name])

    return run_named


def tool_results(body: dict[str, Any]) -> list[Any]:
    """The results of the tool calls in a request to the model, oldest first."""
    results = []
    for message in body["messages"]:
        if message["role"] == "tool":
            try:
                results.append(json.loads(message["content"]))
            except json.JSONDecodeError:
                results.append(message["content"])
    return results


def listed(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks of the last listing the model was given."""
    for result in reversed(tool_results(body)):
        if isinstance(result, dict) and "tasks" in result:
            return [item.get("task", item) for item in result["tasks"]]
    raise AssertionError("no listing in the request")


def said_number(body: dict[str, Any]) -> int:
    user_text = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return int(re.search(r"\d+", user_text).group())
