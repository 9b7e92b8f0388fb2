"""REST routes for notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from server.http.deps import CurrentUser, ServicesDep
from server.notifications.models import Marked, NotificationList
from server.notifications.service import MAX_LIMIT

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notification_ids: list[int] | None = Field(default=None, max_length=1000)


@router.get("", response_model=NotificationList)
async def list_notifications(
    services: ServicesDep,
    user: CurrentUser,
    unread_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> NotificationList:
    items = await services.notifications.list_notifications(
        user=user, unread_only=unread_only, limit=limit
    )
    return NotificationList(notifications=items)


@router.post("/read", response_model=Marked)
async def mark_read(
    services: ServicesDep, user: CurrentUser, body: MarkRead | None = None
) -> Marked:
    ids = body.notification_ids if body else None
    return Marked(marked=await services.notifications.mark_read(user=user, notification_ids=ids))
