"""Authorization codes, grants and their tokens: issuing, rotating, verifying, revoking.

Tokens are random and stored only as SHA-256 hashes. A code is exchanged once; presented
again, the grant it produced is revoked (RFC 6749 §4.1.2). A refresh token is used once and
replaced; presented again, the whole grant is revoked (OAuth 2.1 §4.3.1, refresh token
rotation with reuse detection). Access tokens expire after OAUTH_ACCESS_TOKEN_MINUTES.

Verified access tokens are remembered for TOKEN_CACHE_SECONDS, like API tokens: a grant
revoked in this process stops working at once (its entries are dropped), one revoked in
another process within that many seconds.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta

from mcp.shared.auth import OAuthToken as TokenResponse
from sqlalchemy import delete, select, update

from server.db import Database, is_row_id, utcnow
from server.oauth.models import (
    GrantPublic,
    OAuthCode,
    OAuthGrant,
    OAuthToken,
    PendingCode,
    StoredToken,
    VerifiedAccess,
)
from server.users.models import User
from server.users.service import (
    OAUTH_ACCESS_TOKEN_PREFIX,
    TOKEN_CACHE_SECONDS,
    TOKEN_CACHE_SIZE,
    hash_token,
)

CODE_PREFIX = "tdoc_"
REFRESH_TOKEN_PREFIX = "tdor_"
CODE_LIFETIME = timedelta(minutes=2)
REFRESH_TOKEN_LIFETIME = timedelta(days=90)
# A grant's "last used" is written at most this often, not on every request.
LAST_USED_EVERY = timedelta(minutes=1)
# Expired codes and tokens are deleted this long after they expire.
PRUNE_AFTER = timedelta(days=1)
GRANTS_LISTED_MAX = 200


class InvalidGrant(Exception):
    """A code or refresh token that cannot be exchanged (RFC 6749 `invalid_grant`)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class Grants:
    """Codes, grants and tokens in the database."""

    def __init__(
        self,
        *,
        db: Database,
        access_lifetime: timedelta,
        code_lifetime: timedelta = CODE_LIFETIME,
        refresh_lifetime: timedelta = REFRESH_TOKEN_LIFETIME,
    ) -> None:
        self.db = db
        self.access_lifetime = access_lifetime
        self.code_lifetime = code_lifetime
        self.refresh_lifetime = refresh_lifetime
        self._verified: dict[str, tuple[float, VerifiedAccess]] = {}

    # ---- codes ----------------------------------------------------------------------------

    async def issue_code(
        self,
        *,
        user: User,
        client_id: str,
        client_name: str,
        redirect_uri: str,
        redirect_uri_given: bool,
        code_challenge: str,
        scopes: list[str],
        resource: str,
    ) -> str:
        """A new single-use code for an approved request; only its hash is stored."""
        code = CODE_PREFIX + secrets.token_urlsafe(32)
        async with self.db.transaction() as session:
            session.add(
                OAuthCode(
                    code_hash=hash_token(code),
                    user_id=user.id,
                    client_id=client_id,
                    client_name=client_name,
                    redirect_uri=redirect_uri,
                    redirect_uri_given=redirect_uri_given,
                    code_challenge=code_challenge,
                    scopes=scopes,
                    resource=resource,
                    expires_at=utcnow() + self.code_lifetime,
                )
            )
        return code

    async def find_code(self, code: str) -> PendingCode | None:
        async with self.db.session() as session:
            row = await session.scalar(
                select(OAuthCode).where(OAuthCode.code_hash == hash_token(code))
            )
        if row is None:
            return None
        return PendingCode(
            id=row.id,
            user_id=row.user_id,
            client_id=row.client_id,
            client_name=row.client_name,
            redirect_uri=row.redirect_uri,
            redirect_uri_given=row.redirect_uri_given,
            code_challenge=row.code_challenge,
            scopes=list(row.scopes),
            resource=row.resource,
            expires_at=row.expires_at,
        )

    async def exchange_code(self, code: PendingCode, *, refresh: bool) -> TokenResponse:
        """Use `code` once: a new grant and its first tokens."""
        async with self.db.transaction() as session:
            consumed = await session.execute(
                update(OAuthCode)
                .where(OAuthCode.id == code.id, OAuthCode.used_at.is_(None))
                .values(used_at=utcnow())
            )
            if consumed.rowcount == 1:
                grant = OAuthGrant(
                    user_id=code.user_id,
                    client_id=code.client_id,
                    client_name=code.client_name,
                    scopes=code.scopes,
                    resource=code.resource,
                )
                session.add(grant)
                await session.flush()
                await session.execute(
                    update(OAuthCode).where(OAuthCode.id == code.id).values(grant_id=grant.id)
                )
                return self._issue(session, grant.id, code.scopes, refresh=refresh)
        async with self.db.session() as session:
            grant_id = await session.scalar(
                select(OAuthCode.grant_id).where(OAuthCode.id == code.id)
            )
        if grant_id is not None:
            await self.revoke_grant(grant_id)
        raise InvalidGrant(
            "authorization code was already used; the tokens issued for it are revoked"
        )

    # ---- tokens ---------------------------------------------------------------------------

    async def find_token(self, token: str) -> StoredToken | None:
        """An access or refresh token of a grant that is not revoked (expired ones too)."""
        async with self.db.session() as session:
            found = (
                await session.execute(
                    select(OAuthToken, OAuthGrant)
                    .join(OAuthGrant, OAuthGrant.id == OAuthToken.grant_id)
                    .where(
                        OAuthToken.token_hash == hash_token(token), OAuthGrant.revoked_at.is_(None)
                    )
                )
            ).first()
        if found is None:
            return None
        row, grant = found
        return StoredToken(
            id=row.id,
            kind=row.kind,
            grant_id=grant.id,
            client_id=grant.client_id,
            scopes=list(grant.scopes),
            resource=grant.resource,
            expires_at=row.expires_at,
            used=row.used_at is not None,
        )

    async def rotate(self, token: StoredToken, *, scopes: list[str]) -> TokenResponse:
        """Use a refresh token once: new access and refresh tokens of the same grant."""
        async with self.db.transaction() as session:
            used = await session.execute(
                update(OAuthToken)
                .where(OAuthToken.id == token.id, OAuthToken.used_at.is_(None))
                .values(used_at=utcnow())
            )
            if used.rowcount == 1:
                return self._issue(session, token.grant_id, scopes, refresh=True)
        await self.revoke_grant(token.grant_id)
        raise InvalidGrant(
            "refresh token was already used, so the grant is revoked: authorize again"
        )

    def _issue(self, session, grant_id: int, scopes: list[str], *, refresh: bool) -> TokenResponse:
        now = utcnow()
        access = OAUTH_ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
        session.add(
            OAuthToken(
                grant_id=grant_id,
                kind="access",
                token_hash=hash_token(access),
                expires_at=now + self.access_lifetime,
            )
        )
        refresh_token = None
        if refresh:
            refresh_token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
            session.add(
                OAuthToken(
                    grant_id=grant_id,
                    kind="refresh",
                    token_hash=hash_token(refresh_token),
                    expires_at=now + self.refresh_lifetime,
                )
            )
        return TokenResponse(
            access_token=access,
            token_type="Bearer",
            expires_in=int(self.access_lifetime.total_seconds()),
            scope=" ".join(scopes) or None,
            refresh_token=refresh_token,
        )

    async def verify_access(self, token: str) -> VerifiedAccess | None:
        """The grant behind a live access token, or None (unknown, expired or revoked)."""
        digest = hash_token(token)
        now = utcnow()
        cached = self._verified.get(digest)
        if cached is not None and cached[0] > time.monotonic() and cached[1].expires_at > now:
            return cached[1]
        async with self.db.session() as session:
            found = (
                await session.execute(
                    select(OAuthToken.expires_at, OAuthGrant, User)
                    .join(OAuthGrant, OAuthGrant.id == OAuthToken.grant_id)
                    .join(User, User.id == OAuthGrant.user_id)
                    .where(
                        OAuthToken.token_hash == digest,
                        OAuthToken.kind == "access",
                        OAuthGrant.revoked_at.is_(None),
                    )
                )
            ).first()
        if found is None or found[0] <= now:
            self._verified.pop(digest, None)
            return None
        expires_at, grant, user = found
        if grant.last_used_at is None or grant.last_used_at < now - LAST_USED_EVERY:
            await self._mark_used(grant.id, now)
        verified = VerifiedAccess(
            user=user,
            grant_id=grant.id,
            client_id=grant.client_id,
            scopes=list(grant.scopes),
            resource=grant.resource,
            expires_at=expires_at,
        )
        if len(self._verified) >= TOKEN_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[digest] = (time.monotonic() + TOKEN_CACHE_SECONDS, verified)
        return verified

    async def _mark_used(self, grant_id: int, now: datetime) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OAuthGrant)
                .where(OAuthGrant.id == grant_id)
                .where(
                    (OAuthGrant.last_used_at.is_(None))
                    | (OAuthGrant.last_used_at < now - LAST_USED_EVERY)
                )
                .values(last_used_at=now)
            )

    # ---- grants ---------------------------------------------------------------------------

    async def list_grants(self, *, user: User) -> list[GrantPublic]:
        """The user's connected apps, newest first."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(OAuthGrant)
                .where(OAuthGrant.user_id == user.id, OAuthGrant.revoked_at.is_(None))
                .order_by(OAuthGrant.created_at.desc(), OAuthGrant.id.desc())
                .limit(GRANTS_LISTED_MAX)
            )
            return [GrantPublic.model_validate(row, from_attributes=True) for row in rows]

    async def revoke_grant(self, grant_id: int, *, user: User | None = None) -> bool:
        """Revoke a grant and so every token of it; False if there was no live one."""
        if not is_row_id(grant_id):
            return False
        stmt = update(OAuthGrant).where(OAuthGrant.id == grant_id, OAuthGrant.revoked_at.is_(None))
        if user is not None:
            stmt = stmt.where(OAuthGrant.user_id == user.id)
        async with self.db.transaction() as session:
            revoked = (await session.execute(stmt.values(revoked_at=utcnow()))).rowcount
        for digest, (_, verified) in list(self._verified.items()):
            if verified.grant_id == grant_id:
                self._verified.pop(digest, None)
        return revoked == 1

    async def prune(self, now: datetime | None = None) -> int:
        """Delete codes and tokens that expired a while ago, and the tokens of revoked grants."""
        cutoff = (now or utcnow()) - PRUNE_AFTER
        revoked = select(OAuthGrant.id).where(OAuthGrant.revoked_at.is_not(None))
        async with self.db.transaction() as session:
            tokens = await session.execute(
                delete(OAuthToken).where(
                    (OAuthToken.expires_at < cutoff) | OAuthToken.grant_id.in_(revoked)
                )
            )
            codes = await session.execute(delete(OAuthCode).where(OAuthCode.expires_at < cutoff))
        return tokens.rowcount + codes.rowcount
