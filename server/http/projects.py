"""REST routes for projects: thin translations onto ProjectService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from server.http.deps import CurrentUser, ServicesDep
from server.projects.models import (
    IncludeArchived,
    ProjectChange,
    ProjectCreate,
    ProjectList,
    ProjectPublic,
    ProjectUpdate,
)

router = APIRouter(prefix="/api/projects", tags=["projects"])


@router.get("", response_model=ProjectList)
async def list_projects(
    services: ServicesDep,
    user: CurrentUser,
    include_archived: Annotated[IncludeArchived, Query()] = False,
) -> ProjectList:
    return await services.projects.list_projects(user=user, include_archived=include_archived)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectPublic)
async def create_project(
    data: ProjectCreate, services: ServicesDep, user: CurrentUser
) -> ProjectPublic:
    return await services.projects.create_project(user=user, data=data)


@router.get("/{project_id}", response_model=ProjectPublic)
async def get_project(project_id: int, services: ServicesDep, user: CurrentUser) -> ProjectPublic:
    return await services.projects.get_project(user=user, ref=project_id)


@router.patch("/{project_id}", response_model=ProjectPublic)
async def update_project(
    project_id: int, data: ProjectUpdate, services: ServicesDep, user: CurrentUser
) -> ProjectPublic:
    return await services.projects.update_project(user=user, ref=project_id, data=data)


@router.delete("/{project_id}", response_model=ProjectChange)
async def delete_project(
    project_id: int, services: ServicesDep, user: CurrentUser
) -> ProjectChange:
    return await services.projects.delete_project(user=user, ref=project_id)


@router.post("/{project_id}/restore", response_model=ProjectChange)
async def restore_project(
    project_id: int, services: ServicesDep, user: CurrentUser
) -> ProjectChange:
    return await services.projects.restore_project(user=user, ref=project_id)
