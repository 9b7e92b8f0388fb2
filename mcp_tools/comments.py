"""The comment tools: notes appended to a task, listed oldest first."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult

from mcp_tools.results import ADDITIVE, READ_ONLY, acting, result, translated
from mcp_tools.tasks import TaskId
from server.comments.models import CommentCreate, CommentList, CommentPublic, CommentText
from server.validation import parse_model


@translated
async def add_comment(
    ctx: Context, task_id: TaskId, text: CommentText
) -> Annotated[CallToolResult, CommentPublic]:
    """Append a comment to a task (a note, a link, what was decided)."""
    services, user = acting(ctx)
    data = parse_model(CommentCreate, {"text": text})
    comment = await services.comments.add_comment(user=user, task_id=task_id, data=data)
    return result(comment, f"Added comment #{comment.id} to task #{task_id}")


@translated
async def list_comments(ctx: Context, task_id: TaskId) -> Annotated[CallToolResult, CommentList]:
    """A task's comments, oldest first."""
    services, user = acting(ctx)
    found = await services.comments.list_comments(user=user, task_id=task_id)
    lines = [f"#{c.id} {c.created_at:%Y-%m-%d %H:%M} UTC: {c.text}" for c in found.comments]
    return result(found, "\n".join([f"{len(lines)} comment(s) on task #{task_id}", *lines]))


def register(mcp: MCPServer) -> None:
    mcp.add_tool(add_comment, annotations=ADDITIVE)
    mcp.add_tool(list_comments, annotations=READ_ONLY)
