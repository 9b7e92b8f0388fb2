"""Errors of the `/v1` façade in OpenAI's format, `{"error": {"message", "type", "param",
"code"}}`, with the statuses an OpenAI client expects (the openai package raises
AuthenticationError on 401, BadRequestError on 400, RateLimitError on 429, ...).

The rest of the API keeps its own envelope (server/http/errors.py): these routes translate
their errors themselves, at the edge, through `OpenAIRoute`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from server.conversations.completions import CompletionFailed
from server.errors import (
    NotFound,
    Throttled,
    TodoError,
    TooLarge,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from server.validation import describe

logger = logging.getLogger(__name__)

INVALID = "invalid_request_error"
SERVER = "server_error"


class UnknownModel(NotFound):
    code = "model_not_found"


class NoModel(Unavailable):
    code = "model_not_configured"


def openai_error(
    status: int,
    message: str,
    *,
    type: str = INVALID,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def translate(request: Request, exc: Exception) -> JSONResponse:
    """Any failure of a `/v1` route as an OpenAI error response."""
    if isinstance(exc, HTTPException) and isinstance(exc.__cause__, TodoError):
        exc = exc.__cause__  # a failure to read the body (TooLarge) is the cause
    if isinstance(exc, CompletionFailed):
        return _answer_failed(exc)
    if isinstance(exc, RequestValidationError):
        exc = describe(exc.errors()[0])
    if isinstance(exc, TodoError):
        return _todo_error(exc)
    if isinstance(exc, HTTPException):
        kind = INVALID if exc.status_code < 500 else SERVER
        return openai_error(exc.status_code, str(exc.detail), type=kind, headers=exc.headers)
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return openai_error(
        500, "unexpected server error; it has been logged", type=SERVER, code="internal_error"
    )


def _todo_error(exc: TodoError) -> JSONResponse:
    if isinstance(exc, Unauthorized):
        return openai_error(
            401,
            f"Incorrect API key: {exc.message}. Use an API token of this server "
            "(todo-agent token create NAME) as the API key.",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if isinstance(exc, ValidationFailed):
        return openai_error(400, exc.message, code="invalid_value", param=exc.field)
    if isinstance(exc, Throttled):
        return openai_error(
            429,
            exc.message,
            type="requests",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, Unavailable):
        return openai_error(503, exc.message, type=SERVER, code=exc.code, headers=_retry(5))
    if isinstance(exc, TooLarge):
        return openai_error(413, exc.message, code="request_too_large")
    kind = INVALID if exc.status < 500 else SERVER
    return openai_error(exc.status, exc.message, type=kind, code=exc.code)


def _answer_failed(exc: CompletionFailed) -> JSONResponse:
    if exc.status == 429:
        return openai_error(
            429, exc.message, type="requests", code="rate_limit_exceeded", headers=_retry(20)
        )
    if exc.status is not None:  # the model provider failed with another status
        return openai_error(502, exc.message, type=SERVER, code="provider_error")
    return openai_error(503, exc.message, type=SERVER, code="answer_failed", headers=_retry(5))


def _retry(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}


class OpenAIRoute(APIRoute):
    """A route whose every failure (auth, body, the answer) leaves in OpenAI's format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def translated(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return translate(request, exc)

        return translated
