"""The rules a client's metadata follows, whether it registered (RFC 7591) or serves a
Client ID Metadata Document: redirect URIs, grant types, authentication methods."""

from __future__ import annotations

from urllib.parse import urlsplit

from mcp.server.auth.provider import RegistrationError
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import AnyUrl, ValidationError

from server.oauth.models import NAME_MAX, URL_MAX

REDIRECT_URIS_MAX = 10
GRANT_TYPES = {"authorization_code", "refresh_token"}
AUTH_METHODS = {"none", "client_secret_post", "client_secret_basic"}
# RFC 8252 §7.3: a native app listens on a loopback port it picks when it starts, so for
# these hosts over http the port of the redirect URI may differ from the registered one.
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


class ClientRejected(Exception):
    """The client cannot be used: unknown, or its metadata document failed a check."""

    def __init__(self, description: str, error: str = "invalid_client") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class RegisteredClient(OAuthClientInformationFull):
    """A client as the authorization server knows it; the secret only as its hash."""

    client_secret_hash: str | None = None

    @property
    def display_name(self) -> str:
        """The name the client gave itself (unverified), else its client_id's host."""
        if self.client_name and self.client_name.strip():
            return self.client_name.strip()[:NAME_MAX]
        return urlsplit(self.client_id).hostname or "an unnamed app"


def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be a redirect URI, or None (https; http on loopback; an app's own
    reverse-domain scheme per RFC 8252 §7.1 — never javascript:, data: and the like)."""
    if len(uri) > URL_MAX:
        return f"is longer than {URL_MAX} characters"
    parsed = urlsplit(uri)
    if parsed.fragment or "#" in uri:
        return "must not contain a fragment"
    if parsed.scheme == "https":
        return None if parsed.hostname else "must name a host"
    if parsed.scheme == "http":
        if parsed.hostname in LOOPBACK_HOSTS:
            return None
        return "must use https (http only for a loopback address such as 127.0.0.1)"
    if "." in parsed.scheme and parsed.path:
        return None
    return "must be https, http on a loopback address, or an app's reverse-domain scheme"


def normalized(uri: str) -> str:
    """The URI as compared: scheme and host lower-cased, default port dropped."""
    try:
        return str(AnyUrl(uri))
    except ValidationError:
        return uri


def redirect_matches(registered: str, requested: str) -> bool:
    """`requested` is `registered` (exactly, after URL normalization; a loopback port aside)."""
    if normalized(registered) == normalized(requested):
        return True
    want, got = urlsplit(normalized(registered)), urlsplit(normalized(requested))
    return (
        want.scheme == got.scheme == "http"
        and want.hostname in LOOPBACK_HOSTS
        and want.hostname == got.hostname
        and (want.path, want.query) == (got.path, got.query)
    )


def check_client_metadata(info: OAuthClientInformationFull) -> None:
    """Refuse metadata this server cannot honour, naming the field (RFC 7591 §3.2.2)."""
    uris = [str(uri) for uri in info.redirect_uris or []]
    if not 1 <= len(uris) <= REDIRECT_URIS_MAX:
        raise RegistrationError(
            "invalid_redirect_uri", f"redirect_uris: give 1 to {REDIRECT_URIS_MAX} URIs"
        )
    for uri in uris:
        if problem := redirect_uri_problem(uri):
            raise RegistrationError("invalid_redirect_uri", f"redirect_uris: {uri!r} {problem}")
    if info.client_name is not None and len(info.client_name) > NAME_MAX:
        raise RegistrationError(
            "invalid_client_metadata", f"client_name: at most {NAME_MAX} characters"
        )
    if unknown := set(info.grant_types) - GRANT_TYPES:
        raise RegistrationError(
            "invalid_client_metadata",
            f"grant_types: {', '.join(sorted(unknown))} not supported "
            "(only authorization_code and refresh_token)",
        )
    if info.token_endpoint_auth_method not in AUTH_METHODS:
        raise RegistrationError(
            "invalid_client_metadata",
            f"token_endpoint_auth_method: {info.token_endpoint_auth_method!r} not supported "
            f"(one of {', '.join(sorted(AUTH_METHODS))})",
        )
