"""Hostile values for the fuzz tests: nasty strings, odd numbers, deep and huge JSON, dates
at the edges of the calendar and of DST, RRULE edge cases, tampered cursors; and values
drawn from a JSON schema (OpenAPI's or an MCP tool's), mixed with those."""

from __future__ import annotations

import base64
import json
from typing import Any
from zoneinfo import available_timezones

from hypothesis import strategies as st

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u202egnp.exe",
    "\ufeff",
    "🙂" * 300,
    "e\u0301" * 50,
    "%s%s%n",
    "{0.__class__}",
    "' OR 1=1 --",
    "\\",
    "%",
    "_%_",
    "|",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "\r\n\r\nHTTP/1.1 200 OK",
    "x" * 501,
    "x" * 10_001,
    "x" * 70_000,
    "NaN",
    "-0",
    "1e309",
    "null",
    "true",
    "[]",
    "{}",
    "none",
]
ODD_NUMBERS = [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63, -(2**63) - 1, 10**30]
DATES = [
    "tomorrow 5pm",
    "next monday",
    "yesterday",
    "in 3 days",
    "2030-01-01",
    "2030-01-01T09:00",
    "2030-03-31T02:30",  # a time skipped by Europe's spring change
    "2030-10-27T02:30",  # a time that happens twice in autumn
    "2030-03-10T02:30-05:00",
    "1899-12-31T23:59:59",
    "1900-01-01T00:00:00+14:00",
    "8999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59.999999",
    "0001-01-01T00:00:00Z",
    "2030-02-30",
    "2030-13-01",
    "24:00",
    "2030-01-01T09:00+25:00",
    "tomorrow 25pm",
    "00:00",
]
RRULE_PARTS = {
    "FREQ": ["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY", "X"],
    "INTERVAL": ["0", "1", "2", "1000", "1001", "-1", "x"],
    "COUNT": ["0", "1", "2", "x", "99999999999999999999"],
    "UNTIL": ["20300101T000000", "20300101T000000Z", "99991231T235959", "x"],
    "BYMONTH": ["0", "1", "12", "13", "-1", "2,4"],
    "BYMONTHDAY": ["1", "29", "30", "31", "-1", "-31", "0", "32"],
    "BYYEARDAY": ["1", "365", "366", "-366", "0", "367"],
    "BYWEEKNO": ["1", "53", "-53", "0", "54"],
    "BYDAY": ["MO", "-1FR", "5SU", "-5MO", "53MO", "-53TU", "0MO", "SA,SU", "XX"],
    "BYSETPOS": ["1", "-1", "366", "-366", "0", "367"],
    "BYHOUR": ["0", "23", "24", "-1"],
    "BYMINUTE": ["0", "59", "60"],
    "BYEASTER": ["0", "-80", "249", "250", "262", "-1000", "1000"],
    "WKST": ["MO", "SU", "XX"],
}
TIMEZONES = sorted(available_timezones())  # users cannot have all of them (see test_timezones)

nasty_text = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=60))
odd_numbers = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(st.none(), st.booleans(), odd_numbers, nasty_text)
any_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def rrules(draw) -> str:
    names = ["FREQ", *draw(st.lists(st.sampled_from(sorted(RRULE_PARTS)), max_size=4))]
    rule = ";".join(f"{name}={draw(st.sampled_from(RRULE_PARTS[name]))}" for name in names)
    prefix = draw(st.sampled_from(["", "RRULE:", "rrule:", " "]))
    return prefix + rule


def deeply_nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@st.composite
def raw_bodies(draw) -> bytes:
    """Bodies that are no JSON object one could build: broken, deep, huge, NaN."""
    kind = draw(st.sampled_from(["deep", "huge", "nan", "broken", "bytes", "json"]))
    if kind == "deep":
        return deeply_nested(draw(st.sampled_from([100, 1_000, 100_000]))).encode()
    if kind == "huge":
        size = draw(st.sampled_from([900_000, 1_100_000]))
        return json.dumps({"title": "x" * size}).encode()
    if kind == "nan":
        return b'{"title": NaN, "limit": Infinity}'
    if kind == "broken":
        return draw(st.sampled_from([b"{", b'{"title": "a"', b"\xff\xfe", b"", b"[1,]"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    return json.dumps(draw(any_json)).encode()


def tampered(cursor: str) -> st.SearchStrategy[str]:
    """A real cursor, changed: cut, flipped, re-encoded with values of the wrong kind."""

    def encoded(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    forged = st.sampled_from(
        [
            encoded({"s": "due", "v": ["9999-12-31T23:59:59+00:00", 2**40]}),
            encoded({"s": "due", "v": ["0001-01-01T00:00:00-14:00", 1]}),
            encoded({"s": "title", "v": ["\x00", 1]}),
            encoded({"s": "priority", "v": [1, "x", None]}),
            encoded({"s": "conversations", "v": ["2030-01-01T00:00:00", 1]}),
            encoded({"v": []}),
            encoded([1, 2]),
            encoded("x"),
        ]
    )
    flipped = st.integers(0, max(0, len(cursor) - 1)).map(
        lambda i: cursor[:i] + ("A" if cursor[i : i + 1] != "A" else "B") + cursor[i + 1 :]
    )
    return st.one_of(st.just(cursor), forged, flipped, st.just(cursor[:-3]), st.just(cursor * 2))


def special(name: str, cursor: str) -> st.SearchStrategy | None:
    """Hostile values for fields whose name says what they hold."""
    if name in ("due", "due_before", "due_after", "since"):
        return st.one_of(st.sampled_from(DATES), nasty_text)
    if name == "recurrence":
        return st.one_of(rrules(), st.sampled_from(["daily", "weekly", "none", ""]), nasty_text)
    if name == "cursor":
        return st.one_of(tampered(cursor), nasty_text)
    if name == "timezone":
        return st.sampled_from(TIMEZONES)
    return None


def from_schema(
    schema: dict, defs: dict, *, name: str = "", cursor: str = "", depth: int = 0
) -> st.SearchStrategy:
    """Values for `schema` (a JSON schema with $refs into `defs`), valid or close to it,
    mixed with hostile ones."""
    hostile = st.one_of(scalars, any_json) if depth < 3 else scalars
    fitting = _fitting(schema, defs, name=name, cursor=cursor, depth=depth)
    by_name = special(name, cursor)
    options = [fitting, fitting, hostile] + ([by_name, by_name] if by_name is not None else [])
    return st.one_of(options)


def _fitting(schema: dict, defs: dict, *, name: str, cursor: str, depth: int) -> st.SearchStrategy:
    if "$ref" in schema:
        return _fitting(
            defs[schema["$ref"].rsplit("/", 1)[1]], defs, name=name, cursor=cursor, depth=depth
        )
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return st.one_of(
                [_fitting(s, defs, name=name, cursor=cursor, depth=depth) for s in schema[key]]
            )
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
        edges = st.sampled_from(["x" * low, "x" * high, "x" * (high + 1)])
        return st.one_of(st.text(min_size=low, max_size=min(high, 40)), edges, nasty_text)
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", -(2**40)), schema.get("maximum", 2**40)
        edges = st.sampled_from([low, high, low - 1, high + 1])
        return st.one_of(st.integers(min_value=low, max_value=high), edges, odd_numbers)
    if kind == "boolean":
        return st.one_of(st.booleans(), st.sampled_from(["true", "yes", 1, 0]))
    if kind == "null":
        return st.none()
    if kind == "array":
        items = schema.get("items", {})
        most = schema.get("maxItems", 5)
        inner = from_schema(items, defs, name=name, cursor=cursor, depth=depth + 1)
        return st.one_of(
            st.lists(inner, max_size=min(most, 5)),
            st.lists(inner, min_size=most + 1, max_size=most + 1),
        )
    if kind == "object" or "properties" in schema:
        return objects(schema, defs, cursor=cursor, depth=depth)
    return any_json


@st.composite
def objects(draw, schema: dict, defs: dict, *, cursor: str = "", depth: int = 0) -> dict:
    """An object of the schema's properties, some left out, sometimes with an unknown one."""
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    value: dict[str, Any] = {}
    for key, sub in properties.items():
        if key in required or draw(st.booleans()):
            strategy = from_schema(sub, defs, name=key, cursor=cursor, depth=depth + 1)
            value[key] = draw(strategy)
    if draw(st.integers(0, 9)) == 0:
        value[draw(st.sampled_from(["user_id", "id", "completed", "__proto__", "x" * 300]))] = 1
    return value
