"""The Kafka event bus (aiokafka): keyed by user id, acks=all, groups commit after handling.

Producer: idempotent with acks=all. Brokers that refuse aiokafka's InitProducerId request
(Tansu, the broker the tests run) get a plain acks=all producer instead, with a warning:
aiokafka keeps one batch in flight per partition, so order per key holds either way, and a
retried duplicate is absorbed by the idempotent consumers.

Topics: created at start when missing, with TOPIC_PARTITIONS partitions and a replication
factor of up to TOPIC_REPLICATION (no more than the cluster has brokers); create them
beforehand for other settings. A broker that refuses to create them gets a warning and is
left to auto-create them when they are first used.

Consumers: one per subscription. A group consumer commits a partition's offsets only after
its handler has finished with every event up to them (at-least-once); a broadcast
subscription (`group=None`) reads every partition from the latest offset and commits nothing.
A consumer that fails (a seek after a rebalance can) is logged, stopped and replaced by a new
one after a backoff; a group's new consumer reads on from the last commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    IncompatibleBrokerVersion,
    KafkaConnectionError,
    KafkaError,
    TopicAlreadyExistsError,
    UnknownError,
    UnsupportedVersionError,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from server.backoff import RETRY
from server.config import Settings
from server.errors import Unavailable
from server.events.bus import Ack, Handler, Outgoing
from server.events.outbox import Topics

logger = logging.getLogger(__name__)

GROUP_PREFIX = "todo-agent."
# A consumer that ran this long before failing restarts the backoff from its first step.
CONSUMER_HEALTHY_SECONDS = 60.0
# Partitions bound how many members of a consumer group share the work; keys keep their
# order within a partition whatever the count.
TOPIC_PARTITIONS = 6
TOPIC_REPLICATION = 3


def encode(envelope: Outgoing) -> bytes:
    if isinstance(envelope, str):
        return envelope.encode()
    return json.dumps(envelope, separators=(",", ":")).encode()


class KafkaBus:
    """Publishes to and consumes from Kafka topics; see the module docstring."""

    def __init__(self, *, settings: Settings, topics: Topics) -> None:
        if not settings.kafka_bootstrap_servers:
            raise ValueError("KafkaBus needs KAFKA_BOOTSTRAP_SERVERS")
        self.servers = settings.kafka_bootstrap_servers
        self.topics = topics
        self.session_timeout_ms = settings.kafka_session_timeout_ms
        self.idempotent = True
        self._producer: AIOKafkaProducer | None = None
        # The producer's own default: `send_many` must place keys where `send` would.
        self._partitioner = DefaultPartitioner()

    async def __aenter__(self) -> KafkaBus:
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
            await self._create_missing_topics()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
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
            request_timeout_ms=30_000,
        )
        try:
            await producer.start()
        except BaseException as exc:
            await producer.stop()
            if isinstance(exc, KafkaConnectionError):
                raise Unavailable(f"Kafka at {self.servers} is unreachable: {exc}") from None
            raise
        return producer

    async def _create_missing_topics(self) -> None:
        """Create the topics the cluster does not have yet; see the module docstring."""
        try:
            cluster = await self.producer.client.fetch_all_metadata()
            missing = [topic for topic in self.topics.all() if topic not in cluster.topics()]
            if not missing:
                return
            replication = max(1, min(TOPIC_REPLICATION, len(cluster.brokers())))
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.servers, client_id="todo-agent", request_timeout_ms=10_000
            )
            try:
                await admin.start()
                response = await admin.create_topics(
                    [NewTopic(topic, TOPIC_PARTITIONS, replication) for topic in missing]
                )
            finally:
                await admin.close()
        except (TimeoutError, KafkaError) as exc:
            logger.warning(
                "could not create the Kafka topics at %s (%r): relying on auto-creation",
                self.servers,
                exc,
            )
            return
        for topic, code, *message in response.topic_errors:
            if code == 0:
                logger.info(
                    "created Kafka topic %s (%d partitions, replication factor %d)",
                    topic,
                    TOPIC_PARTITIONS,
                    replication,
                )
            elif code != TopicAlreadyExistsError.errno:  # "exists": another process made it
                logger.warning(
                    "Kafka at %s refused to create topic %s (error %d %s): relying on "
                    "auto-creation",
                    self.servers,
                    topic,
                    code,
                    message[0] if message else "",
                )

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("KafkaBus used outside its `async with`")
        return self._producer

    async def send(self, *, topic: str, key: str, envelope: Outgoing) -> Ack:
        return await self.producer.send(topic, value=encode(envelope), key=key.encode())

    async def send_many(self, *, topic: str, events: Sequence[tuple[str, Outgoing]]) -> Ack:
        """Send in record batches, one future per batch instead of one per event (the relay's
        hot path). Keys go to the partitions `send` would choose, so order per key holds."""
        producer = self.producer
        partitions = sorted(await producer.partitions_for(topic))
        builders: dict[int, BatchBuilder] = {}
        acks: list[asyncio.Future] = []
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
                    acks.append(await producer.send_batch(builder, topic, partition=partition))
                builder = builders[partition] = producer.create_batch()
                builder.append(key=key_bytes, value=value, timestamp=None)
        for partition, builder in builders.items():
            acks.append(await producer.send_batch(builder, topic, partition=partition))
        return asyncio.gather(*acks)

    async def publish(self, *, topic: str, key: str, envelope: Outgoing) -> None:
        await (await self.send(topic=topic, key=key, envelope=envelope))

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *, topic: str, group: str | None, handler: Handler
    ) -> AsyncIterator[None]:
        task = asyncio.create_task(
            self._consume(topic, group, handler), name=f"kafka {topic}/{group or 'broadcast'}"
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def ping(self) -> None:
        await self.producer.client.fetch_all_metadata()

    # -- consuming ------------------------------------------------------------

    def _consumer(self, topic: str, group: str | None) -> AIOKafkaConsumer:
        if group is not None:
            options: dict = {
                # One group per consumer and topic: "todo-agent.notifications.reminders".
                "group_id": f"{GROUP_PREFIX}{group}.{topic}",
                "auto_offset_reset": "earliest",
                "session_timeout_ms": self.session_timeout_ms,
                "heartbeat_interval_ms": max(100, self.session_timeout_ms // 5),
            }
        else:
            options = {"group_id": None, "auto_offset_reset": "latest"}
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.servers,
            client_id="todo-agent",
            enable_auto_commit=False,
            max_poll_records=500,
            fetch_max_wait_ms=200,
            **options,
        )

    async def _consume(self, topic: str, group: str | None, handler: Handler) -> None:
        """Run one consumer after another until cancelled (see the module docstring)."""
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await self._run_consumer(topic, group, handler)
            except asyncio.CancelledError:
                raise
            except Exception:
                healthy = time.monotonic() - started > CONSUMER_HEALTHY_SECONDS
                failures = 1 if healthy else failures + 1
                delay = RETRY.delay(failures)
                logger.exception(
                    "consumer %s/%s failed; starting a new one in %.1fs", topic, group, delay
                )
                await asyncio.sleep(delay)

    async def _run_consumer(self, topic: str, group: str | None, handler: Handler) -> None:
        """One consumer's lifetime: consume until cancelled or until it fails."""
        consumer = self._consumer(topic, group)
        try:
            await self._start_consumer(consumer, topic, group)
            failures = 0
            while True:
                try:
                    batches = list((await consumer.getmany(timeout_ms=1000)).items())
                except KafkaError as exc:  # the client reconnects by itself; ask again
                    logger.warning("consumer %s/%s: %r", topic, group, exc)
                    await asyncio.sleep(RETRY.delay(2))
                    continue
                for index, (partition, records) in enumerate(batches):
                    handled = await self._handle(consumer, partition, records, handler)
                    if handled is None:
                        # Read the failed record and everything not yet handled again.
                        for later, unread in batches[index + 1 :]:
                            consumer.seek(later, unread[0].offset)
                        failures += 1
                        await asyncio.sleep(RETRY.delay(failures))
                        break
                    failures = 0
                    if group is not None:
                        await self._commit(consumer, partition, handled)
        finally:
            with contextlib.suppress(KafkaError, asyncio.TimeoutError):
                await asyncio.wait_for(consumer.stop(), timeout=5)

    async def _start_consumer(
        self, consumer: AIOKafkaConsumer, topic: str, group: str | None
    ) -> None:
        for attempt in itertools.count():
            try:
                await consumer.start()
                return
            except KafkaConnectionError as exc:
                delay = RETRY.delay(attempt + 1)
                logger.warning("consumer %s/%s cannot reach Kafka (%r)", topic, group, exc)
                await asyncio.sleep(delay)

    @staticmethod
    async def _handle(
        consumer: AIOKafkaConsumer,
        partition: TopicPartition,
        records: list[ConsumerRecord],
        handler: Handler,
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
                await handler(envelope)
            except Exception:  # the handler could not even park it: read it again later
                logger.exception("handler failed on event %s; retrying", envelope.get("id"))
                consumer.seek(partition, record.offset)
                return None
            next_offset = record.offset + 1
        return next_offset

    @staticmethod
    async def _commit(consumer: AIOKafkaConsumer, partition: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({partition: offset})
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # Rebalanced away: the new owner reads from the last commit; consumers dedupe.
            logger.warning("commit of %s@%d failed: %r", partition, offset, exc)
