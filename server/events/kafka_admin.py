"""Kafka administration for the bus: creating topics and reading consumer groups' lag.

Both use long-lived clients started on first use and dropped after an error (the next use
starts new ones), so a broker that restarts is simply reconnected to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_MS = 5_000


@dataclass(frozen=True, slots=True)
class GroupLag:
    lag: int  # events in the topic the group has not committed
    committed: int  # the sum of its committed offsets (grows as it makes progress)


class KafkaAdmin:
    """Topic creation and consumer-group offsets on one cluster."""

    def __init__(self, servers: str) -> None:
        self.servers = servers
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None  # no group: reads end offsets only

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        offsets, self._offsets = self._offsets, None
        if admin is not None:
            await admin.close()
        if offsets is not None:
            await offsets.stop()

    async def create_topics(
        self, topics: Sequence[str], *, partitions: int, replication: int
    ) -> list[tuple[str, int, str]]:
        """Create `topics`; (topic, error code, message) for each, 0 when created."""
        admin = await self._admin_client()
        try:
            response = await admin.create_topics(
                [NewTopic(topic, partitions, replication) for topic in topics]
            )
        except (TimeoutError, KafkaError):
            await self.close()
            raise
        return [
            (topic, code, message[0] if message else "")
            for topic, code, *message in response.topic_errors
            if code != TopicAlreadyExistsError.errno  # another process made it meanwhile
        ]

    async def group_lag(self, group_id: str, topic: str, partitions: int) -> GroupLag:
        """How far `group_id` is behind the end of `topic` (no commit counts as offset 0)."""
        try:
            admin = await self._admin_client()
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            # Named partitions: some brokers (Tansu) cannot answer "all of the group's".
            committed = await admin.list_consumer_group_offsets(group_id, partitions=tps)
            offsets = await self._offsets_client()
            ends = await asyncio.wait_for(
                offsets.end_offsets(tps), timeout=REQUEST_TIMEOUT_MS / 1000
            )
        except (TimeoutError, KafkaError):
            await self.close()
            raise
        lag = done = 0
        for tp in tps:
            mark = committed.get(tp)
            at = mark.offset if mark is not None and mark.offset >= 0 else 0
            lag += max(0, ends.get(tp, 0) - at)
            done += at
        return GroupLag(lag=lag, committed=done)

    async def _admin_client(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.servers,
                client_id="todo-agent",
                request_timeout_ms=REQUEST_TIMEOUT_MS,
            )
            try:
                await admin.start()
            except BaseException:
                await admin.close()
                raise
            self._admin = admin
        return self._admin

    async def _offsets_client(self) -> AIOKafkaConsumer:
        if self._offsets is None:
            offsets = AIOKafkaConsumer(
                bootstrap_servers=self.servers,
                client_id="todo-agent",
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=REQUEST_TIMEOUT_MS,
            )
            try:
                await offsets.start()
            except BaseException:
                await offsets.stop()
                raise
            self._offsets = offsets
        return self._offsets
