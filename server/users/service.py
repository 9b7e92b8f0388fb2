"""Users and API tokens: creation, revocation and authentication."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jwt
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Database, utcnow
from server.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from server.users.models import ApiToken, User

# zoneinfo knows these, but they name no place and the date parser cannot use them.
NOT_PLACES = {"Factory", "localtime"}
TOKEN_PREFIX_LEN = 12
# OAuth access tokens (server/oauth) start with this. They are bound to the /mcp resource
# (RFC 8707), so everywhere else they are refused.
OAUTH_ACCESS_TOKEN_PREFIX = "tdoa_"
# Verified tokens are remembered this long, so a busy client costs one lookup per interval;
# a revocation therefore reaches other processes within this many seconds.
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_SIZE = 10_000
# A JWT must say when it expires (`exp`); its clock may differ from ours by this much, for
# `exp` and, when present, `nbf` and `iat`.
JWT_LEEWAY_SECONDS = 30
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
EMAIL_PATTERN = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
        if value in NOT_PLACES:
            raise ValueError(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(
            "timezone", f"{value!r} is not an IANA timezone such as 'Europe/Paris' or 'UTC'"
        ) from None
    return value


def validate_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValidationFailed(
            "name", "1-64 characters: letters, digits and _ . @ - (starting with a letter or digit)"
        )
    return value


class NewUserSetup(Protocol):
    """What a new user starts with, written in the transaction that creates them: their
    Inbox (`server.projects.service.add_inbox`). The composition root passes it in, so
    users, on which every domain builds, import none of them."""

    async def __call__(self, session: AsyncSession, *, user_id: int) -> object: ...


class UserService:
    """Users and their API tokens; tokens are random and stored only as SHA-256 hashes."""

    def __init__(
        self, *, db: Database, set_up: NewUserSetup, jwt_secret: str | None = None
    ) -> None:
        self.db = db
        self.set_up = set_up
        self.jwt_secret = jwt_secret
        self._verified: dict[str, tuple[float, User]] = {}

    async def create_user(
        self, *, name: str, email: str | None = None, timezone: str = "UTC"
    ) -> User:
        """A new user with their Inbox (every way a user comes to be goes through here: the
        CLI, the first start of `serve`, stdio's default user, a JWT's first use)."""
        validate_name(name)
        validate_timezone(timezone)
        if email is not None and not EMAIL_PATTERN.match(email):
            raise ValidationFailed("email", "must look like name@example.com")
        try:
            async with self.db.transaction() as session:
                if await session.scalar(select(User.id).where(User.name == name)) is not None:
                    raise Conflict(f"user {name!r} already exists")
                user = User(name=name, email=email, timezone=timezone)
                session.add(user)
                await session.flush()
                await self.set_up(session, user_id=user.id)
        except IntegrityError:  # created concurrently (the unique name), e.g. by a JWT's first use
            raise Conflict(f"user {name!r} already exists") from None
        return user

    async def get_user(self, *, name: str) -> User:
        async with self.db.session() as session:
            user = await session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"user {name!r} not found")
        return user

    async def count_users(self) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)

    async def create_token(self, *, name: str) -> str:
        """Create an API token for user `name` and return it; only its hash is stored."""
        user = await self.get_user(name=name)
        token = "tda_" + secrets.token_urlsafe(32)
        async with self.db.transaction() as session:
            session.add(
                ApiToken(
                    user_id=user.id,
                    prefix=token[:TOKEN_PREFIX_LEN],
                    token_hash=hash_token(token),
                )
            )
        return token

    async def revoke_token(self, *, prefix: str) -> int:
        """Revoke every live token starting with `prefix`; returns how many."""
        # Every token starts with "tda_": 12 characters leave 8 random ones, so a prefix
        # cannot match another user's token by accident.
        if len(prefix) < TOKEN_PREFIX_LEN:
            raise ValidationFailed(
                "prefix", f"give at least the first {TOKEN_PREFIX_LEN} characters of the token"
            )
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ApiToken)
                .where(
                    # Stored prefixes are TOKEN_PREFIX_LEN long; a shorter one matches by start.
                    ApiToken.prefix.startswith(prefix[:TOKEN_PREFIX_LEN], autoescape=True),
                    ApiToken.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
        if result.rowcount == 0:
            raise NotFound(f"no live token starts with {prefix!r}")
        self._verified.clear()
        return result.rowcount

    async def authenticate(self, token: str) -> User:
        """The user a bearer token (API token or, when configured, HS256 JWT) acts as.

        OAuth access tokens are verified by the MCP endpoint only (server.oauth.grants)."""
        if token.startswith("tda_"):
            return await self._authenticate_api_token(token)
        if token.startswith(OAUTH_ACCESS_TOKEN_PREFIX):
            raise Unauthorized(
                "this OAuth access token is valid only at /mcp, the resource it was issued "
                "for; use an API token (todo-agent token create NAME) here"
            )
        if self.jwt_secret and token.count(".") == 2:
            return await self._authenticate_jwt(token)
        raise Unauthorized("invalid token")

    async def _authenticate_api_token(self, token: str) -> User:
        digest = hash_token(token)
        cached = self._verified.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self.db.session() as session:
            user = await session.scalar(
                select(User)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
            )
        if user is None:
            self._verified.pop(digest, None)
            raise Unauthorized("invalid or revoked token")
        if len(self._verified) >= TOKEN_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[digest] = (time.monotonic() + TOKEN_CACHE_SECONDS, user)
        return user

    async def _authenticate_jwt(self, token: str) -> User:
        try:
            claims = jwt.decode(
                token,
                self.jwt_secret,
                algorithms=["HS256"],
                leeway=JWT_LEEWAY_SECONDS,
                options={"require": ["sub", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid JWT: {exc}") from None
        name = str(claims["sub"])
        try:
            validate_name(name)
        except ValidationFailed:
            raise Unauthorized("JWT subject is not a valid user name") from None
        try:
            return await self.get_user(name=name)
        except NotFound:
            pass
        email = claims.get("email")
        try:
            return await self.create_user(
                name=name, email=email if isinstance(email, str) else None
            )
        except Conflict:  # another request created it first
            return await self.get_user(name=name)
        except ValidationFailed:
            return await self.create_user(name=name)
