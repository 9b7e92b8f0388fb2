"""Asking the user before destructive work (MCP elicitation), and batch progress.

`delete_project`, and `delete_tasks` with more than 5 tasks, ask the user to confirm when
the client supports elicitation, through the SDK's resolvers: on the 2026-07-28 revision
the question rides an input-required result that the client answers in a retry (so it
works over stateless HTTP), on older ones a request mid-call. A client without elicitation
(or a stateless older connection, which cannot be asked) proceeds as before; a declined or
cancelled question changes nothing, and the tool says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from mcp_tools.results import acting
from server.errors import TodoError

ASK_ABOVE = 5  # batch deletes of more than this many tasks ask first
MODERN = "2026-07-28"


class Confirmation(BaseModel):
    """The user's answer: the form shows one checkbox."""

    confirm: bool = Field(default=False, title="Yes, delete", description="Tick to delete.")


PROCEED = Confirmation(confirm=True)
Answer = ElicitationResult[Confirmation]


def can_ask(ctx: Context) -> bool:
    """Whether this client can be asked a question (form elicitation) in this call."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return False
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, MODERN):
        return True
    return ctx.session.can_send_request  # an older revision asks mid-call


def confirmed(answer: Answer) -> bool:
    return isinstance(answer, AcceptedElicitation) and answer.data.confirm


def declined_text(what: str, answer: Answer) -> str:
    how = "cancelled" if answer.action == "cancel" else "declined"
    return f"Not deleted: you {how} deleting {what}. Nothing was changed."


async def confirm_project_deletion(
    ctx: Context, project: int | str
) -> Elicit[Confirmation] | Confirmation:
    """Resolver of delete_project: asks, naming the project and its open tasks."""
    if not can_ask(ctx):
        return PROCEED
    services, user = acting(ctx)
    try:
        found = await services.projects.get_project(user=user, ref=project)
    except TodoError:
        return PROCEED  # the tool itself says what is wrong
    if found.deleted_at is not None or found.inbox:
        return PROCEED
    return Elicit(
        f"Delete the project {found.name!r} with its {found.open_tasks} open task(s)? "
        "restore_project can bring them back.",
        Confirmation,
    )


async def confirm_tasks_deletion(
    ctx: Context, task_ids: list[int]
) -> Elicit[Confirmation] | Confirmation:
    """Resolver of delete_tasks: asks when more than ASK_ABOVE tasks would go."""
    count = len(set(task_ids))
    if count <= ASK_ABOVE or not can_ask(ctx):
        return PROCEED
    return Elicit(
        f"Delete {count} tasks (and their subtasks)? restore_task can bring each back.",
        Confirmation,
    )


def progress_of(ctx: Context, items: int) -> tuple[Callable[[int], Awaitable[None]], int]:
    """A batch's progress reporter (items done, of `items` + 1 steps: the last one is the
    commit) and the number of steps; nothing is sent without the client's progress token."""
    steps = items + 1

    async def report(done: int) -> None:
        await ctx.report_progress(done, steps, f"{done} of {items} item(s) done")

    return report, steps
