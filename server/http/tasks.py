"""REST routes for tasks and their comments: thin translations onto TaskService and
CommentService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, status

from server.comments.models import CommentCreate, CommentList, CommentPublic
from server.http.deps import CurrentUser, ServicesDep
from server.tasks.models import (
    CompletionPublic,
    TaskCreate,
    TaskPage,
    TaskPublic,
    TaskQuery,
    TaskUpdate,
)

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


@router.get("", response_model=TaskPage)
async def list_tasks(
    services: ServicesDep, user: CurrentUser, query: Annotated[TaskQuery, Query()]
) -> TaskPage:
    return await services.tasks.list_tasks(user=user, query=query)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskPublic)
async def create_task(
    data: TaskCreate,
    services: ServicesDep,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> TaskPublic:
    return await services.tasks.create_task(user=user, data=data, idempotency_key=idempotency_key)


@router.get("/{task_id}", response_model=TaskPublic)
async def get_task(task_id: int, services: ServicesDep, user: CurrentUser) -> TaskPublic:
    return await services.tasks.get_task(user=user, task_id=task_id)


@router.patch("/{task_id}", response_model=TaskPublic)
async def update_task(
    task_id: int, data: TaskUpdate, services: ServicesDep, user: CurrentUser
) -> TaskPublic:
    return await services.tasks.update_task(user=user, task_id=task_id, data=data)


@router.delete("/{task_id}", response_model=TaskPublic)
async def delete_task(task_id: int, services: ServicesDep, user: CurrentUser) -> TaskPublic:
    return await services.tasks.delete_task(user=user, task_id=task_id)


@router.post("/{task_id}/complete", response_model=CompletionPublic)
async def complete_task(task_id: int, services: ServicesDep, user: CurrentUser) -> CompletionPublic:
    return await services.tasks.complete_task(user=user, task_id=task_id)


@router.post("/{task_id}/reopen", response_model=TaskPublic)
async def reopen_task(task_id: int, services: ServicesDep, user: CurrentUser) -> TaskPublic:
    return await services.tasks.reopen_task(user=user, task_id=task_id)


@router.post("/{task_id}/restore", response_model=TaskPublic)
async def restore_task(task_id: int, services: ServicesDep, user: CurrentUser) -> TaskPublic:
    return await services.tasks.restore_task(user=user, task_id=task_id)


@router.get("/{task_id}/comments", response_model=CommentList)
async def list_comments(task_id: int, services: ServicesDep, user: CurrentUser) -> CommentList:
    return await services.comments.list_comments(user=user, task_id=task_id)


@router.post(
    "/{task_id}/comments", status_code=status.HTTP_201_CREATED, response_model=CommentPublic
)
async def add_comment(
    task_id: int, data: CommentCreate, services: ServicesDep, user: CurrentUser
) -> CommentPublic:
    return await services.comments.add_comment(user=user, task_id=task_id, data=data)
