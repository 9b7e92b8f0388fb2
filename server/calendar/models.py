"""What the calendar routes return."""

from __future__ import annotations

from pydantic import BaseModel


class CalendarPublic(BaseModel):
    """The user's feed URL (secret: anyone with it can read the user's dated tasks)."""

    feed_url: str  # https://... or http://...: for calendar apps that take a URL
    webcal_url: str  # the same as webcal://..., which opens a calendar app to subscribe
