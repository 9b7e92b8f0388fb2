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


def parse_each(model: type[M], items: list[Any], field: str) -> list[M]:
    """Validate each of `items` as `model`; the error names the item: `tasks[3].due: ...`."""
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as exc:
            failed = describe(exc.errors()[0])
            inner = "" if failed.field == "body" else f".{failed.field}"
            raise ValidationFailed(f"{field}[{index}]{inner}", failed.rule) from None
    return parsed


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema with its `$defs` put in place, to nest inside another schema."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def no_nul(field: str, value: str) -> str:
    """PostgreSQL cannot store NUL characters: refuse them on every engine alike."""
    if "\x00" in value:
        raise ValidationFailed(field, "must not contain NUL characters")
    return value
