"""Authorization requests (RFC 6749 §4.1 with PKCE, OAuth 2.1): checking them, and turning
the user's decision on the consent page into the redirect back to the client.

Nothing is stored until the user approves: the consent page sends the request's query
string back with the decision, and it is checked again then. Errors about the client or
its redirect URI are shown to the user and never sent anywhere (an unregistered URI is not
to be trusted); the others go back to the client's redirect URI with `state` and `iss`
(RFC 9207), as do approvals and denials.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from mcp.server.auth.provider import construct_redirect_uri

from server.oauth.clients import ClientRegistry, ClientRejected, RegisteredClient, redirect_matches
from server.oauth.grants import Grants
from server.oauth.models import ConsentPublic
from server.users.models import User

# The one scope: the user's tasks through /mcp. Scopes a client asks for (Claude asks for
# "read write", ChatGPT for "offline_access") are granted as asked but change nothing.
SCOPE = "tasks"
SCOPES_MAX = 20
SCOPE_MAX = 100
# RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding is 43 characters.
S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class AuthorizeRefused(Exception):
    """A refused authorization request. With `redirect_uri` the error goes to the client;
    without, it is shown to the user."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        redirect_uri: str | None = None,
        state: str | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked request: the client, where to send the answer, and what was asked."""

    client: RegisteredClient
    redirect_uri: str
    redirect_uri_given: bool
    state: str | None
    code_challenge: str
    scopes: list[str]
    resource: str


def resource_matches(given: str, resource: str) -> bool:
    """RFC 8707 resource indicators compared as URLs: scheme and host case, a trailing slash."""

    def canonical(url: str) -> tuple[str, str, str]:
        parsed = urlsplit(url.strip())
        return parsed.scheme.lower(), parsed.netloc.lower(), parsed.path.rstrip("/")

    return canonical(given) == canonical(resource) and not urlsplit(given).fragment


class Authorizations:
    """Checks authorization requests and answers them with codes or errors."""

    def __init__(
        self, *, clients: ClientRegistry, grants: Grants, issuer: str, resource: str
    ) -> None:
        self.clients = clients
        self.grants = grants
        self.issuer = issuer
        self.resource = resource

    async def check(self, query: str) -> AuthorizationRequest:
        """The request in `query` (the authorize URL's query string), or AuthorizeRefused."""
        pairs = parse_qsl(query, keep_blank_values=True)
        params = dict(pairs)
        repeated = sorted({name for name, _ in pairs if _count(pairs, name) > 1})
        state = params.get("state") if "state" not in repeated else None

        client_id = params.get("client_id", "")
        if "client_id" in repeated or not client_id:
            raise AuthorizeRefused("invalid_request", "client_id is missing or repeated")
        try:
            client = await self.clients.resolve(client_id)
        except ClientRejected as exc:
            raise AuthorizeRefused(exc.error, exc.description) from None
        redirect_uri = self._redirect_uri(client, params.get("redirect_uri"), repeated)

        def refuse(error: str, description: str) -> AuthorizeRefused:
            return AuthorizeRefused(error, description, redirect_uri=redirect_uri, state=state)

        if repeated:
            raise refuse(
                "invalid_request", f"parameters given more than once: {', '.join(repeated)}"
            )
        if params.get("response_type") != "code":
            raise refuse("unsupported_response_type", "response_type must be code")
        challenge = params.get("code_challenge", "")
        if not challenge:
            raise refuse("invalid_request", "code_challenge is required (PKCE with S256)")
        if params.get("code_challenge_method") != "S256":
            method = params.get("code_challenge_method", "plain (the default)")
            raise refuse("invalid_request", f"code_challenge_method must be S256, not {method}")
        if not S256_CHALLENGE.match(challenge):
            raise refuse("invalid_request", "code_challenge must be 43 base64url characters (S256)")
        resource = params.get("resource") or self.resource
        if not resource_matches(resource, self.resource):
            raise refuse("invalid_target", f"resource must be {self.resource}")
        scopes = params.get("scope", "").split() or [SCOPE]
        if len(scopes) > SCOPES_MAX or any(len(scope) > SCOPE_MAX for scope in scopes):
            raise refuse("invalid_scope", f"at most {SCOPES_MAX} scopes of {SCOPE_MAX} characters")
        return AuthorizationRequest(
            client=client,
            redirect_uri=redirect_uri,
            redirect_uri_given="redirect_uri" in params,
            state=state,
            code_challenge=challenge,
            scopes=list(dict.fromkeys(scopes)),
            resource=self.resource,
        )

    def _redirect_uri(
        self, client: RegisteredClient, given: str | None, repeated: Sequence[str]
    ) -> str:
        registered = [str(uri) for uri in client.redirect_uris or []]
        if "redirect_uri" in repeated:
            raise AuthorizeRefused("invalid_request", "redirect_uri is repeated")
        if given is None:
            if len(registered) == 1:
                return registered[0]
            raise AuthorizeRefused(
                "invalid_request", "redirect_uri is required: the client registered several"
            )
        if not any(redirect_matches(uri, given) for uri in registered):
            raise AuthorizeRefused(
                "invalid_request",
                f"redirect_uri {given[:200]!r} is not registered for this client",
            )
        return given

    def describe(self, request: AuthorizationRequest) -> ConsentPublic:
        """What the consent page tells the user."""
        parsed = urlsplit(request.redirect_uri)
        return ConsentPublic(
            client_id=request.client.client_id,
            client_name=request.client.display_name,
            redirect_uri=request.redirect_uri,
            redirect_host=parsed.netloc or parsed.scheme,
            scopes=request.scopes,
        )

    async def decide(self, request: AuthorizationRequest, *, user: User, approve: bool) -> str:
        """The URL to send the browser to: a code when approved, access_denied when not."""
        if not approve:
            return self.error_redirect(
                AuthorizeRefused(
                    "access_denied",
                    "the user denied access",
                    redirect_uri=request.redirect_uri,
                    state=request.state,
                )
            )
        code = await self.grants.issue_code(
            user=user,
            client_id=request.client.client_id,
            client_name=request.client.display_name,
            redirect_uri=request.redirect_uri,
            redirect_uri_given=request.redirect_uri_given,
            code_challenge=request.code_challenge,
            scopes=request.scopes,
            resource=request.resource,
        )
        return construct_redirect_uri(
            request.redirect_uri, code=code, state=request.state, iss=self.issuer
        )

    def error_redirect(self, refused: AuthorizeRefused) -> str:
        """The client's redirect URI carrying the error (only for a refusal that has one)."""
        assert refused.redirect_uri is not None
        return construct_redirect_uri(
            refused.redirect_uri,
            error=refused.error,
            error_description=refused.description,
            state=refused.state,
            iss=self.issuer,
        )


def _count(pairs: list[tuple[str, str]], name: str) -> int:
    return sum(1 for key, _ in pairs if key == name)
