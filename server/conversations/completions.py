"""The façade's encoder: one chat request's events (server/conversations/chat.py) as the
Chat Completions objects an OpenAI client reads, streamed (`chat.completion.chunk` objects as
SSE `data:` lines ending with `data: [DONE]`) or whole (one `chat.completion`).

The answer's text is the model's, with one short line for each tool call the agent made
(`🔧 add_task(title="Milk") ✓`), since a chat app shows text and nothing else of ours. Once
the answer is complete, the fingerprint of the transcript as the client will send it back is
remembered, so the chat's next request continues the same stored conversation.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from server.conversations.chat import ChatEvent
from server.conversations.facade import MODEL_ID, Transcript, answered_fingerprint
from server.conversations.service import ConversationService
from server.users.models import User

logger = logging.getLogger(__name__)

ARGUMENTS_SHOWN = 80
ERROR_SHOWN = 120
# Without the provider's counts, tokens are estimated at about this many characters each.
CHARS_PER_TOKEN = 4
ENDED_EARLY = "The answer ended before it was complete; try again."


class CompletionFailed(Exception):
    """The answer failed before it could be sent: `status` is the provider's HTTP status
    when the model provider failed with one (429: it is rate limiting)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def tool_line(name: str, arguments: Any, ok: bool, error: str | None) -> str:
    """One tool call as a line of the answer: `🔧 add_task(title="Milk") ✓`, or ✗ and why."""
    if isinstance(arguments, dict):
        shown = ", ".join(
            f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in arguments.items()
        )
    else:
        shown = str(arguments)
    if len(shown) > ARGUMENTS_SHOWN:
        shown = shown[: ARGUMENTS_SHOWN - 1] + "…"
    call = f"{name}({shown})".replace("`", "'")
    if ok:
        return f"🔧 `{call}` ✓"
    reason = " ".join((error or "failed").split())
    reason = reason.removeprefix(f"Error executing tool {name}: ")  # the MCP SDK's preamble
    if len(reason) > ERROR_SHOWN:
        reason = reason[: ERROR_SHOWN - 1] + "…"
    return f"🔧 `{call}` ✗ {reason}"


class Completion:
    """One `/v1/chat/completions` answer, built from the chat's event batches."""

    def __init__(
        self,
        *,
        conversations: ConversationService,
        user: User,
        transcript: Transcript,
        usage: bool,
    ) -> None:
        self.conversations = conversations
        self.user = user
        self.transcript = transcript
        self.usage = usage
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.conversation_id: int | None = None
        self.shown: list[str] = []  # the text the client has been sent
        self.pending: list[str] = []  # text read from the events, not yet sent
        self.end: ChatEvent | None = None  # `done` or `error`, once read
        self.tokens: list[int] | None = None  # [prompt, completion] as the provider reported
        self._arguments: dict[str, Any] = {}

    # -- reading the chat's events ---------------------------------------------------------

    async def open(self, batches: AsyncIterator[list[ChatEvent]]) -> None:
        """Read until the answer has text or has ended; CompletionFailed (and `batches`
        closed) when it failed before it said anything, so the client gets an HTTP error."""
        try:
            while not self.pending and self.end is None:
                await self._read(batches)
        except BaseException:
            await batches.aclose()
            raise
        if self.end is not None and self.end[0] == "error" and not self.pending:
            await batches.aclose()
            raise self._failure()

    async def _read(self, batches: AsyncIterator[list[ChatEvent]]) -> None:
        batch = await anext(batches, None)
        if batch is None:  # the chat always ends with done or error; this is a safety net
            self.end = self.end or ("error", {"message": ENDED_EARLY})
            return
        for name, data in batch:
            self._take(name, data)

    def _take(self, name: str, data: dict[str, Any]) -> None:
        if name == "conversation":
            self.conversation_id = data["conversation_id"]
        elif name == "delta":
            self.pending.append(data["text"])
        elif name == "tool_call":
            self._arguments[data["id"]] = data["arguments"]
        elif name == "tool_result":
            arguments = self._arguments.pop(data["id"], {})
            line = tool_line(data["name"], arguments, data["ok"], data.get("error"))
            self.pending.append(f"{self._separator()}{line}\n\n")
        elif name == "usage":
            tokens = self.tokens or [0, 0]
            self.tokens = [tokens[0] + data["prompt_tokens"], tokens[1] + data["completion_tokens"]]
        elif name in ("done", "error"):
            self.end = (name, data)

    def _separator(self) -> str:
        """What puts the next tool line in a paragraph of its own."""
        text = "".join(self.shown[-2:] + self.pending[-2:])
        if not text or text.endswith("\n\n"):
            return ""
        return "\n" if text.endswith("\n") else "\n\n"

    def _failure(self) -> CompletionFailed:
        assert self.end is not None
        data = self.end[1]
        return CompletionFailed(data.get("message") or ENDED_EARLY, data.get("status"))

    # -- the two answers ---------------------------------------------------------------------

    async def chunks(self, batches: AsyncIterator[list[ChatEvent]]) -> AsyncIterator[bytes]:
        """The streamed answer after `open`: SSE `data:` lines, ending with `data: [DONE]`."""
        async with aclosing(batches):
            yield self._chunk({"role": "assistant", "content": ""})
            while True:
                if self.pending:
                    text = "".join(self.pending)
                    self.shown.append(text)
                    self.pending.clear()
                    yield self._chunk({"content": text})
                if self.end is not None:
                    break
                await self._read(batches)
        name, data = self.end
        if name == "error":
            # What the openai client raises as an APIError mid-stream.
            error = {"message": data.get("message") or ENDED_EARLY, "type": "server_error"}
            yield _data({"error": error | {"param": None, "code": "answer_failed"}})
        else:
            await self._remember()
            yield self._chunk({}, finish_reason="stop")
            if self.usage:
                yield _data(self._envelope("chat.completion.chunk", choices=[]) | self._usage())
        yield b"data: [DONE]\n\n"

    async def whole(self, batches: AsyncIterator[list[ChatEvent]]) -> dict[str, Any]:
        """The whole answer as one `chat.completion`; CompletionFailed if it failed."""
        async with aclosing(batches):
            while self.end is None:
                await self._read(batches)
        if self.end[0] == "error":
            raise self._failure()
        self.shown.extend(self.pending)
        self.pending.clear()
        await self._remember()
        message = {"role": "assistant", "content": self.text, "refusal": None}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return self._envelope("chat.completion", choices=[choice]) | self._usage()

    @property
    def text(self) -> str:
        return "".join(self.shown)

    async def _remember(self) -> None:
        if self.conversation_id is None:
            return
        fingerprint = answered_fingerprint(self.transcript, self.text)
        try:
            await self.conversations.remember_answer(
                user=self.user, conversation_id=self.conversation_id, fingerprint=fingerprint
            )
        except Exception:  # the answer still goes out; the next turn starts a new conversation
            logger.exception(
                "could not remember conversation %s's transcript", self.conversation_id
            )

    # -- encoding -------------------------------------------------------------------------

    def _envelope(self, kind: str, *, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": MODEL_ID,
            "system_fingerprint": None,
            "choices": choices,
        }

    def _chunk(self, delta: dict[str, Any], *, finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return _data(self._envelope("chat.completion.chunk", choices=[choice]))

    def _usage(self) -> dict[str, Any]:
        if self.tokens is not None:
            prompt, completion = self.tokens
        else:
            # An estimate: the provider reported no usage. It counts what the client sent and
            # what it was shown, not our system prompt and tool definitions.
            prompt = math.ceil(self.transcript.chars / CHARS_PER_TOKEN)
            completion = math.ceil(len(self.text) / CHARS_PER_TOKEN)
        return {
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        }


def _data(payload: dict[str, Any]) -> bytes:
    encoded = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"data: {encoded}\n\n".encode()
