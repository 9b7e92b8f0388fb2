"""The MCP server: task, project, batch, comment, activity and notification tools, the
resources, prompts and completions, and live push; a thin adapter over the services.

The services reach the tools through the server's lifespan context (each tool reads them
from its `Context`); who a call acts as comes from the transport (mcp_tools/identity.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings

from mcp_tools import (
    batch,
    comments,
    completions,
    notifications,
    projects,
    prompts,
    resources,
    review,
    tasks,
)
from mcp_tools.arguments import RejectUnknownArguments
from mcp_tools.identity import BearerTokenVerifier
from mcp_tools.push import UserSubscriptions
from mcp_tools.watch import ResourceWatches
from server.services import Services

INSTRUCTIONS = """\
Tools for the user's personal task list. The user is fixed by the connection: you can only \
see and change this user's tasks.
- To act on a task the user names ("the dentist task"), find it first with list_tasks \
(query=..., status="all" if it may be completed) and use its id; ask when several match.
- Dates: pass `due` as ISO 8601 (2026-11-23T17:00) or plain phrases ("tomorrow 5pm", \
"next monday 9am"). Times without an offset are in the user's timezone. Results show the \
resolved absolute time; tell the user that time, in their timezone.
- Tasks live in projects (list_projects; every user has an Inbox, where tasks go by \
default). Pass `project` as an id or a name. Subtasks: add_task with parent_id; they stay \
in their parent's project and complete, move and delete with it.
- Several tasks at once ("move all errands to Saturday", "add these five"): use one call \
of add_tasks, update_tasks, complete_tasks or delete_tasks (up to 50 items, all or \
nothing) rather than one call per task.
- "What should I do next?": call whats_next; it ranks the open tasks and says why.
- Completing a recurring task creates its next occurrence; deleting is reversible with \
restore_task (restore_project for a deleted project).
"""


def create_mcp_server(
    services: Services, *, subscriptions: UserSubscriptions | None = None
) -> MCPServer[Services]:
    """The MCP server over `services`; its tools act as the transport's authenticated user.
    Its listen streams are kept in `subscriptions` (fed by the runtime's live feed).

    Over HTTP every request needs a bearer token that is valid for PUBLIC_URL/mcp; a 401
    names the resource metadata, where OAuth clients find how to sign in."""

    subscriptions = UserSubscriptions() if subscriptions is None else subscriptions
    watches = ResourceWatches(subscriptions)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        # Entered once per HTTP session manager, and per in-process or stdio connection:
        # the services are already running, so it hands them over, and tells the sessions
        # that subscribed to resources (older revisions) while they last.
        async with watches.running():
            yield services

    mcp = MCPServer(
        name="todo-agent",
        title="todo-agent tasks",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        lifespan=lifespan,
        token_verifier=BearerTokenVerifier(services.users, services.oauth),
        auth=AuthSettings(
            issuer_url=services.oauth.issuer,
            resource_server_url=services.oauth.resource,
            validate_token_resource=True,
        ),
        log_level=services.settings.log_level,
        subscriptions=subscriptions,
    )
    for tools in (tasks, batch, projects, comments, review, notifications, prompts):
        tools.register(mcp)
    resources.register(mcp, services)
    completions.register(mcp, services)
    watches.install(mcp)
    mcp.middleware.append(RejectUnknownArguments(mcp))
    return mcp
