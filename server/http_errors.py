"""Every error leaves the HTTP API as {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from server.db import DATABASE_DOWN
from server.errors import TodoError, Unauthorized
from server.validation import describe

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
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
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return error_response(
            400,
            "bad_request",
            "request body is not valid JSON",
            {"field": "body", "rule": "must be valid JSON"},
        )
    failed = describe(first)
    return error_response(422, failed.code, failed.message, failed.details)


async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _database_down(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unavailable: %r", exc)
    return error_response(
        503,
        "unavailable",
        "the database is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DATABASE_DOWN):
        return await _database_down(request, exc)
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "unexpected server error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TodoError, _todo_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for error in DATABASE_DOWN:
        app.add_exception_handler(error, _database_down)
    # Anything else still leaves as the JSON error shape, never a text/plain traceback page.
    app.add_exception_handler(Exception, _unexpected)
