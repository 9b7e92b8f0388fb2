"""Settings: one pydantic-settings class, read once in an entry point and passed down."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import (
    AnyHttpUrl,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# `serve`'s own address, when PUBLIC_URL is unset and no other is known (tests, other commands).
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# How PUBLIC_URL is written everywhere it appears (OAuth metadata compares issuers as strings):
# lower-case host, no default port, no trailing slash.
_ORIGIN = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))
JWT_SECRET_MIN_BYTES = 32
ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?/?"
)


class Settings(BaseSettings):
    """Every setting of the service; see `.env.example` for what each one means."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = "sqlite+aiosqlite:///./todo-agent.db"

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
    agent_max_tool_rounds: int = Field(default=8, ge=1, le=50)
    agent_mcp_url: str | None = None
    # Characters of past messages sent to the model (about 4 per token); older ones are left out.
    agent_history_chars: int = Field(default=60_000, ge=2_000, le=2_000_000)

    kafka_bootstrap_servers: str | None = None
    kafka_topic_task_events: str = "task-events"
    kafka_topic_reminders: str = "reminders"
    kafka_topic_notifications: str = "notifications"
    # A consumer group's first join waits about half of this on some brokers (Tansu).
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000, le=300_000)
    # The longest a fetch waits for records. Kafka answers as soon as a record arrives;
    # some brokers (Tansu) hold the fetch this long, which then delays every event.
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=1, le=60_000)
    # A consumer whose commit or fetch keeps failing this long while the broker answers is
    # replaced (it rejoins its group); also how long a send waits for its acknowledgement.
    kafka_stall_seconds: float = Field(default=20.0, ge=1, le=600)
    # While the broker is unreachable, a summary is logged this often (one warning first).
    kafka_outage_log_seconds: float = Field(default=60.0, ge=1, le=86_400)

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "todo-agent@localhost"
    smtp_starttls: bool = False

    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    reminder_lead_minutes: int = Field(default=30, ge=0, le=60 * 24 * 365)
    overdue_after_minutes: int = Field(default=60, ge=0, le=60 * 24 * 365)
    # Published outbox rows and processed-event ids are kept this long. A consumer must still
    # know an event id when the event can be delivered again: keep it at least the topics'
    # retention on Kafka (168 hours by default).
    event_retention_hours: int = Field(default=168, ge=1, le=24 * 365 * 10)
    # How long the activity of tasks and projects stays readable.
    activity_retention_days: int = Field(default=90, ge=1, le=365 * 100)
    # Readiness answers 503 once events have not flowed for this long: events waiting in the
    # outbox, a consumer not fetching, a consumer group with events waiting and no commit.
    event_stall_seconds: float = Field(default=60.0, ge=1, le=86_400)

    # HS256 with a short secret is guessable offline from one token: at least 32 bytes.
    auth_jwt_secret: SecretStr | None = None
    # The address clients reach this server at: OAuth metadata, the consent page and links
    # are built from it. Unset: `serve` uses http://HOST:PORT (see `with_public_url`).
    public_url: str | None = None
    # Minutes an OAuth access token is valid (fractions allowed, e.g. 0.5).
    oauth_access_token_minutes: float = Field(default=60.0, gt=0, le=24 * 60)

    # Circuit breakers in front of the language model provider and AGENT_MCP_URL: this many
    # failures in a row open one, and chats fail at once for the cool-down; then one trial.
    circuit_breaker_failures: int = Field(default=5, ge=1, le=1_000)
    circuit_breaker_cooldown_seconds: float = Field(default=30.0, gt=0, le=86_400)

    # HTTP connection limits of `serve`: a request head's size (431 past it) and the time to
    # send it (408), idle keep-alive time, and connections open at once (503 past it).
    http_max_header_bytes: int = Field(default=16_384, ge=1_024, le=1_048_576)
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=3_600)
    http_keepalive_seconds: int = Field(default=5, ge=1, le=3_600)
    http_max_connections: int = Field(default=1_000, ge=1, le=1_000_000)

    # Throttles (per process; 0 turns one off): requests with refused credentials per client
    # address, and chat turns per user, in any minute.
    auth_failures_per_minute: int = Field(default=30, ge=0, le=1_000_000)
    chat_turns_per_minute: int = Field(default=20, ge=0, le=1_000_000)

    # Browser origins allowed on /mcp besides this server's own and localhost (comma-separated,
    # e.g. "https://claude.ai,https://chatgpt.com"; "*" allows any).
    mcp_allowed_origins: str = ""

    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        allowed = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        if not value.startswith(allowed):
            raise ValueError(
                "must be an async SQLAlchemy URL starting with "
                "'sqlite+aiosqlite://' or 'postgresql+asyncpg://'"
            )
        try:
            make_url(value)
        except (ArgumentError, ValueError) as exc:
            raise ValueError(f"is not a valid URL ({exc})") from None
        return value

    @field_validator("agent_mcp_url")
    @classmethod
    def _mcp_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlsplit(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(
                "must be the http(s) URL of a todo-agent MCP endpoint, "
                "e.g. http://mcp.internal:8000/mcp"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlsplit(value)
        rule = "must be the origin clients reach this server at, such as https://todo.example.com"
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(rule)
        if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username:
            raise ValueError(rule + " (no path, query, fragment or user)")
        try:
            origin = str(_ORIGIN.validate_python(f"{parsed.scheme}://{parsed.netloc}"))
        except ValidationError:
            raise ValueError(rule) from None
        return origin.rstrip("/")

    @field_validator("auth_jwt_secret")
    @classmethod
    def _jwt_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < JWT_SECRET_MIN_BYTES:
            raise ValueError(
                f"must be at least {JWT_SECRET_MIN_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("mcp_allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in filter(None, (item.strip() for item in value.split(","))):
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: give scheme://host[:port], "
                    "e.g. https://claude.ai, separated by commas"
                )
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        levels = {"DEBUG", "INFO", "WARNING", "ERROR"}
        if value.upper() not in levels:
            raise ValueError(f"must be one of {', '.join(sorted(levels))}")
        return value.upper()

    @field_validator(
        "openai_base_url",
        "kafka_bootstrap_servers",
        "smtp_host",
        "smtp_username",
        "agent_mcp_url",
        "public_url",
        "auth_jwt_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def public_origin(self) -> str:
        """PUBLIC_URL, or the default address when it is unset."""
        return self.public_url or DEFAULT_PUBLIC_URL

    def with_public_url(self, host: str, port: int) -> Settings:
        """These settings, with PUBLIC_URL defaulting to http://HOST:PORT of `serve`."""
        if self.public_url is not None:
            return self
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        shown = f"[{shown}]" if ":" in shown else shown
        return self.model_copy(update={"public_url": f"http://{shown}:{port}"})

    @property
    def mcp_allowed_origin_set(self) -> frozenset[str]:
        """MCP_ALLOWED_ORIGINS, and PUBLIC_URL's origin (this server's, behind a proxy)."""
        listed = {o.strip() for o in self.mcp_allowed_origins.split(",") if o.strip()}
        return frozenset(listed | ({self.public_url} if self.public_url else set()))

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None


SECRET_FIELDS = {"openai_api_key", "smtp_password", "auth_jwt_secret", "database_url"}


class ConfigError(Exception):
    """A setting has a bad value; the message names the variable and the rule."""


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and `.env`, raising ConfigError on a bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "settings"
        shown = _shown(field, err.get("input"))
        raise ConfigError(f"{field.upper()}: {err['msg']}{shown}") from None


def _shown(field: str, value: object) -> str:
    """The bad value, unless it may hold a secret (a key, a password, a URL's credentials)."""
    if field in SECRET_FIELDS or not isinstance(value, str):
        return ""
    if "://" in value and "@" in value:
        return ""
    return f" (got {value!r})"
