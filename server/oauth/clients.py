"""OAuth clients: dynamic registration (RFC 7591, stored in the database so every replica
knows them) and Client ID Metadata Documents (an https client_id, see `documents`); the
rules both follow are in `metadata`.
"""

from __future__ import annotations

from mcp.shared.auth import OAuthClientInformationFull
from sqlalchemy import select

from server.db import Database
from server.oauth.documents import MetadataDocuments
from server.oauth.metadata import (
    AUTH_METHODS,
    ClientRejected,
    RegisteredClient,
    check_client_metadata,
    redirect_matches,
)
from server.oauth.models import OAuthClient
from server.users.service import hash_token

__all__ = [
    "AUTH_METHODS",
    "ClientRegistry",
    "ClientRejected",
    "RegisteredClient",
    "redirect_matches",
]


class ClientRegistry:
    """Finds clients by client_id: registered ones in the database, https ones by their
    metadata document; registers new ones."""

    def __init__(self, *, db: Database, documents: MetadataDocuments) -> None:
        self.db = db
        self.documents = documents

    async def register(self, info: OAuthClientInformationFull) -> None:
        """Store a dynamically registered client; its secret is kept only as a hash."""
        check_client_metadata(info)
        secret = info.client_secret
        async with self.db.transaction() as session:
            session.add(
                OAuthClient(
                    client_id=info.client_id,
                    client_secret_hash=hash_token(secret) if secret else None,
                    client_name=info.client_name,
                    info=info.model_dump(mode="json", exclude={"client_secret"}, exclude_none=True),
                )
            )

    async def resolve(self, client_id: str) -> RegisteredClient:
        """The client named `client_id`, or ClientRejected saying why there is none."""
        if client_id.lower().startswith(("https://", "http://")):
            return await self.documents.get(client_id)
        row = None
        if 0 < len(client_id) <= 64:
            async with self.db.session() as session:
                row = await session.scalar(
                    select(OAuthClient).where(OAuthClient.client_id == client_id)
                )
        if row is None:
            raise ClientRejected(
                f"unknown client_id {client_id[:80]!r}: register the client first "
                "(POST /oauth/register) or use an https client_id with a metadata document"
            )
        return RegisteredClient.model_validate(
            {**row.info, "client_id": row.client_id, "client_secret_hash": row.client_secret_hash}
        )
