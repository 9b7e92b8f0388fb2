"""The calendar feed: `GET /ical/{feed_key}.ics` (no header: the key is the credential) and
the signed-in user's feed URL, `GET /api/calendar` and `POST /api/calendar/rotate`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from server.calendar.models import CalendarPublic
from server.http.deps import CurrentUser, FeedThrottleDep, ServicesDep

router = APIRouter(tags=["calendar"])

FEED_HEADERS = {
    # The URL is a secret: no shared cache keeps the feed, no page it opens leaks it.
    "Cache-Control": "private, max-age=0, must-revalidate",
    "Referrer-Policy": "no-referrer",
    "Content-Disposition": 'inline; filename="todo-agent.ics"',
}


@router.get("/api/calendar", response_model=CalendarPublic)
async def get_calendar(
    request: Request, services: ServicesDep, user: CurrentUser
) -> CalendarPublic:
    """The user's feed URL (made on first use)."""
    key = await services.calendar.feed_key(user=user)
    return _public(request, services.settings.public_url, key)


@router.post("/api/calendar/rotate", response_model=CalendarPublic)
async def rotate_calendar(
    request: Request, services: ServicesDep, user: CurrentUser
) -> CalendarPublic:
    """A new feed URL; the old one is a 404 from now on."""
    key = await services.calendar.rotate_key(user=user)
    return _public(request, services.settings.public_url, key)


@router.get("/ical/{feed_key}.ics", name="calendar_feed", response_class=Response)
async def calendar_feed(
    feed_key: str, request: Request, services: ServicesDep, throttle: FeedThrottleDep
) -> Response:
    """The user's open dated tasks as iCalendar; 404 for a key that is not a user's now."""
    address = request.client.host if request.client else "unknown"
    throttle.check(address=address, key=feed_key[:100])
    body = await services.calendar.feed(key=feed_key)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=FEED_HEADERS)


def _public(request: Request, public_url: str | None, key: str) -> CalendarPublic:
    """The feed's addresses: on PUBLIC_URL when it is set (behind a proxy the request's own
    address is not the one calendar apps reach), else on the address the request came to."""
    path = request.app.url_path_for("calendar_feed", feed_key=key)
    base = public_url or str(request.base_url).rstrip("/")
    url = base + path
    return CalendarPublic(feed_url=url, webcal_url="webcal://" + url.split("://", 1)[1])
