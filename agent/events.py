"""What the agent loop reports while it works, in the order it happens."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.mcp_client import ToolOutcome


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model asked for; `arguments` is the model's raw JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the assistant's text, forwarded as soon as the provider sends it."""

    text: str


@dataclass(frozen=True, slots=True)
class AssistantTurn:
    """The model finished one message: its whole text and the tool calls it asked for."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One tool call finished (results arrive in completion order, not call order)."""

    call: ToolCall
    outcome: ToolOutcome


@dataclass(frozen=True, slots=True)
class Usage:
    """The tokens one model turn took, as the provider reported them (asked for with
    `Agent.run(..., usage=True)`)."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Failed:
    """The provider failed for good; `message` tells the user what happened, `status` is the
    provider's HTTP status when it answered with one (429: it is rate limiting)."""

    message: str
    status: int | None = None


AgentEvent = TextDelta | AssistantTurn | ToolResult | Usage | Failed
