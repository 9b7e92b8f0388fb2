"""Due dates: ISO 8601 or natural language, resolved in the user's timezone to UTC."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from server.db import utcnow
from server.errors import ValidationFailed

HINT = "use ISO 8601 such as 2026-11-23T17:00 or a phrase such as 'tomorrow 5pm' or 'next monday'"
# Phrases that count elapsed time from now, rather than name a time of some day.
ELAPSED = re.compile(r"\b(hours?|hrs?|minutes?|mins?|seconds?|secs?)\b")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Due times outside these bounds are typos, and near the ends of the calendar the alert
# stages (up to a year either side) would overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def resolve_due(
    value: datetime | str, timezone: str, *, now: datetime | None = None, field: str = "due"
) -> datetime:
    """An aware UTC datetime for `value`; naive input is in `timezone`."""
    tz = ZoneInfo(timezone)
    if isinstance(value, datetime):
        return _aware(value, tz, field)
    text = value.strip()
    if not text:
        raise ValidationFailed(field, f"is empty; {HINT}")
    if len(text) > 200:
        raise ValidationFailed(field, "at most 200 characters")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _natural(text, tz, now or utcnow())
    if parsed is None:
        raise ValidationFailed(field, f"could not understand {text!r}; {HINT}")
    return _aware(parsed, tz, field)


def _aware(value: datetime, tz: ZoneInfo, field: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = LATEST
    if not EARLIEST <= value < LATEST:
        raise ValidationFailed(field, "must be between the years 1900 and 8999")
    return value


def _natural(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    # dateparser does not know "next monday"; "monday" preferring the future means the same.
    lowered = text.lower()
    for day in WEEKDAYS:
        lowered = lowered.replace(f"next {day}", day).replace(f"this {day}", day)
    # dateparser and its language data load at the first phrase (~8 MB, ~0.2 s), not at start.
    import dateparser
    from dateparser.timezone_parser import pop_tz_offset_from_string

    settings = {
        "TIMEZONE": str(tz),
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": now.astimezone(tz).replace(tzinfo=None),
    }
    if ELAPSED.search(lowered) or pop_tz_offset_from_string(lowered)[1] is not None:
        # Elapsed time ("in 2 hours") counts from this instant; a phrase naming its zone is
        # in that zone: both are resolved as instants.
        settings |= {"TO_TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True}
    else:
        # A wall-clock time in the user's zone, returned naive so that it gets the offset in
        # force on its own day: dateparser keeps today's offset for "tomorrow 8am", an hour
        # off across a clock change.
        settings["RETURN_AS_TIMEZONE_AWARE"] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return dateparser.parse(lowered, languages=["en"], settings=settings)
        except KeyError:  # a zone it does not know (pytz's UnknownTimeZoneError)
            return None
