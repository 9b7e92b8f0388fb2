"""One cursor codec for keyset paging (tasks, conversations).

A cursor is the sort values of the last row of a page, as URL-safe base64 of JSON, tagged
with the listing it belongs to. Decoding checks each value's kind, so a forged or foreign
cursor is a ValidationFailed('cursor', ...) and never reaches the database.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from server.db import MAX_ID
from server.errors import ValidationFailed

# d: an aware datetime, i: a row number (or small int key), s: a text key
Kind = Literal["d", "i", "s"]

INVALID = "is not a cursor from this listing; repeat the request without it"


def encode_cursor(listing: str, values: Sequence[Any]) -> str:
    """The cursor that continues `listing` after the row whose sort values are `values`."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps({"s": listing, "v": plain}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, listing: str, kinds: str) -> list[Any]:
    """The sort values in `cursor`, one per letter of `kinds`; ValidationFailed if forged."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if raw["s"] != listing or len(raw["v"]) != len(kinds):
            raise ValueError("cursor belongs to another listing")
        return [_value(kind, value) for kind, value in zip(kinds, raw["v"], strict=True)]
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("cursor", INVALID) from None


def _value(kind: str, value: Any) -> Any:
    if kind == "d":
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        # Converted here: a forged time at the edge of the calendar overflows in UTC.
        return parsed.astimezone(UTC)
    if kind == "i":
        if type(value) is not int or not -MAX_ID <= value <= MAX_ID:
            raise ValueError("not a row number")
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a text key")
    return value
