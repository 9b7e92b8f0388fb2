"""The provider client: any OpenAI-compatible Chat Completions API, with its own retries.

The `openai` package is imported when the first chat needs the client (`ProviderClient`),
not when the server starts: it weighs some 23 MB and a fraction of a second, which a server
nobody chats with (or a worker) need not carry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2

if TYPE_CHECKING:
    import openai
    from openai import AsyncOpenAI

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local providers (Ollama, vLLM, llama.cpp) ignore the key, but the client insists on one.
PLACEHOLDER_KEY = "not-needed"

HOW_TO_CONFIGURE = (
    "No language model is configured. Set OPENAI_API_KEY (for OpenAI), or OPENAI_BASE_URL "
    "(for another OpenAI-compatible provider such as Ollama: http://localhost:11434/v1), "
    "and LLM_MODEL, then restart the server."
)


def build_llm_client(
    *, api_key: str | None, base_url: str | None, timeout: float, max_retries: int
) -> AsyncOpenAI:
    """A client whose retries (429, 5xx, timeouts; with backoff) and timeouts are ours."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        api_key=api_key or PLACEHOLDER_KEY,
        base_url=base_url or DEFAULT_BASE_URL,
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
        max_retries=max_retries,
    )


class ProviderClient:
    """The provider client of `build_llm_client`, built at its first use (see the module
    docstring); what the agent uses of it: `post`, `max_retries`, and `close`."""

    def __init__(
        self, *, api_key: str | None, base_url: str | None, timeout: float, max_retries: int
    ):
        self._options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self.max_retries = max_retries
        self._client: AsyncOpenAI | None = None

    @property
    def client(self) -> AsyncOpenAI:
        if self._client is None:
            self._client = build_llm_client(**self._options)
        return self._client

    async def post(self, *args: Any, **kwargs: Any) -> Any:
        return await self.client.post(*args, **kwargs)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


def openai_errors() -> Any:
    """The `openai` package, for its error classes (imported by then, or now)."""
    import openai

    return openai


def is_provider_failure(exc: BaseException) -> bool:
    """Whether `exc` means the provider is failing (for the circuit breaker), rather than
    that it refused this request (a bad key, an unknown model: it did answer)."""
    openai = openai_errors()
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, openai.APIError)


def describe_open_breaker(failures: int, retry_in: float) -> str:
    return (
        f"The language model provider failed {failures} times in a row, so it is not being "
        f"asked again for {retry_in:.0f} s. Your message is saved; try again then."
    )


def describe_provider_error(exc: openai.APIError, *, attempts: int, model: str) -> str:
    """One sentence for the user about a provider failure that retries did not fix."""
    openai = openai_errors()
    if isinstance(exc, openai.APITimeoutError):
        return f"The language model provider did not answer in time ({attempts} attempts)."
    if isinstance(exc, openai.APIConnectionError):
        return "Could not reach the language model provider: check OPENAI_BASE_URL."
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            return f"The provider rejected the credentials (HTTP {status}): check OPENAI_API_KEY."
        if status == 404:
            return (
                f"The provider does not know the model {model!r} (HTTP 404): "
                "check LLM_MODEL and OPENAI_BASE_URL."
            )
        if status == 429:
            return (
                f"The language model provider is rate limiting requests (HTTP 429, "
                f"{attempts} attempts); try again in a minute."
            )
        if status >= 500:
            return (
                f"The language model provider failed (HTTP {status}, {attempts} attempts); "
                "try again later."
            )
        return f"The provider rejected the request (HTTP {status}): {exc.message}"
    return f"The language model provider broke off the reply: {exc.message}"
