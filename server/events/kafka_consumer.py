"""One Kafka subscription: its consumer, supervised, replaced when it fails or stalls.

A group consumer commits a partition's offsets only after its handler has finished with
every event up to them (at-least-once). A broadcast subscription (`group=None`) starts each
consumer at the end of every partition, commits nothing and calls `on_gap` when a new
consumer had to start over (events in between may have been skipped).

Healing: a commit that has not succeeded after KAFKA_STALL_SECONDS, or a consumer that has
fetched nothing for that long while the broker answers (no assignment, a partition that is
gone), gets the consumer replaced. So does every consumer once the broker has been away or
has lost what it held (the bus's epoch changed): its positions may point into a log that
is gone, and fetching and committing from them would skip the new log's first events. The
new consumer recreates missing topics first and rejoins its group, reading on from the
last committed offset when the broker still has one and from the earliest retained offset
otherwise (handlers are idempotent: re-reading is safe, skipping is not). While the broker
is unreachable no new consumer is started: the bus logs the outage once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError, KafkaError

from server.backoff import RETRY
from server.errors import Unavailable
from server.events.bus import Handler
from server.events.flow import ConsumerState, EventFlow
from server.outage import OutageLog

logger = logging.getLogger(__name__)

GROUP_PREFIX = "todo-agent."
# A consumer that ran this long before failing restarts the backoff from its first step.
CONSUMER_HEALTHY_SECONDS = 60.0
# A partition the broker answered a fetch for this recently counts as fetched (an idle
# consumer's fetches are answered every KAFKA_FETCH_MAX_WAIT_MS at most).
FRESH_FETCH_SECONDS = 1.5


class ConsumerStalled(Exception):
    """The consumer made no progress for too long while the broker answers: replace it."""


class BrokerChanged(ConsumerStalled):
    """The broker went away (or lost what it held) since the consumer started: its
    positions may point into a log that is gone, and committing them would skip events."""


def group_id(group: str, topic: str) -> str:
    """One group per consumer and topic: "todo-agent.notifications.reminders"."""
    return f"{GROUP_PREFIX}{group}.{topic}"


class ConsumerHost(Protocol):
    """What a subscription needs of its bus (`KafkaBus`): the broker's state, settings, and
    new consumers."""

    flow: EventFlow
    epoch: int
    stall_seconds: float
    session_timeout_ms: int

    @property
    def broker_is_down(self) -> bool: ...

    async def ensure_topics(self) -> None: ...

    def new_consumer(self, topic: str, group: str | None) -> AIOKafkaConsumer: ...


class KafkaSubscription:
    """Runs one consumer after another for `topic`/`group` until cancelled."""

    def __init__(
        self,
        bus: ConsumerHost,
        *,
        topic: str,
        group: str | None,
        handler: Handler,
        on_gap: Callable[[], None] | None = None,
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.group = group
        self.handler = handler
        self.on_gap = on_gap
        self.name = f"{topic}/{group or 'broadcast'}"
        self.fetching = OutageLog(logger, f"consumer {self.name}", failing="cannot fetch")

    async def run(self) -> None:
        state = self.bus.flow.consumer(self.name)  # kept across consumers: readiness reads it
        failures = 0
        first = True
        try:
            while True:
                started = time.monotonic()
                try:
                    await self._run_consumer(state, first=first)
                except asyncio.CancelledError as cancelled:
                    current = asyncio.current_task()
                    if current is None or current.cancelling():
                        raise
                    # Not us being stopped: aiokafka cancelled a wait of its own (its group
                    # was lost while it waited for an assignment) and it escaped.
                    error: Exception = ConsumerStalled(f"was cancelled inside ({cancelled!r})")
                except Exception as exc:
                    error = exc
                failures, delay = self._next_delay(started, failures)
                self._log_failure(error, delay)
                await asyncio.sleep(delay)
                first = False
        finally:
            self.bus.flow.consumer_gone(self.name)

    @staticmethod
    def _next_delay(started: float, failures: int) -> tuple[int, float]:
        healthy = time.monotonic() - started > CONSUMER_HEALTHY_SECONDS
        failures = 1 if healthy else failures + 1
        return failures, RETRY.delay(failures)

    def _log_failure(self, exc: Exception, delay: float) -> None:
        if isinstance(exc, BrokerChanged):
            logger.debug("consumer %s starts over: %s", self.name, exc)  # the outage log says
        elif isinstance(exc, ConsumerStalled):
            logger.info("consumer %s %s; starting a new one in %.1fs", self.name, exc, delay)
        elif isinstance(exc, Unavailable | KafkaConnectionError) or self.bus.broker_is_down:
            logger.debug("consumer %s cannot start: %r", self.name, exc)  # the outage log says
        else:
            logger.error(
                "consumer %s failed; starting a new one in %.1fs", self.name, delay, exc_info=exc
            )

    async def _run_consumer(self, state: ConsumerState, *, first: bool) -> None:
        """One consumer's lifetime: consume until cancelled, failed or stalled."""
        await self.bus.ensure_topics()
        epoch = self.bus.epoch
        consumer = self.bus.new_consumer(self.topic, self.group)
        try:
            await asyncio.wait_for(consumer.start(), timeout=self.bus.stall_seconds)
            if self.group is None:
                await self._start_at_end(consumer)
                if not first and self.on_gap is not None:
                    self.on_gap()
            await self._consume(consumer, state, epoch)
        finally:
            with contextlib.suppress(KafkaError, asyncio.TimeoutError):
                await asyncio.wait_for(consumer.stop(), timeout=5)

    async def _start_at_end(self, consumer: AIOKafkaConsumer) -> None:
        """A broadcast reads what comes from now on (a partition met later, from its start)."""
        deadline = time.monotonic() + self.bus.stall_seconds
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise ConsumerStalled("got no partitions")
            await asyncio.sleep(0.05)
        await consumer.seek_to_end(*consumer.assignment())

    async def _consume(self, consumer: AIOKafkaConsumer, state: ConsumerState, epoch: int) -> None:
        failures = 0
        while True:
            if self.bus.epoch != epoch and not self.bus.broker_is_down:
                raise BrokerChanged("the broker went away since this consumer started")
            try:
                # Bounded: while its group rejoins, getmany waits for the new assignment
                # however long that takes (forever, against a broker that lost the group).
                fetched = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), timeout=2)
                batches = list(fetched.items())
            except TimeoutError:
                batches = []
            except KafkaError as exc:  # the client reconnects by itself; ask again
                self.fetching.failed(exc)
                await asyncio.sleep(RETRY.delay(2))
                batches = []
            else:
                self.fetching.ok()
            self._check_progress(consumer, state, fetched=bool(batches))
            for index, (partition, records) in enumerate(batches):
                handled = await self._handle(consumer, partition, records)
                if handled is None:
                    # Read the failed record and everything not yet handled again.
                    for later, unread in batches[index + 1 :]:
                        consumer.seek(later, unread[0].offset)
                    failures += 1
                    await asyncio.sleep(RETRY.delay(failures))
                    break
                failures = 0
                if self.bus.epoch != epoch:  # never commit a position into another log
                    raise BrokerChanged("the broker went away while handling")
                if self.group is not None:
                    await self._commit(consumer, partition, handled, state)

    def _check_progress(
        self, consumer: AIOKafkaConsumer, state: ConsumerState, *, fetched: bool
    ) -> None:
        """Note a successful fetch; raise ConsumerStalled after too long without one."""
        now = time.monotonic()
        if fetched or self._fetched_lately(consumer):
            state.last_poll = now
            return
        since = state.last_poll if state.last_poll is not None else state.started
        allowed = self.bus.stall_seconds
        if not consumer.assignment():  # joining its group: that may take a session timeout
            allowed += 2 * self.bus.session_timeout_ms / 1000
        if now - since > allowed and not self.bus.broker_is_down:
            raise ConsumerStalled(f"has fetched nothing for {now - since:.0f}s")

    @staticmethod
    def _fetched_lately(consumer: AIOKafkaConsumer) -> bool:
        """Whether the broker answered a fetch of an assigned partition lately (an answer
        with no records counts: the consumer is healthy and has nothing to do)."""
        newest = 0
        for tp in consumer.assignment():
            stamp = consumer.last_poll_timestamp(tp)
            newest = max(newest, stamp or 0)
        return time.time() - newest / 1000 < FRESH_FETCH_SECONDS

    async def _handle(
        self, consumer: AIOKafkaConsumer, partition: TopicPartition, records: list[ConsumerRecord]
    ) -> int | None:
        """Handle records in order; the offset to commit, or None after a failure."""
        next_offset = 0
        for record in records:
            try:
                envelope = json.loads(record.value)
            except (TypeError, ValueError):
                logger.error("skipping a non-JSON record at %s@%d", partition, record.offset)
                next_offset = record.offset + 1
                continue
            try:
                await self.handler(envelope)
            except Exception:  # the handler could not even park it: read it again later
                logger.exception("handler failed on event %s; retrying", envelope.get("id"))
                consumer.seek(partition, record.offset)
                return None
            next_offset = record.offset + 1
        return next_offset

    async def _commit(
        self,
        consumer: AIOKafkaConsumer,
        partition: TopicPartition,
        offset: int,
        state: ConsumerState,
    ) -> None:
        """Commit, bounded in time: aiokafka retries some errors (a partition the broker
        lost) forever."""
        try:
            await asyncio.wait_for(
                consumer.commit({partition: offset}), timeout=self.bus.stall_seconds
            )
        except CommitFailedError as exc:
            # Rebalanced away: the new owner reads from the last commit; consumers dedupe.
            logger.info("commit of %s@%d failed: %s", partition, offset, exc)
        except (TimeoutError, KafkaError) as exc:
            raise ConsumerStalled(f"could not commit {partition}@{offset} ({exc!r})") from None
        else:
            state.last_commit = time.monotonic()
