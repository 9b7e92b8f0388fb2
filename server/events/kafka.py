"""The Kafka event bus (aiokafka): keyed by user id, acks=all, groups commit after handling.

Producer: idempotent with acks=all. Brokers that refuse aiokafka's InitProducerId request
(Tansu, the broker the tests run) get a plain acks=all producer instead, with a warning:
aiokafka keeps one batch in flight per partition, so order per key holds either way, and a
retried duplicate is absorbed by the idempotent consumers.

Topics: see kafka_topics.py. Nothing is sent to a topic the bus has not seen exist since
the broker last answered, so a broker that comes back empty gets its topics back before
the first event.

Watching: every second the bus asks the broker for its metadata. That is how it notices an
outage (one WARNING, a summary every KAFKA_OUTAGE_LOG_SECONDS, one INFO when it is over;
aiokafka's own connection errors are demoted, see kafka_logs.py), recreates lost topics,
and tells an empty broker from the one it knew: a topic gone or resized, or a partition
whose offsets start over, means events the broker acknowledged are gone, and `take_loss`
tells the relay to send them again.

Consumers: see kafka_consumer.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    IncompatibleBrokerVersion,
    KafkaConnectionError,
    KafkaError,
    UnknownError,
    UnsupportedVersionError,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from server.config import Settings
from server.db import utcnow
from server.errors import Unavailable
from server.events.bus import Ack, Handler, Outgoing
from server.events.flow import EventFlow
from server.events.kafka_admin import KafkaAdmin
from server.events.kafka_consumer import KafkaSubscription, group_id
from server.events.kafka_logs import quiet_client_logs
from server.events.kafka_topics import TopicKeeper
from server.events.outbox import Topics
from server.outage import OutageLog

logger = logging.getLogger(__name__)

WATCH_SECONDS = 1.0


def encode(envelope: Outgoing) -> bytes:
    if isinstance(envelope, str):
        return envelope.encode()
    return json.dumps(envelope, separators=(",", ":")).encode()


class KafkaBus:
    """Publishes to and consumes from Kafka topics; see the module docstring."""

    def __init__(
        self, *, settings: Settings, topics: Topics, flow: EventFlow | None = None
    ) -> None:
        if not settings.kafka_bootstrap_servers:
            raise ValueError("KafkaBus needs KAFKA_BOOTSTRAP_SERVERS")
        self.servers = settings.kafka_bootstrap_servers
        self.topics = topics
        self.flow = flow or EventFlow(stall_seconds=settings.event_stall_seconds)
        self.session_timeout_ms = settings.kafka_session_timeout_ms
        self.fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms
        self.stall_seconds = settings.kafka_stall_seconds
        self.idempotent = True
        self.outage = OutageLog(
            logger,
            f"Kafka at {self.servers}",
            failing="is unreachable",
            back="is reachable again",
            summary_seconds=settings.kafka_outage_log_seconds,
        )
        self.admin = KafkaAdmin(self.servers)  # topics
        self._lag_admin = KafkaAdmin(self.servers)  # group lag, on clients of its own
        self._producer: AIOKafkaProducer | None = None
        # The producer's own default: `send_many` must place keys where `send` would.
        self._partitioner = DefaultPartitioner()
        self.keeper = TopicKeeper(
            servers=self.servers,
            topics=topics.all(),
            admin=self.admin,
            on_lost=lambda: self._lost(self._last_ack or self._last_seen),
        )
        self._acked: dict[TopicPartition, int] = {}  # the last offset acknowledged to us
        self._last_ack: datetime | None = None
        self._last_seen: datetime | None = None  # the broker's last answer to the watch
        self._lost_after: datetime | None = None
        self._gap_listeners: set[Callable[[], None]] = set()  # broadcasts' on_gap
        self._watch: asyncio.Task | None = None
        # Bumped when the broker goes away or loses what it held: consumers started before
        # start over (their positions may point into a log that is gone).
        self.epoch = 0

    async def __aenter__(self) -> KafkaBus:
        quiet_client_logs()
        try:
            self._producer = await self._start_producer(idempotent=True)
        except (UnknownError, UnsupportedVersionError, IncompatibleBrokerVersion) as exc:
            logger.warning(
                "Kafka at %s refused an idempotent producer (%r): using acks=all without "
                "idempotence; consumers drop the duplicates a retry may cause",
                self.servers,
                exc,
            )
            self.idempotent = False
            self._producer = await self._start_producer(idempotent=False)
        try:
            await self.ensure_topics()
        except BaseException:
            await self.__aexit__()
            raise
        self._watch = asyncio.create_task(self._watch_broker(), name="kafka watch")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        await self.admin.close()
        await self._lag_admin.close()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _start_producer(self, *, idempotent: bool) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.servers,
            client_id="todo-agent",
            acks="all",
            enable_idempotence=idempotent,
            linger_ms=2,
            max_batch_size=256 * 1024,
            # How long an unacknowledged batch waits before its send fails (the relay then
            # sends it again).
            request_timeout_ms=int(self.stall_seconds * 1000),
        )
        try:
            await producer.start()
        except BaseException as exc:
            await producer.stop()
            if isinstance(exc, KafkaConnectionError):
                raise Unavailable(f"Kafka at {self.servers} is unreachable: {exc}") from None
            raise
        return producer

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("KafkaBus used outside its `async with`")
        return self._producer

    @property
    def broker_is_down(self) -> bool:
        return self.outage.down

    # -- topics and the watch ---------------------------------------------------

    async def ensure_topics(self) -> None:
        """Make sure every topic exists (see kafka_topics.py); Unavailable when the broker
        does not answer."""
        await self.keeper.ensure(self.producer.client)
        self._last_seen = utcnow()

    async def _watch_broker(self) -> None:
        """Every WATCH_SECONDS: is the broker there, with our topics? (module docstring)"""
        while True:
            try:
                await self.ensure_topics()
            except Unavailable as exc:
                error = str(exc).removeprefix(f"Kafka at {self.servers} is unreachable ")
                if not self.outage.down:
                    self.epoch += 1
                self.flow.broker_down(error.strip("()"))
                self.outage.failed(error.strip("()"))
            else:
                if self.outage.down:
                    self.outage.ok()
                    self.flow.broker_up()
                    for on_gap in list(self._gap_listeners):  # it may have lost what it held
                        on_gap()
                    # Partitions may have changed: `send_many` places keys from this.
                    with contextlib.suppress(TimeoutError, KafkaError):
                        await asyncio.wait_for(
                            self.producer.client.force_metadata_update(), timeout=5
                        )
            await asyncio.sleep(WATCH_SECONDS)

    # -- losses -------------------------------------------------------------------

    def _lost(self, after: datetime | None) -> None:
        """The broker lost what it held: offsets of the old log mean nothing any more."""
        when = after or utcnow()
        if self._lost_after is None or when < self._lost_after:
            self._lost_after = when
        self._acked.clear()
        self.epoch += 1

    def take_loss(self) -> datetime | None:
        lost, self._lost_after = self._lost_after, None
        return lost

    def _on_ack(self, future: asyncio.Future) -> None:
        """Record an acknowledgement; an offset that went back means the log started over."""
        if future.cancelled() or future.exception() is not None:
            self.keeper.forget()  # check the topics again before the next send
            return
        ack = future.result()
        previous = self._acked.get(ack.topic_partition)
        if previous is not None and ack.offset <= previous:
            logger.debug("Kafka partition %s started over", ack.topic_partition)
            self._lost(self._last_ack)
        self._acked[ack.topic_partition] = ack.offset
        self._last_ack = utcnow()

    # -- publishing ---------------------------------------------------------------

    async def _ready(self, topic: str) -> None:
        if not self.keeper.verified(topic):
            await self.ensure_topics()

    async def send(self, *, topic: str, key: str, envelope: Outgoing) -> Ack:
        await self._ready(topic)
        ack = await self.producer.send(topic, value=encode(envelope), key=key.encode())
        ack.add_done_callback(self._on_ack)
        return ack

    async def send_many(self, *, topic: str, events: Sequence[tuple[str, Outgoing]]) -> Ack:
        """Send in record batches, one future per batch instead of one per event (the relay's
        hot path). Keys go to the partitions `send` would choose, so order per key holds."""
        await self._ready(topic)
        producer = self.producer
        partitions = sorted(await producer.partitions_for(topic))
        builders: dict[int, BatchBuilder] = {}
        acks: list[asyncio.Future] = []

        async def flush(partition: int, builder: BatchBuilder) -> None:
            ack = await producer.send_batch(builder, topic, partition=partition)
            ack.add_done_callback(self._on_ack)
            acks.append(ack)

        for key, envelope in events:
            key_bytes = key.encode()
            partition = self._partitioner(key_bytes, partitions, partitions)
            value = encode(envelope)
            builder = builders.get(partition)
            if (
                builder is None
                or builder.append(key=key_bytes, value=value, timestamp=None) is None
            ):
                if builder is not None:  # full: send it and start the next one
                    await flush(partition, builder)
                builder = builders[partition] = producer.create_batch()
                builder.append(key=key_bytes, value=value, timestamp=None)
        for partition, builder in builders.items():
            await flush(partition, builder)
        return asyncio.gather(*acks)

    async def publish(self, *, topic: str, key: str, envelope: Outgoing) -> None:
        await (await self.send(topic=topic, key=key, envelope=envelope))

    async def ping(self) -> None:
        await self.producer.client.fetch_all_metadata()

    # -- consuming ----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        *,
        topic: str,
        group: str | None,
        handler: Handler,
        on_gap: Callable[[], None] | None = None,
    ) -> AsyncIterator[None]:
        subscription = KafkaSubscription(
            self, topic=topic, group=group, handler=handler, on_gap=on_gap
        )
        task = asyncio.create_task(subscription.run(), name=f"kafka {subscription.name}")
        if group is None and on_gap is not None:
            self._gap_listeners.add(on_gap)
        try:
            yield
        finally:
            self._gap_listeners.discard(on_gap)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def new_consumer(self, topic: str, group: str | None) -> AIOKafkaConsumer:
        options: dict = {"group_id": None}
        if group is not None:
            options = {
                "group_id": group_id(group, topic),
                "session_timeout_ms": self.session_timeout_ms,
                "heartbeat_interval_ms": max(100, self.session_timeout_ms // 5),
            }
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.servers,
            client_id="todo-agent",
            enable_auto_commit=False,
            # A group without a commit, a partition that is new or started over: from the
            # earliest retained offset (a broadcast seeks to the end when it starts).
            auto_offset_reset="earliest",
            max_poll_records=500,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            **options,
        )

    async def measure_groups(self, groups: Sequence[tuple[str, str]], flow: EventFlow) -> None:
        """Each group's lag on its topic, as Kafka sees it, into `flow`."""
        if self.broker_is_down:
            return
        for group, topic in groups:
            partitions = self.keeper.partitions.get(topic)
            if not partitions:
                continue
            found = await self._lag_admin.group_lag(group_id(group, topic), topic, partitions)
            flow.group_seen(group_id(group, topic), lag=found.lag, committed=found.committed)
