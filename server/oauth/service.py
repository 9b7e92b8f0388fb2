"""The OAuth service: todo-agent as the authorization server of its own /mcp resource.

Built from Settings by the composition root; its parts are the client registry, the
authorization requests and the grants with their tokens. Every address comes from
PUBLIC_URL: the issuer is PUBLIC_URL, the protected resource PUBLIC_URL/mcp.
"""

from __future__ import annotations

from datetime import timedelta

from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata

from server.db import Database
from server.oauth.authorization import SCOPE, Authorizations
from server.oauth.clients import AUTH_METHODS, ClientRegistry
from server.oauth.documents import MetadataDocuments
from server.oauth.grants import Grants

MCP_PATH = "/mcp"


class OAuthService:
    """Clients, authorization requests and grants for the resource PUBLIC_URL/mcp."""

    def __init__(
        self,
        *,
        db: Database,
        public_url: str,
        access_token_minutes: float,
        documents: MetadataDocuments | None = None,
    ) -> None:
        self.issuer = public_url
        self.resource = public_url + MCP_PATH
        self.grants = Grants(db=db, access_lifetime=timedelta(minutes=access_token_minutes))
        self.clients = ClientRegistry(db=db, documents=documents or MetadataDocuments())
        self.authorizations = Authorizations(
            clients=self.clients, grants=self.grants, issuer=self.issuer, resource=self.resource
        )

    def endpoint(self, path: str) -> str:
        return self.issuer + path

    def authorization_server_metadata(self) -> OAuthMetadata:
        """RFC 8414 metadata, served at /.well-known/oauth-authorization-server."""
        methods = sorted(AUTH_METHODS)
        # URLs as strings: the models keep a path-less issuer without a trailing slash, and
        # clients compare issuers as strings (RFC 8414 §3.3, RFC 9207).
        return OAuthMetadata.model_validate(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.endpoint("/oauth/authorize"),
                "token_endpoint": self.endpoint("/oauth/token"),
                "registration_endpoint": self.endpoint("/oauth/register"),
                "revocation_endpoint": self.endpoint("/oauth/revoke"),
                "scopes_supported": [SCOPE],
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_methods_supported": methods,
                "revocation_endpoint_auth_methods_supported": methods,
                "code_challenge_methods_supported": ["S256"],
                "client_id_metadata_document_supported": True,
                "authorization_response_iss_parameter_supported": True,
                "service_documentation": self.endpoint("/"),
            }
        )

    def protected_resource_metadata(self) -> ProtectedResourceMetadata:
        """RFC 9728 metadata of /mcp, served at /.well-known/oauth-protected-resource(/mcp)."""
        return ProtectedResourceMetadata.model_validate(
            {
                "resource": self.resource,
                "authorization_servers": [self.issuer],
                "scopes_supported": [SCOPE],
                "bearer_methods_supported": ["header"],
                "resource_name": "todo-agent",
            }
        )
