"""The notification tools: the user's reminders and alerts, and their read state."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from mcp_tools.results import IDEMPOTENT, READ_ONLY, acting, result, translated
from server.notifications.models import Marked, NotificationList
from server.notifications.service import MAX_LIMIT


@translated
async def list_notifications(
    ctx: Context,
    unread_only: Annotated[bool, Field(description="Only unread ones (default true).")] = True,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="At most this many (1-200).")] = 50,
) -> Annotated[CallToolResult, NotificationList]:
    """The user's notifications (reminders, due and overdue alerts), newest first."""
    services, user = acting(ctx)
    items = await services.notifications.list_notifications(
        user=user, unread_only=unread_only, limit=limit
    )
    lines = [f"#{n.id} {n.title}" + ("" if n.read else " (unread)") for n in items]
    return result(
        NotificationList(notifications=items),
        "\n".join([f"{len(items)} notification(s)", *lines]),
    )


@translated
async def mark_notifications_read(
    ctx: Context,
    notification_ids: Annotated[
        list[int] | None,
        Field(max_length=1000, description="Ids to mark read; omit to mark all read."),
    ] = None,
) -> Annotated[CallToolResult, Marked]:
    """Mark notifications as read."""
    services, user = acting(ctx)
    count = await services.notifications.mark_read(user=user, notification_ids=notification_ids)
    return result(Marked(marked=count), f"Marked {count} notification(s) read")


def register(mcp: MCPServer) -> None:
    mcp.add_tool(list_notifications, annotations=READ_ONLY)
    mcp.add_tool(mark_notifications_read, annotations=IDEMPOTENT)
