"""Unknown tool arguments are refused, for every tool in one place, as REST refuses unknown
fields: an extra `user_id` (or a misspelt `titel`) is a tool error naming it, never silently
dropped, as the SDK's argument models would do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolResult, TextContent


class RejectUnknownArguments:
    """Server middleware (it sees each `tools/call` before the SDK validates it): the
    arguments a tool takes are the properties of the input schema it publishes."""

    def __init__(self, mcp: MCPServer) -> None:
        self.mcp = mcp
        self._arguments: dict[str, frozenset[str]] = {}

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        params = ctx.params
        if ctx.method == "tools/call" and isinstance(params, Mapping):
            name, arguments = params.get("name"), params.get("arguments")
            if isinstance(name, str) and isinstance(arguments, Mapping):
                known = await self._arguments_of(name)
                unknown = sorted(set(arguments) - known) if known is not None else []
                if unknown:
                    return _refused(name, unknown, known)
        return await call_next(ctx)

    async def _arguments_of(self, tool: str) -> frozenset[str] | None:
        """The tool's arguments; None for a tool it does not have (the SDK says so)."""
        if tool not in self._arguments:
            self._arguments = {
                listed.name: frozenset((listed.input_schema or {}).get("properties") or ())
                for listed in await self.mcp.list_tools()
            }
        return self._arguments.get(tool)


def _refused(tool: str, unknown: list[str], known: frozenset[str]) -> CallToolResult:
    names = ", ".join(unknown)
    text = (
        f"{names}: not an argument of {tool} (its arguments: {', '.join(sorted(known)) or 'none'})"
    )
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
