"""FastAPI dependencies, as Annotated aliases: the running parts (from the lifespan's state),
the chat, and the authenticated user."""

from __future__ import annotations

from typing import Annotated, TypedDict

from fastapi import Depends, Request

from agent.breaker import CircuitBreaker
from server.conversations.chat import Chat
from server.errors import Unauthorized
from server.events.bus import EventBus
from server.events.flow import EventFlow
from server.events.live import LiveHub
from server.http.throttle import FeedThrottle, Throttle
from server.services import Services
from server.users.models import User


class AppState(TypedDict):
    """What the app's lifespan yields (server/app.py); each request sees it as
    `request.state`."""

    services: Services
    bus: EventBus
    live: LiveHub
    flow: EventFlow
    chat: Chat
    feed_throttle: FeedThrottle
    chat_turns: Throttle
    breakers: dict[str, CircuitBreaker]  # by name: "llm", "remote_mcp"


# async: FastAPI runs a plain `def` dependency on a worker thread, a hop per request.
async def get_services(request: Request) -> Services:
    return request.state.services


async def get_bus(request: Request) -> EventBus:
    return request.state.bus


async def get_live(request: Request) -> LiveHub:
    return request.state.live


async def get_flow(request: Request) -> EventFlow:
    return request.state.flow


async def get_chat(request: Request) -> Chat:
    return request.state.chat


async def get_feed_throttle(request: Request) -> FeedThrottle:
    return request.state.feed_throttle


async def get_breakers(request: Request) -> dict[str, CircuitBreaker]:
    return request.state.breakers


ServicesDep = Annotated[Services, Depends(get_services)]
BusDep = Annotated[EventBus, Depends(get_bus)]
LiveDep = Annotated[LiveHub, Depends(get_live)]
FlowDep = Annotated[EventFlow, Depends(get_flow)]
ChatDep = Annotated[Chat, Depends(get_chat)]
FeedThrottleDep = Annotated[FeedThrottle, Depends(get_feed_throttle)]
BreakersDep = Annotated[dict[str, CircuitBreaker], Depends(get_breakers)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    return token.strip()


async def current_user(request: Request, services: ServicesDep) -> User:
    return await services.users.authenticate(bearer_token(request))


CurrentUser = Annotated[User, Depends(current_user)]


def stream_token(request: Request) -> str:
    """For EventSource, which cannot send headers: `?access_token=`, else the header's."""
    return request.query_params.get("access_token") or bearer_token(request)


async def current_user_header_or_query(request: Request, services: ServicesDep) -> User:
    return await services.users.authenticate(stream_token(request))


StreamUser = Annotated[User, Depends(current_user_header_or_query)]
