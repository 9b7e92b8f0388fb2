"""Run scenarios through the real chat path (server/conversations/chat.py: the agent, an MCP
session on the tools, storage), each in a scratch SQLite database with a scratch user, at
the scenario's time (`clock_set_to`)."""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agent.loop import Agent
from agent.mcp_client import Toolbox
from agent.prompt import system_prompt
from mcp_tools.connectors import EmbeddedTools
from mcp_tools.session import in_process_client
from server.config import Settings
from server.conversations.chat import Chat
from server.db import clock_set_to, utcnow
from server.runtime import Runtime, open_runtime
from server.services import Services
from server.users.models import User

from .checks import Context, evaluate
from .scenario import Check, Scenario
from .state import read_state, seed
from .transcript import TurnRecord, follow

logger = logging.getLogger(__name__)

USER = "eval-user"
OTHER_USER = "someone-else"
KEY_REFERENCE = re.compile(r"\{id:([A-Za-z0-9_-]+)\}")


@dataclass(slots=True)
class ScenarioResult:
    name: str
    failures: list[str] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True, slots=True)
class PromptSize:
    """What every request to the model starts with: the system prompt and tool definitions
    (in characters, and per tool)."""

    system_chars: int
    tools_chars: int
    tool_chars: dict[str, int]


async def measure_prompt(runtime: Runtime, user: User) -> PromptSize:
    """The system prompt and tool definitions the chat sends, as it builds them."""
    async with in_process_client(runtime.mcp, user) as client:
        tools = await Toolbox.load(client)
    prompt = system_prompt(
        now=utcnow(),
        timezone=user.timezone,
        user_name=user.name,
        server_instructions=tools.instructions,
    )
    per_tool = {
        definition["function"]["name"]: len(json.dumps(definition, separators=(",", ":")))
        for definition in tools.definitions
    }
    return PromptSize(len(prompt), len(tools.definitions_json), per_tool)


def _on_file(settings: Settings, path: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{path}"
    return settings.model_copy(update={"database_url": url, "kafka_bootstrap_servers": None})


class ScratchDatabases:
    """New SQLite files, each a copy of one migrated once (migrating takes most of a
    second, copying a few milliseconds); all removed by `close`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._directory = tempfile.TemporaryDirectory(prefix="todo-agent-eval-")
        self._template: Path | None = None
        self._count = 0

    async def template(self) -> Path:
        if self._template is None:
            template = Path(self._directory.name) / "template.db"
            async with open_runtime(_on_file(self.settings, template), events=False):
                pass
            self._template = template
        return self._template

    @asynccontextmanager
    async def runtime(self) -> AsyncIterator[Runtime]:
        """A runtime (no workers, no bus) on a new database, removed afterwards."""
        self._count += 1
        path = Path(self._directory.name) / f"scenario-{self._count}.db"
        shutil.copyfile(await self.template(), path)
        try:
            async with open_runtime(_on_file(self.settings, path), events=False) as runtime:
                yield runtime
        finally:
            for leftover in path.parent.glob(f"{path.name}*"):
                leftover.unlink()

    def close(self) -> None:
        self._directory.cleanup()


def _said(text: str, keys: dict[str, int]) -> str:
    """The user's words with each `{id:KEY}` replaced by that seeded task's id."""
    return KEY_REFERENCE.sub(lambda m: str(keys.get(m.group(1), m.group(0))), text)


async def _chat_turn(
    chat: Chat, services: Services, user: User, conversation_id: int | None, text: str
) -> tuple[TurnRecord, int | None]:
    record = TurnRecord(say=text)
    started = time.perf_counter()
    turn = await services.conversations.begin_turn(
        user=user, conversation_id=conversation_id, text=text
    )
    async for batch in chat.events(user=user, token="", turn=turn, usage=True):
        for name, data in batch:
            if name == "conversation":
                conversation_id = data["conversation_id"]
            follow(record, name, data)
    record.seconds = time.perf_counter() - started
    return record, conversation_id


class Evaluation:
    """Runs scenarios with one agent (one provider client) and remembers the prompt size;
    `close` removes the scratch databases.

        with Evaluation(settings=settings, agent=agent) as evaluation:
            result = await evaluation.run(scenario)
    """

    def __init__(self, *, settings: Settings, agent: Agent) -> None:
        self.agent = agent
        self.databases = ScratchDatabases(settings)
        self.prompt: PromptSize | None = None

    def __enter__(self) -> Evaluation:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.databases.close()

    async def run(self, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario.name)
        # Migrating the template is timeless; the scenario's own work happens at its time.
        await self.databases.template()
        with clock_set_to(scenario.local(scenario.now)):
            async with self.databases.runtime() as runtime:
                await self._run_in(runtime, scenario, result)
        return result

    async def _run_in(self, runtime: Runtime, scenario: Scenario, result: ScenarioResult) -> None:
        services = runtime.services
        user = await services.users.create_user(name=USER, timezone=scenario.timezone)
        other = await services.users.create_user(name=OTHER_USER, timezone=scenario.timezone)
        if self.prompt is None:
            self.prompt = await measure_prompt(runtime, user)
        keys = await seed(services, scenario, user, other)
        chat = Chat(
            conversations=services.conversations,
            agent=self.agent,
            connect_tools=EmbeddedTools(runtime.mcp),
        )

        start = state = await read_state(services, user, other)
        conversation_id = None
        for step in scenario.steps:
            said = _said(step.say, keys)
            record, conversation_id = await _chat_turn(chat, services, user, conversation_id, said)
            result.turns.append(record)
            if record.error:
                result.failures.append(f"turn {len(result.turns)}: the chat failed: {record.error}")
                return
            before, state = state, await read_state(services, user, other)
            label = f"turn {len(result.turns)}: "
            _check(result, step.expect, Context(scenario, keys, before, state, [record]), label)
        _check(result, scenario.expect, Context(scenario, keys, start, state, result.turns), "")


def _check(result: ScenarioResult, checks: list[Check], context: Context, label: str) -> None:
    for check in checks:
        if (failure := evaluate(check, context)) is not None:
            result.failures.append(label + failure)
