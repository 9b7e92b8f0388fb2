"""Old OAuth codes and tokens are deleted; what a live grant still needs is kept."""

from __future__ import annotations

from datetime import timedelta

from server.db import utcnow
from tests.utils.oauth import mint_access_token, oauth_rows


async def test_cleanup_deletes_expired_codes_and_tokens_and_those_of_revoked_grants(
    services, alice
):
    await mint_access_token(services, alice.user)
    await mint_access_token(services, alice.user, "revoked")
    before = await oauth_rows(services)
    assert (before["oauth_tokens"], before["oauth_codes"]) == (4, 2)

    # Two days on: the access tokens (an hour) and codes (minutes) are long expired; the
    # live grant's refresh token (90 days) is kept for rotation and reuse detection.
    deleted = await services.oauth.grants.prune(now=utcnow() + timedelta(days=2))

    after = await oauth_rows(services)
    assert deleted == 5
    assert after["oauth_tokens"] == 1 and after["oauth_codes"] == 0
    assert after["oauth_grants"] == 2 and after["oauth_clients"] == 2
