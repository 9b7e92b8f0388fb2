"""The OpenAI-compatible façade's side of conversations: what a chat app sends to
`POST /v1/chat/completions`, read into the turn it asks for.

Chat apps (Open WebUI, LibreChat) keep the conversation themselves and resend all of it with
every request, so the client's messages are the conversation: the model is given exactly
that history. A follow-up turn of a chat is recognised by a fingerprint of the transcript:
after each answer the server remembers the fingerprint of the messages as the client will
send them back (its earlier messages, the question, and the answer's text as it was shown),
and the next request whose earlier messages have that fingerprint continues the same stored
conversation. The fingerprint is a SHA-256 over the user and assistant messages' roles and
texts with whitespace collapsed, so a client that trims or re-wraps the text still matches;
system messages are left out (changing a chat's system prompt does not fork it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from server.errors import ValidationFailed
from server.validation import no_nul

MODEL_ID = "todo-agent"
MESSAGES_MAX = 2000


class ContentPart(BaseModel):
    """One part of a message's content; only text parts are read (images and files are not
    something the task tools can use)."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ClientMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class CompletionRequest(BaseModel):
    """A Chat Completions request as chat apps send it. The fields this server has no use for
    (temperature, max_tokens, tools, n, user, ...) are ignored, as OpenAI-compatible servers
    ignore what they do not support."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(max_length=200)
    messages: list[ClientMessage] = Field(min_length=1, max_length=MESSAGES_MAX)
    stream: bool | None = False
    stream_options: StreamOptions | None = None

    @property
    def wants_usage(self) -> bool:
        """A whole answer always carries its usage; a stream only when asked for."""
        if not self.stream:
            return True
        return self.stream_options is not None and self.stream_options.include_usage


@dataclass(frozen=True, slots=True)
class Said:
    """A user or assistant message of the client's history (a `HistoryMessage`)."""

    role: str
    content: str
    tool_calls: None = None
    tool_call_id: None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """A client's messages, read: its system messages, the history and the question."""

    instructions: str | None  # the system (and developer) messages, joined
    earlier: list[Said]  # the user and assistant messages before the question, oldest first
    text: str  # the question: the last message, the user's
    text_field: str  # where the question is in the request, for errors

    @property
    def chars(self) -> int:
        """The characters the client sent (for a token estimate)."""
        said = sum(len(message.content) for message in self.earlier)
        return said + len(self.text) + len(self.instructions or "")


def read_transcript(messages: list[ClientMessage]) -> Transcript:
    """The turn a client's messages ask for; ValidationFailed naming the message otherwise.

    Tool messages and the tool calls of assistant messages are left out: this server's tools
    are its own, and a chat app never sees their calls (only the line each leaves in the
    answer's text).
    """
    last = len(messages) - 1
    if messages[last].role != "user":
        raise ValidationFailed(f"messages[{last}].role", "the last message must be the user's")
    instructions: list[str] = []
    earlier: list[Said] = []
    for index, message in enumerate(messages):
        text = no_nul(f"messages[{index}].content", _text_of(message))
        if message.role in ("system", "developer"):
            if text.strip():
                instructions.append(text.strip())
        elif message.role in ("user", "assistant") and index < last and text.strip():
            earlier.append(Said(role=message.role, content=text))
    return Transcript(
        instructions="\n\n".join(instructions) or None,
        earlier=earlier,
        text=_text_of(messages[last]),
        text_field=f"messages[{last}].content",
    )


def _text_of(message: ClientMessage) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "\n".join(part.text for part in message.content if part.type == "text" and part.text)


def fingerprint(said: Iterable[tuple[str, str]]) -> str:
    """The fingerprint of a transcript: (role, text) pairs, oldest first."""
    normalized = [[role, " ".join(text.split())] for role, text in said if text.strip()]
    encoded = json.dumps(normalized, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()


def earlier_fingerprint(transcript: Transcript) -> str:
    """The fingerprint of what came before the question (remembered after the last answer)."""
    return fingerprint((message.role, message.content) for message in transcript.earlier)


def answered_fingerprint(transcript: Transcript, answer: str) -> str:
    """The fingerprint the next request of the same chat will have as its earlier messages."""
    said = [(message.role, message.content) for message in transcript.earlier]
    return fingerprint([*said, ("user", transcript.text), ("assistant", answer)])
