"""Recurrence rules: RFC 5545 RRULEs (plus four shortcuts) and their next date."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from server.errors import ValidationFailed

logger = logging.getLogger(__name__)

SHORTCUTS = {
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY",
    "yearly": "FREQ=YEARLY",
}
# dateutil loops forever on INTERVAL=0 and fails late (on completion) on some out-of-range
# values, so these are checked up front.
LIMITS = {"INTERVAL": (1, 1000), "BYHOUR": (0, 23), "BYMINUTE": (0, 59), "BYSECOND": (0, 59)}
ORDINAL_WEEKDAY = re.compile(r"^([+-]?[0-9]+)[A-Z]{2}$")
HINT = "use daily, weekly, monthly, yearly or an RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=MO"
# dateutil scans up to year 9999 for a rule that never matches (FREQ=DAILY;BYSETPOS=5),
# which would block the event loop for seconds. So a rule must occur within the last 29 years
# of the calendar: the scan is short, and dates and weekdays repeat every 28 years there (no
# century year breaks the cycle), so a rule that never occurs in that window never occurs.
PROBE_START = datetime(9999 - 29, 1, 1)  # noqa: DTZ001 (rules run on local time)
# Tasks repeat at most hourly; finer rules would also make the bounded search costly.
FREQUENCIES = {"YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY"}
# BY-parts that *limit* (filter) each period at these frequencies (RFC 5545, 3.3.10). With
# INTERVAL > 1 whether they ever match depends on the start date, so the probe above proves
# nothing, and an empty match would scan day by day (or hour by hour) to year 9999.
LIMITING_PARTS = {
    "HOURLY": {"BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYDAY", "BYHOUR"},
    "DAILY": {"BYMONTH", "BYMONTHDAY", "BYDAY"},
    "WEEKLY": {"BYMONTH"},
    "MONTHLY": {"BYMONTH"},
}


def normalize_rule(value: str) -> str:
    """The canonical RRULE for `value`, or ValidationFailed('recurrence', ...)."""
    text = value.strip()
    rule = SHORTCUTS.get(text.lower())
    if rule is None:
        rule = text.upper().removeprefix("RRULE:")
    if "FREQ=" not in rule:
        raise ValidationFailed("recurrence", f"{value!r} has no FREQ; {HINT}")
    if any(c.isspace() for c in rule):
        raise ValidationFailed("recurrence", f"{value!r} is not one RRULE; {HINT}")
    _check_limits(rule)
    try:
        parsed = rrulestr(rule, dtstart=PROBE_START)
        occurs = parsed.replace(count=None, until=None).after(PROBE_START, inc=True)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            "recurrence", f"{value!r} is not a valid RRULE ({exc}); {HINT}"
        ) from None
    if occurs is None:
        raise ValidationFailed("recurrence", f"{value!r} never occurs; {HINT}")
    return rule


def _check_limits(rule: str) -> None:
    parts = dict(part.partition("=")[::2] for part in rule.split(";"))
    if parts.get("FREQ") not in FREQUENCIES:
        raise ValidationFailed(
            "recurrence", f"FREQ must be one of {', '.join(sorted(FREQUENCIES))}; {HINT}"
        )
    if parts["FREQ"] == "HOURLY" and "BYSETPOS" in parts:
        raise ValidationFailed("recurrence", f"BYSETPOS needs FREQ=DAILY or longer; {HINT}")
    limiting = LIMITING_PARTS.get(parts["FREQ"], set()) & parts.keys()
    if limiting and parts.get("INTERVAL", "1") not in ("1", "01"):
        raise ValidationFailed(
            "recurrence",
            f"INTERVAL greater than 1 cannot be combined with {', '.join(sorted(limiting))} at "
            f"FREQ={parts['FREQ']}; use a longer FREQ (e.g. FREQ=WEEKLY;INTERVAL=2;BYDAY=MO)",
        )
    # An ordinal weekday (BYDAY=-1FR) counts within a month or a year.
    within_month = parts.get("FREQ") == "MONTHLY" or "BYMONTH" in parts
    limits = {**LIMITS, "BYDAY": (-5, 5) if within_month else (-53, 53)}
    for name, (low, high) in limits.items():
        if name not in parts:
            continue
        for item in parts[name].split(","):
            number = item
            if name == "BYDAY":
                match = ORDINAL_WEEKDAY.match(item)
                if match is None:
                    continue  # no ordinal, or not a weekday: dateutil checks those
                number = match.group(1)
            if not number.lstrip("+-").isdecimal() or not low <= int(number) <= high:
                raise ValidationFailed(
                    "recurrence", f"{name} must be between {low} and {high}; {HINT}"
                )


def next_occurrence(
    rule: str, after: datetime, timezone: str, *, inclusive: bool = False
) -> datetime | None:
    """The rule's first date after `after` (or at it, if `inclusive`), in local time.

    `after` is the occurrence the series starts from (its DTSTART), so COUNT counts from it.
    None when the series has ended (COUNT or UNTIL reached) or never matches from there.
    """
    tz = ZoneInfo(timezone)
    local = after.astimezone(tz).replace(tzinfo=None)
    try:
        following = rrulestr(rule, dtstart=local).after(local, inc=inclusive)
    except ValueError as exc:  # e.g. "byxxx generates an empty set" for this start
        logger.warning("recurrence %r has no date after %s: %s", rule, local, exc)
        return None
    if following is None:
        return None
    return following.replace(tzinfo=tz).astimezone(UTC)


def following_rule(rule: str) -> str | None:
    """The rule for the next occurrence: COUNT=n (this one included) becomes COUNT=n-1.

    None when this occurrence was the last one the COUNT allows.
    """
    parts = rule.split(";")
    for index, part in enumerate(parts):
        name, _, value = part.partition("=")
        if name == "COUNT":
            remaining = int(value) - 1
            if remaining < 1:
                return None
            parts[index] = f"COUNT={remaining}"
    return ";".join(parts)
