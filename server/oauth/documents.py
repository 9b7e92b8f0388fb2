"""Client ID Metadata Documents: a client whose client_id is an https URL publishes its
metadata there (draft-ietf-oauth-client-id-metadata-document, as the MCP authorization
spec of 2025-11-25 asks). ChatGPT, for one, connects this way.

The document is fetched without following redirects, with a timeout and a size limit, then
checked (its client_id must be its own URL, no shared secret, usable redirect URIs) and
kept for what its Cache-Control allows, within bounds. Failures are never cached.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import time
from urllib.parse import urlsplit

import httpx2
from mcp.server.auth.provider import RegistrationError
from pydantic import ValidationError

from server.oauth.metadata import ClientRejected, RegisteredClient, check_client_metadata
from server.oauth.models import URL_MAX

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 5 * 1024
FETCH_TIMEOUT_SECONDS = 5.0
CACHE_SECONDS_DEFAULT = 3600.0
CACHE_SECONDS_MIN = 60.0
CACHE_SECONDS_MAX = 24 * 3600.0
CACHE_SIZE = 1000
MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)")


def client_id_url_problem(url: str) -> str | None:
    """Why `url` cannot be a metadata-document client_id, or None."""
    parsed = urlsplit(url)
    if parsed.scheme.lower() != "https":
        return "must use https for a Client ID Metadata Document"
    if len(url) > URL_MAX:
        return f"is longer than {URL_MAX} characters"
    if not parsed.hostname or parsed.username or parsed.password:
        return "must name a host, without user or password"
    if parsed.path in ("", "/"):
        return "must have a path (the document's location)"
    if {".", ".."} & set(parsed.path.split("/")):
        return "must not contain . or .. path segments"
    if parsed.fragment or "#" in url:
        return "must not contain a fragment"
    return None


class MetadataDocuments:
    """Fetches, checks and caches metadata documents; `verify` is the TLS trust to use."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        timeout_seconds: float = FETCH_TIMEOUT_SECONDS,
        max_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        self.verify = verify
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        self._cache: dict[str, tuple[float, RegisteredClient]] = {}

    async def get(self, url: str) -> RegisteredClient:
        """The client described at `url`, or ClientRejected saying what is wrong."""
        if problem := client_id_url_problem(url):
            raise ClientRejected(f"client_id {url[:200]!r} {problem}")
        cached = self._cache.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        body, lifetime = await self._fetch(url)
        client = self._parse(url, body)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[url] = (time.monotonic() + lifetime, client)
        return client

    async def _fetch(self, url: str) -> tuple[bytes, float]:
        where = f"the client's metadata document at {url[:200]}"
        try:
            async with (
                httpx2.AsyncClient(
                    verify=self.verify,
                    timeout=self.timeout_seconds,
                    follow_redirects=False,
                    trust_env=False,
                ) as http,
                http.stream("GET", url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != 200:
                    raise ClientRejected(f"{where} answered HTTP {response.status_code}, not 200")
                media_type = response.headers.get("content-type", "").split(";")[0].strip()
                if not _is_json(media_type.lower()):
                    raise ClientRejected(f"{where} is {media_type or 'untyped'}, not JSON")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise ClientRejected(f"{where} is larger than {self.max_bytes} bytes")
                lifetime = _cache_lifetime(response.headers.get("cache-control", ""))
        except httpx2.TimeoutException:
            raise ClientRejected(
                f"{where} did not answer within {self.timeout_seconds:g} s"
            ) from None
        except httpx2.HTTPError as exc:
            logger.info("metadata document %s could not be fetched: %r", url, exc)
            raise ClientRejected(f"{where} could not be fetched ({type(exc).__name__})") from None
        return bytes(body), lifetime

    def _parse(self, url: str, body: bytes) -> RegisteredClient:
        where = f"the client's metadata document at {url[:200]}"
        try:
            document = json.loads(body)
        except ValueError:
            raise ClientRejected(f"{where} is not valid JSON") from None
        if not isinstance(document, dict):
            raise ClientRejected(f"{where} is not a JSON object")
        if document.get("client_id") != url:
            raise ClientRejected(f"{where}: client_id must be the document's own URL")
        if {"client_secret", "client_secret_expires_at"} & set(document):
            raise ClientRejected(f"{where}: must not contain a client_secret")
        method = document.get("token_endpoint_auth_method", "none")
        if method != "none":
            raise ClientRejected(
                f"{where}: token_endpoint_auth_method must be 'none' (got {str(method)[:40]!r})"
            )
        if not document.get("redirect_uris"):
            raise ClientRejected(f"{where}: redirect_uris is missing")
        try:
            client = RegisteredClient.model_validate(
                {**document, "token_endpoint_auth_method": "none"}
            )
            check_client_metadata(client)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "document"
            raise ClientRejected(f"{where}: {field}: {first['msg']}") from None
        except RegistrationError as exc:
            raise ClientRejected(f"{where}: {exc.error_description}") from None
        if "authorization_code" not in client.grant_types or "code" not in client.response_types:
            raise ClientRejected(f"{where}: must allow the authorization_code grant")
        return client


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _cache_lifetime(cache_control: str) -> float:
    """Seconds to keep a document, from its Cache-Control, within the bounds above."""
    if "no-store" in cache_control or "no-cache" in cache_control:
        return CACHE_SECONDS_MIN
    match = MAX_AGE.search(cache_control)
    seconds = float(match.group(1)) if match else CACHE_SECONDS_DEFAULT
    return min(max(seconds, CACHE_SECONDS_MIN), CACHE_SECONDS_MAX)
