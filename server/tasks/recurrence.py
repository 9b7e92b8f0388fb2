"""Recurrence rules: RFC 5545 RRULEs (plus four shortcuts) and their next dates.

dateutil expands the rules. It fails in ways no rule check foresees (an IndexError for some
Easter offsets in some years) and it scans day by day up to the year 9999 for a rule that
no longer matches, so every expansion here goes through `_dates`, which bounds the scan and
turns any failure into ValidationFailed('recurrence', ...): a 422 or tool error where a
rule is given, and "no next occurrence, because ..." where a stored task completes.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from server.errors import ValidationFailed
from server.tasks.dates import LATEST

logger = logging.getLogger(__name__)

SHORTCUTS = {
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY",
    "yearly": "FREQ=YEARLY",
}
# dateutil loops forever on INTERVAL=0 and fails late (on completion) on some out-of-range
# values, so these are checked up front. Easter falls on day 80 to 115 of a year (checked
# for every year dateutil knows): offsets from -80 to 249 stay in the year, whatever it is.
LIMITS = {
    "INTERVAL": (1, 1000),
    "BYHOUR": (0, 23),
    "BYMINUTE": (0, 59),
    "BYSECOND": (0, 59),
    "BYEASTER": (-80, 249),
}
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
    "HOURLY": {"BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYDAY", "BYHOUR", "BYEASTER"},
    "DAILY": {"BYMONTH", "BYMONTHDAY", "BYDAY", "BYEASTER"},
    "WEEKLY": {"BYMONTH", "BYEASTER"},
    "MONTHLY": {"BYMONTH", "BYEASTER"},
}
# Where RFC 5545 (3.3.10) allows a BY-part; dateutil's results elsewhere are its own
# (FREQ=WEEKLY;BYWEEKNO=-53 matches in 2026 and then never again, after a 2 s scan).
ALLOWED_FREQUENCIES = {
    "BYWEEKNO": {"YEARLY"},
    "BYYEARDAY": {"YEARLY", "HOURLY"},
    "BYMONTHDAY": {"YEARLY", "MONTHLY", "DAILY", "HOURLY"},
}
# An Easter rule names one day a year on its own: narrowed further it could match once in
# centuries (and the search would scan all of them).
DATE_PARTS = {"BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYDAY", "BYSETPOS"}
# At most one of these at FREQ=DAILY or HOURLY: together they can pick a day once in decades,
# and those frequencies scan a day at a time (FREQ=HOURLY;BYDAY=MO;BYYEARDAY=365 takes 0.8 s).
DAY_PARTS = {"BYMONTHDAY", "BYYEARDAY", "BYDAY"}
# The calendar repeats exactly every 400 years (146,097 days, a whole number of weeks). A
# search is moved that many years forward, start and rule alike, to end near the year 9999
# after 100 to 500 years rather than up to 8,000, and its dates moved back. Easter does not
# repeat that way, so an Easter rule (which matches every year, see LIMITING_PARTS) is not.
CYCLE_YEARS = 400
SEARCH_YEARS = 100
# Dates beyond the last valid due time are no next occurrence (alerts would overflow).
LAST_DUE = LATEST.replace(tzinfo=None)
# How many dates, within how many years, a rule must expand to from a task's due time when
# it is set.
CHECKED_DATES = 30
CHECKED_YEARS = 8


def normalize_rule(value: str) -> str:
    """The canonical RRULE for `value`, or ValidationFailed('recurrence', ...)."""
    text = value.strip()
    rule = SHORTCUTS.get(text.lower())
    if rule is None:
        rule = text.upper().removeprefix("RRULE:")
    if "FREQ=" not in rule:
        raise ValidationFailed("recurrence", f"{value!r} has no FREQ; {HINT}")
    if any(c.isspace() or not c.isprintable() for c in rule) or not rule.isascii():
        raise ValidationFailed("recurrence", f"{value!r} is not one RRULE; {HINT}")
    _check_limits(rule)
    try:
        parsed = rrulestr(rule, dtstart=PROBE_START)
        occurs = parsed.replace(count=None, until=None).after(PROBE_START, inc=True)
    except Exception as exc:  # dateutil's failures are no documented set (see the docstring)
        raise ValidationFailed(
            "recurrence", f"{value!r} is not a valid RRULE ({exc}); {HINT}"
        ) from None
    if occurs is None:
        raise ValidationFailed("recurrence", f"{value!r} never occurs; {HINT}")
    return rule


def _check_limits(rule: str) -> None:
    parts = dict(part.partition("=")[::2] for part in rule.split(";"))
    freq = parts.get("FREQ")
    if freq not in FREQUENCIES:
        raise ValidationFailed(
            "recurrence", f"FREQ must be one of {', '.join(sorted(FREQUENCIES))}; {HINT}"
        )
    if freq == "HOURLY" and "BYSETPOS" in parts:
        raise ValidationFailed("recurrence", f"BYSETPOS needs FREQ=DAILY or longer; {HINT}")
    for name, allowed in ALLOWED_FREQUENCIES.items():
        if name in parts and freq not in allowed:
            raise ValidationFailed(
                "recurrence", f"{name} cannot be used with FREQ={freq} (RFC 5545); {HINT}"
            )
    if "BYEASTER" in parts and DATE_PARTS & parts.keys():
        raise ValidationFailed(
            "recurrence",
            f"BYEASTER cannot be combined with {', '.join(sorted(DATE_PARTS & parts.keys()))}",
        )
    narrowing = DAY_PARTS & parts.keys()
    if freq in ("DAILY", "HOURLY") and len(narrowing) > 1:
        raise ValidationFailed(
            "recurrence",
            f"{' and '.join(sorted(narrowing))} together need FREQ=MONTHLY or YEARLY "
            f"(e.g. FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13)",
        )
    limiting = LIMITING_PARTS.get(freq, set()) & parts.keys()
    if limiting and parts.get("INTERVAL", "1") not in ("1", "01"):
        raise ValidationFailed(
            "recurrence",
            f"INTERVAL greater than 1 cannot be combined with {', '.join(sorted(limiting))} at "
            f"FREQ={freq}; use a longer FREQ (e.g. FREQ=WEEKLY;INTERVAL=2;BYDAY=MO)",
        )
    # An ordinal weekday (BYDAY=-1FR) counts within a month or a year.
    within_month = freq == "MONTHLY" or "BYMONTH" in parts
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
                if freq not in ("MONTHLY", "YEARLY"):
                    raise ValidationFailed(
                        "recurrence",
                        f"a numbered weekday ({item}) needs FREQ=MONTHLY or YEARLY; {HINT}",
                    )
                number = match.group(1)
            if not number.lstrip("+-").isdecimal() or not low <= int(number) <= high:
                raise ValidationFailed(
                    "recurrence", f"{name} must be between {low} and {high}; {HINT}"
                )


def check_schedule(rule: str, start: datetime, timezone: str) -> None:
    """ValidationFailed('recurrence', ...) unless `rule`, starting at `start`, occurs and
    expands to its next CHECKED_DATES dates within CHECKED_YEARS years (a rule may fail only
    in a later year)."""
    dates = _dates(rule, _local(start, timezone), inclusive=True)
    if next(dates, None) is None:
        raise ValidationFailed(
            "recurrence", "matches no date from the task's due time on; check the rule"
        )
    local_start = _local(start, timezone)
    for found in itertools.islice(dates, CHECKED_DATES):
        if found.year > local_start.year + CHECKED_YEARS:
            break


def next_occurrence(
    rule: str, after: datetime, timezone: str, *, inclusive: bool = False
) -> datetime | None:
    """The rule's first date after `after` (or at it, if `inclusive`), in local time.

    `after` is the occurrence the series starts from (its DTSTART), so COUNT counts from it.
    None when the series has ended (COUNT or UNTIL reached) or does not match again within
    a century; ValidationFailed('recurrence', ...) when the rule cannot be expanded.
    """
    tz = ZoneInfo(timezone)
    following = next(_dates(rule, _local(after, timezone), inclusive=inclusive), None)
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
            if not value.isdecimal():
                raise ValidationFailed("recurrence", f"COUNT must be a number (got {value!r})")
            remaining = int(value) - 1
            if remaining < 1:
                return None
            parts[index] = f"COUNT={remaining}"
    return ";".join(parts)


def _local(value: datetime, timezone: str) -> datetime:
    """`value` as the naive wall-clock time in `timezone`, which rules are expanded in."""
    return value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def _dates(rule: str, start: datetime, *, inclusive: bool) -> Iterator[datetime]:
    """The rule's dates (naive local) from `start`, its DTSTART, on: a search that ends
    within SEARCH_YEARS to SEARCH_YEARS + CYCLE_YEARS years, and before LAST_DUE."""
    years = 0
    if "BYEASTER" not in rule:
        years = max(0, (9999 - SEARCH_YEARS - start.year) // CYCLE_YEARS) * CYCLE_YEARS
    try:
        moved = start.replace(year=start.year + years, microsecond=0)
        parsed = rrulestr(rule, dtstart=moved)
        until = parsed._until  # dateutil's parsed UNTIL, moved along with the start
        if years and until is not None:
            far = until.year + years > 9999
            parsed = parsed.replace(until=None if far else until.replace(year=until.year + years))
        for found in parsed.xafter(moved, inc=inclusive):
            found = found.replace(year=found.year - years)
            if found >= LAST_DUE:
                return
            yield found
    except Exception as exc:  # dateutil's failures are no documented set (see the docstring)
        logger.warning("recurrence %r cannot be expanded from %s: %r", rule, start, exc)
        raise ValidationFailed(
            "recurrence",
            f"{rule!r} cannot be expanded for some of its dates ({type(exc).__name__}: {exc}); "
            f"change the rule; {HINT}",
        ) from None
