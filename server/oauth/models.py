"""OAuth tables: registered clients, authorization codes, grants and their tokens.

Codes and tokens are random and stored only as SHA-256 hashes. A grant is one app's access
for one user (what "Connected apps" lists); revoking it ends every token issued under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow
from server.users.models import User

URL_MAX = 2048
NAME_MAX = 200


class OAuthClient(SQLModel, table=True):
    """A client registered by dynamic client registration (RFC 7591)."""

    __tablename__ = "oauth_clients"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64, unique=True, index=True)
    client_secret_hash: str | None = Field(default=None, max_length=64)
    client_name: str | None = Field(default=None, max_length=NAME_MAX)
    # The registered metadata as the client will be answered with it, without the secret.
    info: dict = Field(sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OAuthCode(SQLModel, table=True):
    """An authorization code: issued when the user approves, exchanged once for tokens."""

    __tablename__ = "oauth_codes"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    client_id: str = Field(sa_type=Text)
    client_name: str = Field(max_length=NAME_MAX)
    redirect_uri: str = Field(sa_type=Text)
    redirect_uri_given: bool = True
    code_challenge: str = Field(max_length=128)
    scopes: list[str] = Field(default_factory=list, sa_type=JSON)
    resource: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The grant the exchange created: revoked if the code is ever presented again.
    grant_id: int | None = Field(default=None, foreign_key="oauth_grants.id")


class OAuthGrant(SQLModel, table=True):
    """One app's access to one user's tasks, from an approval until it is revoked."""

    __tablename__ = "oauth_grants"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    client_id: str = Field(sa_type=Text)
    client_name: str = Field(max_length=NAME_MAX)
    scopes: list[str] = Field(default_factory=list, sa_type=JSON)
    resource: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OAuthToken(SQLModel, table=True):
    """An access or refresh token of a grant. A refresh token is used once (rotation)."""

    __tablename__ = "oauth_tokens"

    id: int | None = Field(default=None, primary_key=True)
    grant_id: int = Field(foreign_key="oauth_grants.id", index=True)
    kind: str = Field(max_length=8)  # "access" | "refresh"
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


@dataclass(frozen=True)
class PendingCode:
    """A stored authorization code, as the token endpoint checks it."""

    id: int
    user_id: int
    client_id: str
    client_name: str
    redirect_uri: str
    redirect_uri_given: bool
    code_challenge: str
    scopes: list[str]
    resource: str
    expires_at: datetime


@dataclass(frozen=True)
class StoredToken:
    """A stored access or refresh token of a live grant."""

    id: int
    kind: str
    grant_id: int
    client_id: str
    scopes: list[str]
    resource: str
    expires_at: datetime
    used: bool


@dataclass(frozen=True)
class VerifiedAccess:
    """What a valid access token stands for: a user, through one grant, for one resource."""

    user: User
    grant_id: int
    client_id: str
    scopes: list[str]
    resource: str
    expires_at: datetime


class GrantPublic(SQLModel):
    """A connected app as the web page lists it."""

    id: int
    client_id: str
    client_name: str
    created_at: datetime
    last_used_at: datetime | None


class GrantList(SQLModel):
    grants: list[GrantPublic]


class ConsentPublic(SQLModel):
    """What the consent page shows about a pending authorization request."""

    client_id: str
    client_name: str
    redirect_uri: str
    redirect_host: str
    scopes: list[str]


class ConsentDecision(SQLModel):
    """The consent page's answer: the authorization request's query string and the choice."""

    request: str = Field(max_length=16_000)
    approve: bool


class ConsentRedirect(SQLModel):
    redirect_to: str
