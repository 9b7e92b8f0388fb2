"""The exception tree of the domain, translated once at each edge (REST, MCP, SSE).

TodoError
├── NotFound          (404)  a resource is missing or belongs to another user
├── ValidationFailed  (422)  a field breaks a rule; carries `field` and `rule`
├── Conflict          (409)  the request contradicts the stored state
├── Unauthorized      (401)  no or bad credentials
├── TooLarge          (413)  a request body over the limit
├── Throttled         (429)  too many requests of a kind; carries `retry_after` (seconds)
└── Unavailable       (503)  a dependency (database, bus, provider) is down
"""

from __future__ import annotations


class TodoError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(TodoError):
    code = "not_found"
    status = 404


class ValidationFailed(TodoError):
    code = "validation_failed"
    status = 422

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}", details={"field": field, "rule": rule})
        self.field = field
        self.rule = rule


class Conflict(TodoError):
    code = "conflict"
    status = 409


class Unauthorized(TodoError):
    code = "unauthorized"
    status = 401


class TooLarge(TodoError):
    code = "too_large"
    status = 413


class Throttled(TodoError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(TodoError):
    code = "unavailable"
    status = 503
