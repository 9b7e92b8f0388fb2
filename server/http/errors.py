"""Every error leaves the HTTP API as {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import Throttled, TodoError, TooLarge, Unauthorized, Unavailable
from server.validation import describe

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _todo_error(_: Request, exc: TodoError) -> JSONResponse:
    headers = None
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, Unavailable):
        headers = {"Retry-After": "5"}
    elif isinstance(exc, Throttled):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


BAD_BODY = "body: request body is not valid JSON"
BAD_BODY_DETAILS = {"field": "body", "rule": "must be valid JSON (in UTF-8)"}


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return error_response(400, "bad_request", BAD_BODY, BAD_BODY_DETAILS)
    failed = describe(first)
    return error_response(422, failed.code, failed.message, failed.details)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    # FastAPI reports any failure to read the body as a 400; ours (TooLarge) is the cause.
    if isinstance(exc.__cause__, TodoError):
        return await _todo_error(request, exc.__cause__)
    if exc.status_code == 400:  # FastAPI could not read the body (not UTF-8, say)
        return error_response(400, "bad_request", BAD_BODY, BAD_BODY_DETAILS)
    code = HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "unexpected server error; it has been logged")


class BodyLimit:
    """Refuses request bodies over `limit` bytes with the JSON error shape (413).

    A declared Content-Length is refused before the app runs; a chunked body is counted as it
    is read, and the read fails with TooLarge, which the handlers below turn into a 413.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            response = error_response(
                TooLarge.status, TooLarge.code, f"request body is larger than {self.limit} bytes"
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge(f"request body is larger than {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TodoError, _todo_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    # Anything else still leaves as the JSON error shape, never a text/plain traceback page.
    app.add_exception_handler(Exception, _unexpected)
