"""REST routes for looking back and ahead: a user's activity and what to do next."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.activity.models import ActivityPage, ActivityQuery
from server.http.deps import CurrentUser, ServicesDep
from server.tasks.models import NextLimit, NextTasks

router = APIRouter(prefix="/api", tags=["activity"])


@router.get("/activity", response_model=ActivityPage)
async def list_activity(
    services: ServicesDep, user: CurrentUser, query: Annotated[ActivityQuery, Query()]
) -> ActivityPage:
    return await services.activity.list_activity(user=user, query=query)


@router.get("/next", response_model=NextTasks)
async def whats_next(
    services: ServicesDep, user: CurrentUser, limit: Annotated[NextLimit, Query()] = 5
) -> NextTasks:
    return await services.tasks.whats_next(user=user, limit=limit)
