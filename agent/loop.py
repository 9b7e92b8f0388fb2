"""The agent loop: stream a model turn, run the tool calls it asks for, feed results back.

The loop knows the provider (Chat Completions with streaming and tools) and MCP (through a
`Toolbox`), nothing about storage: it yields `AgentEvent`s and whoever drives it decides
what to keep and what to send to the user.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from agent.breaker import BreakerOpen, CircuitBreaker
from agent.events import (
    AgentEvent,
    AssistantTurn,
    Failed,
    TextDelta,
    ToolCall,
    ToolResult,
    Usage,
)
from agent.llm import (
    ProviderClient,
    describe_open_breaker,
    describe_provider_error,
    is_provider_failure,
    openai_errors,
)
from agent.mcp_client import Toolbox, ToolOutcome

if TYPE_CHECKING:
    from openai import AsyncOpenAI
from agent.messages import assistant_message, tool_message

logger = logging.getLogger(__name__)


def request_body(
    model: str, messages: list[dict[str, Any]], tools_json: str, *, usage: bool = False
) -> bytes:
    """The streamed Chat Completions request; `tools_json` is the encoded tool list, if any;
    `usage` asks the provider to report the tokens used (a last chunk with `usage`)."""
    request: dict[str, Any] = {"model": model, "stream": True, "messages": messages}
    if usage:
        request["stream_options"] = {"include_usage": True}
    body = json.dumps(request)
    if tools_json != "[]":
        body = f'{body[:-1]},"tools":{tools_json}}}'
    return body.encode()


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def finish(self) -> ToolCall:
        return ToolCall(
            id=self.id or f"call_{uuid.uuid4().hex[:24]}",
            name=self.name,
            arguments="".join(self.arguments),
        )


class ToolCallAssembler:
    """Joins streamed tool-call fragments into whole calls, by index (and id, when present)."""

    def __init__(self) -> None:
        self._calls: list[_PartialCall] = []
        self._by_index: dict[int, _PartialCall] = {}

    def add(self, fragment: dict[str, Any]) -> None:
        """One `delta.tool_calls[i]` of a chunk: {"index", "id"?, "function": {"name"?,
        "arguments"?}}."""
        index = fragment.get("index")
        call_id = fragment.get("id")
        slot = self._by_index.get(index) if index is not None else None
        # Some providers number every call 0 and tell calls apart by id only.
        if slot is None or (call_id and slot.id and call_id != slot.id):
            slot = _PartialCall()
            self._calls.append(slot)
            if index is not None:
                self._by_index[index] = slot
        if call_id:
            slot.id = call_id
        function = fragment.get("function") or {}
        if (name := function.get("name")) and not slot.name:
            slot.name = name
        if arguments := function.get("arguments"):
            slot.arguments.append(arguments)

    def calls(self) -> list[ToolCall]:
        return [partial.finish() for partial in self._calls]


@dataclass
class _Turn:
    text: list[str] = field(default_factory=list)
    tool_calls: ToolCallAssembler = field(default_factory=ToolCallAssembler)
    usage: Usage | None = None


class Agent:
    """Runs one user request against the model and one MCP session's tools; `breaker`
    (when given) stands in front of every request to the model."""

    def __init__(
        self,
        *,
        client: ProviderClient | AsyncOpenAI,
        model: str,
        max_tool_rounds: int,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.max_tool_rounds = max_tool_rounds
        self.breaker = breaker

    async def run(
        self, messages: Sequence[dict[str, Any]], tools: Toolbox, *, usage: bool = False
    ) -> AsyncIterator[AgentEvent]:
        """Answer the conversation in `messages` (system prompt first), yielding as it goes;
        with `usage`, a `Usage` after each model turn the provider reported tokens for."""
        messages = list(messages)
        rounds = 0
        while True:
            turn = _Turn()
            try:
                async with self._guarded():
                    async for delta in self._stream_turn(messages, tools, turn, usage):
                        yield delta
            except BreakerOpen as exc:
                logger.warning("provider circuit open: %s", exc)
                yield Failed(describe_open_breaker(exc.failures, exc.retry_in), status=503)
                return
            except Exception as exc:
                openai = openai_errors()
                if not isinstance(exc, openai.APIError):
                    raise
                logger.warning("provider error after retries: %s", exc)
                attempts = self.client.max_retries + 1
                status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
                message = describe_provider_error(exc, attempts=attempts, model=self.model)
                yield Failed(message, status=status)
                return
            if turn.usage is not None:
                yield turn.usage
            text = "".join(turn.text)
            calls = turn.tool_calls.calls()
            if not calls:
                yield AssistantTurn(content=text)
                return
            if rounds >= self.max_tool_rounds:
                note = self._stopped_note(rounds)
                note = f"\n\n{note}" if text else note
                yield TextDelta(note)
                yield AssistantTurn(content=text + note)
                return
            rounds += 1
            yield AssistantTurn(content=text, tool_calls=calls)
            messages.append(assistant_message(text, calls))
            async for result in self._run_tools(calls, tools):
                yield result
                messages.append(tool_message(result.call.id, result.outcome.content))

    def _guarded(self) -> AbstractAsyncContextManager[None]:
        if self.breaker is None:
            return nullcontext()
        return self.breaker.guard(counts=is_provider_failure)

    async def _stream_turn(
        self, messages: list[dict[str, Any]], tools: Toolbox, turn: _Turn, usage: bool
    ) -> AsyncIterator[TextDelta]:
        # The client's generic `post`, with the body encoded here and chunks as plain dicts: the
        # same request, retries, timeouts and errors as `chat.completions.create`, without its
        # walk over every message and tool to transform, encode and then parse into models
        # (about 1.5 ms of a chat's first delta, measured in bench/chat_overhead.py).
        from openai import APIResponseValidationError, AsyncStream  # loaded with the client

        stream = await self.client.post(
            "/chat/completions",
            content=request_body(self.model, messages, tools.definitions_json, usage=usage),
            # `object`: each chunk is the provider's JSON as parsed, with no type walk.
            cast_to=object,
            stream=True,
            stream_cls=AsyncStream[object],
            options={"security": {"bearer_auth": True}},  # as `create` sends it
        )
        async with stream:
            async for chunk in stream:
                if not isinstance(chunk, dict):
                    raise APIResponseValidationError(
                        response=stream.response, body=chunk, message="a chunk is not an object"
                    )
                if usage and (reported := chunk.get("usage")):
                    turn.usage = _usage(reported)
                choices = chunk.get("choices")
                if not choices:
                    continue
                delta = choices[0].get("delta") or {}
                if content := delta.get("content"):
                    turn.text.append(content)
                    yield TextDelta(content)
                for fragment in delta.get("tool_calls") or ():
                    turn.tool_calls.add(fragment)

    async def _run_tools(self, calls: list[ToolCall], tools: Toolbox) -> AsyncIterator[ToolResult]:
        """Run the calls concurrently; yield each result as soon as it is ready."""
        pending = [asyncio.create_task(self._call(call, tools)) for call in calls]
        try:
            for next_done in asyncio.as_completed(pending):
                yield await next_done
        finally:
            for task in pending:
                task.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.gather(*pending, return_exceptions=True)

    @staticmethod
    async def _call(call: ToolCall, tools: Toolbox) -> ToolResult:
        try:
            outcome = await tools.call(call.name, call.arguments)
        except Exception:
            logger.exception("tool %s crashed", call.name)
            outcome = ToolOutcome.failed(f"{call.name} failed unexpectedly; try again later")
        return ToolResult(call=call, outcome=outcome)

    @staticmethod
    def _stopped_note(rounds: int) -> str:
        return (
            f"I stopped after {rounds} rounds of tool calls without finishing. What I did so "
            "far is saved; ask me to continue if you want me to go on."
        )


def _usage(reported: Any) -> Usage | None:
    """A provider's `usage` object, if it has the two counts as numbers."""
    if not isinstance(reported, dict):
        return None
    prompt, completion = reported.get("prompt_tokens"), reported.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)
