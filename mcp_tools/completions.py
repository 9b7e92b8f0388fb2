"""Completions for prompt and resource-template arguments: the user's project names (for
`project` and `project://{id}`) and tags (for `tag`), matched by prefix ignoring case, at
most 100, as the protocol allows."""

from __future__ import annotations

from mcp.server import MCPServer
from mcp_types import Completion as CompletionResult
from mcp_types import (
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from mcp_tools.identity import current_user
from server.services import Services

MAX_VALUES = 100


def register(mcp: MCPServer, services: Services) -> None:
    # The SDK hands a completion handler no request context: the services come from here,
    # the user from the transport, as everywhere.

    async def project_names(prefix: str) -> list[str]:
        projects = await services.projects.list_projects(user=current_user())
        wanted = prefix.lower()
        return [p.name for p in projects.projects if p.name.lower().startswith(wanted)]

    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> CompletionResult | None:
        prefix = argument.value or ""
        if argument.name == "tag":
            values = await services.tasks.tag_names(
                user=current_user(), prefix=prefix, limit=MAX_VALUES + 1
            )
        elif argument.name == "project" or (
            isinstance(ref, ResourceTemplateReference) and ref.uri == "project://{id}"
        ):
            values = await project_names(prefix)
        else:
            return None
        more = len(values) > MAX_VALUES
        return CompletionResult(
            values=values[:MAX_VALUES], total=None if more else len(values), has_more=more
        )

    mcp.completion()(complete)
