"""The language model provider for the chat's lifetime: the agent, or None when no provider
is configured (the chat then answers with how to configure one)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agent.breaker import CircuitBreaker
from agent.llm import ProviderClient
from agent.loop import Agent
from server.config import Settings

logger = logging.getLogger(__name__)


@asynccontextmanager
async def open_agent(settings: Settings) -> AsyncIterator[Agent | None]:
    """The agent on the configured provider; owns (and closes) the provider client."""
    if not settings.llm_configured:
        logger.warning("no language model configured: the chat answers with how to set one")
        yield None
        return
    api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    client = ProviderClient(
        api_key=api_key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )
    breaker = CircuitBreaker(
        "llm",
        failures=settings.circuit_breaker_failures,
        cooldown=settings.circuit_breaker_cooldown_seconds,
    )
    try:
        yield Agent(
            client=client,
            model=settings.llm_model,
            max_tool_rounds=settings.agent_max_tool_rounds,
            breaker=breaker,
        )
    finally:
        await client.close()
