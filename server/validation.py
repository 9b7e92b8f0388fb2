"""Turn pydantic validation errors into ValidationFailed(field, rule), the domain's own error;
the small field rules more than one service applies."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from server.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


# Pydantic names the branch of a union that failed ('due', 'datetime'); users know the field.
UNION_BRANCHES = {"str", "int", "float", "bool", "datetime", "date", "enum", "none"}


def field_path(loc: tuple[Any, ...]) -> str:
    """('tags', 3) -> 'tags[3]'; ('body', 'title') -> 'title'; ('due', 'datetime') -> 'due'."""
    path = ""
    for part in loc:
        if part in ("body", "query", "path", "header"):
            continue
        if isinstance(part, str) and (part in UNION_BRANCHES or "[" in part):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def describe(error: dict[str, Any]) -> ValidationFailed:
    rule = error["msg"]
    if error["type"] == "extra_forbidden":
        rule = "is not a known field"
    elif error["type"] == "missing":
        rule = "is required"
    return ValidationFailed(field_path(tuple(error["loc"])), rule)


def parse_model(model: type[M], data: Any) -> M:
    """Validate `data` as `model`, raising ValidationFailed naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise describe(exc.errors()[0]) from None


def no_nul(field: str, value: str) -> str:
    """PostgreSQL cannot store NUL characters: refuse them on every engine alike."""
    if "\x00" in value:
        raise ValidationFailed(field, "must not contain NUL characters")
    return value
