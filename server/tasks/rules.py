"""The rules a task's fields follow beyond their types and lengths (server/tasks/models.py):
what a title may contain, how tags are normalised, how a priority sorts."""

from __future__ import annotations

from server.errors import ValidationFailed
from server.tasks.models import TAG_MAX, Priority

# 1 = high, 2 = medium, 3 = low, 4 = none: sorts by priority with one index-friendly int.
PRIORITY_RANK = {Priority.high: 1, Priority.medium: 2, Priority.low: 3, None: 4}


def clean_title(value: str | None) -> str:
    """The title trimmed; ValidationFailed when empty or not one plain line."""
    title = (value or "").strip()
    if not title:
        raise ValidationFailed("title", "must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in title):
        raise ValidationFailed("title", "must be one line without control characters")
    return title


def normalize_tags(tags: list[str]) -> list[str]:
    """Trimmed, non-empty, de-duplicated (case-insensitively) tags in the given order."""
    seen: set[str] = set()
    result = []
    for index, raw in enumerate(tags):
        tag = raw.strip()
        if not tag:
            raise ValidationFailed(f"tags[{index}]", "must not be empty")
        if len(tag) > TAG_MAX:
            raise ValidationFailed(f"tags[{index}]", f"at most {TAG_MAX} characters")
        if "|" in tag or any(ord(c) < 32 for c in tag):
            raise ValidationFailed(f"tags[{index}]", "must not contain '|' or control characters")
        if tag.lower() not in seen:
            seen.add(tag.lower())
            result.append(tag)
    return result


def tags_key(tags: list[str]) -> str:
    """ "|tag1|tag2|" lower-cased: a tag filter is then one LIKE on the user's rows."""
    return "|" + "".join(f"{t.lower()}|" for t in tags)
