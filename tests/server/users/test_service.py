"""Authentication: API tokens (stored as hashes, revocable) and HS256 JWTs (both engines).
Every route without credentials: tests/server/http/test_auth_matrix.py."""

from __future__ import annotations

import time

import jwt
import pytest
from sqlalchemy import select

from server.errors import NotFound, ValidationFailed
from server.users.models import ApiToken
from server.users.service import hash_token
from tests.utils.factories import assert_error

SECRET = "a-shared-secret-" * 4  # 64 bytes: long enough for HS512 too
SHARED_API_SETTINGS = {"auth_jwt_secret": SECRET}


def signed(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def fresh(claims: dict, **kwargs) -> str:
    """A JWT that expires in two days (a valid one, unless the other claims spoil it)."""
    return signed({"exp": int(time.time()) + 2 * 86400, **claims}, **kwargs)


NOW = int(time.time())


def assert_unauthorized(response) -> None:
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer tda_not-a-real-token", id="unknown token"),
        pytest.param("Bearer ", id="empty token"),
        pytest.param("Basic YWxpY2U6c2VjcmV0", id="basic auth"),
        pytest.param("tda_no-scheme", id="no scheme"),
        pytest.param("Bearer not.a.jwt", id="malformed JWT"),
        pytest.param("Bearer " + fresh({"sub": "mallory"}, secret="x" * 32), id="bad signature"),
        pytest.param("Bearer " + signed({"sub": "mallory", "exp": 1}), id="expired JWT"),
        pytest.param("Bearer " + signed({"sub": "mallory"}), id="JWT without exp"),
        pytest.param(
            "Bearer " + fresh({"sub": "mallory", "nbf": NOW + 86400}), id="JWT not valid yet (nbf)"
        ),
        pytest.param(
            "Bearer " + fresh({"sub": "mallory", "iat": NOW + 86400}), id="JWT issued later (iat)"
        ),
        pytest.param(
            "Bearer " + fresh({"sub": "mallory", "iat": "today"}), id="JWT iat not a time"
        ),
        pytest.param("Bearer " + fresh({"name": "mallory"}), id="JWT without sub"),
        pytest.param("Bearer " + fresh({"sub": "has spaces"}), id="JWT sub not a user name"),
        pytest.param("Bearer " + fresh({"sub": "mallory"}, algorithm="HS512"), id="JWT HS512"),
        pytest.param(
            "Bearer " + jwt.encode({"sub": "mallory"}, None, algorithm="none"), id="unsigned JWT"
        ),
    ],
)
async def test_wrong_credentials_are_unauthorized(shared_api, authorization):
    users = await shared_api.services.users.count_users()

    response = await shared_api.client.get("/api/tasks", headers={"Authorization": authorization})

    assert_unauthorized(response)
    assert await shared_api.services.users.count_users() == users  # no one was created


async def test_me_is_the_tokens_user(shared_api):
    account = await shared_api.account("maria", "Europe/Lisbon")

    response = await shared_api.client.get("/api/me", headers=account.headers)

    assert response.status_code == 200
    assert response.json() == {
        "id": account.user.id,
        "name": "maria",
        "email": None,
        "timezone": "Europe/Lisbon",
    }


async def test_revoked_token_stops_working(shared_api):
    account = await shared_api.account("revoker")
    assert (await shared_api.client.get("/api/me", headers=account.headers)).status_code == 200

    revoked = await shared_api.services.users.revoke_token(prefix=account.token[:12])

    assert revoked == 1
    assert_unauthorized(await shared_api.client.get("/api/me", headers=account.headers))


async def test_revoking_needs_twelve_characters_and_spares_other_tokens(shared_api):
    account = await shared_api.account("short-prefix")
    other = await shared_api.services.users.create_token(name="short-prefix")

    # "tda_" + 4 characters could match another user's token: refused.
    with pytest.raises(ValidationFailed):
        await shared_api.services.users.revoke_token(prefix=account.token[:8])
    await shared_api.services.users.revoke_token(prefix=account.token[:12])

    assert_unauthorized(await shared_api.client.get("/api/me", headers=account.headers))
    # The user's other token (another prefix) keeps working.
    me = await shared_api.client.get("/api/me", headers={"Authorization": f"Bearer {other}"})
    assert me.status_code == 200


async def test_revoking_needs_twelve_characters_and_a_live_token(shared_api):
    users = shared_api.services.users

    with pytest.raises(ValidationFailed) as too_short:
        await users.revoke_token(prefix="tda_abc")
    with pytest.raises(NotFound):
        await users.revoke_token(prefix="tda_0000000000")

    assert too_short.value.field == "prefix"


async def test_tokens_are_stored_only_as_hashes(shared_api):
    account = await shared_api.account("hasher")

    async with shared_api.services.db.session() as session:
        rows = (await session.scalars(select(ApiToken))).all()

    stored = [str(value) for row in rows for value in row.model_dump().values()]
    assert not any(account.token in value for value in stored)
    assert hash_token(account.token) in stored


async def test_jwt_user_is_created_on_first_use_and_reused(shared_api):
    headers = {"Authorization": "Bearer " + fresh({"sub": "sso-jane", "email": "jane@x.io"})}

    first = await shared_api.client.get("/api/me", headers=headers)
    created = await shared_api.client.post("/api/tasks", json={"title": "SSO"}, headers=headers)
    again = await shared_api.client.get("/api/me", headers=headers)

    assert first.status_code == 200 and created.status_code == 201
    assert first.json()["name"] == "sso-jane" and first.json()["email"] == "jane@x.io"
    assert again.json() == first.json()
    # The user came with an Inbox, where the task went.
    projects = (await shared_api.client.get("/api/projects", headers=headers)).json()
    assert [(p["name"], p["open_tasks"]) for p in projects["projects"]] == [("Inbox", 1)]


@pytest.mark.parametrize(
    ("name", "email"),
    [("sso-number", 5), ("sso-list", ["a@x.io"]), ("sso-nul", "a\x00@x.io")],
)
async def test_jwt_with_an_unusable_email_claim_still_signs_in(shared_api, name, email):
    token = fresh({"sub": name, "email": email})

    response = await shared_api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["email"]) == (name, None)


async def test_a_jwt_within_the_clock_leeway_still_signs_in(shared_api):
    # Expired 10 s ago, valid from 10 s on, issued 10 s ahead: clocks differ that much.
    claims = {"sub": "sso-skewed", "exp": int(time.time()) - 10}
    token = signed(claims | {"nbf": int(time.time()) + 10, "iat": int(time.time()) + 10})

    response = await shared_api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.text


async def test_jwt_is_refused_when_no_secret_is_configured(client):
    token = fresh({"sub": "sso-jane"})

    response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})

    assert_unauthorized(response)
