"""Whether events are flowing: what readiness reports and /metrics shows.

`EventFlow` is this process's view, kept up to date by the parts that know:
- the Kafka bus: whether the broker answers, and each of this process's consumers' last
  successful poll and commit;
- `watch_event_flow` (run by the HTTP app, server/app.py): every second, the outbox backlog
  (how many events wait for the relay, and since when) and each consumer group's lag as
  Kafka sees it, whichever process its members run in (a group that has events waiting and
  commits nothing is stuck).

Readiness reads it without any I/O of its own; `problems` lists what has been wrong for
longer than EVENT_STALL_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from server.db import Database, utcnow
from server.events.models import OutboxEvent

logger = logging.getLogger(__name__)

WATCH_SECONDS = 1.0


@dataclass(slots=True)
class ConsumerState:
    """One consumer of this process: a group member or a broadcast subscription."""

    name: str
    started: float = field(default_factory=time.monotonic)
    last_poll: float | None = None  # the last fetch the broker answered
    last_commit: float | None = None


@dataclass(slots=True)
class GroupState:
    """A consumer group as Kafka sees it (its members may run anywhere)."""

    group: str
    lag: int = 0
    committed: int = -1
    # Last time it committed something new, or had nothing waiting.
    last_progress: float = field(default_factory=time.monotonic)
    last_commit: float | None = None


@dataclass(slots=True)
class OutboxState:
    pending: int = 0
    oldest_seconds: float = 0.0
    checked: bool = False


class EventFlow:
    """The state of the event pipeline in this process; see the module docstring."""

    def __init__(self, *, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        self.broker_down_since: float | None = None
        self.broker_error = ""
        self.consumers: dict[str, ConsumerState] = {}
        self.groups: dict[str, GroupState] = {}
        self.outbox = OutboxState()
        self.ready = True  # what readiness last answered (it logs changes)

    # -- reports from the bus ------------------------------------------------------

    def broker_down(self, error: str) -> None:
        if self.broker_down_since is None:
            self.broker_down_since = time.monotonic()
        self.broker_error = error

    def broker_up(self) -> None:
        self.broker_down_since = None
        self.broker_error = ""

    def consumer(self, name: str) -> ConsumerState:
        """The state of a subscription starting now (and of each consumer it runs)."""
        state = self.consumers[name] = ConsumerState(name)
        return state

    def consumer_gone(self, name: str) -> None:
        self.consumers.pop(name, None)

    def group_seen(self, group: str, *, lag: int, committed: int) -> None:
        now = time.monotonic()
        state = self.groups.setdefault(group, GroupState(group))
        if committed != state.committed:
            if state.committed != -1:
                state.last_commit = now
            state.committed = committed
            state.last_progress = now
        if lag == 0:
            state.last_progress = now
        state.lag = lag

    # -- what readiness reports ------------------------------------------------------

    @property
    def broker_problem(self) -> str | None:
        if self.broker_down_since is None:
            return None
        return f"unreachable for {time.monotonic() - self.broker_down_since:.0f}s: " + (
            self.broker_error
        )

    def problems(self) -> list[str]:
        """What has kept events from flowing for longer than `stall_seconds`."""
        now, limit = time.monotonic(), self.stall_seconds
        found = []
        if self.outbox.pending and self.outbox.oldest_seconds > limit:
            found.append(
                f"events waiting in the outbox: {self.outbox.pending}, the oldest for "
                f"{self.outbox.oldest_seconds:.0f}s"
            )
        for state in self.consumers.values():
            since = state.last_poll if state.last_poll is not None else state.started
            if now - since > limit:
                found.append(f"consumer {state.name} has not fetched for {now - since:.0f}s")
        for state in self.groups.values():
            if state.lag and now - state.last_progress > limit:
                found.append(
                    f"consumer group {state.group}: events waiting: {state.lag}, nothing "
                    f"committed for {now - state.last_progress:.0f}s"
                )
        return found

    # -- /metrics ------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """Prometheus collector: read at each scrape (registered on the service's registry)."""
        now = time.monotonic()
        lag = GaugeMetricFamily(
            "kafka_consumer_group_lag", "Events waiting for a consumer group", labels=["group"]
        )
        commit_age = GaugeMetricFamily(
            "kafka_consumer_group_last_commit_age_seconds",
            "Seconds since a consumer group last committed new offsets or had nothing waiting",
            labels=["group"],
        )
        for state in self.groups.values():
            lag.add_metric([state.group], state.lag)
            commit_age.add_metric([state.group], now - state.last_progress)
        poll_age = GaugeMetricFamily(
            "event_consumer_last_fetch_age_seconds",
            "Seconds since each consumer of this process last fetched from the broker",
            labels=["consumer"],
        )
        for state in self.consumers.values():
            since = state.last_poll if state.last_poll is not None else state.started
            poll_age.add_metric([state.name], now - since)
        yield from (lag, commit_age, poll_age)
        yield GaugeMetricFamily(
            "outbox_pending_events", "Events waiting for the relay", value=self.outbox.pending
        )
        yield GaugeMetricFamily(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest event waiting for the relay",
            value=self.outbox.oldest_seconds,
        )


async def measure_outbox(db: Database, flow: EventFlow) -> None:
    """The relay's backlog: pending events and the age of the oldest (ix_outbox_pending)."""
    pending = OutboxEvent.published_at.is_(None)
    async with db.session() as session:
        count = await session.scalar(select(func.count()).select_from(OutboxEvent).where(pending))
        oldest = await session.scalar(
            select(OutboxEvent.created_at).where(pending).order_by(OutboxEvent.id).limit(1)
        )
    state = flow.outbox
    state.pending = count or 0
    state.oldest_seconds = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    state.checked = True


class MeasuresGroups(Protocol):
    """A bus that can tell its consumer groups' lag (every `EventBus`)."""

    async def measure_groups(self, groups: Sequence[tuple[str, str]], flow: EventFlow) -> None: ...


@contextlib.asynccontextmanager
async def watch_event_flow(
    db: Database, bus: MeasuresGroups, flow: EventFlow, groups: Sequence[tuple[str, str]]
) -> AsyncIterator[None]:
    """Keep `flow` up to date while open: the outbox backlog and the lag of `groups`
    ((consumer name, topic) pairs) on the bus."""

    async def watch() -> None:
        while True:
            try:
                await measure_outbox(db, flow)
                await bus.measure_groups(groups, flow)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or the broker is away: readiness says so
                logger.debug("event flow measurement failed: %r", exc)
            await asyncio.sleep(WATCH_SECONDS)

    task = asyncio.create_task(watch(), name="event flow watch")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
