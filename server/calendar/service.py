"""The calendar feed's key and contents.

The feed is read by calendar apps, which cannot send an Authorization header, so its URL
carries a key of its own: random (256 bits), made the first time the user asks for the URL,
and replaced by `rotate_key`, which ends the old URL. It is kept as the user setting
`calendar.feed_key` (server/users/settings.py), where an export of the user's settings
finds it. The key itself is kept so the web page can show the URL again, and it grants
reading that user's open dated tasks only, which the database holds anyway; a feed request
finds its user by the key's SHA-256 digest, never by comparing the key.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from server.db import Database, utcnow
from server.errors import NotFound
from server.tasks.models import LIST_LIMIT_MAX, TaskPublic, TaskQuery
from server.tasks.service import TaskService
from server.users import settings
from server.users.models import User

FEED_KEY = "calendar.feed_key"
KEY_PREFIX = "cal_"
KEY_MAX = 100
# A feed holds at most this many tasks (the soonest due).
FEED_TASKS_MAX = 2000
# "Dated" is "due before the end of the calendar": a listing filter that skips undated tasks.
DATED = datetime(8999, 12, 31, tzinfo=UTC)


def feed_not_found() -> NotFound:
    return NotFound("not found")  # the same for a wrong key, an old one and a malformed one


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class CalendarService:
    """A user's feed key (made on first use, rotated on request) and the feed behind it."""

    def __init__(self, *, db: Database, tasks: TaskService) -> None:
        self.db = db
        self.tasks = tasks

    async def feed_key(self, *, user: User) -> str:
        """The user's feed key, made now if they have none."""
        async with self.db.session() as session:
            key = await settings.get_setting(session, user_id=user.id, name=FEED_KEY)
        if key is not None:
            return key
        try:
            async with self.db.transaction() as session:
                key = await settings.get_setting(session, user_id=user.id, name=FEED_KEY)
                if key is None:
                    key = _new_key()
                    await settings.put_setting(
                        session, user_id=user.id, name=FEED_KEY, value=key, secret=True
                    )
                return key
        except IntegrityError:  # another request made it first
            async with self.db.session() as session:
                key = await settings.get_setting(session, user_id=user.id, name=FEED_KEY)
            assert key is not None
            return key

    async def rotate_key(self, *, user: User) -> str:
        """A new feed key for the user; the old URL stops working at once."""
        key = _new_key()
        async with self.db.transaction() as session:
            await settings.put_setting(
                session, user_id=user.id, name=FEED_KEY, value=key, secret=True
            )
        return key

    async def feed(self, *, key: str) -> bytes:
        """The iCalendar feed behind `key`; NotFound for any key that is not a user's now."""
        if not key.startswith(KEY_PREFIX) or len(key) > KEY_MAX:
            raise feed_not_found()
        async with self.db.session() as session:
            user = await settings.user_by_secret(session, name=FEED_KEY, secret=key)
        if user is None:
            raise feed_not_found()
        tasks = await self.dated_tasks(user)
        # The `icalendar` package (~5 MB) is loaded by the first feed read, not at start-up.
        from server.calendar.feed import build_feed

        return build_feed(user_name=user.name, timezone=user.timezone, tasks=tasks, now=utcnow())

    async def dated_tasks(self, user: User) -> list[TaskPublic]:
        """The user's open tasks that have a due date, soonest first (the task listing's own
        rules decide which tasks are open)."""
        found: list[TaskPublic] = []
        cursor = None
        while len(found) < FEED_TASKS_MAX:
            query = TaskQuery(
                status="pending", sort="due", due_before=DATED, limit=LIST_LIMIT_MAX, cursor=cursor
            )
            page = await self.tasks.list_tasks(user=user, query=query)
            found.extend(page.tasks)
            cursor = page.next_cursor
            if cursor is None:
                break
        return found[:FEED_TASKS_MAX]
