"""Recurrence rules: RFC 5545 RRULEs (plus four shortcuts) and their next date."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from server.errors import ValidationFailed

SHORTCUTS = {
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY",
    "yearly": "FREQ=YEARLY",
}
HINT = "use daily, weekly, monthly, yearly or an RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=MO"


def normalize_rule(value: str) -> str:
    """The canonical RRULE for `value`, or ValidationFailed('recurrence', ...)."""
    text = value.strip()
    rule = SHORTCUTS.get(text.lower())
    if rule is None:
        rule = text.upper().removeprefix("RRULE:")
    if "FREQ=" not in rule:
        raise ValidationFailed("recurrence", f"{value!r} has no FREQ; {HINT}")
    try:
        rrulestr(rule, dtstart=datetime(2000, 1, 1))  # noqa: DTZ001 (rules run on local time)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            "recurrence", f"{value!r} is not a valid RRULE ({exc}); {HINT}"
        ) from None
    return rule


def next_occurrence(rule: str, after: datetime, timezone: str) -> datetime | None:
    """The rule's first date strictly after `after` (aware), evaluated in local time."""
    tz = ZoneInfo(timezone)
    local = after.astimezone(tz).replace(tzinfo=None)
    following = rrulestr(rule, dtstart=local).after(local)
    if following is None:
        return None
    return following.replace(tzinfo=tz).astimezone(UTC)
