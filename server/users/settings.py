"""A user's named settings (the `user_settings` table): read, written and found by digest.

Settings are what an export of a user's "settings" holds, beside the user's profile. Known
names:

- `calendar.feed_key`: the secret of the user's iCalendar feed URL (server/calendar); its
  `digest` (SHA-256) is how a feed request finds the user.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.users.models import User, UserSetting

# Settings that are credentials: kept with their digest, never exported nor imported.
SECRET_NAMES = frozenset({"calendar.feed_key"})


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def get_setting(session: AsyncSession, *, user_id: int, name: str) -> str | None:
    return await session.scalar(
        select(UserSetting.value).where(UserSetting.user_id == user_id, UserSetting.name == name)
    )


async def put_setting(
    session: AsyncSession, *, user_id: int, name: str, value: str, secret: bool = False
) -> None:
    """Set (or replace) a setting in `session`'s transaction; a `secret` one keeps its digest
    so it can be looked up by `user_by_secret`."""
    values = {"value": value, "digest": digest(value) if secret else None, "updated_at": utcnow()}
    changed = await session.execute(
        update(UserSetting)
        .where(UserSetting.user_id == user_id, UserSetting.name == name)
        .values(**values)
    )
    if changed.rowcount == 0:
        session.add(UserSetting(user_id=user_id, name=name, **values))


async def user_by_secret(session: AsyncSession, *, name: str, secret: str) -> User | None:
    """The user whose secret setting `name` is `secret`, compared by digest."""
    return await session.scalar(
        select(User)
        .join(UserSetting, UserSetting.user_id == User.id)
        .where(UserSetting.digest == digest(secret), UserSetting.name == name)
    )
