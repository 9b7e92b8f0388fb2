"""Keeps aiokafka's own logging from flooding the logs while a broker is away.

aiokafka logs every failed connection, metadata request, fetch and heartbeat at ERROR, ten
times a second per client, and retries some requests forever, logging each retry. The bus
reports an outage itself (one warning, a summary, one line when it is over), so these
records are demoted to DEBUG when they are about the connection, and every other aiokafka
warning or error is let through once a minute per message, with the count of the ones held
back.
"""

from __future__ import annotations

import logging
import time

RATE_SECONDS = 60.0
# What aiokafka says when the broker cannot be reached (the bus's outage log says it once).
CONNECTION_NOISE = (
    "Unable connect to node",
    "Unable to update metadata",
    "Unable to request metadata",
    "Connect call failed",
    "NodeNotReadyError",
    "KafkaConnectionError",
    "RequestTimedOutError",
    "KafkaTimeoutError",
    "coordinator dead",
    "Heartbeat session expired",
    "Failed fetch messages",
    "GroupCoordinatorNotAvailableError",
    "NotCoordinatorForGroupError",
)


class ClientLogFilter(logging.Filter):
    """Demotes aiokafka's connection errors and rate-limits the rest; see the docstring."""

    def __init__(self, rate_seconds: float = RATE_SECONDS) -> None:
        super().__init__()
        self.rate_seconds = rate_seconds
        # (logger, message template) -> (window start, records held back in it)
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if _is_connection_noise(record):
            if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
                return False
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return True
        return self._allow(record)

    def _allow(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        started, held = self._windows.get(key, (None, 0))
        if started is not None and now - started < self.rate_seconds:
            self._windows[key] = (started, held + 1)
            return False
        self._windows[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {now - started:.0f}s]"
        return True


def _is_connection_noise(record: logging.LogRecord) -> bool:
    try:
        text = record.getMessage()
    except (TypeError, ValueError):
        text = str(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        text += f" {type(record.exc_info[1]).__name__}"
    return any(marker in text for marker in CONNECTION_NOISE)


_installed = ClientLogFilter()


def quiet_client_logs() -> None:
    """Put the filter on every aiokafka logger (idempotent; loggers exist once imported)."""
    import aiokafka.admin  # noqa: F401 (its loggers too)

    names = [name for name in logging.root.manager.loggerDict if name.split(".")[0] == "aiokafka"]
    for name in names:
        target = logging.getLogger(name)
        if _installed not in target.filters:
            target.addFilter(_installed)
