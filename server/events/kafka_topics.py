"""Keeping the bus's topics in existence, and noticing when the broker lost them.

Topics are created when missing, with TOPIC_PARTITIONS partitions and a replication factor
of up to TOPIC_REPLICATION (no more than the cluster has brokers); create them beforehand
for other settings. A broker that refuses to create them gets a warning and is left to
auto-create them when they are first used.

A topic that disappeared or came back with another number of partitions was lost by the
broker, with the events in it: `on_lost` is called.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from server.errors import Unavailable
from server.events.kafka_admin import KafkaAdmin

logger = logging.getLogger(__name__)

# Partitions bound how many members of a consumer group share the work; keys keep their
# order within a partition whatever the count.
TOPIC_PARTITIONS = 6
TOPIC_REPLICATION = 3
METADATA_TIMEOUT_SECONDS = 5.0


class TopicKeeper:
    """Checks (and makes) the topics; see the module docstring."""

    def __init__(
        self,
        *,
        servers: str,
        topics: Sequence[str],
        admin: KafkaAdmin,
        on_lost: Callable[[], None],
    ) -> None:
        self.servers = servers
        self.topics = tuple(topics)
        self.admin = admin
        self.on_lost = on_lost
        self.partitions: dict[str, int] = {}  # each topic's partition count, as last seen
        self._verified: set[str] = set()  # seen to exist since the broker last answered
        self._refused: set[str] = set()  # the broker would not create them: auto-created
        self._lock = asyncio.Lock()

    def verified(self, topic: str) -> bool:
        return topic in self._verified

    def forget(self) -> None:
        """Check again before the next send (a send failed: the broker may have restarted)."""
        self._verified.clear()

    async def ensure(self, client: AIOKafkaClient) -> None:
        """Make sure every topic exists, creating the missing ones; Unavailable when the
        broker does not answer."""
        async with self._lock:
            try:
                # Every topic's metadata: naming them would have the broker auto-create them.
                cluster = await asyncio.wait_for(
                    client.fetch_all_metadata(), timeout=METADATA_TIMEOUT_SECONDS
                )
            except (TimeoutError, KafkaError) as exc:
                self._verified.clear()
                raise Unavailable(f"Kafka at {self.servers} is unreachable ({exc!r})") from None
            found = {t: len(cluster.partitions_for_topic(t) or ()) for t in self.topics}
            missing = [t for t, count in found.items() if not count and t not in self._refused]
            self._note_changes(found)
            if missing:
                replication = max(1, min(TOPIC_REPLICATION, len(cluster.brokers())))
                await self._create(missing, replication)
            self._verified = set(self.topics)

    def _note_changes(self, found: dict[str, int]) -> None:
        for topic, count in found.items():
            before = self.partitions.get(topic)
            if before is not None and count != before:
                if count:
                    logger.warning(
                        "Kafka topic %s has %d partitions, it had %d: it was made again "
                        "(by the broker's auto-creation)",
                        topic,
                        count,
                        before,
                    )
                self.on_lost()
            if count:
                self.partitions[topic] = count

    async def _create(self, missing: list[str], replication: int) -> None:
        try:
            results = await self.admin.create_topics(
                missing, partitions=TOPIC_PARTITIONS, replication=replication
            )
        except (TimeoutError, KafkaError) as exc:
            logger.warning(
                "could not create the Kafka topics %s at %s (%r): relying on auto-creation",
                ", ".join(missing),
                self.servers,
                exc,
            )
            if not isinstance(exc, TimeoutError) and not exc.retriable:
                self._refused.update(missing)
            return
        for topic, code, message in results:
            if code == 0:
                logger.info(
                    "created Kafka topic %s (%d partitions, replication factor %d)",
                    topic,
                    TOPIC_PARTITIONS,
                    replication,
                )
                if topic in self.partitions:
                    self.on_lost()
                self.partitions[topic] = TOPIC_PARTITIONS
            else:
                logger.warning(
                    "Kafka at %s refused to create topic %s (error %d %s): relying on "
                    "auto-creation",
                    self.servers,
                    topic,
                    code,
                    message,
                )
                self._refused.add(topic)
