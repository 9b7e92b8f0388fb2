"""The signed-in user's own profile."""

from __future__ import annotations

from fastapi import APIRouter

from server.http.deps import CurrentUser
from server.users.models import UserPublic

router = APIRouter(prefix="/api", tags=["users"])


@router.get("/me", response_model=UserPublic)
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)
