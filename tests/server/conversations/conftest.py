"""Chat tests run on SQLite with the scripted provider as OPENAI_BASE_URL."""

from __future__ import annotations

import pytest

from server.config import Settings
from testkit.fake_llm import FakeLLM
from tests.conftest import make_settings


def chat_settings(database_url: str, fake_llm: FakeLLM, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "openai_base_url": fake_llm.base_url,
        "llm_model": "fake-model",
        "llm_max_retries": 2,
        "llm_timeout_seconds": 10,
        "agent_max_tool_rounds": 4,
        "scheduler_interval_seconds": 0.2,
    }
    return make_settings(**(values | overrides))


@pytest.fixture
def settings(sqlite_url, fake_llm) -> Settings:
    return chat_settings(sqlite_url, fake_llm)
