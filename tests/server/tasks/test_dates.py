"""Date phrases across a clock change: a time of day is that wall-clock time on its own day
(with that day's offset), elapsed time counts from now, and a named zone is kept."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from server.tasks.dates import resolve_due

NEW_YORK = ZoneInfo("America/New_York")  # falls back on Sunday 1 November 2026, 02:00
PARIS = ZoneInfo("Europe/Paris")  # springs forward on Sunday 29 March 2026, 02:00
SATURDAY_EVENING_NY = datetime(2026, 10, 31, 18, 0, tzinfo=NEW_YORK)
FRIDAY_MORNING_PARIS = datetime(2026, 3, 27, 10, 0, tzinfo=PARIS)

CASES = {
    "tomorrow 8am, after falling back": (SATURDAY_EVENING_NY, "tomorrow 8am", "2026-11-01 08:00"),
    "a weekday, after falling back": (SATURDAY_EVENING_NY, "sunday 8am", "2026-11-01 08:00"),
    "in days, after falling back": (SATURDAY_EVENING_NY, "in 3 days", "2026-11-03 18:00"),
    "monday 3pm, after springing forward": (FRIDAY_MORNING_PARIS, "monday 3pm", "2026-03-30 15:00"),
    "next monday at 9": (FRIDAY_MORNING_PARIS, "next monday 9am", "2026-03-30 09:00"),
    # 20 hours from 18:00 EDT is 13:00 EST: the night has 25 hours.
    "elapsed hours over the change": (SATURDAY_EVENING_NY, "in 20 hours", "2026-11-01 13:00"),
    "elapsed minutes": (FRIDAY_MORNING_PARIS, "in 30 minutes", "2026-03-27 10:30"),
    "a named zone": (SATURDAY_EVENING_NY, "tomorrow 8am UTC", "2026-11-01 03:00"),
}


@pytest.mark.parametrize(("now", "text", "local"), CASES.values(), ids=CASES.keys())
def test_phrases_resolve_to_the_wall_clock_time_they_name(now, text, local):
    zone = now.tzinfo

    due = resolve_due(text, str(zone), now=now)

    assert f"{due.astimezone(zone):%Y-%m-%d %H:%M}" == local
