"""FastAPI dependencies: the services and the authenticated user, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.errors import Unauthorized
from server.services import Services
from server.users.models import User


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency on a worker thread, a hop per request.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    return token.strip()


async def current_user(request: Request, services: ServicesDep) -> User:
    user = await services.users.authenticate(bearer_token(request))
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def stream_token(request: Request) -> str:
    """For EventSource, which cannot send headers: `?access_token=`, else the header's."""
    return request.query_params.get("access_token") or bearer_token(request)


async def current_user_header_or_query(request: Request, services: ServicesDep) -> User:
    user = await services.users.authenticate(stream_token(request))
    request.state.user = user
    return user


StreamUser = Annotated[User, Depends(current_user_header_or_query)]
