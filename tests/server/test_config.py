"""Settings: the documented defaults, `.env`, and one clear error naming a bad variable."""

from __future__ import annotations

import pytest

from server.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_directory(tmp_path, monkeypatch):
    """No `.env` but the test's own: settings are read from the working directory."""
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_documented_ones():
    settings = load_settings()

    assert settings.database_url == "sqlite+aiosqlite:///./todo-agent.db"
    assert settings.llm_model == "gpt-4o-mini"
    assert settings.kafka_bootstrap_servers is None and settings.smtp_host is None
    assert (
        settings.kafka_topic_task_events,
        settings.kafka_topic_reminders,
        settings.kafka_topic_notifications,
    ) == ("task-events", "reminders", "notifications")
    assert settings.scheduler_interval_seconds == 30
    assert settings.reminder_lead_minutes == 30
    assert settings.overdue_after_minutes == 60
    assert settings.auth_jwt_secret is None
    assert settings.public_url is None and settings.public_origin == "http://127.0.0.1:8000"
    assert settings.oauth_access_token_minutes == 60
    assert (settings.kafka_stall_seconds, settings.kafka_outage_log_seconds) == (20, 60)
    assert settings.event_stall_seconds == 60


def test_environment_and_dotenv_are_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("LLM_MODEL=llama3\nSMTP_HOST=\nREMINDER_LEAD_MINUTES=10\n")
    monkeypatch.setenv("REMINDER_LEAD_MINUTES", "5")  # the environment wins over .env

    settings = load_settings()

    assert settings.llm_model == "llama3"
    assert settings.smtp_host is None  # blank means unset
    assert settings.reminder_lead_minutes == 5


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://localhost/todo"),
        ("DATABASE_URL", "sqlite:///todo.db"),  # not an async driver
        ("DATABASE_URL", "postgresql+asyncpg://me@db:not-a-port/todo"),
        ("SMTP_PORT", "99999"),
        ("SMTP_PORT", "smtp"),
        ("SMTP_STARTTLS", "perhaps"),
        ("SCHEDULER_INTERVAL_SECONDS", "0"),
        ("REMINDER_LEAD_MINUTES", "-5"),
        ("OVERDUE_AFTER_MINUTES", "an hour"),
        ("LLM_MAX_RETRIES", "100"),
        ("LOG_LEVEL", "LOUD"),
        ("AGENT_MCP_URL", "mcp.internal:8000/mcp"),
        ("AGENT_MCP_URL", "ftp://mcp.internal/mcp"),
        ("PUBLIC_URL", "todo.example.com"),
        ("PUBLIC_URL", "ftp://todo.example.com"),
        ("PUBLIC_URL", "https://example.com/todo"),  # a path: the page and OAuth live at /
        ("PUBLIC_URL", "https://todo.example.com/?x=1"),
        ("PUBLIC_URL", "https://todo.example.com:99999"),
        ("OAUTH_ACCESS_TOKEN_MINUTES", "0"),
        ("OAUTH_ACCESS_TOKEN_MINUTES", "forever"),
        ("AUTH_JWT_SECRET", "change-me"),
        ("AUTH_JWT_SECRET", "x" * 31),
        ("MCP_ALLOWED_ORIGINS", "claude.ai"),
        ("HTTP_MAX_CONNECTIONS", "0"),
        ("HTTP_HEADER_TIMEOUT_SECONDS", "never"),
        ("AUTH_FAILURES_PER_MINUTE", "-1"),
        ("MCP_ALLOWED_ORIGINS", "https://claude.ai/mcp"),
        ("ACTIVITY_RETENTION_DAYS", "0"),
        ("ACTIVITY_RETENTION_DAYS", "a quarter"),
        ("EVENT_STALL_SECONDS", "0"),
        ("KAFKA_STALL_SECONDS", "soon"),
        ("KAFKA_OUTAGE_LOG_SECONDS", "-1"),
    ],
)
def test_bad_value_raises_a_config_error_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as failed:
        load_settings()

    message = str(failed.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


def test_a_config_error_never_repeats_the_database_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://me:hunter2@db:not-a-port/todo")
    with pytest.raises(ConfigError) as failed:
        load_settings()
    assert str(failed.value).startswith("DATABASE_URL: ")
    assert "hunter2" not in str(failed.value)


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://todo.example.com", "https://todo.example.com"),
        ("https://Todo.Example.com/", "https://todo.example.com"),
        ("https://todo.example.com:443", "https://todo.example.com"),
        ("http://10.0.0.5:8000", "http://10.0.0.5:8000"),
    ],
)
def test_public_url_is_kept_as_the_origin_clients_compare(monkeypatch, value, origin):
    monkeypatch.setenv("PUBLIC_URL", value)

    settings = load_settings()

    assert settings.public_url == origin
    assert settings.with_public_url("0.0.0.0", 9000).public_origin == origin


@pytest.mark.parametrize(
    ("host", "port", "origin"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),
        ("localhost", 8080, "http://localhost:8080"),
        ("::1", 8000, "http://[::1]:8000"),
    ],
)
def test_public_url_defaults_to_the_address_serve_listens_on(host, port, origin):
    assert load_settings().with_public_url(host, port).public_origin == origin


def test_a_short_jwt_secret_is_refused_without_being_shown(monkeypatch):
    monkeypatch.setenv("AUTH_JWT_SECRET", "hunter2-hunter2")

    with pytest.raises(ConfigError) as failed:
        load_settings()

    assert str(failed.value).startswith("AUTH_JWT_SECRET: ")
    assert "32 bytes" in str(failed.value)
    assert "hunter2" not in str(failed.value)


def test_a_jwt_secret_of_32_bytes_or_more_is_accepted(monkeypatch):
    monkeypatch.setenv("AUTH_JWT_SECRET", "é" * 16)  # 16 characters, 32 bytes

    assert load_settings().auth_jwt_secret.get_secret_value() == "é" * 16
